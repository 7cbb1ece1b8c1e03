#pragma once

#include "metrics.h"

#include <QWidget>

class QCustomPlot;
class QCPGraph;

namespace eddy::ui {

// A rolling chart of the broker's records/s in and out, fed from metric snapshots.
class ThroughputChart : public QWidget
{
    Q_OBJECT

public:
    explicit ThroughputChart(QWidget *parent = nullptr);

    // Appends the snapshot's broker rates and scrolls the window to it.
    void addSnapshot(const MetricsSnapshot &snapshot);
    void setWindowSeconds(double seconds) { m_windowSeconds = seconds; }

private:
    QCustomPlot *m_plot;
    QCPGraph *m_in;
    QCPGraph *m_out;
    double m_windowSeconds = 60;
    double m_maxSeen = 10;
};

} // namespace eddy::ui
