// The Kafka listener's network side on NNG's byte streams (nng_stream_listener): one accept aio
// per listener and, per connection, one aio driving RECV_SIZE -> RECV_BODY -> HANDLE -> SEND.
// Every handler starts the next operation, partial reads and writes included. A connection that
// ends (client gone, malformed frame, send timeout) is closed at once but freed by the reaper
// thread once nothing refers to it any more: a connection's own callback cannot free its aio,
// and a request still in the engine keeps its connection alive until it completes.
#include "kafka_server.h"

#include "kafka_handler.h"
#include "nng_server.h"

#include <nng/nng.h>

#include <arpa/inet.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace eddy::kafka {

// One client connection (defined below; outside the anonymous namespace because the server's
// lists hold it).
struct Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

namespace {

void onConnection(void *arg);

} // namespace

struct Listener {
    KafkaServerImpl *server = nullptr;
    nng_stream_listener *listener = nullptr;
    nng_aio *aio = nullptr;
    std::string url;
};

class KafkaServerImpl
{
public:
    KafkaServerImpl(Broker &broker, KafkaServerOptions options)
        : m_broker(broker)
        , m_options(std::move(options))
        , m_handler(broker, m_options.clusterId)
    {
    }

    Result<void> listen(const std::string &url);
    void startReaper();
    void stop();
    void accepted(Listener &l);
    // Moves c from the open connections to the reaper's list.
    void retire(const ConnectionPtr &c);
    void report(const std::string &peer, const std::string &why)
    {
        m_broker.publishEvent("kafka_client", peer, "Kafka client disconnected: " + why);
    }

    Broker &m_broker;
    const KafkaServerOptions m_options;
    KafkaHandler m_handler;
    std::vector<std::unique_ptr<Listener>> m_listeners;
    mutable std::mutex m_mutex; // guards the lists and m_stopping
    std::vector<ConnectionPtr> m_open;
    std::vector<ConnectionPtr> m_retired;
    bool m_stopping = false;
    std::condition_variable m_cv;
    std::thread m_reaper;
};

struct Connection : std::enable_shared_from_this<Connection> {
    enum class State { RecvSize, RecvBody, Handle, Send, Closed };
    KafkaServerImpl *server = nullptr;
    nng_stream *stream = nullptr;
    nng_aio *aio = nullptr;
    State state = State::RecvSize;
    std::string peer;
    Advertised self;
    unsigned char size[4] = {};
    std::string in;
    std::string out;
    std::size_t done = 0; // bytes of the current read or write transferred so far
    nng_iov iov{};
    std::mutex mutex; // guards the flags below against a response from an engine thread
    bool stopped = false;
    bool handling = false;
    bool hasEarly = false;
    KafkaOutcome early;

    ~Connection()
    {
        if (aio)
            nng_aio_free(aio);
        if (stream)
            nng_stream_free(stream);
    }
};

