#pragma once

#include "metrics.h"

#include <QHash>
#include <QWidget>

#include <optional>

class QCustomPlot;
class QCPGraph;
class QComboBox;
class QCheckBox;

namespace eddy::ui {

class BrokerBridge;

// A period during which a fault was active, shaded on every chart.
struct FaultBand {
    double startS = 0;                // wall-clock seconds since the epoch
    std::optional<double> endS;       // unset: still active
    QString label;                    // "crash billing#1"
    std::optional<double> recoveryS;  // measured recovery after the end, once known
};

// The monitoring charts: records/s in and out per topic, lag per group (per partition on
// demand) and produce->consume latency p50/p99, over the last 1 min / 5 min / 1 h. Live points
// come from the bridge's snapshots; spans older than what the studio saw are read from the
// broker's SQLite history. Fault periods are shaded bands with the recovery time annotated.
// Hovering shows the values under the cursor; each chart exports as PNG and its data as CSV.
class ChartsPanel : public QWidget
{
    Q_OBJECT

public:
    enum class Chart { Throughput, Lag, Latency };

    explicit ChartsPanel(BrokerBridge *bridge, QWidget *parent = nullptr);

    // Adds one snapshot's points to every chart (called for each bridge snapshot).
    void addSnapshot(const MetricsSnapshot &snapshot);
    // Replaces the shaded fault periods.
    void setFaultBands(const std::vector<FaultBand> &bands);
    // Window length in seconds: 60, 300 or 3600.
    void setWindowSeconds(int seconds);
    int windowSeconds() const { return m_windowS; }

    QCustomPlot *plot(Chart chart) const;
    // Number of data points in a chart's graphs (tests and the status line).
    int pointCount(Chart chart) const;
    QStringList seriesNames(Chart chart) const;
    // Writes the chart's data as CSV: time_ms,series,value rows. False with *error on failure.
    bool exportCsv(Chart chart, const QString &path, QString *error = nullptr) const;
    bool exportPng(Chart chart, const QString &path) const;

protected:
    void changeEvent(QEvent *event) override;

private:
    QCPGraph *series(Chart chart, const QString &name, bool dashed = false);
    void applyTheme();
    void loadHistory();
    void replotAll();
    void showHover(QCustomPlot *plot, const QPointF &pos);
    void askExport(Chart chart, bool png);

    BrokerBridge *m_bridge;
    QCustomPlot *m_plots[3];
    QHash<QString, QCPGraph *> m_series[3];
    QComboBox *m_window;
    QCheckBox *m_perPartition;
    int m_windowS = 60;
    double m_lastT = 0;
    double m_firstLiveT = 0;      // oldest live point (history fills in before it)
    double m_historyLoadedFrom = 0;
    std::vector<FaultBand> m_bands;
};

} // namespace eddy::ui
