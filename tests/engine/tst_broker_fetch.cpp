// Integration tests of fetch through eddy::Broker: fetch bounds and limits, long-poll wake-up /
// timeout / shutdown (a parked fetch completes on close, also racing new polls), calls after
// close, and acknowledgement (acks=none still reports, durable acks in durable mode). Produce,
// partitioning and idempotence: tst_broker_produce.cpp.
#include "produce_fixture.h"

#include <QElapsedTimer>
#include <QtTest>

#include <atomic>
#include <future>
#include <thread>

using namespace eddy;
using namespace eddy::test;

class TestBrokerFetch : public QObject, ProduceFixture
{
    Q_OBJECT

private slots:
    void init() { openTestBroker(); }
    void cleanup() { closeBroker(); }

    void fetchLimits();
    void fetchBounds();
    void longPollWakesOnProduce();
    void longPollTimesOutEmpty();
    void closeCompletesParkedFetch();
    void closeRacingLongPolls();
    void callsAfterClose();
    void acksNoneStillReports();
    void durableModeDurableAcks();
};

void TestBrokerFetch::fetchLimits()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"f", 1, {}}));
    std::vector<Record> records;
    for (int i = 0; i < 20; ++i)
        records.push_back(rec(std::string(10, char('a' + i))));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("f", 0, records)));

    auto r = m_broker->fetchSync(fetchFrom("f", 0, 0, 5));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(5));
    QCOMPARE(r->records[0].offset, 0);
    QCOMPARE(r->records[4].offset, 4);
    QCOMPARE(r->highWatermark, 20);
    QCOMPARE(r->logStartOffset, 0);

    auto req = fetchFrom("f", 0, 3);
    req.maxBytes = 35; // three 10-byte records fit, the fourth does not
    r = m_broker->fetchSync(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(3));
    QCOMPARE(r->records[0].offset, 3);
    QCOMPARE(r->records[0].value, std::string(10, char('a' + 3)));

    req.maxBytes = 1; // smaller than one record: still one record, so a reader always progresses
    r = m_broker->fetchSync(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(1));
    QCOMPARE(r->records[0].offset, 3);

    r = m_broker->fetchSync(fetchFrom("f", 0, 18, 100));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(2));

    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("f", 0, 0, 0)), Errc::InvalidRequest);
    auto negWait = fetchFrom("f", 0, 0);
    negWait.waitMs = -1;
    EDDY_VERIFY_ERR(m_broker->fetchSync(negWait), Errc::InvalidRequest);
}

void TestBrokerFetch::fetchBounds()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"b", 1, {3, 0, 0}}));
    std::vector<Record> records;
    for (int i = 0; i < 10; ++i)
        records.push_back(rec("v" + std::to_string(i)));
    for (auto &r : records)
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo("b", 0, {r})));

    // At the HW: empty, not an error.
    auto atHw = m_broker->fetchSync(fetchFrom("b", 0, 10));
    EDDY_VERIFY_OK(atHw);
    QVERIFY(atHw->records.empty());
    QCOMPARE(atHw->highWatermark, 10);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, 11)), Errc::OffsetOutOfRange);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, 1000)), Errc::OffsetOutOfRange);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, -1)), Errc::InvalidOffset);
    // A long poll does not turn a bad offset into a wait.
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, 11, 500, 2000)), Errc::OffsetOutOfRange);

    m_broker->runRetention();
    auto info = m_broker->describeTopic("b");
    EDDY_VERIFY_OK(info);
    QCOMPARE(info->partitionInfo[0].logStartOffset, 7);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, 0)), Errc::OffsetOutOfRange);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("b", 0, 6)), Errc::OffsetOutOfRange);
    auto r = m_broker->fetchSync(fetchFrom("b", 0, 7));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(3));
    QCOMPARE(r->records[0].value, std::string("v7"));
    QCOMPARE(r->logStartOffset, 7);
}

