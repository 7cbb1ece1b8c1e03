// NNG request server. Each work item cycles RECV -> HANDLE -> SEND; every handler starts the
// next operation so a work item is never idle by accident. HANDLE hands the request to the sink
// and returns; the sink's reply (from any thread, possibly much later) starts the SEND. No engine
// lock is held while an aio is started or finished: replies come from sink callbacks that run
// outside engine locks, and the only locks here are the work item's own stop flag and the table
// of requests in flight per connection, neither held across an NNG call.
//
// Slow consumers: REP sends one reply per connection at a time and queues the others' work
// items behind it, so a client that pipelines requests and never reads would hold one worker
// per request until every worker is stuck. Like NATS, the server bounds what one connection may
// hold (requests in flight, and how long a reply may wait to be sent) and closes a connection
// past either bound, which completes its queued replies and frees their workers.
#include "nng_server.h"

#include "bounded_close.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

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

// The descriptor of a TCP (or TLS) pipe's socket, found by its two addresses among this
// process's descriptors (NNG 1.5.2 does not expose it); -1 for other transports or when gone.
int tcpSocketOf(nng_pipe pipe)
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
        len = sizeof a;
        if (::getpeername(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0
            && sameAddress(a, remote)) {
            found = fd;
            break;
        }
    }
    ::closedir(dir);
    return found;
}

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
    if (const int fd = tcpSocketOf(pipe); fd >= 0 && ::shutdown(fd, SHUT_RDWR) == 0)
        return;
    nng_pipe_close(pipe);
}

// Bytes of replies waiting in a connection's kernel send queue (written, not yet taken by the
// peer) from which a connection past its in-flight cap counts as not reading. A reading peer on
// loopback keeps this near zero; one that does not read fills its receive window and then this
// queue, which is when its replies start to hold request workers.
constexpr int kUnreadReplyBytes = 64 << 10;

// Requests in flight per connection (NNG pipe), shared by every work item of one server.
class PipeLimits
{
public:
    PipeLimits(int maxInFlight, int sendTimeoutMs, SlowClientHandler onSlow)
        : m_maxInFlight(maxInFlight), m_sendTimeoutMs(sendTimeoutMs), m_onSlow(std::move(onSlow))
    {
    }

    int sendTimeoutMs() const { return m_sendTimeoutMs; }

    // Counts a request received on pipe. False when that takes the pipe past the cap: the
    // request is not counted, and the caller asks notReading() whether to close the pipe or to
    // count it anyway with admitOverCap().
    bool admit(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        int &inFlight = m_inFlight[pipe];
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
        const uint32_t id = nng_pipe_id(pipe);
        int fd = -2;
        {
            std::lock_guard lock(m_mutex);
            if (const auto it = m_fds.find(id); it != m_fds.end())
                fd = it->second;
        }
        if (fd == -2) {
            // Found once per pipe (a walk of /proc/self/fd), then kept until the pipe is gone.
            fd = tcpSocketOf(pipe);
            std::lock_guard lock(m_mutex);
            m_fds[id] = fd;
        }
        int unread = 0;
        if (fd < 0 || ::ioctl(fd, SIOCOUTQ, &unread) != 0)
            return true;
        return unread >= kUnreadReplyBytes;
    }

    // A request of pipe is finished: its reply was handed to the transport, failed, or dropped.
    void release(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_inFlight.find(pipe);
        if (it != m_inFlight.end() && --it->second <= 0)
            m_inFlight.erase(it);
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
            // Already gone (a reply of it timing out after its removal): nothing to close or
            // report, and nothing to remember.
            forget(id);
            return;
        }
        peer.address = formatAddress(&sa);
        disconnect(pipe);
        if (m_onSlow)
            m_onSlow(peer, why);
    }

    // The pipe is gone: forget that it was closed as slow (ids are not reused soon, but the set
    // must not grow forever).
    void forget(uint32_t pipe)
    {
        std::lock_guard lock(m_mutex);
        m_closed.erase(pipe);
        m_fds.erase(pipe);
    }

    std::string capReason() const
    {
        return "more than " + std::to_string(m_maxInFlight)
               + " requests in flight on one connection while its replies go unread";
    }

    std::string timeoutReason() const
    {
        return "a reply could not be sent within " + std::to_string(m_sendTimeoutMs)
               + " ms: the client is not reading";
    }

private:
    const int m_maxInFlight;
    const int m_sendTimeoutMs;
    const SlowClientHandler m_onSlow;
    std::mutex m_mutex;
    std::unordered_map<uint32_t, int> m_inFlight;
    std::unordered_set<uint32_t> m_closed;
    std::unordered_map<uint32_t, int> m_fds; // pipe -> its TCP socket, -1 when it has none
};

struct Work : std::enable_shared_from_this<Work> {
    enum class State { Init, Recv, Handle, Send };
    State state = State::Init;
    nng_aio *aio = nullptr;
    nng_ctx ctx = NNG_CTX_INITIALIZER;
    RequestSink *sink = nullptr;
    std::shared_ptr<PipeLimits> limits;
    nng_pipe pipe = NNG_PIPE_INITIALIZER; // whose request this item holds (Handle, Send)
    std::mutex mutex;   // guards stopped against a late reply
    bool stopped = false;

    ~Work()
    {
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
    Peer peer;
    peer.pipeId = nng_pipe_id(pipe);
    nng_sockaddr sa;
    if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0)
        peer.address = formatAddress(&sa);
    const std::string_view body(static_cast<const char *>(nng_msg_body(msg)), nng_msg_len(msg));
    w.state = Work::State::Handle;
    auto self = w.shared_from_this();
    // The request is copied by the sink if it needs it beyond handle(); free it after.
    w.sink->handle(body, peer, [self](std::string reply) {
        std::lock_guard lock(self->mutex);
        if (self->stopped)
            return;
        // An empty reply means "answer nothing" (a dropped request, see request_sink.h): REP
        // forgets the unanswered request when the context receives again.
        nng_msg *out = nullptr;
        if (reply.empty() || nng_msg_alloc(&out, reply.size()) != 0) {
            // Dropped, or out of memory for the reply: that request is over; keep serving.
            self->limits->release(nng_pipe_id(self->pipe));
            return startRecv(*self);
        }
        std::memcpy(nng_msg_body(out), reply.data(), reply.size());
        self->state = Work::State::Send;
        nng_aio_set_msg(self->aio, out);
        const int timeoutMs = self->limits->sendTimeoutMs();
        nng_aio_set_timeout(self->aio, timeoutMs > 0 ? timeoutMs : NNG_DURATION_INFINITE);
        nng_ctx_send(self->ctx, self->aio);
    });
    nng_msg_free(msg);
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
        // Queued behind replies the client does not read: it is a slow consumer.
        if (rv == NNG_ETIMEDOUT)
            w.limits->closeSlow(w.pipe, w.limits->timeoutReason());
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
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        notify->limits->forget(peer.pipeId);
        notify->sink->peerDisconnected(peer.pipeId);
    }
}

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
    impl->notify->sink = &sink;
    impl->notify->limits = limits;
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
        if (int rv = nng_aio_alloc(&w->aio, onAio, w.get()); rv != 0)
            return fail("cannot allocate a work item", rv);
        if (int rv = nng_ctx_open(&w->ctx, impl->socket); rv != 0)
            return fail("cannot open a context", rv);
        impl->works.push_back(std::move(w));
    }
    for (auto &w : impl->works)
        onAio(w.get()); // INIT: start receiving
    return std::unique_ptr<NngServer>(new NngServer(std::move(impl)));
}

} // namespace eddy::net
