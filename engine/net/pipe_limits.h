#pragma once

#include "nng_server.h"
#include "request_sink.h"

#include <nng/nng.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace eddy::net {

// What one server knows of its connections (NNG pipes), shared by every work item, the pipe
// notifications and the stall sweep: requests in flight per connection, each connection's Peer,
// and the TCP connections with replies on their way (slow consumers: nng_server.cpp, and
// docs/reliability.md). Thread-safe; no lock is held across an NNG call that could wait.
class PipeLimits
{
public:
    using Clock = std::chrono::steady_clock;

    // maxInFlight: ServerOptions::maxInFlightPerConnection (0 = no cap); stallTimeoutMs:
    // ServerOptions::sendTimeoutMs (0 = no watch, no sweep); onSlow: told about every connection
    // closed as slow.
    PipeLimits(int maxInFlight, int stallTimeoutMs, SlowClientHandler onSlow);

    // ServerOptions::sendTimeoutMs as given.
    int stallTimeoutMs() const { return m_stallTimeoutMs; }

    // What admit() decided about a request.
    enum class Admission {
        Admitted, // counted: handle it
        OverCap,  // not counted: the caller asks notReading() whether to close the pipe or to
                  // count it anyway with admitOverCap()
        Closed,   // its pipe was closed as slow (closeSlow): drop it, nobody will take a reply
    };

    // Counts a request received on pipe and sets peer to the pipe's Peer (resolved at its first
    // request or connect, then kept until the pipe goes; its address is empty when NNG no
    // longer knows the pipe). A request that is not Admitted is not counted.
    Admission admit(nng_pipe pipe, std::shared_ptr<const Peer> &peer);

    // Counts a request past the cap of a client that reads its replies.
    void admitOverCap(uint32_t pipe);

    // Whether a pipe past the cap is a slow consumer: its replies pile up unread in the kernel
    // (at least kUnreadReplyBytes sent but not taken by the peer). A client that pipelines past
    // the cap but reads what it gets is not one. Pipes without a TCP socket of their own
    // (inproc, ipc) are judged by the cap alone.
    bool notReading(nng_pipe pipe);

    // A request of pipe is finished: its reply was handed to the transport, failed, or dropped.
    void release(uint32_t pipe);

    // A reply to pipe is about to be handed to NNG: the sweep watches that connection until
    // everything sent to it has been taken by its client. Nothing without a stall timeout.
    void watch(nng_pipe pipe);

    // One look at every watched connection's socket; closes (closeSlow) the connections of
    // clients that stopped reading for the stall timeout or read too slowly (see the .cpp).
    void sweep();

    // Closes a slow client's pipe (its queued replies complete, freeing their work items) and
    // reports it once through onSlow: later requests already received from it report nothing.
    void closeSlow(nng_pipe pipe, const std::string &why);

    // Keeps peer for its pipe (the first one kept wins; from the pipe's connect notification).
    void remember(std::shared_ptr<const Peer> peer);

    // The pipe is gone: forget all about it (ids are not reused soon, but the tables must not
    // grow forever).
    void forget(uint32_t pipe);

    // Why a connection is closed for going past the cap / reading too slowly / not reading.
    std::string capReason() const;
    std::string drainReason(double bytesPerSecond) const;
    std::string stallReason() const;

private:
    // The TCP socket of pipe, -1 when it has none (inproc, ipc, or gone): found once per pipe (a
    // walk of /proc/self/fd), then kept until the pipe is gone.
    int socketOf(nng_pipe pipe);
    // The Peer of pipe, made outside the lock (NNG's pipe lookup, getpeername, formatting).
    static std::shared_ptr<const Peer> makePeer(nng_pipe pipe);

    // A connection with replies on their way, as the sweep last saw its socket.
    struct Watch {
        nng_pipe pipe = NNG_PIPE_INITIALIZER;
        bool hasRemote = false;
        nng_sockaddr remote{}; // checked before each look: the socket may have been reused
        bool active = false;   // whether the sweep looks at it
        bool baseline = false; // whether `acked` was read since it became active
        uint64_t replies = 0;  // replies handed to NNG for it, ever
        uint64_t acked = 0;    // bytes its client acknowledged, at the last look
        Clock::time_point since; // when the client last took something (or the watch began)
        bool backlog = false;    // reply bytes in its socket (or empty at one look) since...
        bool emptyOnce = false;  // its socket was empty at the last look but not the one before
        Clock::time_point backlogSince; // ...this moment, the start of the rate window
        uint64_t backlogAcked = 0;      // `acked` at backlogSince
        double drainRate = 0;           // bytes/s taken over the last full window
    };

    const int m_maxInFlight;
    const int m_stallTimeoutMs;
    const SlowClientHandler m_onSlow;
    std::mutex m_mutex;
    std::unordered_map<uint32_t, int> m_inFlight;
    // Nodes of m_inFlight entries gone to zero, reused by admit(); at most kSpareNodes.
    static constexpr std::size_t kSpareNodes = 256;
    std::vector<std::unordered_map<uint32_t, int>::node_type> m_spare;
    // The Peer of each connection, made once per connection rather than per request: its
    // address costs NNG's pipe lookup (a lock shared by the whole socket), a getpeername and
    // some formatting, which showed in profiles of unbatched produce.
    std::unordered_map<uint32_t, std::shared_ptr<const Peer>> m_peers;
    std::unordered_set<uint32_t> m_closed;
    std::unordered_map<uint32_t, int> m_fds; // pipe -> its TCP socket, -1 when it has none
    std::unordered_map<uint32_t, Watch> m_watched;
};

} // namespace eddy::net
