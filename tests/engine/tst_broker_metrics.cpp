// Integration tests of the broker's metrics: periodic snapshots (totals, watermarks, rates,
// produce->consume latency per topic and group, group lag) and the persisted 1-second history.
#include "broker_fixture.h"
#include "scheduler.h" // wallClockMs

#include <QElapsedTimer>
#include <QtTest>

using namespace eddy;
using namespace eddy::test;

class TestBrokerMetrics : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void snapshotAfterProduceAndConsume();
    void snapshotSequenceIncreases();
    void ungroupedFetchCountsOutButNoGroupLatency();
    void deletedTopicLeavesSnapshot();
    void recreatedTopicRatesStaySane();
    void history();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

void TestBrokerMetrics::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    auto opened = Broker::open(testConfig(m_dir->path()));
    QVERIFY2(opened.ok(), describe(opened).constData());
    m_broker = std::move(opened.value());
}

void TestBrokerMetrics::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

void TestBrokerMetrics::snapshotAfterProduceAndConsume()
{
    QVERIFY(m_broker->metrics() != nullptr); // there is one from the start
    EDDY_VERIFY_OK(m_broker->createTopic({"m", 2, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"idle", 1, {}}));
    JoinGroupRequest join;
    join.group = "mg";
    join.memberId = "c";
    join.topics = {"m"};
    auto member = m_broker->joinGroup(join);
    EDDY_VERIFY_OK(member);

    constexpr int kPerPartition = 30;
    uint64_t bytesIn = 0;
    for (int32_t p = 0; p < 2; ++p) {
        for (int i = 0; i < kPerPartition; i += 3) {
            std::vector<Record> batch;
            for (int k = 0; k < 3; ++k) {
                batch.push_back(rec("value-" + std::to_string(i + k), "key"));
                bytesIn += recordPayloadBytes(batch.back());
            }
            EDDY_VERIFY_OK(m_broker->produceSync(produceTo("m", p, std::move(batch))));
        }
    }
    constexpr uint64_t kTotal = 2 * kPerPartition;
    // Let a little time pass so produce->consume latency is clearly above zero.
    QTest::qWait(20);
    uint64_t consumed = 0;
    for (int32_t p = 0; p < 2; ++p) {
        auto req = fetchFrom("m", p, 0, 1000);
        req.group = "mg";
        auto f = m_broker->fetchSync(req);
        EDDY_VERIFY_OK(f);
        QCOMPARE(f->records.size(), std::size_t(kPerPartition));
        consumed += f->records.size();
    }
    QCOMPARE(consumed, kTotal);
    CommitRequest commit;
    commit.group = "mg";
    commit.memberId = "c";
    commit.generation = member->generation;
    commit.offsets = {{"m", 0, kPerPartition, {}}, {"m", 1, 10, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));

    // The first snapshot that has seen everything.
    MetricsSnapshotPtr snap;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                 snap = m_broker->metrics();
                                 const auto *t = findTopicMetrics(*snap, "m");
                                 const auto *g = findGroupMetrics(*snap, "mg");
                                 return t && g && t->rates.recordsInTotal == kTotal
                                        && t->rates.recordsOutTotal == kTotal
                                        && g->latency.count > 0 && g->totalLag == 20;
                             }()),
                             3000);
    const auto *t = findTopicMetrics(*snap, "m");
    QVERIFY(t);
    QCOMPARE(t->rates.bytesInTotal, bytesIn);
    QCOMPARE(t->rates.bytesOutTotal, bytesIn);
    QVERIFY2(t->rates.recordsInPerSec > 0, qPrintable(QString::number(t->rates.recordsInPerSec)));
    QVERIFY(t->rates.bytesInPerSec > 0);
    QVERIFY(t->rates.recordsOutPerSec > 0);
    QCOMPARE(t->records, int64_t(kTotal));
    QCOMPARE(t->sizeBytes, int64_t(bytesIn));
    QCOMPARE(t->partitions.size(), std::size_t(2));
    for (const auto &pm : t->partitions) {
        QCOMPARE(pm.highWatermark, kPerPartition);
        QCOMPARE(pm.logStartOffset, 0);
        QCOMPARE(pm.rates.recordsInTotal, uint64_t(kPerPartition));
        QVERIFY(pm.rates.recordsInPerSec > 0);
    }
    QVERIFY(t->latency.count > 0);
    QVERIFY(t->latency.p50Us <= t->latency.p99Us);
    QVERIFY(t->latency.p99Us <= t->latency.maxUs);

    const auto *g = findGroupMetrics(*snap, "mg");
    QVERIFY(g);
    QCOMPARE(g->members, 1);
    QCOMPARE(g->generation, member->generation);
    QCOMPARE(g->state, GroupState::Stable);
    QCOMPARE(g->rates.recordsOutTotal, kTotal);
    QCOMPARE(g->rates.bytesOutTotal, bytesIn);
    QCOMPARE(g->latency.count, kTotal);
    QVERIFY2(g->latency.p50Us > 0, qPrintable(QString::number(g->latency.p50Us)));
    QVERIFY(g->latency.p50Us <= g->latency.p99Us);
    QVERIFY(g->latency.p99Us <= g->latency.maxUs);
    // Latencies are append -> fetch times: at least the 20 ms waited, and well under a minute.
    QVERIFY2(g->latency.maxUs >= 20000, qPrintable(QString::number(g->latency.maxUs)));
    QVERIFY2(g->latency.maxUs < 60000000, qPrintable(QString::number(g->latency.maxUs)));
    QCOMPARE(g->partitions.size(), std::size_t(2));
    for (const auto &pl : g->partitions) {
        QCOMPARE(pl.topic, std::string("m"));
        QCOMPARE(pl.highWatermark, kPerPartition);
        QCOMPARE(pl.committed, pl.partition == 0 ? kPerPartition : 10);
        QCOMPARE(pl.lag, pl.partition == 0 ? 0 : 20);
    }

    QVERIFY(snap->broker.recordsInTotal >= kTotal);
    QCOMPARE(snap->broker.recordsInTotal, kTotal);
    QCOMPARE(snap->broker.recordsOutTotal, kTotal);
    QVERIFY(snap->latency.count > 0);
    const auto *idle = findTopicMetrics(*snap, "idle");
    QVERIFY(idle);
    QCOMPARE(idle->rates.recordsInTotal, uint64_t(0));
    QCOMPARE(idle->rates.recordsInPerSec, 0.0);
    QCOMPARE(idle->latency.count, uint64_t(0));

    // Rates fall back to zero once nothing happens for longer than the rate window.
    QTRY_VERIFY_WITH_TIMEOUT(
        findTopicMetrics(*m_broker->metrics(), "m")->rates.recordsInPerSec == 0, 3000);
    QCOMPARE(findTopicMetrics(*m_broker->metrics(), "m")->rates.recordsInTotal, kTotal);
}

