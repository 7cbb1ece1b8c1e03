#pragma once

#include "broker.h"
#include "broker_server.h"

#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>

namespace eddy::ui {

// The studio's single link to the broker engine. It owns the embedded broker, polls its
// immutable metric snapshots on a timer (the GUI never blocks on the engine) and forwards
// commands. Everything else in ui/ talks to this object, never to the engine.
class BrokerBridge : public QObject
{
    Q_OBJECT

public:
    explicit BrokerBridge(QObject *parent = nullptr);
    ~BrokerBridge() override;

    // Opens the embedded broker on dataDir and serves it to external clients on the given
    // request and live-stream URLs (none: embedded use only). Returns false and sets
    // lastError() on failure.
    bool openEmbedded(const QString &dataDir, const QStringList &listen = {},
                      const QStringList &publish = {}, Durability durability = Durability::Fast);
    void close();
    bool isOpen() const { return m_broker != nullptr; }
    QString dataDir() const { return m_dataDir; }
    QString lastError() const { return m_lastError; }

    // The latest snapshot (null before openEmbedded succeeded).
    MetricsSnapshotPtr snapshot() const { return m_snapshot; }
    // Endpoints actually served (ports resolved), and the clients connected to them.
    QStringList requestUrls() const;
    QStringList publishUrls() const;
    std::vector<net::ClientInfo> clients() const;

signals:
    // A new snapshot arrived (about every 100 ms while open).
    void snapshotUpdated(eddy::MetricsSnapshotPtr snapshot);
    void brokerError(const QString &message);

private:
    void poll();

    std::unique_ptr<Broker> m_broker;
    std::unique_ptr<net::BrokerServer> m_server;
    QTimer m_timer;
    MetricsSnapshotPtr m_snapshot;
    QString m_dataDir;
    QString m_lastError;
};

} // namespace eddy::ui
