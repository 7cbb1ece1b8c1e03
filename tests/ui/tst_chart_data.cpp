// Chart data off the GUI thread: min/max thinning keeps the extremes of every bucket (a spike
// inside a thinned-out stretch still shows) and bounds the points per series; the chart store
// frames the visible window, keeps an hour, fills history in only before what it saw live and
// switches lag views; its full frame holds every sample of a window, and the CSV written from it
// holds every one of them under the documented header and quoting; the charts panel plots a
// frame's series and drops those a later frame lacks.
#include "chart_data.h"
#include "charts_panel.h"

#include <qcustomplot.h>

#include <QDockWidget>
#include <QLabel>
#include <QMainWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using namespace eddy;
using namespace eddy::ui;

namespace {

std::deque<QCPGraphData> series(int count, double stepS = 0.1)
{
    std::deque<QCPGraphData> points;
    for (int i = 0; i < count; ++i)
        points.push_back({i * stepS, 100.0 + i % 7});
    return points;
}

bool contains(const QVector<QCPGraphData> &points, double key, double value)
{
    return std::any_of(points.begin(), points.end(),
                       [&](const QCPGraphData &p) { return p.key == key && p.value == value; });
}

bool strictlyIncreasing(const QCPGraphDataContainer &data)
{
    for (auto it = data.constBegin(); it != data.constEnd(); ++it)
        if (it != data.constBegin() && !((it - 1)->key < it->key))
            return false;
    return true;
}

MetricsSnapshot snapshot(int64_t timestampMs, double recordsIn, int64_t lag,
                         const std::string &topic = "orders")
{
    MetricsSnapshot s;
    s.timestampMs = timestampMs;
    TopicMetrics orders;
    orders.name = topic;
    orders.rates.recordsInPerSec = recordsIn;
    orders.rates.recordsOutPerSec = recordsIn / 2;
    TopicMetrics internal;
    internal.name = "__consumer_offsets";
    internal.rates.recordsInPerSec = 1e9;
    s.topics = {orders, internal};
    GroupMetrics g;
    g.name = "billing";
    g.totalLag = lag;
    g.partitions = {{"orders", 0, 0, 0, lag / 2}, {"orders", 1, 0, 0, lag - lag / 2}};
    s.groups = {g};
    s.latency.count = 10;
    s.latency.p50Us = 2000;
    s.latency.p99Us = 9000;
    return s;
}

QStringList names(const ChartFrame &frame, ChartKind chart)
{
    QStringList out;
    for (const auto &s : frame.series[static_cast<int>(chart)])
        out << s.name;
    return out;
}

const ChartSeriesFrame &seriesNamed(const ChartFrame &frame, ChartKind chart, const QString &name)
{
    for (const auto &s : frame.series[static_cast<int>(chart)])
        if (s.name == name)
            return s;
    static const ChartSeriesFrame none;
    return none;
}

} // namespace

class TestChartData : public QObject
{
    Q_OBJECT

private slots:
    void thinningKeepsSpikesAndBoundsPoints();
    void thinningReturnsFewPointsAsTheyAre();
    void thinningOfEmptyAndDegenerateWindows();
    void storeFramesTheVisibleWindow();
    void storeIgnoresStaleSnapshotsAndKeepsAnHour();
    void storeSwitchesLagViews();
    void historyFillsInOnlyBeforeLivePoints();
    void fullFrameHoldsEverySampleOfTheWindow();
    void csvHoldsEverySampleWithHeaderAndQuoting();
    void csvExportFailuresAreReported();
    void panelPlotsFramesAndDropsVanishedSeries();
    void panelBehindAnotherTabDoesNotReplot();
};