void TestBrokerFetch::longPollWakesOnProduce()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"lp", 2, {}}));
    std::promise<Result<FetchResult>> fetched;
    auto future = fetched.get_future();
    QElapsedTimer sinceFetch;
    sinceFetch.start();
    m_broker->fetch(fetchFrom("lp", 1, 0, 500, 5000),
                    [&](Result<FetchResult> r) { fetched.set_value(std::move(r)); });
    // Still parked: nothing to read yet.
    QCOMPARE(future.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);

    // Data on another partition does not wake it.
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("lp", 0, {rec("elsewhere")})));
    QCOMPARE(future.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);

    QElapsedTimer sinceProduce;
    std::thread producer([&] {
        sinceProduce.start();
        (void)m_broker->produceSync(produceTo("lp", 1, {rec("hello", std::string("k"))}));
    });
    QCOMPARE(future.wait_for(std::chrono::milliseconds(4000)), std::future_status::ready);
    const qint64 afterProduce = sinceProduce.elapsed();
    const qint64 total = sinceFetch.elapsed();
    producer.join();
    auto r = future.get();
    EDDY_VERIFY_OK(r);
    QVERIFY2(afterProduce < 2000,
             qPrintable(QString("woke %1 ms after the produce").arg(afterProduce)));
    QVERIFY2(total < 4000, qPrintable(QString("fetch took %1 ms of its 5000 ms wait").arg(total)));
    QCOMPARE(r->records.size(), std::size_t(1));
    QCOMPARE(r->records[0].value, std::string("hello"));
    QCOMPARE(r->records[0].offset, 0);
    QCOMPARE(r->highWatermark, 1);
}

void TestBrokerFetch::longPollTimesOutEmpty()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"lp", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("lp", 0, {rec("old")})));
    QElapsedTimer timer;
    timer.start();
    auto r = m_broker->fetchSync(fetchFrom("lp", 0, 1, 500, 100));
    const qint64 took = timer.elapsed();
    EDDY_VERIFY_OK(r);
    QVERIFY(r->records.empty());
    QCOMPARE(r->highWatermark, 1);
    QVERIFY2(took >= 90, qPrintable(QString("returned after %1 ms, before the wait").arg(took)));
    QVERIFY2(took < 3000, qPrintable(QString("returned after %1 ms").arg(took)));

    // Many timed-out long polls in a row keep working (the waiter list is pruned, not leaked
    // into a later wake-up).
    for (int i = 0; i < 5; ++i) {
        r = m_broker->fetchSync(fetchFrom("lp", 0, 1, 500, 20));
        EDDY_VERIFY_OK(r);
        QVERIFY(r->records.empty());
    }
    // And a wait that data satisfies at once returns the data without waiting.
    timer.restart();
    r = m_broker->fetchSync(fetchFrom("lp", 0, 0, 500, 5000));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(1));
    QVERIFY(timer.elapsed() < 2000);
}

void TestBrokerFetch::closeCompletesParkedFetch()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"lp", 1, {}}));
    std::vector<std::promise<Result<FetchResult>>> promises(3);
    for (auto &p : promises)
        m_broker->fetch(fetchFrom("lp", 0, 0, 500, 10000),
                        [&p](Result<FetchResult> r) { p.set_value(std::move(r)); });
    std::vector<std::future<Result<FetchResult>>> futures;
    for (auto &p : promises)
        futures.push_back(p.get_future());
    QCOMPARE(futures[0].wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    QElapsedTimer timer;
    timer.start();
    m_broker->close();
    for (auto &f : futures) {
        QCOMPARE(f.wait_for(std::chrono::milliseconds(2000)), std::future_status::ready);
        EDDY_VERIFY_ERR(f.get(), Errc::ShuttingDown);
    }
    QVERIFY(timer.elapsed() < 3000);
    m_broker->close(); // idempotent
}

