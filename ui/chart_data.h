#pragma once

#include "metrics.h"

#include <qcustomplot.h>

#include <QSharedPointer>
#include <QString>
#include <QVector>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace eddy::ui {

// The studio's three monitoring charts.
enum class ChartKind { Throughput = 0, Lag = 1, Latency = 2 };
inline constexpr int kChartCount = 3;

// Min/max decimation of the sorted points that fall in [fromS, toS] into `buckets` equal time
// buckets: each bucket keeps its lowest and its highest point in time order, so a spike inside
// a bucket still shows. The last point before fromS (where the line enters the window) and the
// newest point in the window are kept too, so at most 2 * buckets + 2 points come back. Fewer
// points than that are returned as they are. buckets < 1 counts as 1; an empty or inverted
// window returns nothing.
QVector<QCPGraphData> thinMinMax(const std::deque<QCPGraphData> &points, double fromS, double toS,
                                 int buckets);

// One series of a chart frame, ready to plot: an immutable data container the GUI thread shares
// with its QCPGraph (nobody writes to it after the frame is built).
struct ChartSeriesFrame {
    QString name;
    bool dashed = false;   // "out" series of the throughput chart
    QSharedPointer<QCPGraphDataContainer> data;
};

// What the charts show at one moment, built off the GUI thread: for each chart the series (in
// the order they first appeared, which fixes their colours) thinned to the visible window, and
// the highest visible value so the GUI need not scan the data for its y axis.
struct ChartFrame {
    double nowS = 0;       // newest point, seconds since the epoch (the right edge)
    int windowS = 60;
    bool perPartition = false;
    std::vector<ChartSeriesFrame> series[kChartCount];
    double maxValue[kChartCount] = {};  // 0 when the chart shows no point
};

using ChartFramePtr = std::shared_ptr<const ChartFrame>;

// Full-resolution chart history kept off the GUI thread (by the bridge's poll thread; the class
// has no locking and belongs to one thread at a time). Each snapshot adds one point per series;
// points older than the longest window (plus a margin) are dropped. frame() thins the visible
// window for plotting.
class ChartStore
{
public:
    // Points older than this many seconds before the newest are dropped.
    static constexpr double kKeepS = 3600 + 60;

    // Adds one point per series from the snapshot: records/s in and out per topic (internal "__"
    // topics skipped), lag per group (and per partition when perPartition; turning it off drops
    // the per-partition series) and latency p50/p99 when there was traffic. A snapshot not newer
    // than the last one is ignored; returns whether it was added.
    bool addSnapshot(const MetricsSnapshot &snapshot, bool perPartition);
    // Adds persisted history of an entity ("topic/NAME", "group/NAME", "broker") to the series
    // it feeds, keeping only the points older than the series' first point (history fills in
    // before what was seen live). Points must be in time order.
    void addHistory(const std::string &entity, const std::vector<HistoryPoint> &points);
    // The visible window [newest - windowS, newest] of every series, each thinned to at most
    // 2 * columns + 2 points (about two per pixel column of the plot).
    ChartFramePtr frame(int windowS, bool perPartition, int columns) const;
    // Every point of every series (lag per partition or per group, as perPartition says) whose
    // time lies in [fromS, toS], unthinned: what a CSV export of a plotted window holds. The
    // frame's nowS is toS and windowS the rounded span; an inverted range gives empty series.
    ChartFramePtr fullFrame(double fromS, double toS, bool perPartition) const;

    // Newest point's time (0 before the first snapshot).
    double lastS() const { return m_lastS; }

private:
    struct Series {
        ChartKind chart;
        QString name;
        bool dashed = false;
        bool perPartition = false;
        std::deque<QCPGraphData> points;
    };
    Series &series(ChartKind chart, const QString &name, bool dashed = false,
                   bool perPartition = false);
    static void append(Series &s, double t, double value);

    std::vector<Series> m_series; // creation order
    double m_lastS = 0;
};

} // namespace eddy::ui