void TestChartData::thinningKeepsSpikesAndBoundsPoints()
{
    // An hour at 10 Hz, one spike and one dip each alone in a bucket of 12 points.
    auto points = series(36000);
    points[12345].value = 5000;
    points[22222].value = 0;
    const double from = points.front().key;
    const double to = points.back().key;
    const auto thin = thinMinMax(points, from, to, 300);
    QVERIFY(thin.size() <= 2 * 300 + 2);
    QVERIFY(thin.size() >= 300);
    QVERIFY(contains(thin, points[12345].key, 5000));
    QVERIFY(contains(thin, points[22222].key, 0));
    QCOMPARE(thin.front().key, points.front().key);
    QCOMPARE(thin.back().key, points.back().key);
    QCPGraphDataContainer data;
    data.set(thin, true);
    QVERIFY(strictlyIncreasing(data));
    // Every point is a real one, not an average.
    for (const auto &p : thin) {
        const auto i = static_cast<std::size_t>(std::lround(p.key / 0.1));
        QCOMPARE(p.value, points[i].value);
    }
    // A narrower window thins only what it shows, entering from the point before it.
    const auto window = thinMinMax(points, 3000.05, 3600, 50);
    QVERIFY(window.size() <= 2 * 50 + 2);
    QCOMPARE(window.front().key, points[30000].key);
    QCOMPARE(window.back().key, points.back().key);
    for (int i = 1; i < window.size(); ++i)
        QVERIFY(window[i].key >= 3000.05);
}

void TestChartData::thinningReturnsFewPointsAsTheyAre()
{
    const auto points = series(10, 1.0);
    const auto thin = thinMinMax(points, 3.5, 9, 100);
    // 3 enters the window from the left; 4..9 are in it.
    QCOMPARE(thin.size(), 7);
    for (int i = 0; i < thin.size(); ++i) {
        QCOMPARE(thin[i].key, points[static_cast<std::size_t>(i + 3)].key);
        QCOMPARE(thin[i].value, points[static_cast<std::size_t>(i + 3)].value);
    }
}

void TestChartData::thinningOfEmptyAndDegenerateWindows()
{
    QVERIFY(thinMinMax({}, 0, 10, 100).isEmpty());
    const auto points = series(1000, 1.0);
    QVERIFY(thinMinMax(points, 10, 10, 100).isEmpty());
    QVERIFY(thinMinMax(points, 20, 10, 100).isEmpty());
    QVERIFY(thinMinMax(points, -50, -10, 100).isEmpty());
    // No bucket is one bucket: the extremes and the ends survive.
    auto spiky = series(1000, 1.0);
    spiky[500].value = 1e6;
    spiky[501].value = -1e6;
    const auto one = thinMinMax(spiky, 0, 999, 0);
    QVERIFY(one.size() <= 4);
    QVERIFY(contains(one, 500, 1e6));
    QVERIFY(contains(one, 501, -1e6));
    QCOMPARE(one.back().key, 999.0);
}

void TestChartData::storeFramesTheVisibleWindow()
{
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    for (int i = 0; i < 1200; ++i) // two minutes at 10 Hz
        QVERIFY(store.addSnapshot(snapshot(t0 + i * 100, i, 10 * i), false));
    const auto frame = store.frame(60, false, 100);
    QCOMPARE(frame->nowS, (t0 + 1199 * 100) / 1000.0);
    QCOMPARE(frame->windowS, 60);
    QCOMPARE(names(*frame, ChartKind::Throughput), (QStringList{"in orders", "out orders"}));
    QCOMPARE(names(*frame, ChartKind::Lag), QStringList{"billing"});
    QCOMPARE(names(*frame, ChartKind::Latency), (QStringList{"p50", "p99"}));
    QVERIFY(seriesNamed(*frame, ChartKind::Throughput, "out orders").dashed);
    QVERIFY(!seriesNamed(*frame, ChartKind::Throughput, "in orders").dashed);
    const auto &in = *seriesNamed(*frame, ChartKind::Throughput, "in orders").data;
    QVERIFY(in.size() <= 2 * 100 + 2);
    QVERIFY(in.size() > 100);
    QVERIFY(strictlyIncreasing(in));
    // Only the point entering from the left lies before the window.
    QVERIFY((in.constBegin() + 1)->key >= frame->nowS - 60);
    QCOMPARE((in.constEnd() - 1)->value, 1199.0);
    // The highest visible values, without the internal topic's.
    QCOMPARE(frame->maxValue[0], 1199.0);
    QCOMPARE(frame->maxValue[1], 11990.0);
    QCOMPARE(frame->maxValue[2], 9.0);
    // A wider window covers the whole two minutes with the same bound.
    const auto wide = store.frame(300, false, 100);
    const auto &all = *seriesNamed(*wide, ChartKind::Throughput, "in orders").data;
    QVERIFY(all.size() <= 2 * 100 + 2);
    QCOMPARE(all.constBegin()->value, 0.0);
}

