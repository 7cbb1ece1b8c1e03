#pragma once

#include "chart_data.h"

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
// demand) and produce->consume latency p50/p99, over the last 1 min / 5 min / 1 h. The data
// comes ready to plot in the bridge's chart frames (kept, with the broker's persisted history
// before the studio started, and thinned to the visible window off the GUI thread); the panel
// swaps them into its graphs and replots on the queued path. Fault periods are shaded bands with
// the recovery time annotated. Hovering shows the values under the cursor; each chart exports
// as PNG and every sample of its visible window as CSV.
class ChartsPanel : public QWidget
{
    Q_OBJECT

public:
    using Chart = ChartKind;

    explicit ChartsPanel(BrokerBridge *bridge, QWidget *parent = nullptr);

    // Shows a chart frame (the bridge's chartFrameUpdated is connected to this): every graph
    // shares the frame's data, graphs of series the frame lacks are removed.
    void showFrame(const ChartFramePtr &frame);
    // Replaces the shaded fault periods.
    void setFaultBands(const std::vector<FaultBand> &bands);
    // Window length in seconds: 60, 300 or 3600.
    void setWindowSeconds(int seconds);
    int windowSeconds() const { return m_windowS; }

    QCustomPlot *plot(Chart chart) const;
    // Number of data points in a chart's graphs (tests and the status line).
    int pointCount(Chart chart) const;
    QStringList seriesNames(Chart chart) const;
    // Exports every sample of the chart's visible window (full resolution, not the thinned
    // points the plot draws) as CSV to path: asks the bridge's poll thread for them and returns
    // at once; csvExported follows when the file is written or the export failed (no bridge, no
    // data yet, the broker closed, an unwritable path).
    void exportCsv(Chart chart, const QString &path);
    // Writes one chart of a frame as CSV: the header "time_ms,series,value", then one row per
    // point, series by series in the frame's order: milliseconds since the epoch, the series
    // name double-quoted (a quote inside doubled), the value with up to 10 significant digits.
    // False with *error on failure.
    static bool writeCsv(const ChartFrame &frame, Chart chart, const QString &path,
                         QString *error = nullptr);
    bool exportPng(Chart chart, const QString &path) const;

signals:
    // An exportCsv finished: error is empty when path was written.
    void csvExported(const QString &path, const QString &error);

protected:
    void changeEvent(QEvent *event) override;
    void showEvent(QShowEvent *event) override;

private:
    QCPGraph *series(Chart chart, const QString &name, bool dashed, int index);
    void applyTheme();
    // Tells the bridge what frames to build (window, lag view, plot width).
    void pushView();
    void replotAll();
    void showHover(QCustomPlot *plot, const QPointF &pos);
    void askExport(Chart chart, bool png);

    BrokerBridge *m_bridge;
    QCustomPlot *m_plots[3];
    QHash<QString, QCPGraph *> m_series[3];
    QComboBox *m_window;
    QCheckBox *m_perPartition;
    int m_windowS = 60;
    ChartFramePtr m_frame;
    std::vector<FaultBand> m_bands;
};

} // namespace eddy::ui
