// The simulator's own broker. A restart keeps the data directory and the listener URLs, so the
// clients' NNG sockets redial the same address and find the reopened broker with exactly what
// its store acknowledged.
#include "embedded_broker.h"

namespace eddy::sim {

EmbeddedBroker::EmbeddedBroker(Options options) : m_options(std::move(options)) {}

EmbeddedBroker::~EmbeddedBroker()
{
    close();
}

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(Options options)
{
    std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker(std::move(options)));
    if (auto r = b->open(); !r)
        return r.error();
    return b;
}

Result<void> EmbeddedBroker::open()
{
    auto broker = Broker::open(m_options.config);
    if (!broker)
        return broker.error();
    auto server = net::BrokerServer::start(**broker, m_options.server);
    if (!server)
        return server.error();
    m_broker = std::move(*broker);
    m_server = std::move(*server);
    return {};
}

void EmbeddedBroker::close()
{
    if (m_server)
        m_server->stop();
    m_server.reset();
    if (m_broker)
        m_broker->close();
    m_broker.reset();
}

std::string EmbeddedBroker::clientUrl() const
{
    return m_options.server.requests.listen.front();
}

Broker &EmbeddedBroker::broker()
{
    return *m_broker;
}

MetricsSnapshotPtr EmbeddedBroker::metrics()
{
    std::lock_guard lock(m_mutex);
    return m_broker ? m_broker->metrics() : nullptr;
}

std::vector<net::ClientInfo> EmbeddedBroker::clients()
{
    std::lock_guard lock(m_mutex);
    return m_server ? m_server->clients() : std::vector<net::ClientInfo>{};
}

std::vector<BrokerEvent> EmbeddedBroker::recentEvents()
{
    std::lock_guard lock(m_mutex);
    return m_broker ? m_broker->recentEvents() : std::vector<BrokerEvent>{};
}

Result<std::vector<HistoryPoint>> EmbeddedBroker::metricsHistory(const std::string &entity,
                                                                 int64_t fromMs, int64_t toMs)
{
    std::lock_guard lock(m_mutex);
    if (!m_broker)
        return makeError(Errc::ShuttingDown, "the embedded broker is closed");
    return m_broker->metricsHistory(entity, fromMs, toMs);
}

std::vector<std::string> EmbeddedBroker::requestUrls()
{
    std::lock_guard lock(m_mutex);
    return m_server ? m_server->requestUrls() : std::vector<std::string>{};
}

std::vector<std::string> EmbeddedBroker::publishUrls()
{
    std::lock_guard lock(m_mutex);
    return m_server ? m_server->publishUrls() : std::vector<std::string>{};
}

Result<void> EmbeddedBroker::setPartitionOffline(const std::string &topic, int partition,
                                                 bool offline)
{
    std::lock_guard lock(m_mutex);
    return m_broker->setPartitionOffline(topic, partition, offline);
}

void EmbeddedBroker::setStall(int ms, int jitterMs)
{
    std::lock_guard lock(m_mutex);
    m_server->setStall(ms, jitterMs);
}

void EmbeddedBroker::setDiskFault(int commitDelayMs, bool full)
{
    std::lock_guard lock(m_mutex);
    m_broker->setDiskFault(commitDelayMs, full);
}

Result<void> EmbeddedBroker::restart()
{
    std::lock_guard lock(m_mutex);
    m_broker->publishEvent("fault_started", "broker", "broker restarting");
    close();
    return open();
}

void EmbeddedBroker::announce(const std::string &kind, const std::string &subject,
                              const std::string &detail)
{
    std::lock_guard lock(m_mutex);
    if (m_broker)
        m_broker->publishEvent(kind, subject, detail);
}

} // namespace eddy::sim
