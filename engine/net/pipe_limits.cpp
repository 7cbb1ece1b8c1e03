// Per-connection state of the NNG server (class PipeLimits, pipe_limits.h): the in-flight cap,
// each connection's Peer, and the stall sweep that closes the connections of clients that do not
// take their replies. Moved out of nng_server.cpp; the rules are those of docs/reliability.md.
// One mutex guards the tables, held only for lookups and counts: socket look-ups, NNG calls
// and the slow-client report run outside it.
#include "pipe_limits.h"

#include "pipe_socket.h"

#include <cmath>
#include <optional>
#include <utility>

namespace eddy::net {

namespace {

// Disconnects a pipe. NNG 1.5.2 can wedge its reaper for good when nng_pipe_close meets a
// transfer in progress on that connection (a frame half read from a client still sending, or
// a reply half written to one reading slowly; upstream nng PR #1636): the transport restarts
// the transfer after the close stopped it, the protocol's operation never completes, and the
// reaper, which releases every closed connection of the process, waits for it forever. So a
// TCP connection is reset at the socket instead: every transfer then ends in an error, and
// NNG closes the pipe itself from that error, with nothing half done. Other transports (and a
// socket that cannot be found) are closed the ordinary way.
void disconnect(nng_pipe pipe)
{
    if (!resetPipeConnection(pipe))
        nng_pipe_close(pipe);
}

// Bytes of replies waiting in a connection's kernel send queue (written, not yet taken by the
// peer) from which a connection past its in-flight cap counts as not reading. A reading peer on
// loopback keeps this near zero; one that does not read fills its receive window and then this
// queue, which is when its replies start to hold request workers.
constexpr int kUnreadReplyBytes = 64 << 10;

// The minimum rate at which a client must take its replies while they wait for it: a connection
// whose socket held reply bytes the client had not acknowledged for kDrainWindow (at every look but
// never two in a row: it never caught up), and whose client acknowledged less than
// kMinDrainBytesPerSecond on average over that window, is closed as a slow consumer. Without it a
// client reading a few bytes every few seconds (which keeps the stall rule from firing) would hold
// its workers and buffers forever. The socket's queue is the sign, not its size: a client with a
// small receive window never lets the broker's send buffer grow, so its replies wait in NNG rather
// than in the kernel. 16 KiB/s is far below any working client (one reading on loopback takes
// megabytes per second, and its socket empties between replies) and above a trickle.
constexpr auto kDrainWindow = std::chrono::seconds(10);
constexpr double kMinDrainBytesPerSecond = 16 << 10;

} // namespace

PipeLimits::PipeLimits(int maxInFlight, int stallTimeoutMs, SlowClientHandler onSlow)
    : m_maxInFlight(maxInFlight), m_stallTimeoutMs(stallTimeoutMs), m_onSlow(std::move(onSlow))
{
}

PipeLimits::Admission PipeLimits::admit(nng_pipe pipe, std::shared_ptr<const Peer> &peer)
{
    const uint32_t id = nng_pipe_id(pipe);
    Admission admission = Admission::Admitted;
    {
        // One lock for the count, the Peer and the closed set: they were separate tables, each
        // with its own lock, and this runs for every request.
        std::lock_guard lock(m_mutex);
        // Read before its connection was reset: handling it would put the client back on the
        // clients list (ProtocolHandler::track) that closeSlow just took it off.
        if (!m_closed.empty() && m_closed.count(id) != 0)
            return Admission::Closed;
        if (const auto known = m_peers.find(id); known == m_peers.end())
            peer.reset();
        else if (peer != known->second)
            peer = known->second; // a work item serving the same pipe again keeps its copy
        auto it = m_inFlight.find(id);
        if (it == m_inFlight.end()) {
            if (m_spare.empty()) {
                it = m_inFlight.emplace(id, 0).first;
            } else {
                auto node = std::move(m_spare.back());
                m_spare.pop_back();
                node.key() = id;
                node.mapped() = 0;
                it = m_inFlight.insert(std::move(node)).position;
            }
        }
        int &inFlight = it->second;
        if (m_maxInFlight > 0 && inFlight >= m_maxInFlight)
            admission = Admission::OverCap;
        else
            ++inFlight;
    }
    if (!peer) {
        // A request before the pipe's connect notification: resolve its Peer here, once.
        auto made = makePeer(pipe);
        if (made->address.empty()) {
            peer = std::move(made); // gone already: not kept (its removal may have been handled)
        } else {
            // A pipe removed since the lookup above leaves its entry behind (a few dozen bytes;
            // the same window as the socket cache of socketOf()).
            std::lock_guard lock(m_mutex);
            peer = m_peers.emplace(id, std::move(made)).first->second;
        }
    }
    return admission;
}

std::shared_ptr<const Peer> PipeLimits::makePeer(nng_pipe pipe)
{
    auto peer = std::make_shared<Peer>();
    peer->pipeId = nng_pipe_id(pipe);
    nng_sockaddr sa;
    if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0)
        peer->address = formatAddress(&sa);
    return peer;
}

