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
#include "pipe_limits.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
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

// Named rather than anonymous: NngServerImpl, which has external linkage, holds these types.
namespace server_detail {

// A work item is the reply target of the request it holds: the sink's ReplyFn counts it, and
// the server's list holds one count, so an item outlives the server while a reply may still
// come (a parked long-poll answered after stop()).
struct Work final : ReplyTarget {
    enum class State { Init, Recv, Handle, Send };
    State state = State::Init;
    nng_aio *aio = nullptr;
    nng_ctx ctx = NNG_CTX_INITIALIZER;
    RequestSink *sink = nullptr;
    std::shared_ptr<PipeLimits> limits;
    nng_pipe pipe = NNG_PIPE_INITIALIZER; // whose request this item holds (Handle, Send)
    // That pipe's Peer (from PipeLimits::admit), kept by this item for the request's sake.
    std::shared_ptr<const Peer> peer;
    // The request being handled (Handle). Its message carries the reply: the body is replaced
    // by the reply's bytes, as NNG's own REP servers do, instead of allocating a message per
    // reply. Owned by this item until it is handed to nng_ctx_send or freed.
    nng_msg *request = nullptr;
    std::mutex mutex;   // guards stopped, handling and early against a late reply
    bool stopped = false;
    // While the sink's handle() runs, its body still points into the request's message, so a
    // reply given inline (the common case: acks=leader answers in the same call) is copied to
    // early and sent once handle() returns. The buffer is the item's own and keeps its capacity
    // from request to request (up to kKeptEarlyBytes), so the copy allocates nothing.
    bool handling = false;
    bool hasEarly = false;
    std::string early;

    void reply(std::string_view bytes) override;

    ~Work() override
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

// What a work item's early-reply buffer may keep between requests: a reply larger than this (a
// big fetch answered inline) is not worth holding in each of the server's work items.
constexpr std::size_t kKeptEarlyBytes = 4096;

void handleRecv(Work &w)
{
    if (const int rv = nng_aio_result(w.aio); rv != 0) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return; // the socket is closing: this work item ends here
        return startRecv(w); // a failed receive (e.g. oversized frame) costs only that pipe
    }
    nng_msg *msg = nng_aio_get_msg(w.aio);
    nng_pipe pipe = nng_msg_get_pipe(msg);
    const PipeLimits::Admission admission = w.limits->admit(pipe, w.peer);
    if (admission == PipeLimits::Admission::Closed) {
        nng_msg_free(msg);
        return startRecv(w);
    }
    if (admission == PipeLimits::Admission::OverCap) {
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
    const std::string_view body(static_cast<const char *>(nng_msg_body(msg)), nng_msg_len(msg));
    w.state = Work::State::Handle;
    // Set before the callback exists: whichever thread runs it later got it from handle(),
    // after these writes.
    w.request = msg;
    w.handling = true;
    // The request is copied by the sink if it needs it beyond handle(); its message then
    // becomes the reply's. w outlives this callback even when the sink keeps no ReplyFn:
    // stop() drops the list's count only after nng_aio_stop, which waits for this callback.
    w.sink->handle(body, *w.peer, ReplyFn(&w));
    std::lock_guard lock(w.mutex);
    w.handling = false;
    if (w.stopped || !w.hasEarly)
        return; // answered later, from the sink's callback
    w.hasEarly = false;
    sendReply(w, w.early);
    if (w.early.capacity() > kKeptEarlyBytes)
        std::string().swap(w.early);
}

void Work::reply(std::string_view bytes)
{
    std::lock_guard lock(mutex);
    if (stopped)
        return;
    if (handling) {
        early.assign(bytes);
        hasEarly = true;
        return;
    }
    sendReply(*this, bytes);
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
            notify->limits->remember(std::make_shared<const Peer>(peer));
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        notify->limits->forget(peer.pipeId);
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

} // namespace server_detail

using namespace server_detail;

class NngServerImpl
{
public:
    nng_socket socket = NNG_SOCKET_INITIALIZER;
    std::vector<Work *> works; // each counted once (ReplyTarget::ref) while listed
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
        // Work items still referenced by a pending reply free themselves later.
        for (Work *w : works)
            w->unref();
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
    // A client the server closes as slow leaves the clients list at once, not when NNG reports
    // its pipe removed: that report waits for NNG's reaper, which a connection with a reply half
    // written can hold up for seconds. Weak: the limits (which keep this handler) belong to the
    // notify state.
    SlowClientHandler onSlow = [notify = std::weak_ptr<PipeNotify>(impl->notify),
                                next = options.onSlowClient](const Peer &peer,
                                                             const std::string &why) {
        if (const auto n = notify.lock()) {
            std::lock_guard lock(n->mutex);
            if (!n->stopped)
                n->sink->peerDisconnected(peer.pipeId);
        }
        if (next)
            next(peer, why);
    };
    auto limits = std::make_shared<PipeLimits>(options.maxInFlightPerConnection,
                                               options.sendTimeoutMs, std::move(onSlow));
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
                if (int rv = nng_tls_config_own_cert(impl->tls, cert->c_str(), key->c_str(),
                                                     nullptr);
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
        auto *w = new Work;
        w->ref();
        impl->works.push_back(w); // freed by stop() (also on a failure below)
        w->sink = &sink;
        w->limits = limits;
        if (int rv = nng_aio_alloc(&w->aio, onAio, w); rv != 0)
            return fail("cannot allocate a work item", rv);
        if (int rv = nng_ctx_open(&w->ctx, impl->socket); rv != 0)
            return fail("cannot open a context", rv);
    }
    for (auto &w : impl->works)
        onAio(w); // INIT: start receiving
    if (options.sendTimeoutMs > 0)
        impl->sweeper = std::make_unique<Sweeper>(limits,
                                                  std::clamp(options.sendTimeoutMs / 10, 10, 250));
    return std::unique_ptr<NngServer>(new NngServer(std::move(impl)));
}

} // namespace eddy::net
