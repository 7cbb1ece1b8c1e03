// The kernel socket under an NNG pipe. NNG does not expose a pipe's descriptor, so it is found by
// the pipe's two addresses among the process's descriptors. Through it the server watches how much
// of its output a client has taken (a client that does not read stops acknowledging bytes,
// whatever NNG's queues report) and disconnects a client by shutting its socket down rather than
// with nng_pipe_close, which can wedge NNG's reaper when it meets a transfer in progress
// (docs/reliability.md, "NNG 1.5.2").
#include "pipe_socket.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace eddy::net {

namespace {

// Whether a socket address of the kernel's is the NNG one.
bool sameAddress(const sockaddr_storage &kernel, const nng_sockaddr &nng)
{
    if (kernel.ss_family == AF_INET && nng.s_family == NNG_AF_INET) {
        const auto &in = reinterpret_cast<const sockaddr_in &>(kernel);
        return in.sin_port == nng.s_in.sa_port && in.sin_addr.s_addr == nng.s_in.sa_addr;
    }
    if (kernel.ss_family == AF_INET6 && nng.s_family == NNG_AF_INET6) {
        const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(kernel);
        return in6.sin6_port == nng.s_in6.sa_port
               && std::memcmp(&in6.sin6_addr, nng.s_in6.sa_addr, 16) == 0;
    }
    return false;
}

} // namespace

int pipeSocket(nng_pipe pipe)
{
    nng_sockaddr local;
    nng_sockaddr remote;
    if (nng_pipe_get_addr(pipe, NNG_OPT_LOCADDR, &local) != 0
        || nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &remote) != 0
        || (local.s_family != NNG_AF_INET && local.s_family != NNG_AF_INET6))
        return -1;
    DIR *dir = ::opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int found = -1;
    while (const dirent *entry = ::readdir(dir)) {
        const int fd = std::atoi(entry->d_name);
        if (fd <= 2 || fd == ::dirfd(dir))
            continue;
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0
            || !sameAddress(a, local))
            continue;
        if (socketConnectedTo(fd, remote)) {
            found = fd;
            break;
        }
    }
    ::closedir(dir);
    return found;
}

bool socketConnectedTo(int fd, const nng_sockaddr &remote)
{
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    return ::getpeername(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0
           && sameAddress(a, remote);
}

std::optional<SocketOutput> socketOutput(int fd)
{
    SocketOutput out;
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) != 0)
        return std::nullopt;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0
        || len < offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
        return std::nullopt;
    out.queued = static_cast<std::size_t>(queued);
    out.acked = info.tcpi_bytes_acked;
    return out;
}

bool shutdownPipeSocket(nng_pipe pipe)
{
    const int fd = pipeSocket(pipe);
    return fd >= 0 && ::shutdown(fd, SHUT_RDWR) == 0;
}

} // namespace eddy::net