void TestBrokerMetrics::snapshotSequenceIncreases()
{
    auto first = m_broker->metrics();
    QVERIFY(first);
    QTRY_VERIFY_WITH_TIMEOUT(m_broker->metrics()->sequence > first->sequence, 2000);
    auto second = m_broker->metrics();
    QVERIFY(second->timestampMs >= first->timestampMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_broker->metrics()->sequence > second->sequence, 2000);
    auto third = m_broker->metrics();
    QVERIFY(third->sequence > second->sequence);
    QVERIFY(third->timestampMs >= second->timestampMs);
    // The snapshot a reader holds never changes under it.
    const auto seq = first->sequence;
    QTest::qWait(120);
    QCOMPARE(first->sequence, seq);
    // Roughly one snapshot per interval (50 ms): several in 500 ms, not hundreds.
    const auto before = m_broker->metrics()->sequence;
    QTest::qWait(500);
    const auto ticks = m_broker->metrics()->sequence - before;
    QVERIFY2(ticks >= 3 && ticks <= 20, qPrintable(QString::number(ticks)));
}

void TestBrokerMetrics::ungroupedFetchCountsOutButNoGroupLatency()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"u", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("u", 0, {rec("a"), rec("bb")})));
    EDDY_VERIFY_OK(m_broker->fetchSync(fetchFrom("u", 0, 0)));
    const auto outTotal = [&](const char *topic) -> uint64_t {
        const auto snapshot = m_broker->metrics(); // held while t is read
        const auto *t = findTopicMetrics(*snapshot, topic);
        return t ? t->rates.recordsOutTotal : 0;
    };
    QTRY_COMPARE_WITH_TIMEOUT(outTotal("u"), uint64_t(2), 3000);
    const auto snap = m_broker->metrics();
    const auto *t = findTopicMetrics(*snap, "u");
    QCOMPARE(t->rates.bytesOutTotal, uint64_t(3));
    QCOMPARE(t->latency.count, uint64_t(0)); // latency is tracked for group reads only
    QVERIFY(snap->groups.empty());
    // Empty fetches count nothing.
    EDDY_VERIFY_OK(m_broker->fetchSync(fetchFrom("u", 0, 2)));
    QTest::qWait(120);
    QCOMPARE(findTopicMetrics(*m_broker->metrics(), "u")->rates.recordsOutTotal, uint64_t(2));
}

void TestBrokerMetrics::deletedTopicLeavesSnapshot()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"gone", 1, {}}));
    QTRY_VERIFY_WITH_TIMEOUT(findTopicMetrics(*m_broker->metrics(), "gone") != nullptr, 2000);
    EDDY_VERIFY_OK(m_broker->deleteTopic("gone"));
    QTRY_VERIFY_WITH_TIMEOUT(findTopicMetrics(*m_broker->metrics(), "gone") == nullptr, 2000);
}

