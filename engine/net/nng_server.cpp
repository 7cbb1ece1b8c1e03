// NNG request server. Each work item cycles RECV -> HANDLE -> SEND; every handler starts the
// next operation so a work item is never idle by accident. HANDLE hands the request to the sink
// and returns; the sink's reply (from any thread, possibly much later) starts the SEND. No engine
// lock is held while an aio is started or finished: replies come from sink callbacks that run
// outside engine locks, and the only locks here are the work item's own stop flag and the table
// of connections (requests in flight, replies on their way), neither held across an NNG call.
//
// Slow consumers: REP sends one reply per connection at a time and queues the others' work
// items behind it, so a client that pipelines requests and never reads would hold one worker
// per request until every worker is stuck. Like NATS, the server bounds what one connection may
// hold and closes a connection past either bound, which completes its queued replies and frees
// their workers: requests in flight (counted here), and how long its client may leave the
// replies sent to it untaken. The latter is not NNG's send timeout: NNG 1.5.2's REP applies it
// only to a reply queued behind another one still being written, and a reply that fits the
// kernel's socket buffers is "sent" at once, so whether it fires depends on reply sizes and TCP
// buffer growth (docs/reliability.md). Instead a sweep thread watches each TCP connection with
// replies on their way at the socket: bytes queued that the client has not acknowledged, and
// whether that count of acknowledged bytes still moves.
#include "nng_server.h"

#include "bounded_close.h"
#include "pipe_socket.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace eddy::net {

std::string formatAddress(const void *nngSockaddr)
{
    const auto *sa = static_cast<const nng_sockaddr *>(nngSockaddr);
    char buf[INET6_ADDRSTRLEN] = {};
    switch (sa->s_family) {
    case NNG_AF_INET:
        inet_ntop(AF_INET, &sa->s_in.sa_addr, buf, sizeof buf);
        return std::string("tcp://") + buf + ":" + std::to_string(ntohs(sa->s_in.sa_port));
    case NNG_AF_INET6:
        inet_ntop(AF_INET6, sa->s_in6.sa_addr, buf, sizeof buf);
        return std::string("tcp://[") + buf + "]:" + std::to_string(ntohs(sa->s_in6.sa_port));
    case NNG_AF_IPC:
        return std::string("ipc://") + sa->s_ipc.sa_path;
    case NNG_AF_INPROC: {
        // NNG 1.5 reports the whole URL as the inproc name; older releases the bare name.
        const std::string name = sa->s_inproc.sa_name;
        return name.rfind("inproc://", 0) == 0 ? name : "inproc://" + name;
    }
    default:
        return "unknown";
    }
}

bool isLoopbackUrl(std::string_view url)
{
    if (url.rfind("inproc://", 0) == 0 || url.rfind("ipc://", 0) == 0)
        return true;
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos)
        return false;
    std::string_view host = url.substr(scheme + 3);
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        return close != std::string_view::npos && host.substr(1, close - 1) == "::1";
    }
    host = host.substr(0, host.rfind(':'));
    if (host == "localhost")
        return true;
    // Digits and dots only: "127.example.com" is a name like any other.
    return host.rfind("127.", 0) == 0
           && host.find_first_not_of("0123456789.") == std::string_view::npos;
}

