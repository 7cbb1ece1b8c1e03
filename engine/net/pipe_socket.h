#pragma once

#include <nng/nng.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace eddy::net {

// The descriptor of a TCP (or TLS) pipe's socket, found by the pipe's two addresses among this
// process's descriptors (NNG 1.5.2 does not expose it); -1 for other transports or when the
// pipe or its socket is gone. Scans /proc/self/fd: call it once per pipe, not per request.
int pipeSocket(nng_pipe pipe);

// pipeSocket() of several pipes in one walk of /proc/self/fd: element i for pipes[i]. With a
// thousand connections, one walk per pipe would cost a million system calls.
std::vector<int> pipeSockets(const std::vector<nng_pipe> &pipes);

// Whether descriptor fd is still the socket connected to remote (a descriptor found earlier may
// have been closed and reused for another connection since).
bool socketConnectedTo(int fd, const nng_sockaddr &remote);

// What the kernel holds of a TCP socket's output: bytes written but not yet acknowledged by the
// peer (unsent or in flight, SIOCOUTQ) and the running count of bytes the peer acknowledged
// (TCP_INFO tcpi_bytes_acked). A peer that does not read closes its receive window, so
// `queued` stays above zero and `acked` stops moving.
struct SocketOutput {
    std::size_t queued = 0;
    std::uint64_t acked = 0;
};

// The output state of TCP socket fd; nullopt when fd is not a TCP socket (or is closed).
std::optional<SocketOutput> socketOutput(int fd);

// Resets a TCP (or TLS) pipe's connection (its unsent output discarded) without closing the
// descriptor, so that every transfer on it ends in an error and NNG closes the pipe itself from
// that error. True when done; false for other transports or when the socket is gone. NNG 1.5.2
// can wedge for good when a pipe is closed while a frame is half read or half written
// (docs/reliability.md); closing this way avoids it.
bool resetPipeConnection(nng_pipe pipe);

} // namespace eddy::net
