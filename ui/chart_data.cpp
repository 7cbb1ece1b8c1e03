// Chart data off the GUI thread. The bridge's poll thread keeps every series at full resolution
// in a ChartStore and, for each new snapshot, thins the visible window to about two points per
// pixel column (the lowest and highest of each column, so spikes survive) into immutable data
// containers. The GUI thread only swaps those containers into its graphs and replots; it never
// appends, trims or scans series itself.
#include "chart_data.h"

#include <algorithm>
#include <cmath>

namespace eddy::ui {

QVector<QCPGraphData> thinMinMax(const std::deque<QCPGraphData> &points, double fromS, double toS,
                                 int buckets)
{
    QVector<QCPGraphData> out;
    if (points.empty() || !(toS > fromS))
        return out;
    buckets = std::max(buckets, 1);
    auto first = std::lower_bound(points.begin(), points.end(), fromS,
                                  [](const QCPGraphData &p, double key) { return p.key < key; });
    const auto last =
        std::upper_bound(points.begin(), points.end(), toS,
                         [](double key, const QCPGraphData &p) { return key < p.key; });
    // The point before the window is where the line enters from the left edge.
    if (first != points.begin())
        --first;
    if (first >= last)
        return out;
    if (last - first <= 2 * static_cast<std::ptrdiff_t>(buckets) + 2) {
        out.reserve(static_cast<qsizetype>(last - first));
        std::copy(first, last, std::back_inserter(out));
        return out;
    }
    out.reserve(2 * buckets + 2);
    auto it = first;
    if (it->key < fromS)
        out.push_back(*it++);
    const double width = (toS - fromS) / buckets;
    // The bucket index is monotonic in the key, so each bucket is one contiguous run of points.
    const auto bucketOf = [&](double key) {
        return std::clamp(static_cast<int>((key - fromS) / width), 0, buckets - 1);
    };
    while (it != last) {
        const int bucket = bucketOf(it->key);
        auto lo = it;
        auto hi = it;
        for (++it; it != last && bucketOf(it->key) == bucket; ++it) {
            if (it->value < lo->value)
                lo = it;
            if (it->value > hi->value)
                hi = it;
        }
        if (lo == hi) {
            out.push_back(*lo);
        } else {
            out.push_back(lo < hi ? *lo : *hi);
            out.push_back(lo < hi ? *hi : *lo);
        }
    }
    // The newest point is the right end of the line, whatever its bucket's extremes were.
    const QCPGraphData &newest = *(last - 1);
    if (out.back().key != newest.key)
        out.push_back(newest);
    return out;
}

ChartStore::Series &ChartStore::series(ChartKind chart, const QString &name, bool dashed,
                                       bool perPartition)
{
    for (auto &s : m_series)
        if (s.chart == chart && s.name == name)
            return s;
    m_series.push_back({chart, name, dashed, perPartition, {}});
    return m_series.back();
}

void ChartStore::append(Series &s, double t, double value)
{
    s.points.push_back({t, value});
}

bool ChartStore::addSnapshot(const MetricsSnapshot &snapshot, bool perPartition)
{
    const double t = static_cast<double>(snapshot.timestampMs) / 1000.0;
    if (t <= m_lastS)
        return false;
    m_lastS = t;
    if (!perPartition)
        std::erase_if(m_series, [](const Series &s) { return s.perPartition; });
    for (const auto &topic : snapshot.topics) {
        const QString name = QString::fromStdString(topic.name);
        if (name.startsWith("__"))
            continue; // internal topics
        append(series(ChartKind::Throughput, "in " + name), t, topic.rates.recordsInPerSec);
        append(series(ChartKind::Throughput, "out " + name, true), t,
               topic.rates.recordsOutPerSec);
    }
    for (const auto &g : snapshot.groups) {
        const QString name = QString::fromStdString(g.name);
        // The total is always kept, so switching back from the per-partition view shows it all.
        append(series(ChartKind::Lag, name), t, static_cast<double>(g.totalLag));
        if (perPartition)
            for (const auto &p : g.partitions)
                append(series(ChartKind::Lag,
                              name + " " + QString::fromStdString(p.topic) + "/"
                                  + QString::number(p.partition),
                              false, true),
                       t, static_cast<double>(p.lag));
    }
    if (snapshot.latency.count > 0) {
        append(series(ChartKind::Latency, "p50"), t,
               static_cast<double>(snapshot.latency.p50Us) / 1000.0);
        append(series(ChartKind::Latency, "p99"), t,
               static_cast<double>(snapshot.latency.p99Us) / 1000.0);
    }
    for (auto &s : m_series)
        while (!s.points.empty() && s.points.front().key < t - kKeepS)
            s.points.pop_front();
    return true;
}

void ChartStore::addHistory(const std::string &entity, const std::vector<HistoryPoint> &points)
{
    const auto prepend = [this, &points](ChartKind chart, const QString &name, bool dashed,
                                         auto value, auto wanted) {
        const Series *existing = nullptr;
        for (const auto &s : m_series)
            if (s.chart == chart && s.name == name)
                existing = &s;
        const double before = existing && !existing->points.empty()
                                  ? existing->points.front().key
                                  : m_lastS + 1;
        std::vector<QCPGraphData> older;
        for (const auto &p : points) {
            const double t = static_cast<double>(p.timestampMs) / 1000.0;
            if (t < before && t >= m_lastS - kKeepS && wanted(p))
                older.push_back({t, value(p)});
        }
        if (older.empty())
            return; // no series for an entity without history
        auto &s = series(chart, name, dashed);
        s.points.insert(s.points.begin(), older.begin(), older.end());
    };
    const auto all = [](const HistoryPoint &) { return true; };
    const QString name = QString::fromStdString(entity.substr(entity.find('/') + 1));
    if (entity.starts_with("topic/")) {
        prepend(ChartKind::Throughput, "in " + name, false,
                [](const HistoryPoint &p) { return p.recordsInPerSec; }, all);
        prepend(ChartKind::Throughput, "out " + name, true,
                [](const HistoryPoint &p) { return p.recordsOutPerSec; }, all);
    } else if (entity.starts_with("group/")) {
        prepend(ChartKind::Lag, name, false,
                [](const HistoryPoint &p) { return static_cast<double>(p.lag); }, all);
    } else if (entity == "broker") {
        // Seconds without traffic have no latency; they are gaps, not zeros.
        const auto traffic = [](const HistoryPoint &p) { return p.p50Us != 0 || p.p99Us != 0; };
        prepend(ChartKind::Latency, "p50", false,
                [](const HistoryPoint &p) { return static_cast<double>(p.p50Us) / 1000.0; },
                traffic);
        prepend(ChartKind::Latency, "p99", false,
                [](const HistoryPoint &p) { return static_cast<double>(p.p99Us) / 1000.0; },
                traffic);
    }
}

ChartFramePtr ChartStore::frame(int windowS, bool perPartition, int columns) const
{
    auto frame = std::make_shared<ChartFrame>();
    frame->nowS = m_lastS;
    frame->windowS = windowS;
    frame->perPartition = perPartition;
    const double from = m_lastS - windowS;
    for (const auto &s : m_series) {
        if (s.chart == ChartKind::Lag && s.perPartition != perPartition)
            continue;
        const int c = static_cast<int>(s.chart);
        const QVector<QCPGraphData> points = thinMinMax(s.points, from, m_lastS, columns);
        for (const auto &p : points)
            if (p.key >= from)
                frame->maxValue[c] = std::max(frame->maxValue[c], p.value);
        auto data = QSharedPointer<QCPGraphDataContainer>::create();
        data->set(points, true);
        frame->series[c].push_back({s.name, s.dashed, std::move(data)});
    }
    return frame;
}

ChartFramePtr ChartStore::fullFrame(double fromS, double toS, bool perPartition) const
{
    auto frame = std::make_shared<ChartFrame>();
    frame->nowS = toS;
    frame->windowS = static_cast<int>(std::lround(toS - fromS));
    frame->perPartition = perPartition;
    const auto before = [](const QCPGraphData &p, double key) { return p.key < key; };
    const auto after = [](double key, const QCPGraphData &p) { return key < p.key; };
    for (const auto &s : m_series) {
        if (s.chart == ChartKind::Lag && s.perPartition != perPartition)
            continue;
        const int c = static_cast<int>(s.chart);
        QVector<QCPGraphData> points;
        if (fromS <= toS) {
            // Unlike a plotted frame, no point from before the window: only samples inside it.
            const auto first = std::lower_bound(s.points.begin(), s.points.end(), fromS, before);
            const auto last = std::upper_bound(first, s.points.end(), toS, after);
            points.reserve(static_cast<qsizetype>(last - first));
            std::copy(first, last, std::back_inserter(points));
        }
        for (const auto &p : points)
            frame->maxValue[c] = std::max(frame->maxValue[c], p.value);
        auto data = QSharedPointer<QCPGraphDataContainer>::create();
        data->set(points, true);
        frame->series[c].push_back({s.name, s.dashed, std::move(data)});
    }
    return frame;
}

} // namespace eddy::ui