namespace {

// Disconnects a pipe. NNG 1.5.2 can wedge its reaper for good when nng_pipe_close meets a
// transfer in progress on that connection (a frame half read from a client still sending, or
// a reply half written to one reading slowly; upstream nng PR #1636): the transport restarts
// the transfer after the close stopped it, the protocol's operation never completes, and the
// reaper, which releases every closed connection of the process, waits for it forever. So a
// TCP connection is shut down at the socket instead: every transfer then ends in an error, and
// NNG closes the pipe itself from that error, with nothing half done. Other transports (and a
// socket that cannot be found) are closed the ordinary way.
void disconnect(nng_pipe pipe)
{
    if (!shutdownPipeSocket(pipe))
        nng_pipe_close(pipe);
}

// Bytes of replies waiting in a connection's kernel send queue (written, not yet taken by the
// peer) from which a connection past its in-flight cap counts as not reading. A reading peer on
// loopback keeps this near zero; one that does not read fills its receive window and then this
// queue, which is when its replies start to hold request workers.
constexpr int kUnreadReplyBytes = 64 << 10;

// The minimum rate at which a client must take its replies while they wait for it: a connection
// whose socket held reply bytes the client had not acknowledged for kDrainWindow (at every look
// but never two in a row: it never caught up), and whose client acknowledged less than kMinDrainBytesPerSecond on
// average over that window, is closed as a slow consumer. Without it a client reading a few
// bytes every few seconds (which keeps the stall rule from firing) would hold its workers and
// buffers forever. The socket's queue is the sign, not its size: a client with a small receive
// window never lets the broker's send buffer grow, so its replies wait in NNG rather than in the
// kernel. 16 KiB/s is far below any working client (one reading on loopback takes megabytes per
// second, and its socket empties between replies) and above a trickle.
constexpr auto kDrainWindow = std::chrono::seconds(10);
constexpr double kMinDrainBytesPerSecond = 16 << 10;

// What one server knows of its connections (NNG pipes), shared by every work item and the stall
// sweep: requests in flight per connection, and the TCP connections with replies on their way.
class PipeLimits
{
public:
    using Clock = std::chrono::steady_clock;

    PipeLimits(int maxInFlight, int stallTimeoutMs, SlowClientHandler onSlow)
        : m_maxInFlight(maxInFlight), m_stallTimeoutMs(stallTimeoutMs), m_onSlow(std::move(onSlow))
    {
    }

    int stallTimeoutMs() const { return m_stallTimeoutMs; }

    // Counts a request received on pipe. False when that takes the pipe past the cap: the
    // request is not counted, and the caller asks notReading() whether to close the pipe or to
    // count it anyway with admitOverCap().
    bool admit(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        auto it = m_inFlight.find(pipe);
        if (it == m_inFlight.end()) {
            if (m_spare.empty()) {
                it = m_inFlight.emplace(pipe, 0).first;
            } else {
                auto node = std::move(m_spare.back());
                m_spare.pop_back();
                node.key() = pipe;
                node.mapped() = 0;
                it = m_inFlight.insert(std::move(node)).position;
            }
        }
        int &inFlight = it->second;
        if (m_maxInFlight > 0 && inFlight >= m_maxInFlight)
            return false;
        ++inFlight;
        return true;
    }

    // Counts a request past the cap of a client that reads its replies.
    void admitOverCap(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        ++m_inFlight[pipe];
    }

    // Whether a pipe past the cap is a slow consumer: its replies pile up unread in the kernel
    // (at least kUnreadReplyBytes sent but not taken by the peer). A client that pipelines past
    // the cap but reads what it gets is not one: on loopback or a LAN its replies leave the
    // send queue as fast as they are written. Pipes without a TCP socket of their own (inproc,
    // ipc) are judged by the cap alone.
    bool notReading(nng_pipe pipe)
    {
        const int fd = socketOf(pipe);
        const auto out = fd >= 0 ? socketOutput(fd) : std::nullopt;
        return !out || out->queued >= std::size_t(kUnreadReplyBytes);
    }

    // A request of pipe is finished: its reply was handed to the transport, failed, or dropped.
    void release(uint32_t pipe)
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
    void watch(nng_pipe pipe)
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
    void sweep()
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
    void closeSlow(nng_pipe pipe, const std::string &why)
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
    void forget(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        m_closed.erase(pipe);
        m_fds.erase(pipe);
        m_watched.erase(pipe);
    }

    std::string capReason() const
    {
        return "more than " + std::to_string(m_maxInFlight)
               + " requests in flight on one connection while its replies go unread";
    }

    std::string drainReason(double bytesPerSecond) const
    {
        return "replies waiting to be read for "
               + std::to_string(std::chrono::seconds(kDrainWindow).count())
               + " s while the client took " + std::to_string(std::llround(bytesPerSecond))
               + " bytes/s of them, under the minimum of "
               + std::to_string(std::llround(kMinDrainBytesPerSecond / 1024))
               + " KiB/s: the client reads too slowly";
    }

