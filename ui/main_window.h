#pragma once

#include "metrics.h"

#include <QMainWindow>

class QLabel;
class QTableWidget;

namespace eddy::ui {

class BrokerBridge;
class ThroughputChart;

// The studio's main window as far as the engine reaches today: live topics with their
// partitions, offsets and rates, a throughput chart and a status bar, all fed by the bridge's
// snapshots. The topology canvas, palette and data docks grow in from here.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(BrokerBridge *bridge, QWidget *parent = nullptr);

private:
    void showSnapshot(const MetricsSnapshot &snapshot);

    BrokerBridge *m_bridge;
    QTableWidget *m_topics;
    ThroughputChart *m_chart;
    QLabel *m_statusData;
    QLabel *m_statusRates;
    QLabel *m_statusTopics;
    QLabel *m_statusClients;
};

} // namespace eddy::ui
