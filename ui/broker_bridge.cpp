// Bridge between the Qt event loop and the engine: snapshots are pulled on a 100 ms timer
// rather than pushed, so engine threads never touch Qt objects and the GUI never waits.
#include "broker_bridge.h"

namespace eddy::ui {

BrokerBridge::BrokerBridge(QObject *parent) : QObject(parent)
{
    m_timer.setInterval(100);
    connect(&m_timer, &QTimer::timeout, this, [this] { poll(); });
}

BrokerBridge::~BrokerBridge()
{
    close();
}

bool BrokerBridge::openEmbedded(const QString &dataDir, const QStringList &listen,
                                const QStringList &publish, Durability durability)
{
    close();
    BrokerConfig config;
    config.dataDir = dataDir.toStdString();
    config.durability = durability;
    auto broker = Broker::open(config);
    if (!broker) {
        m_lastError = QString::fromStdString(std::string(errcName(broker.code())) + ": "
                                             + broker.error().message);
        emit brokerError(m_lastError);
        return false;
    }
    m_broker = std::move(*broker);
    if (!listen.isEmpty()) {
        net::BrokerServerOptions options;
        options.requests.listen.clear();
        for (const auto &url : listen)
            options.requests.listen.push_back(url.toStdString());
        options.publish.clear();
        for (const auto &url : publish)
            options.publish.push_back(url.toStdString());
        auto server = net::BrokerServer::start(*m_broker, options);
        if (!server) {
            // The studio still works on its embedded broker; say why nobody can connect.
            m_lastError = QString::fromStdString("network endpoints unavailable: "
                                                 + server.error().message);
            emit brokerError(m_lastError);
        } else {
            m_server = std::move(*server);
        }
    }
    m_dataDir = dataDir;
    if (m_server)
        m_lastError.clear();
    poll();
    m_timer.start();
    return true;
}

void BrokerBridge::close()
{
    m_timer.stop();
    if (m_server) {
        m_server->stop();
        m_server.reset();
    }
    if (m_broker) {
        m_broker->close();
        m_broker.reset();
    }
}

QStringList BrokerBridge::requestUrls() const
{
    QStringList out;
    if (m_server)
        for (const auto &url : m_server->requestUrls())
            out << QString::fromStdString(url);
    return out;
}

QStringList BrokerBridge::publishUrls() const
{
    QStringList out;
    if (m_server)
        for (const auto &url : m_server->publishUrls())
            out << QString::fromStdString(url);
    return out;
}

std::vector<net::ClientInfo> BrokerBridge::clients() const
{
    return m_server ? m_server->clients() : std::vector<net::ClientInfo>{};
}

void BrokerBridge::poll()
{
    if (!m_broker)
        return;
    auto snap = m_broker->metrics();
    if (snap && (!m_snapshot || snap->sequence != m_snapshot->sequence)) {
        m_snapshot = std::move(snap);
        emit snapshotUpdated(m_snapshot);
    }
}

} // namespace eddy::ui
