// The Kafka listener (KafkaServer): its listening sockets, the loops that serve its connections
// (kafka_io_loop.cpp), and the accepted connections dealt to the loops in turn. Listening takes
// tcp:// addresses, host names resolved, a port 0 reported as the port bound.
#include "kafka_server.h"

#include "kafka_handler.h"
#include "kafka_io_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace eddy::kafka {

namespace {

std::string formatPeer(const sockaddr_storage &sa)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa.ss_family == AF_INET) {
        const auto &in = reinterpret_cast<const sockaddr_in &>(sa);
        inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
        return std::string("tcp://") + buf + ":" + std::to_string(ntohs(in.sin_port));
    }
    if (sa.ss_family == AF_INET6) {
        const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(sa);
        inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
        return std::string("tcp://[") + buf + "]:" + std::to_string(ntohs(in6.sin6_port));
    }
    return "unknown";
}

std::string hostOf(const sockaddr_storage &sa)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(sa).sin_addr, buf, sizeof buf);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(sa).sin6_addr, buf,
                  sizeof buf);
    return buf;
}

int32_t portOf(const sockaddr_storage &sa)
{
    if (sa.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in &>(sa).sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6 &>(sa).sin6_port);
    return 0;
}

} // namespace

class KafkaServerImpl
{
public:
    KafkaServerImpl(Broker &broker, KafkaServerOptions options)
        : m_broker(broker)
        , m_options(std::move(options))
        , m_handler(broker, m_options.clusterId)
        , m_shared{m_handler, m_options, {}, [this](int fd) { accepted(fd); },
                   [this](const std::string &peer, const std::string &why) { report(peer, why); }}
    {
    }
    ~KafkaServerImpl() { stop(); }

    Result<void> listen(const std::string &url);
    Result<void> startLoops();
    void stop();
    // A connection accepted: admitted to a loop, or closed when over the limit or stopping.
    void accepted(int fd);
    void report(const std::string &peer, const std::string &why)
    {
        m_broker.publishEvent("kafka_client", peer, "Kafka client disconnected: " + why);
    }

    Broker &m_broker;
    const KafkaServerOptions m_options;
    KafkaHandler m_handler;
    LoopShared m_shared;
    std::vector<std::unique_ptr<IoLoop>> m_loops;
    std::vector<std::pair<int, std::string>> m_listeners; // socket and URL listened on
    std::atomic<std::size_t> m_nextLoop{0};
    std::mutex m_stopMutex;
    bool m_stopped = false;
};

void KafkaServerImpl::accepted(int fd)
{
    if (m_shared.open.fetch_add(1) >= static_cast<std::size_t>(m_options.maxConnections)) {
        m_shared.open.fetch_sub(1);
        ::close(fd);
        return;
    }
    const int one = 1;
    // Responses are whole frames written at once: nothing to gain from Nagle's delay.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_shared<Connection>();
    c->fd = fd;
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0)
        c->peer = formatPeer(sa);
    len = sizeof sa;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0) {
        c->self.host = m_options.advertisedHost.empty() ? hostOf(sa) : m_options.advertisedHost;
        c->self.port = portOf(sa);
    }
    IoLoop &loop = *m_loops[m_nextLoop.fetch_add(1) % m_loops.size()];
    c->loop = &loop;
    loop.adopt(c);
}

Result<void> KafkaServerImpl::listen(const std::string &url)
{
    const std::string full = url.find("://") == std::string::npos ? "tcp://" + url : url;
    if (full.rfind("tcp://", 0) != 0)
        return makeError(Errc::InvalidConfig, "the Kafka listener takes tcp:// addresses only: "
                                                  + url);
    const std::string hostPort = full.substr(6);
    const auto colon = hostPort.rfind(':');
    if (colon == std::string::npos)
        return makeError(Errc::InvalidConfig, "no port in the Kafka listen address " + url);
    std::string host = hostPort.substr(0, colon);
    const std::string port = hostPort.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *found = nullptr;
    const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                                &found);
    if (gai != 0)
        return makeError(Errc::InvalidConfig, "cannot listen for Kafka clients on " + url + ": "
                                                  + gai_strerror(gai));
    std::string failure = "no address";
    int fd = -1;
    for (addrinfo *a = found; a && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      a->ai_protocol);
        if (fd < 0) {
            failure = errnoText(errno);
            continue;
        }
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
            failure = errnoText(errno);
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0)
        return makeError(Errc::InvalidConfig,
                         "cannot listen for Kafka clients on " + url + ": " + failure);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &len);
    m_listeners.emplace_back(fd, full.substr(0, full.rfind(':') + 1)
                                     + std::to_string(portOf(bound)));
    return {};
}

Result<void> KafkaServerImpl::startLoops()
{
    const int count = std::max(1, m_options.ioThreads);
    for (int i = 0; i < count; ++i) {
        auto loop = std::make_unique<IoLoop>(m_shared);
        if (auto r = loop->open(); !r)
            return r;
        m_loops.push_back(std::move(loop));
    }
    for (const auto &[fd, url] : m_listeners)
        if (auto r = m_loops.front()->addListener(fd); !r)
            return r;
    for (auto &loop : m_loops)
        loop->start();
    return {};
}

void KafkaServerImpl::stop()
{
    {
        std::lock_guard lock(m_stopMutex);
        if (m_stopped)
            return;
        m_stopped = true;
    }
    for (auto &loop : m_loops)
        loop->stop();
    for (const auto &[fd, url] : m_listeners)
        ::close(fd);
    // Loops stay allocated: a response from an engine thread finds its connection closed
    // before it would touch one.
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
    for (const auto &url : options.listen)
        if (auto r = impl->listen(url); !r)
            return r.error();
    if (auto r = impl->startLoops(); !r)
        return r.error();
    return std::unique_ptr<KafkaServer>(new KafkaServer(std::move(impl)));
}

void KafkaServer::stop()
{
    m_impl->stop();
}

std::vector<std::string> KafkaServer::urls() const
{
    std::vector<std::string> out;
    for (const auto &[fd, url] : m_impl->m_listeners)
        out.push_back(url);
    return out;
}

std::size_t KafkaServer::connectionCount() const
{
    return m_impl->m_shared.open.load();
}

} // namespace eddy::kafka