void PipeLimits::remember(std::shared_ptr<const Peer> peer)
{
    std::lock_guard lock(m_mutex);
    const uint32_t id = peer->pipeId;
    m_peers.emplace(id, std::move(peer));
}

void PipeLimits::admitOverCap(uint32_t pipe)
{
    std::lock_guard lock(m_mutex);
    ++m_inFlight[pipe];
}

// Whether a pipe past the cap is a slow consumer: its replies pile up unread in the kernel
// (at least kUnreadReplyBytes sent but not taken by the peer). A client that pipelines past
// the cap but reads what it gets is not one: on loopback or a LAN its replies leave the
// send queue as fast as they are written. Pipes without a TCP socket of their own (inproc,
// ipc) are judged by the cap alone.
bool PipeLimits::notReading(nng_pipe pipe)
{
    const int fd = socketOf(pipe);
    const auto out = fd >= 0 ? socketOutput(fd) : std::nullopt;
    return !out || out->queued >= std::size_t(kUnreadReplyBytes);
}

// A request of pipe is finished: its reply was handed to the transport, failed, or dropped.
void PipeLimits::release(uint32_t pipe)
{
    std::lock_guard lock(m_mutex);
    const auto it = m_inFlight.find(pipe);
    if (it == m_inFlight.end() || --it->second > 0)
        return;
    // A connection with one request at a time comes here on every request: its entry's
    // node is kept for the next admit() rather than freed and allocated again.
    if (m_spare.size() < kSpareNodes)
        m_spare.push_back(m_inFlight.extract(it));
    else
        m_inFlight.erase(it);
}

// A reply to pipe is about to be handed to NNG: the sweep watches that connection until
// everything sent to it has been taken by its client.
void PipeLimits::watch(nng_pipe pipe)
{
    if (m_stallTimeoutMs <= 0)
        return;
    std::lock_guard lock(m_mutex);
    Watch &w = m_watched[nng_pipe_id(pipe)];
    w.pipe = pipe;
    if (!w.active) {
        w.active = true;
        w.baseline = false;
        w.backlog = false;
    }
    ++w.replies;
}

