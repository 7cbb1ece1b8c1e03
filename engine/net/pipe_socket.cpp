// The kernel socket under an NNG pipe. NNG does not expose a pipe's descriptor, so it is found by
// the pipe's two addresses among the process's descriptors. Through it the server watches how much
// of its output a client has taken (a client that does not read stops acknowledging bytes,
// whatever NNG's queues report) and disconnects a client by resetting its connection rather than
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
#include <unordered_map>

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
    return pipeSockets({pipe}).front();
}

std::vector<int> pipeSockets(const std::vector<nng_pipe> &pipes)
{
    struct Wanted {
        nng_sockaddr local;
        nng_sockaddr remote;
    };
    std::vector<int> found(pipes.size(), -1);
    // By the remote port: the pipes of a listener share their local address, while their
    // peers' ports differ (whatever the addresses, a collision only costs one more compare).
    std::unordered_multimap<uint16_t, std::size_t> byRemotePort;
    std::vector<Wanted> wanted(pipes.size());
    for (std::size_t i = 0; i < pipes.size(); ++i) {
        Wanted &w = wanted[i];
        if (nng_pipe_get_addr(pipes[i], NNG_OPT_LOCADDR, &w.local) != 0
            || nng_pipe_get_addr(pipes[i], NNG_OPT_REMADDR, &w.remote) != 0
            || (w.local.s_family != NNG_AF_INET && w.local.s_family != NNG_AF_INET6))
            continue;
        byRemotePort.emplace(w.remote.s_family == NNG_AF_INET ? w.remote.s_in.sa_port
                                                              : w.remote.s_in6.sa_port,
                             i);
    }
    if (byRemotePort.empty())
        return found;
    DIR *dir = ::opendir("/proc/self/fd");
    if (!dir)
        return found;
    std::size_t left = byRemotePort.size();
    while (left > 0) {
        const dirent *entry = ::readdir(dir);
        if (!entry)
            break;
        const int fd = std::atoi(entry->d_name);
        if (fd <= 2 || fd == ::dirfd(dir))
            continue;
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len) != 0)
            continue;
        uint16_t port = 0;
        if (peer.ss_family == AF_INET)
            port = reinterpret_cast<const sockaddr_in &>(peer).sin_port;
        else if (peer.ss_family == AF_INET6)
            port = reinterpret_cast<const sockaddr_in6 &>(peer).sin6_port;
        else
            continue;
        const auto [first, last] = byRemotePort.equal_range(port);
        for (auto it = first; it != last; ++it) {
            const Wanted &w = wanted[it->second];
            if (found[it->second] >= 0 || !sameAddress(peer, w.remote))
                continue;
            sockaddr_storage local{};
            len = sizeof local;
            if (::getsockname(fd, reinterpret_cast<sockaddr *>(&local), &len) == 0
                && sameAddress(local, w.local)) {
                found[it->second] = fd;
                --left;
                break;
            }
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

bool resetPipeConnection(nng_pipe pipe)
{
    const int fd = pipeSocket(pipe);
    if (fd < 0)
        return false;
    // An abortive disconnect (connect to AF_UNSPEC: Linux's tcp_disconnect) rather than
    // shutdown(): a shutdown queues the FIN behind the replies already in the socket, which a
    // client that does not read never takes, so the connection (and NNG's pipe, waiting on its
    // send) stayed open for good. Aborting discards those replies, resets the connection and
    // leaves the descriptor to NNG, whose transfers then end in errors and which closes it.
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    if (::connect(fd, &unspec, sizeof unspec) == 0)
        return true;
    return ::shutdown(fd, SHUT_RDWR) == 0;
}

} // namespace eddy::net