void TestChartData::storeIgnoresStaleSnapshotsAndKeepsAnHour()
{
    ChartStore store;
    QCOMPARE(store.frame(60, false, 100)->series[0].size(), std::size_t(0));
    const int64_t t0 = 1'700'000'000'000;
    QVERIFY(store.addSnapshot(snapshot(t0, 5, 0), false));
    QVERIFY(!store.addSnapshot(snapshot(t0, 7, 0), false));
    QVERIFY(!store.addSnapshot(snapshot(t0 - 100, 7, 0), false));
    QCOMPARE(store.lastS(), t0 / 1000.0);
    QVERIFY(store.addSnapshot(snapshot(t0 + 3000 * 1000, 6, 0), false));
    // Within the hour kept: the 1 h window still enters from the first point.
    auto frame = store.frame(3600, false, 100);
    QCOMPARE(seriesNamed(*frame, ChartKind::Throughput, "in orders").data->size(), 2);
    // Past it, the first point is gone.
    QVERIFY(store.addSnapshot(snapshot(t0 + 4000 * 1000, 8, 0), false));
    frame = store.frame(3600, false, 100);
    const auto &in = *seriesNamed(*frame, ChartKind::Throughput, "in orders").data;
    QCOMPARE(in.size(), 2);
    QCOMPARE(in.constBegin()->value, 6.0);
}

void TestChartData::storeSwitchesLagViews()
{
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    QVERIFY(store.addSnapshot(snapshot(t0, 1, 10), false));
    QVERIFY(store.addSnapshot(snapshot(t0 + 100, 1, 20), true));
    QVERIFY(store.addSnapshot(snapshot(t0 + 200, 1, 30), true));
    auto frame = store.frame(60, true, 100);
    QCOMPARE(names(*frame, ChartKind::Lag), (QStringList{"billing orders/0", "billing orders/1"}));
    QCOMPARE(frame->maxValue[1], 15.0);
    // The total kept counting meanwhile.
    frame = store.frame(60, false, 100);
    QCOMPARE(names(*frame, ChartKind::Lag), QStringList{"billing"});
    QCOMPARE(seriesNamed(*frame, ChartKind::Lag, "billing").data->size(), 3);
    // Leaving the per-partition view drops its series.
    QVERIFY(store.addSnapshot(snapshot(t0 + 300, 1, 40), false));
    QVERIFY(names(*store.frame(60, true, 100), ChartKind::Lag).isEmpty());
}

void TestChartData::historyFillsInOnlyBeforeLivePoints()
{
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    QVERIFY(store.addSnapshot(snapshot(t0, 50, 4), false));
    std::vector<HistoryPoint> history;
    for (int s = -10; s <= 5; ++s) {
        HistoryPoint p;
        p.timestampMs = t0 + s * 1000;
        p.recordsInPerSec = 1000 + s;
        p.recordsOutPerSec = 500;
        p.lag = 7;
        p.p50Us = s % 2 == 0 ? 1000 : 0;
        p.p99Us = s % 2 == 0 ? 3000 : 0;
        history.push_back(p);
    }
    store.addHistory("topic/orders", history);
    store.addHistory("group/billing", history);
    store.addHistory("broker", history);
    store.addHistory("topic/unknown", {});
    store.addHistory("topic/idle", std::vector<HistoryPoint>(3));
    const auto frame = store.frame(60, false, 100);
    // Entities without (recent) history add no empty series.
    QCOMPARE(names(*frame, ChartKind::Throughput), (QStringList{"in orders", "out orders"}));
    const auto &in = *seriesNamed(*frame, ChartKind::Throughput, "in orders").data;
    // Ten seconds of history before the live point, nothing from after it.
    QCOMPARE(in.size(), 11);
    QVERIFY(strictlyIncreasing(in));
    QCOMPARE(in.constBegin()->value, 990.0);
    QCOMPARE((in.constEnd() - 1)->value, 50.0);
    QCOMPARE(seriesNamed(*frame, ChartKind::Lag, "billing").data->size(), 11);
    // Seconds without latency are not drawn as zeros: -10, -8, ..., -2 and the live point.
    const auto &p99 = *seriesNamed(*frame, ChartKind::Latency, "p99").data;
    QCOMPARE(p99.size(), 6);
    QCOMPARE(p99.constBegin()->value, 3.0);
}