    std::string stallReason() const
    {
        return "replies waiting to be read for " + std::to_string(m_stallTimeoutMs)
               + " ms without the client taking any of them: the client is not reading";
    }

private:
    // The TCP socket of pipe, -1 when it has none (inproc, ipc, or gone): found once per pipe (a
    // walk of /proc/self/fd), then kept until the pipe is gone.
    int socketOf(nng_pipe pipe)
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
    std::unordered_set<uint32_t> m_closed;
    std::unordered_map<uint32_t, int> m_fds; // pipe -> its TCP socket, -1 when it has none
    std::unordered_map<uint32_t, Watch> m_watched;
};

// The Peer of each connection, made once per connection rather than per request: its address
// costs NNG's pipe lookup (a lock shared by the whole socket), a getpeername and some
// formatting, which showed in profiles of unbatched produce. Entries go when the pipe does.
class PeerBook
{
public:
    // The Peer of pipe (its address empty when NNG no longer knows the pipe).
    std::shared_ptr<const Peer> of(nng_pipe pipe)
    {
        const uint32_t id = nng_pipe_id(pipe);
        {
            std::lock_guard lock(m_mutex);
            if (const auto it = m_peers.find(id); it != m_peers.end())
                return it->second;
        }
        auto peer = std::make_shared<Peer>();
        peer->pipeId = id;
        nng_sockaddr sa;
        if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0)
            return peer; // gone already: not kept (its removal may have been handled)
        peer->address = formatAddress(&sa);
        return remember(std::move(peer));
    }

    // Keeps peer for its pipe (the first one kept wins) and returns the kept one. A pipe
    // removed between of()'s lookup and this leaves its entry behind (a few dozen bytes; the
    // same window as PipeLimits' socket cache).
    std::shared_ptr<const Peer> remember(std::shared_ptr<const Peer> peer)
    {
        std::lock_guard lock(m_mutex);
        return m_peers.emplace(peer->pipeId, std::move(peer)).first->second;
    }

    void forget(uint32_t pipeId)
    {
        std::lock_guard lock(m_mutex);
        m_peers.erase(pipeId);
    }

private:
    std::mutex m_mutex;
    std::unordered_map<uint32_t, std::shared_ptr<const Peer>> m_peers;
};

struct Work : std::enable_shared_from_this<Work> {
    enum class State { Init, Recv, Handle, Send };
    State state = State::Init;
    nng_aio *aio = nullptr;
    nng_ctx ctx = NNG_CTX_INITIALIZER;
    RequestSink *sink = nullptr;
    std::shared_ptr<PipeLimits> limits;
    std::shared_ptr<PeerBook> peers;
    nng_pipe pipe = NNG_PIPE_INITIALIZER; // whose request this item holds (Handle, Send)
    // The request being handled (Handle). Its message carries the reply: the body is replaced
    // by the reply's bytes, as NNG's own REP servers do, instead of allocating a message per
    // reply. Owned by this item until it is handed to nng_ctx_send or freed.
    nng_msg *request = nullptr;
    std::mutex mutex;   // guards stopped, handling and early against a late reply
    bool stopped = false;
    // While the sink's handle() runs, its body still points into the request's message, so a
    // reply given inline (the common case: acks=leader answers in the same call) is kept in
    // early and sent once handle() returns.
    bool handling = false;
    std::optional<std::string> early;

    ~Work()
    {
        if (request)
            nng_msg_free(request); // a reply that never came (the server stopped first)
        if (aio)
            nng_aio_free(aio);
    }
};

// What the server's pipe notifications need: the sink (clients list) and the limits. Shared
// with a close that may outlive the server (NngServerImpl::stop), so once the server stopped
// the callbacks no longer reach the sink.
struct PipeNotify {
    std::mutex mutex; // held while a callback uses the sink; stop() sets stopped under it
    bool stopped = false;
    RequestSink *sink = nullptr;
    std::shared_ptr<PipeLimits> limits;
    std::shared_ptr<PeerBook> peers;
};