namespace {

void startRecv(Connection &c, void *base, std::size_t want)
{
    c.iov.iov_buf = static_cast<char *>(base) + c.done;
    c.iov.iov_len = want - c.done;
    nng_aio_set_iov(c.aio, 1, &c.iov);
    nng_stream_recv(c.stream, c.aio);
}

void startRecvSize(Connection &c)
{
    c.state = Connection::State::RecvSize;
    c.done = 0;
    // Waiting for a request is not bounded: an idle client keeps its connection.
    nng_aio_set_timeout(c.aio, NNG_DURATION_INFINITE);
    startRecv(c, c.size, sizeof c.size);
}

void startSend(Connection &c)
{
    c.iov.iov_buf = c.out.data() + c.done;
    c.iov.iov_len = c.out.size() - c.done;
    nng_aio_set_iov(c.aio, 1, &c.iov);
    nng_stream_send(c.stream, c.aio);
}

// Ends a connection from its own callback (or a response's): closes the stream, which fails any
// operation started on it, and hands the object to the reaper.
void end(Connection &c, const std::string &why)
{
    {
        std::lock_guard lock(c.mutex);
        if (c.state == Connection::State::Closed)
            return;
        c.state = Connection::State::Closed;
    }
    nng_stream_close(c.stream);
    if (!why.empty())
        c.server->report(c.peer, why);
    c.server->retire(c.shared_from_this());
}

void proceed(Connection &c, KafkaOutcome outcome)
{
    switch (outcome.kind) {
    case KafkaOutcome::Kind::Respond:
        c.out = std::move(outcome.bytes);
        c.state = Connection::State::Send;
        c.done = 0;
        nng_aio_set_timeout(c.aio, c.server->m_options.sendTimeoutMs);
        return startSend(c);
    case KafkaOutcome::Kind::NoResponse:
        return startRecvSize(c);
    case KafkaOutcome::Kind::Close:
        return end(c, outcome.reason);
    }
}

// The response to the request being handled: sent now, or kept until handle() returned when it
// came before that (the request's bytes are still in use then).
void respond(const ConnectionPtr &c, KafkaOutcome outcome)
{
    {
        std::lock_guard lock(c->mutex);
        if (c->stopped || c->state == Connection::State::Closed)
            return;
        if (c->handling) {
            c->early = std::move(outcome);
            c->hasEarly = true;
            return;
        }
    }
    proceed(*c, std::move(outcome));
}

void handleRequest(Connection &c)
{
    c.state = Connection::State::Handle;
    {
        std::lock_guard lock(c.mutex);
        c.handling = true;
    }
    ConnectionPtr self = c.shared_from_this();
    c.server->m_handler.handle(c.in, c.self, [self](KafkaOutcome o) { respond(self, std::move(o)); });
    KafkaOutcome early;
    {
        std::lock_guard lock(c.mutex);
        c.handling = false;
        if (!c.hasEarly || c.stopped)
            return; // answered later, from an engine thread
        c.hasEarly = false;
        early = std::move(c.early);
    }
    // A large request's buffer is not worth keeping for the next, usually small one.
    if (c.in.capacity() > (64 << 10))
        std::string().swap(c.in);
    proceed(c, std::move(early));
}

std::string failureText(int rv)
{
    return nng_strerror(rv);
}

void onConnection(void *arg)
{
    auto &c = *static_cast<Connection *>(arg);
    const int rv = nng_aio_result(c.aio);
    if (rv != 0) {
        if (c.state == Connection::State::Closed)
            return;
        // The client going away is not news; a client not reading its responses is.
        const bool timedOut = rv == NNG_ETIMEDOUT && c.state == Connection::State::Send;
        return end(c, timedOut ? "did not read its response for "
                                     + std::to_string(c.server->m_options.sendTimeoutMs) + " ms"
                               : std::string());
    }
    c.done += nng_aio_count(c.aio);
    switch (c.state) {
    case Connection::State::RecvSize: {
        if (c.done < sizeof c.size)
            return startRecv(c, c.size, sizeof c.size);
        const int32_t n = static_cast<int32_t>(uint32_t(c.size[0]) << 24 | uint32_t(c.size[1]) << 16
                                               | uint32_t(c.size[2]) << 8 | uint32_t(c.size[3]));
        if (n < 8 || static_cast<std::size_t>(n) > c.server->m_options.maxFrameBytes)
            return end(c, "request frame of " + std::to_string(n) + " bytes (limit "
                              + std::to_string(c.server->m_options.maxFrameBytes) + ")");
        c.in.resize(static_cast<std::size_t>(n));
        c.state = Connection::State::RecvBody;
        c.done = 0;
        return startRecv(c, c.in.data(), c.in.size());
    }
    case Connection::State::RecvBody:
        if (c.done < c.in.size())
            return startRecv(c, c.in.data(), c.in.size());
        return handleRequest(c);
    case Connection::State::Send:
        if (c.done < c.out.size())
            return startSend(c);
        if (c.out.capacity() > (64 << 10))
            std::string().swap(c.out);
        return startRecvSize(c);
    case Connection::State::Handle:
    case Connection::State::Closed:
        return;
    }
}

void onAccept(void *arg)
{
    auto &l = *static_cast<Listener *>(arg);
    l.server->accepted(l);
}

std::string hostOf(const nng_sockaddr &sa)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa.s_family == NNG_AF_INET)
        inet_ntop(AF_INET, &sa.s_in.sa_addr, buf, sizeof buf);
    else if (sa.s_family == NNG_AF_INET6)
        inet_ntop(AF_INET6, sa.s_in6.sa_addr, buf, sizeof buf);
    return buf;
}

int32_t portOf(const nng_sockaddr &sa)
{
    if (sa.s_family == NNG_AF_INET)
        return ntohs(sa.s_in.sa_port);
    if (sa.s_family == NNG_AF_INET6)
        return ntohs(sa.s_in6.sa_port);
    return 0;
}

} // namespace