void TestChartData::fullFrameHoldsEverySampleOfTheWindow()
{
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    for (int i = 0; i < 4000; ++i) // 400 s at 10 Hz
        QVERIFY(store.addSnapshot(snapshot(t0 + i * 100, i % 13 == 0 ? 5000 + i : i, i), false));
    const double now = (t0 + 3999 * 100) / 1000.0;
    // The plot of the 5 min window is thinned to about two points per column...
    const auto thin = store.frame(300, false, 100);
    QVERIFY(seriesNamed(*thin, ChartKind::Throughput, "in orders").data->size() <= 202);
    // ...the full frame of that window holds all 3,000 samples in it (and none before it).
    // (Half a step inside, so rounding of the edge cannot move a sample in or out.)
    const auto full = store.fullFrame(now - 299.95, now, false);
    QCOMPARE(full->nowS, now);
    QCOMPARE(full->windowS, 300);
    QCOMPARE(names(*full, ChartKind::Throughput), (QStringList{"in orders", "out orders"}));
    QCOMPARE(names(*full, ChartKind::Lag), QStringList{"billing"});
    const auto &in = *seriesNamed(*full, ChartKind::Throughput, "in orders").data;
    QCOMPARE(in.size(), 3000);
    int i = 1000;
    for (auto it = in.constBegin(); it != in.constEnd(); ++it, ++i) {
        QCOMPARE(it->key, (t0 + i * 100) / 1000.0);
        QCOMPARE(it->value, i % 13 == 0 ? 5000.0 + i : double(i));
    }
    QCOMPARE(seriesNamed(*full, ChartKind::Lag, "billing").data->size(), 3000);
    QCOMPARE(full->maxValue[0], 5000.0 + 3991);
    // The newest sample is in; an inverted range keeps the series but no point.
    QCOMPARE(seriesNamed(*store.fullFrame(now - 1.05, now, false), ChartKind::Latency, "p99")
                 .data->size(),
             11);
    const auto none = store.fullFrame(now, now - 10, false);
    QCOMPARE(seriesNamed(*none, ChartKind::Throughput, "in orders").data->size(), 0);
    // No per-partition lag was kept, so the per-partition view has no lag series.
    QVERIFY(names(*store.fullFrame(now - 300, now, true), ChartKind::Lag).isEmpty());
}

void TestChartData::csvHoldsEverySampleWithHeaderAndQuoting()
{
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    // A topic name with a quote and a comma: the CSV quotes it and doubles the quote.
    for (int i = 0; i < 3000; ++i)
        QVERIFY(store.addSnapshot(snapshot(t0 + i * 100, i + 0.25, i, "a\"b,c"), false));
    const double now = (t0 + 2999 * 100) / 1000.0;
    QVERIFY(seriesNamed(*store.frame(300, false, 100), ChartKind::Throughput, "in a\"b,c")
                .data->size()
            <= 202);
    QTemporaryDir dir;
    const QString path = dir.filePath("throughput.csv");
    QString error;
    QVERIFY2(ChartsPanel::writeCsv(*store.fullFrame(now - 300, now, false),
                                   ChartsPanel::Chart::Throughput, path, &error),
             qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 2 * 3000);
    QCOMPARE(lines[0], QString("time_ms,series,value"));
    for (int i = 0; i < 3000; ++i) {
        const QString t = QString::number(t0 + i * 100);
        QCOMPARE(lines[1 + i], t + ",\"in a\"\"b,c\"," + QString::number(i + 0.25, 'g', 10));
        QCOMPARE(lines[1 + 3000 + i],
                 t + ",\"out a\"\"b,c\"," + QString::number((i + 0.25) / 2, 'g', 10));
    }
}

