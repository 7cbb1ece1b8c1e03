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

bool BrokerBridge::openEmbedded(const QString &dataDir, Durability durability)
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
    m_dataDir = dataDir;
    m_lastError.clear();
    poll();
    m_timer.start();
    return true;
}

void BrokerBridge::close()
{
    m_timer.stop();
    if (m_broker) {
        m_broker->close();
        m_broker.reset();
    }
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
