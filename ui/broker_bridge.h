#pragma once

#include "broker.h"

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

    // Opens the embedded broker on dataDir. Returns false and sets lastError() on failure.
    bool openEmbedded(const QString &dataDir, Durability durability = Durability::Fast);
    void close();
    bool isOpen() const { return m_broker != nullptr; }
    QString dataDir() const { return m_dataDir; }
    QString lastError() const { return m_lastError; }

    // The latest snapshot (null before openEmbedded succeeded).
    MetricsSnapshotPtr snapshot() const { return m_snapshot; }

signals:
    // A new snapshot arrived (about every 100 ms while open).
    void snapshotUpdated(eddy::MetricsSnapshotPtr snapshot);
    void brokerError(const QString &message);

private:
    void poll();

    std::unique_ptr<Broker> m_broker;
    QTimer m_timer;
    MetricsSnapshotPtr m_snapshot;
    QString m_dataDir;
    QString m_lastError;
};

} // namespace eddy::ui