void onAio(void *arg);

std::optional<std::string> readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void startRecv(Work &w)
{
    w.state = Work::State::Recv;
    // Waiting for a request is not bounded; only sends are (slow consumers).
    nng_aio_set_timeout(w.aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(w.ctx, w.aio);
}

// Sends reply in the request's message (w.mutex held, w.request set). An empty reply means
// "answer nothing" (a dropped request, see request_sink.h): REP forgets the unanswered request
// when the context receives again.
void sendReply(Work &w, std::string_view reply)
{
    nng_msg *out = w.request;
    w.request = nullptr;
    // REP keeps the request's routing header in the context; only the body is the reply's.
    nng_msg_clear(out);
    if (reply.empty() || nng_msg_append(out, reply.data(), reply.size()) != 0) {
        // Dropped, or out of memory for the reply: that request is over; keep serving.
        nng_msg_free(out);
        w.limits->release(nng_pipe_id(w.pipe));
        return startRecv(w);
    }
    w.state = Work::State::Send;
    nng_aio_set_msg(w.aio, out);
    // Not bounded by an aio timeout (NNG's REP would apply it to some replies only): the stall
    // sweep closes the connection of a client that does not take its replies, which completes
    // this send.
    nng_aio_set_timeout(w.aio, NNG_DURATION_INFINITE);
    w.limits->watch(w.pipe);
    nng_ctx_send(w.ctx, w.aio);
}

void handleRecv(Work &w)
{
    if (const int rv = nng_aio_result(w.aio); rv != 0) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return; // the socket is closing: this work item ends here
        return startRecv(w); // a failed receive (e.g. oversized frame) costs only that pipe
    }
    nng_msg *msg = nng_aio_get_msg(w.aio);
    nng_pipe pipe = nng_msg_get_pipe(msg);
    if (!w.limits->admit(nng_pipe_id(pipe))) {
        if (w.limits->notReading(pipe)) {
            // Past the cap with its replies unread: this request is not handled; closing the
            // pipe completes the replies queued behind it, so their work items return to
            // receiving.
            nng_msg_free(msg);
            w.limits->closeSlow(pipe, w.limits->capReason());
            return startRecv(w);
        }
        w.limits->admitOverCap(nng_pipe_id(pipe));
    }
    w.pipe = pipe;
    const std::shared_ptr<const Peer> peer = w.peers->of(pipe);
    const std::string_view body(static_cast<const char *>(nng_msg_body(msg)), nng_msg_len(msg));
    w.state = Work::State::Handle;
    // Set before the callback exists: whichever thread runs it later got it from handle(),
    // after these writes.
    w.request = msg;
    w.handling = true;
    auto self = w.shared_from_this();
    // The request is copied by the sink if it needs it beyond handle(); its message then
    // becomes the reply's.
    w.sink->handle(body, *peer, [self](std::string reply) {
        std::lock_guard lock(self->mutex);
        if (self->stopped)
            return;
        if (self->handling) {
            self->early = std::move(reply);
            return;
        }
        sendReply(*self, reply);
    });
    std::lock_guard lock(w.mutex);
    w.handling = false;
    if (w.stopped || !w.early)
        return; // answered later, from the sink's callback
    const std::string reply = std::move(*w.early);
    w.early.reset();
    sendReply(w, reply);
}

void handleSend(Work &w)
{
    const int rv = nng_aio_result(w.aio);
    w.limits->release(nng_pipe_id(w.pipe));
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(w.aio)); // unsent replies stay ours to free
        nng_aio_set_msg(w.aio, nullptr);
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
    }
    startRecv(w);
}

void onAio(void *arg)
{
    auto &w = *static_cast<Work *>(arg);
    switch (w.state) {
    case Work::State::Init:
        return startRecv(w);
    case Work::State::Recv:
        return handleRecv(w);
    case Work::State::Send:
        return handleSend(w);
    case Work::State::Handle:
        return; // not an aio state: the reply callback moves on from here
    }
}

void onPipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    auto *notify = static_cast<PipeNotify *>(arg);
    Peer peer;
    peer.pipeId = nng_pipe_id(pipe);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        nng_sockaddr sa;
        if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0)
            peer.address = formatAddress(&sa);
    }
    std::lock_guard lock(notify->mutex);
    if (notify->stopped)
        return;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        notify->sink->peerConnected(peer);
        if (!peer.address.empty())
            notify->peers->remember(std::make_shared<const Peer>(peer));
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        notify->limits->forget(peer.pipeId);
        notify->peers->forget(peer.pipeId);
        notify->sink->peerDisconnected(peer.pipeId);
    }
}

// The stall sweep's thread: looks at the watched connections every period until stopped.
class Sweeper
{
public:
    Sweeper(std::shared_ptr<PipeLimits> limits, int periodMs)
        : m_limits(std::move(limits)), m_period(periodMs)
    {
        m_thread = std::thread([this] { run(); });
    }
    ~Sweeper()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_cv.notify_all();
        m_thread.join();
    }

private:
    void run()
    {
        std::unique_lock lock(m_mutex);
        while (!m_cv.wait_for(lock, m_period, [this] { return m_stop; })) {
            lock.unlock();
            m_limits->sweep();
            lock.lock();
        }
    }

    std::shared_ptr<PipeLimits> m_limits;
    std::chrono::milliseconds m_period;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop = false;
    std::thread m_thread;
};

} // namespace

class NngServerImpl
{
public:
    nng_socket socket = NNG_SOCKET_INITIALIZER;
    std::vector<std::shared_ptr<Work>> works;
    std::vector<nng_listener> listeners;
    std::vector<std::string> urls;
    nng_tls_config *tls = nullptr;
    std::shared_ptr<PipeNotify> notify = std::make_shared<PipeNotify>();
    std::unique_ptr<Sweeper> sweeper; // none without a stall timeout
    int closeTimeoutMs = 5000;
    bool closeAbandoned = false;
    bool open = false;

    ~NngServerImpl()
    {
        stop();
        if (tls && !closeAbandoned)
            nng_tls_config_free(tls);
    }

    void stop()
    {
        if (!open)
            return;
        open = false;
        // No connection is closed as slow (nor reported) once stopping began.
        sweeper.reset();
        for (auto &w : works) {
            std::lock_guard lock(w->mutex);
            w->stopped = true;
        }
        // Stop the work items' aios before closing the socket: replies queued behind a pipe that
        // never drains (a client that does not read) are cancelled here, and nng_close no longer
        // waits on them.
        for (auto &w : works)
            nng_aio_stop(w->aio);
        {
            std::lock_guard lock(notify->mutex);
            notify->stopped = true;
        }
        closeSocket();
        // Work items still referenced by a pending reply callback free themselves later.
        works.clear();
    }

    // nng_close, bounded (see bounded_close.h). Nothing of ours is involved by then (the work
    // items are stopped, the callbacks cut off from the sink); the pipe-notify state is kept
    // alive by an abandoned close.
    void closeSocket()
    {
        if (!closeSocketBounded(socket, closeTimeoutMs, notify))
            closeAbandoned = true;
    }
};

NngServer::NngServer(std::unique_ptr<NngServerImpl> impl) : m_impl(std::move(impl)) {}

NngServer::~NngServer() = default;

void NngServer::stop()
{
    m_impl->stop();
}

bool NngServer::closeAbandoned() const
{
    return m_impl->closeAbandoned;
}

std::vector<std::string> NngServer::urls() const
{
    return m_impl->urls;
}