// One look at every watched connection's socket. A connection whose socket holds bytes its
// client has not acknowledged, and whose count of acknowledged bytes has not moved for the
// stall timeout, belongs to a client that is not reading: it is closed as slow. So is one
// whose socket held reply bytes at every look for kDrainWindow while its client took less
// than kMinDrainBytesPerSecond over that window (reading too slowly). A connection whose
// socket is empty with no request in flight has taken everything: no longer watched.
// Connections that are not TCP (ipc://, inproc://) are not watched (only the cap bounds
// them).
void PipeLimits::sweep()
{
    struct Look {
        uint32_t id;
        Watch watch;
        bool idle; // no request in flight when looked at
    };
    std::vector<Look> looks;
    std::vector<nng_pipe> unknown; // whose socket is not known yet
    {
        std::lock_guard lock(m_mutex);
        for (const auto &[id, w] : m_watched)
            if (w.active) {
                looks.push_back({id, w, m_inFlight.find(id) == m_inFlight.end()});
                if (m_fds.find(id) == m_fds.end())
                    unknown.push_back(w.pipe);
            }
    }
    if (!unknown.empty()) {
        // All new connections' sockets in one walk of the descriptors, not one walk each.
        const auto fds = pipeSockets(unknown);
        std::lock_guard lock(m_mutex);
        for (std::size_t i = 0; i < unknown.size(); ++i)
            if (m_watched.count(nng_pipe_id(unknown[i]))) // not gone meanwhile
                m_fds.emplace(nng_pipe_id(unknown[i]), fds[i]);
    }
    for (auto &look : looks) {
        Watch &w = look.watch;
        const int fd = socketOf(w.pipe);
        if (fd >= 0 && !w.hasRemote)
            w.hasRemote = nng_pipe_get_addr(w.pipe, NNG_OPT_REMADDR, &w.remote) == 0;
        std::optional<SocketOutput> out;
        if (fd >= 0 && w.hasRemote && socketConnectedTo(fd, w.remote))
            out = socketOutput(fd);
        const auto now = Clock::now();
        bool stalled = false;
        bool tooSlow = false;
        bool done = !out;
        if (out && out->queued == 0) {
            // Everything written was taken; with no request in flight (every reply's
            // first write was attempted before that count dropped) nothing is on its way.
            done = look.idle;
            w.since = now;
        } else if (out && (!w.baseline || out->acked != w.acked)) {
            w.since = now;
        } else if (out && now - w.since >= std::chrono::milliseconds(m_stallTimeoutMs)) {
            stalled = true;
        }
        // An empty socket at one look does not end a backlog: a slow client's socket can
        // empty for a moment between the client taking bytes and NNG (late on a loaded
        // machine) writing more. Empty at two looks in a row, it ends.
        const bool waiting = out && (out->queued > 0 || (w.backlog && !w.emptyOnce));
        if (out)
            w.emptyOnce = out->queued == 0 && !w.emptyOnce;
        if (waiting && !stalled) {
            // Replies pile up: measure how fast the client takes them, window by window.
            if (!w.backlog) {
                w.backlog = true;
                w.backlogSince = now;
                w.backlogAcked = out->acked;
            } else if (now - w.backlogSince >= kDrainWindow) {
                const double seconds =
                    std::chrono::duration<double>(now - w.backlogSince).count();
                w.drainRate = double(out->acked - w.backlogAcked) / seconds;
                tooSlow = w.drainRate < kMinDrainBytesPerSecond;
                w.backlogSince = now;
                w.backlogAcked = out->acked;
            }
        } else {
            w.backlog = false; // the backlog went (or there is no socket to look at)
        }
        if (out) {
            w.acked = out->acked;
            w.baseline = true;
        }
        {
            std::lock_guard lock(m_mutex);
            const auto it = m_watched.find(look.id);
            if (it == m_watched.end())
                continue; // the pipe went meanwhile
            Watch &kept = it->second;
            kept.hasRemote = w.hasRemote;
            kept.remote = w.remote;
            kept.since = w.since;
            kept.acked = w.acked;
            kept.baseline = w.baseline;
            kept.backlog = w.backlog;
            kept.emptyOnce = w.emptyOnce;
            kept.backlogSince = w.backlogSince;
            kept.backlogAcked = w.backlogAcked;
            // A reply sent since the look keeps the connection watched.
            if ((done || stalled || tooSlow) && kept.replies == w.replies)
                kept.active = false;
        }
        if (stalled)
            closeSlow(w.pipe, stallReason());
        else if (tooSlow)
            closeSlow(w.pipe, drainReason(w.drainRate));
    }
}

// Closes a slow client's pipe (its queued replies complete, freeing their work items) and
// reports it once: later requests already received from it report nothing more.
void PipeLimits::closeSlow(nng_pipe pipe, const std::string &why)
{
    const uint32_t id = nng_pipe_id(pipe);
    {
        std::lock_guard lock(m_mutex);
        if (!m_closed.insert(id).second)
            return;
    }
    Peer peer;
    peer.pipeId = id;
    nng_sockaddr sa;
    if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0) {
        // Already gone: nothing to close or report, and nothing to remember.
        forget(id);
        return;
    }
    peer.address = formatAddress(&sa);
    disconnect(pipe);
    if (m_onSlow)
        m_onSlow(peer, why);
}

// The pipe is gone: forget all about it (ids are not reused soon, but the tables must not
// grow forever).
void PipeLimits::forget(uint32_t pipe)
{
    std::lock_guard lock(m_mutex);
    m_closed.erase(pipe);
    m_fds.erase(pipe);
    m_watched.erase(pipe);
    m_peers.erase(pipe);
}

std::string PipeLimits::capReason() const
{
    return "more than " + std::to_string(m_maxInFlight)
           + " requests in flight on one connection while its replies go unread";
}

std::string PipeLimits::drainReason(double bytesPerSecond) const
{
    return "replies waiting to be read for "
           + std::to_string(std::chrono::seconds(kDrainWindow).count())
           + " s while the client took " + std::to_string(std::llround(bytesPerSecond))
           + " bytes/s of them, under the minimum of "
           + std::to_string(std::llround(kMinDrainBytesPerSecond / 1024))
           + " KiB/s: the client reads too slowly";
}

std::string PipeLimits::stallReason() const
{
    return "replies waiting to be read for " + std::to_string(m_stallTimeoutMs)
           + " ms without the client taking any of them: the client is not reading";
}

int PipeLimits::socketOf(nng_pipe pipe)
{
    const uint32_t id = nng_pipe_id(pipe);
    {
        std::lock_guard lock(m_mutex);
        if (const auto it = m_fds.find(id); it != m_fds.end())
            return it->second;
    }
    const int fd = pipeSocket(pipe);
    std::lock_guard lock(m_mutex);
    m_fds[id] = fd;
    return fd;
}

} // namespace eddy::net