void KafkaServerImpl::accepted(Listener &l)
{
    const int rv = nng_aio_result(l.aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return; // the listener is closing
    if (rv == 0) {
        auto *stream = static_cast<nng_stream *>(nng_aio_get_output(l.aio, 0));
        auto c = std::make_shared<Connection>();
        c->server = this;
        c->stream = stream;
        nng_sockaddr sa{};
        if (nng_stream_get_addr(stream, NNG_OPT_REMADDR, &sa) == 0)
            c->peer = net::formatAddress(&sa);
        if (nng_stream_get_addr(stream, NNG_OPT_LOCADDR, &sa) == 0) {
            c->self.host = m_options.advertisedHost.empty() ? hostOf(sa) : m_options.advertisedHost;
            c->self.port = portOf(sa);
        }
        bool admitted = false;
        if (nng_aio_alloc(&c->aio, onConnection, c.get()) == 0) {
            std::lock_guard lock(m_mutex);
            if (!m_stopping && m_open.size() < static_cast<std::size_t>(m_options.maxConnections)) {
                m_open.push_back(c);
                admitted = true;
            }
        }
        if (admitted)
            startRecvSize(*c);
        else
            nng_stream_close(stream); // c frees it
    }
    // Any other failure (a connection reset before it was accepted, out of descriptors) costs
    // only that connection: keep accepting.
    nng_stream_listener_accept(l.listener, l.aio);
}

void KafkaServerImpl::retire(const ConnectionPtr &c)
{
    std::lock_guard lock(m_mutex);
    const auto it = std::find(m_open.begin(), m_open.end(), c);
    if (it == m_open.end())
        return; // stop() took it
    m_open.erase(it);
    m_retired.push_back(c);
    m_cv.notify_all();
}

void KafkaServerImpl::startReaper()
{
    m_reaper = std::thread([this] {
        std::unique_lock lock(m_mutex);
        while (!m_stopping) {
            m_cv.wait_for(lock, std::chrono::seconds(1));
            // Freed only when the list holds the last reference: a request still in the engine
            // holds one until its response is given up on.
            std::vector<ConnectionPtr> gone;
            std::erase_if(m_retired, [&gone](ConnectionPtr &c) {
                if (c.use_count() != 1)
                    return false;
                gone.push_back(std::move(c));
                return true;
            });
            lock.unlock();
            gone.clear(); // nng_aio_free waits for the connection's last callback
            lock.lock();
        }
    });
}

Result<void> KafkaServerImpl::listen(const std::string &url)
{
    const std::string full = url.find("://") == std::string::npos ? "tcp://" + url : url;
    if (full.rfind("tcp://", 0) != 0)
        return makeError(Errc::InvalidConfig, "the Kafka listener takes tcp:// addresses only: "
                                                  + url);
    auto l = std::make_unique<Listener>();
    l->server = this;
    l->url = full;
    int rv = nng_stream_listener_alloc(&l->listener, full.c_str());
    if (rv == 0)
        rv = nng_stream_listener_listen(l->listener);
    if (rv == 0)
        rv = nng_aio_alloc(&l->aio, onAccept, l.get());
    if (rv != 0) {
        if (l->listener)
            nng_stream_listener_free(l->listener);
        return makeError(Errc::InvalidConfig,
                         "cannot listen for Kafka clients on " + url + ": " + failureText(rv));
    }
    int port = 0;
    if (nng_stream_listener_get_int(l->listener, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
        const auto colon = full.rfind(':');
        l->url = full.substr(0, colon + 1) + std::to_string(port);
    }
    nng_stream_listener_accept(l->listener, l->aio);
    m_listeners.push_back(std::move(l));
    return {};
}

void KafkaServerImpl::stop()
{
    std::vector<ConnectionPtr> open;
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping)
            return;
        m_stopping = true;
        open.swap(m_open);
        m_cv.notify_all();
    }
    for (auto &l : m_listeners) {
        nng_stream_listener_close(l->listener);
        nng_aio_stop(l->aio);
    }
    for (auto &c : open) {
        {
            std::lock_guard lock(c->mutex);
            c->stopped = true;
        }
        nng_stream_close(c->stream);
        nng_aio_stop(c->aio); // waits for its callback; no new operation starts after stopped
    }
    if (m_reaper.joinable())
        m_reaper.join();
    for (auto &l : m_listeners) {
        nng_aio_free(l->aio);
        nng_stream_listener_free(l->listener);
    }
    m_listeners.clear();
    // Connections a request in the engine still holds are freed when it lets go of them.
    open.clear();
    std::lock_guard lock(m_mutex);
    m_retired.clear();
}

KafkaServer::KafkaServer(std::unique_ptr<KafkaServerImpl> impl)
    : m_impl(std::move(impl))
{
}

KafkaServer::~KafkaServer()
{
    stop();
}

Result<std::unique_ptr<KafkaServer>> KafkaServer::start(Broker &broker,
                                                        const KafkaServerOptions &options)
{
    auto impl = std::make_unique<KafkaServerImpl>(broker, options);
    for (const auto &url : options.listen) {
        if (auto r = impl->listen(url); !r) {
            impl->stop();
            return r.error();
        }
    }
    impl->startReaper();
    return std::unique_ptr<KafkaServer>(new KafkaServer(std::move(impl)));
}

void KafkaServer::stop()
{
    m_impl->stop();
}

std::vector<std::string> KafkaServer::urls() const
{
    std::vector<std::string> out;
    for (const auto &l : m_impl->m_listeners)
        out.push_back(l->url);
    return out;
}

std::size_t KafkaServer::connectionCount() const
{
    std::lock_guard lock(m_impl->m_mutex);
    return m_impl->m_open.size();
}

} // namespace eddy::kafka