Result<std::unique_ptr<NngServer>> NngServer::start(const ServerOptions &options, RequestSink &sink)
{
    auto impl = std::make_unique<NngServerImpl>();
    const auto fail = [](const std::string &what, int rv) {
        return makeError(Errc::InvalidConfig, what + ": " + nng_strerror(rv));
    };
    if (int rv = nng_rep0_open(&impl->socket); rv != 0)
        return fail("cannot open the request socket", rv);
    impl->open = true;
    nng_socket_set_size(impl->socket, NNG_OPT_RECVMAXSZ, options.maxMessageBytes);
    auto limits = std::make_shared<PipeLimits>(options.maxInFlightPerConnection,
                                               options.sendTimeoutMs, options.onSlowClient);
    auto peers = std::make_shared<PeerBook>();
    impl->notify->sink = &sink;
    impl->notify->limits = limits;
    impl->notify->peers = peers;
    impl->closeTimeoutMs = options.closeTimeoutMs;
    nng_pipe_notify(impl->socket, NNG_PIPE_EV_ADD_POST, onPipe, impl->notify.get());
    nng_pipe_notify(impl->socket, NNG_PIPE_EV_REM_POST, onPipe, impl->notify.get());

    for (const auto &url : options.listen) {
        nng_listener listener;
        if (int rv = nng_listener_create(&listener, impl->socket, url.c_str()); rv != 0)
            return fail("cannot listen on " + url, rv);
        if (url.rfind("tls+tcp://", 0) == 0) {
            if (!impl->tls) {
                const auto &tls = options.tls;
                if (tls.certFile.empty() || tls.keyFile.empty())
                    return makeError(Errc::InvalidConfig,
                                     url + " needs a certificate and key (--tls-cert, --tls-key)");
                if (tls.requireClientCert && tls.caFile.empty())
                    return makeError(Errc::InvalidConfig,
                                     "mutual TLS needs a CA to verify client certificates with "
                                     "(--tls-ca)");
                if (int rv = nng_tls_config_alloc(&impl->tls, NNG_TLS_MODE_SERVER); rv != 0)
                    return fail("TLS", rv);
                const auto cert = readFile(tls.certFile);
                const auto key = readFile(tls.keyFile);
                if (!cert || !key)
                    return makeError(Errc::InvalidConfig, "cannot read TLS certificate "
                                                              + tls.certFile + " or key "
                                                              + tls.keyFile);
                if (int rv = nng_tls_config_own_cert(impl->tls, cert->c_str(), key->c_str(), nullptr);
                    rv != 0)
                    return fail("TLS certificate " + tls.certFile, rv);
                if (!tls.caFile.empty()) {
                    if (int rv = nng_tls_config_ca_file(impl->tls, tls.caFile.c_str()); rv != 0)
                        return fail("TLS CA file " + tls.caFile, rv);
                }
                nng_tls_config_auth_mode(impl->tls, tls.requireClientCert
                                                        ? NNG_TLS_AUTH_MODE_REQUIRED
                                                        : NNG_TLS_AUTH_MODE_NONE);
            }
            if (int rv = nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, impl->tls); rv != 0)
                return fail("TLS on " + url, rv);
        }
        if (int rv = nng_listener_start(listener, 0); rv != 0)
            return fail("cannot listen on " + url, rv);
        impl->listeners.push_back(listener);
        std::string bound = url;
        nng_sockaddr sa;
        if (url.find("tcp://") != std::string::npos
            && nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &sa) == 0) {
            const std::string scheme = url.substr(0, url.find("://") + 3);
            bound = scheme + formatAddress(&sa).substr(6);
        }
        impl->urls.push_back(bound);
    }

    for (int i = 0; i < std::max(1, options.workers); ++i) {
        auto w = std::make_shared<Work>();
        w->sink = &sink;
        w->limits = limits;
        w->peers = peers;
        if (int rv = nng_aio_alloc(&w->aio, onAio, w.get()); rv != 0)
            return fail("cannot allocate a work item", rv);
        if (int rv = nng_ctx_open(&w->ctx, impl->socket); rv != 0)
            return fail("cannot open a context", rv);
        impl->works.push_back(std::move(w));
    }
    for (auto &w : impl->works)
        onAio(w.get()); // INIT: start receiving
    if (options.sendTimeoutMs > 0)
        impl->sweeper = std::make_unique<Sweeper>(limits,
                                                  std::clamp(options.sendTimeoutMs / 10, 10, 250));
    return std::unique_ptr<NngServer>(new NngServer(std::move(impl)));
}

} // namespace eddy::net