void TestChartData::csvExportFailuresAreReported()
{
    ChartStore store;
    QVERIFY(store.addSnapshot(snapshot(1'700'000'000'000, 1, 1), false));
    QTemporaryDir dir;
    QString error;
    QVERIFY(!ChartsPanel::writeCsv(*store.fullFrame(0, 2e9, false), ChartsPanel::Chart::Lag,
                                   dir.filePath("missing/dir/lag.csv"), &error));
    QVERIFY(!error.isEmpty());
    // A panel without a broker has nothing to export: it says so, queued, and writes nothing.
    ChartsPanel panel(nullptr);
    QSignalSpy done(&panel, &ChartsPanel::csvExported);
    panel.exportCsv(ChartsPanel::Chart::Lag, dir.filePath("lag.csv"));
    QCOMPARE(done.count(), 0);
    QTRY_COMPARE(done.count(), 1);
    QCOMPARE(done[0][0].toString(), dir.filePath("lag.csv"));
    QCOMPARE(done[0][1].toString(), QString("no broker"));
    QVERIFY(!QFile::exists(dir.filePath("lag.csv")));
}

void TestChartData::panelPlotsFramesAndDropsVanishedSeries()
{
    ChartsPanel panel(nullptr);
    panel.resize(900, 300);
    panel.show();
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    for (int i = 0; i < 50; ++i)
        QVERIFY(store.addSnapshot(snapshot(t0 + i * 100, i, i), true));
    panel.showFrame(store.frame(60, true, 400));
    QCOMPARE(panel.seriesNames(ChartsPanel::Chart::Lag).size(), 2);
    QCOMPARE(panel.pointCount(ChartsPanel::Chart::Throughput), 100);
    auto *plot = panel.plot(ChartsPanel::Chart::Throughput);
    QCOMPARE(plot->xAxis->range().upper, (t0 + 4900) / 1000.0);
    QVERIFY(plot->yAxis->range().upper >= 49);
    panel.showFrame(store.frame(60, false, 400));
    QCOMPARE(panel.seriesNames(ChartsPanel::Chart::Lag), QStringList{"billing"});
    QCOMPARE(panel.plot(ChartsPanel::Chart::Lag)->graphCount(), 1);
    panel.showFrame(nullptr); // ignored
    QCOMPARE(panel.pointCount(ChartsPanel::Chart::Lag), 50);
}

void TestChartData::panelBehindAnotherTabDoesNotReplot()
{
    QMainWindow window;
    auto *panel = new ChartsPanel(nullptr);
    auto *chartsDock = new QDockWidget("Charts", &window);
    chartsDock->setWidget(panel);
    auto *otherDock = new QDockWidget("Other", &window);
    otherDock->setWidget(new QLabel("other"));
    window.addDockWidget(Qt::BottomDockWidgetArea, chartsDock);
    window.tabifyDockWidget(chartsDock, otherDock);
    window.resize(900, 400);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    ChartStore store;
    const int64_t t0 = 1'700'000'000'000;
    int64_t t = t0;
    const auto nextFrame = [&] {
        t += 100;
        store.addSnapshot(snapshot(t, 5, 5), false);
        return store.frame(60, false, 400);
    };
    QSignalSpy replots(panel->plot(ChartsPanel::Chart::Throughput), &QCustomPlot::afterReplot);
    otherDock->raise();
    QTest::qWait(50);
    replots.clear();
    for (int i = 0; i < 3; ++i) {
        panel->showFrame(nextFrame());
        QTest::qWait(20);
    }
    // The data is swapped in, but nobody sees the plot: no replot.
    QCOMPARE(panel->pointCount(ChartsPanel::Chart::Throughput), 6);
    QCOMPARE(replots.count(), 0);
    chartsDock->raise();
    panel->showFrame(nextFrame());
    QTRY_VERIFY_WITH_TIMEOUT(replots.count() > 0, 2000);
}

QTEST_MAIN(TestChartData)
#include "tst_chart_data.moc"