void TestBrokerFetch::closeRacingLongPolls()
{
    // Long polls issued while close() runs must all complete (ShuttingDown), including one that
    // parks just after close() collected the parked waiters.
    EDDY_VERIFY_OK(m_broker->createTopic({"lp", 1, {}}));
    std::atomic<int> issued{0};
    std::atomic<int> completed{0};
    std::atomic<int> shutdowns{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            while (!stop.load()) {
                ++issued;
                m_broker->fetch(fetchFrom("lp", 0, 0, 500, 10000), [&](Result<FetchResult> r) {
                    if (!r && r.code() == Errc::ShuttingDown)
                        ++shutdowns;
                    ++completed;
                });
                if (shutdowns.load() > 0 && issued.load() > 50)
                    break;
            }
        });
    }
    QTest::qWait(30);
    m_broker->close();
    QTest::qWait(20);
    stop = true;
    for (auto &t : threads)
        t.join();
    QTRY_COMPARE_WITH_TIMEOUT(completed.load(), issued.load(), 3000);
    QVERIFY(shutdowns.load() > 0);
}

void TestBrokerFetch::callsAfterClose()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"c", 1, {}}));
    m_broker->close();
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("c", 0, {rec("v")})), Errc::ShuttingDown);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("c", 0, 0, 500, 1000)), Errc::ShuttingDown);
    EDDY_VERIFY_ERR(m_broker->createTopic({"d", 1, {}}), Errc::ShuttingDown);
    EDDY_VERIFY_ERR(m_broker->deleteTopic("c"), Errc::ShuttingDown);
    JoinGroupRequest join;
    join.group = "g";
    join.topics = {"c"};
    EDDY_VERIFY_ERR(m_broker->joinGroup(join), Errc::ShuttingDown);
}

void TestBrokerFetch::acksNoneStillReports()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"n", 1, {}}));
    auto ok = m_broker->produceSync(produceTo("n", 0, {rec("a"), rec("b")}, Acks::None));
    EDDY_VERIFY_OK(ok);
    QCOMPARE(ok->offsets.size(), std::size_t(2));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("n", 5, {rec("a")}, Acks::None)),
                    Errc::UnknownPartition);
    auto all = readAll(*m_broker, "n", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
}

void TestBrokerFetch::durableModeDurableAcks()
{
    openBroker(testConfig(m_dir->path(), Durability::Durable));
    EDDY_VERIFY_OK(m_broker->createTopic({"d", 3, {}}));
    std::vector<Record> records;
    for (int i = 0; i < 30; ++i)
        records.push_back(rec("d" + std::to_string(i), "key" + std::to_string(i)));
    auto r = m_broker->produceSync(produceTo("d", std::nullopt, records, Acks::Durable));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->offsets.size(), std::size_t(30));
    // Acknowledged durably, so visible at once (durable mode only shows persisted records).
    int64_t total = 0;
    for (int32_t p = 0; p < 3; ++p) {
        auto all = readAll(*m_broker, "d", p);
        EDDY_VERIFY_OK(all);
        total += int64_t(all->size());
        for (const auto &rr : *all)
            QCOMPARE(keyPartition(*rr.key, 3), p);
    }
    QCOMPARE(total, 30);
    // Leader acks in durable mode: acknowledged on append; visible once persisted.
    auto leader = m_broker->produceSync(produceTo("d", 0, {rec("leader")}, Acks::Leader));
    EDDY_VERIFY_OK(leader);
    const int64_t off = leader->offsets[0].second;
    QTRY_VERIFY_WITH_TIMEOUT(m_broker->describeTopic("d")->partitionInfo[0].highWatermark > off,
                             3000);
    auto f = m_broker->fetchSync(fetchFrom("d", 0, off));
    EDDY_VERIFY_OK(f);
    QCOMPARE(f->records.at(0).value, std::string("leader"));
    // A long poll in durable mode wakes when the record is persisted.
    std::promise<Result<FetchResult>> fetched;
    auto future = fetched.get_future();
    m_broker->fetch(fetchFrom("d", 0, off + 1, 500, 5000),
                    [&](Result<FetchResult> res) { fetched.set_value(std::move(res)); });
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("d", 0, {rec("late")}, Acks::Durable)));
    QCOMPARE(future.wait_for(std::chrono::milliseconds(2000)), std::future_status::ready);
    auto lp = future.get();
    EDDY_VERIFY_OK(lp);
    QCOMPARE(lp->records.size(), std::size_t(1));
    QCOMPARE(lp->records[0].value, std::string("late"));
}

QTEST_GUILESS_MAIN(TestBrokerFetch)
#include "tst_broker_fetch.moc"