void TestBrokerMetrics::recreatedTopicRatesStaySane()
{
    // Deleting a topic lowers the broker's totals and recreating it restarts the topic's
    // counters: rates must not wrap around to absurd values.
    EDDY_VERIFY_OK(m_broker->createTopic({"re", 1, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"keep", 1, {}}));
    std::vector<Record> many(200, rec("0123456789"));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("re", 0, many)));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("keep", 0, {rec("k")})));
    const auto inTotal = [&](const char *topic) -> uint64_t {
        // Hold the snapshot: the broker may replace (and free) it before t is read (TSan).
        const auto snapshot = m_broker->metrics();
        const auto *t = findTopicMetrics(*snapshot, topic);
        return t ? t->rates.recordsInTotal : 0;
    };
    QTRY_COMPARE_WITH_TIMEOUT(inTotal("re"), uint64_t(200), 2000);
    QTest::qWait(120); // a few samples with the old totals
    EDDY_VERIFY_OK(m_broker->deleteTopic("re"));
    EDDY_VERIFY_OK(m_broker->createTopic({"re", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("re", 0, {rec("x")})));
    const auto sane = [](const Rates &r) {
        return r.recordsInPerSec >= 0 && r.recordsInPerSec < 100000 && r.bytesInPerSec >= 0
               && r.bytesInPerSec < 1e7 && r.recordsOutPerSec >= 0 && r.recordsOutPerSec < 100000;
    };
    // Skip snapshots that may have been taken before the topic was recreated.
    const auto seq = m_broker->metrics()->sequence;
    QTRY_VERIFY_WITH_TIMEOUT(m_broker->metrics()->sequence >= seq + 2, 2000);
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 600) {
        const auto snap = m_broker->metrics();
        const auto *t = findTopicMetrics(*snap, "re");
        if (t) {
            QVERIFY2(sane(t->rates),
                     qPrintable(QString("topic rate %1/s").arg(t->rates.recordsInPerSec)));
            QVERIFY(t->rates.recordsInTotal <= 1);
            for (const auto &p : t->partitions)
                QVERIFY2(sane(p.rates),
                         qPrintable(QString("partition rate %1/s").arg(p.rates.recordsInPerSec)));
        }
        QVERIFY2(sane(snap->broker),
                 qPrintable(QString("broker rate %1/s").arg(snap->broker.recordsInPerSec)));
        QTest::qWait(25);
    }
}

void TestBrokerMetrics::history()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"h", 2, {}}));
    const int64_t start = wallClockMs();
    // Keep producing for ~1.5 s so the per-second rows carry non-zero rates.
    QElapsedTimer timer;
    timer.start();
    int produced = 0;
    while (timer.elapsed() < 1500) {
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo("h", std::nullopt, {rec("x"), rec("y")})));
        produced += 2;
        QTest::qWait(20);
    }
    std::vector<HistoryPoint> rows;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                 auto h = m_broker->metricsHistory("topic/h", start - 2000,
                                                                   wallClockMs() + 1000);
                                 if (!h)
                                     return false;
                                 rows = *h;
                                 return !rows.empty();
                             }()),
                             3000);
    bool sawRate = false;
    int64_t previous = 0;
    for (const auto &row : rows) {
        QCOMPARE(row.timestampMs % 1000, 0); // 1-second rows
        QVERIFY(row.timestampMs > previous); // ordered, one per second
        QVERIFY(row.timestampMs >= start - 1000 && row.timestampMs <= wallClockMs());
        QVERIFY(row.recordsInPerSec >= 0);
        sawRate = sawRate || row.recordsInPerSec > 0;
        previous = row.timestampMs;
    }
    QVERIFY2(sawRate, "no history row shows the produce rate");
    // Per-partition and broker rows exist too; unknown entities have none.
    auto partition = m_broker->metricsHistory("topic/h/0", start - 2000, wallClockMs() + 1000);
    EDDY_VERIFY_OK(partition);
    QVERIFY(!partition->empty());
    auto broker = m_broker->metricsHistory("broker", start - 2000, wallClockMs() + 1000);
    EDDY_VERIFY_OK(broker);
    QVERIFY(!broker->empty());
    auto none = m_broker->metricsHistory("topic/nope", start - 2000, wallClockMs() + 1000);
    EDDY_VERIFY_OK(none);
    QVERIFY(none->empty());
    // A range that ends before it starts is refused; an empty range in the past has no rows.
    EDDY_VERIFY_ERR(m_broker->metricsHistory("topic/h", 2000, 1000), Errc::InvalidRequest);
    auto past = m_broker->metricsHistory("topic/h", 0, 1000);
    EDDY_VERIFY_OK(past);
    QVERIFY(past->empty());
    QVERIFY(produced > 0);

    // History is persisted: it is still there after a restart.
    const int64_t end = wallClockMs() + 1000;
    const std::size_t count = m_broker->metricsHistory("topic/h", start - 2000, end)->size();
    m_broker.reset();
    auto reopened = Broker::open(testConfig(m_dir->path()));
    QVERIFY2(reopened.ok(), describe(reopened).constData());
    m_broker = std::move(reopened.value());
    auto after = m_broker->metricsHistory("topic/h", start - 2000, end);
    EDDY_VERIFY_OK(after);
    QVERIFY(after->size() >= count);
}

QTEST_GUILESS_MAIN(TestBrokerMetrics)
#include "tst_broker_metrics.moc"
