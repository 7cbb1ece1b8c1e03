// Integration tests of the broker on a full disk, in durable mode and with durable acks in fast
// mode: produces fail cleanly without losing or inventing acknowledged records, also with
// concurrent producers and for an idempotent retry, and the broker recovers once space is
// free again. Reopen and damaged databases: tst_broker_store.cpp.
#include "sqlite_store.h"
#include "store_fixture.h"

#include <QtTest>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using namespace eddy;
using namespace eddy::test;

namespace {
// A store that is full after about 800 KiB of batches: that and the schema's pages (a dozen
// tables and indexes of a page each), in pages of the size a new store gets.
constexpr int64_t kSmallStorePages = (960 << 10) / SqliteStore::kPageSize;
} // namespace

class TestBrokerDiskFull : public QObject, StoreFixture
{
    Q_OBJECT

private slots:
    void init() { makeDataDir(); }
    void cleanup() { closeBroker(); }

    void diskFull_data();
    void diskFull();
    void diskFullConcurrentProducers_data();
    void diskFullConcurrentProducers();
    void diskFullIdempotentRetry();
};

void TestBrokerDiskFull::diskFull_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("durable") << Durability::Durable;
    QTest::newRow("fast, durable acks") << Durability::Fast;
}

void TestBrokerDiskFull::diskFull()
{
    QFETCH(Durability, durability);
    auto config = testConfig(m_dir->path(), durability);
    config.maxPageCount = kSmallStorePages;
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"full", 2, {}}));

    std::vector<Record> acked;
    std::optional<Error> failure;
    for (int i = 0; i < 400 && !failure; ++i) {
        std::string value(20000, char('a' + i % 26));
        value += std::to_string(i);
        auto r = m_broker->produceSync(produceTo("full", 0, {rec(value, "k")}, Acks::Durable));
        if (!r) {
            failure = r.error();
            break;
        }
        auto stored = rec(value, "k");
        stored.offset = r->offsets[0].second;
        QCOMPARE(stored.offset, int64_t(acked.size()));
        acked.push_back(stored);
    }
    QVERIFY2(failure.has_value(), "the small store never filled up");
    QCOMPARE(failure->code, Errc::StorageFull);
    QVERIFY(errcRetriable(failure->code));
    QVERIFY(acked.size() > 5);

    // The broker keeps serving reads: exactly the acknowledged records, no more.
    auto check = [&](const char *when) {
        auto info = m_broker->describeTopic("full");
        QVERIFY2(info.ok(), describe(info).constData());
        QCOMPARE(info->partitionInfo[0].highWatermark, int64_t(acked.size()));
        auto all = readAll(*m_broker, "full", 0);
        QVERIFY2(all.ok(), describe(all).constData());
        std::vector<Record> values = *all;
        for (auto &r : values)
            r.timestamp = 0; // append time, not compared
        const QString diff = diffRecords(values, acked);
        QVERIFY2(diff.isEmpty(), qPrintable(QString(when) + ": " + diff));
        EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("full", 0, int64_t(acked.size()) + 1)),
                        Errc::OffsetOutOfRange);
    };
    check("after the failure");
    if (QTest::currentTestFailed())
        return;

    // Still full: another big produce fails the same way and changes nothing visible.
    auto again = m_broker->produceSync(
        produceTo("full", 0, {rec(std::string(20000, 'z'), "k")}, Acks::Durable));
    EDDY_VERIFY_ERR(again, Errc::StorageFull);
    // A produce to another partition fails too, rather than being acknowledged.
    auto other = m_broker->produceSync(
        produceTo("full", 1, {rec(std::string(20000, 'z'))}, Acks::Durable));
    EDDY_VERIFY_ERR(other, Errc::StorageFull);
    QCOMPARE(m_broker->describeTopic("full")->partitionInfo[1].highWatermark, 0);
    check("after more failures");
    if (QTest::currentTestFailed())
        return;
    // Offsets are not burnt by failures: a record that fits gets the next offset.
    auto tiny = m_broker->produceSync(produceTo("full", 0, {rec("t", "k")}, Acks::Durable));
    if (tiny.ok()) {
        QCOMPARE(tiny->offsets[0].second, int64_t(acked.size()));
        auto stored = rec("t", "k");
        stored.offset = int64_t(acked.size());
        acked.push_back(stored);
    } else {
        QCOMPARE(tiny.code(), Errc::StorageFull);
    }

    QVERIFY(reopen(config));
    check("after reopen");
    if (QTest::currentTestFailed())
        return;
    // With room again (no page limit) producing continues at the next offset.
    config.maxPageCount = 0;
    QVERIFY(reopen(config));
    auto resumed =
        m_broker->produceSync(produceTo("full", 0, {rec("resumed", "k")}, Acks::Durable));
    EDDY_VERIFY_OK(resumed);
    QCOMPARE(resumed->offsets[0].second, int64_t(acked.size()));
}

void TestBrokerDiskFull::diskFullConcurrentProducers_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("durable") << Durability::Durable;
    QTest::newRow("fast, durable acks") << Durability::Fast;
}

void TestBrokerDiskFull::diskFullConcurrentProducers()
{
    // Several producers fill the store at once, so failing transactions hold batches of several
    // requests and later batches are queued behind a failure: every acknowledged record must be
    // readable at the offset it was acknowledged with, and nothing else may be.
    QFETCH(Durability, durability);
    auto config = testConfig(m_dir->path(), durability);
    config.maxPageCount = kSmallStorePages + (200 << 10) / SqliteStore::kPageSize;
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"full", 2, {}}));

    std::mutex mutex;
    std::map<std::pair<int32_t, int64_t>, std::string> acked;
    std::atomic<int> failures{0};
    std::atomic<int> unexpected{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            int myFailures = 0;
            for (int i = 0; i < 200 && myFailures < 5; ++i) {
                std::string value = "t" + std::to_string(t) + "-" + std::to_string(i) + "-";
                value += std::string(9000 + 1000 * t, char('a' + t));
                std::vector<Record> records{rec(value)};
                if (i % 3 == 0)
                    records.push_back(rec(value + "+"));
                auto r = m_broker->produceSync(
                    produceTo("full", i % 2, records, Acks::Durable));
                if (!r) {
                    ++myFailures;
                    ++failures;
                    if (r.code() != Errc::StorageFull && r.code() != Errc::StorageError)
                        ++unexpected;
                    continue;
                }
                std::lock_guard lock(mutex);
                for (std::size_t k = 0; k < records.size(); ++k)
                    acked[r->offsets[k]] = records[k].value;
            }
        });
    }
    for (auto &th : threads)
        th.join();
    QVERIFY(failures.load() > 0);
    QCOMPARE(unexpected.load(), 0);
    QVERIFY(!acked.empty());

    auto check = [&](const char *when) {
        std::map<std::pair<int32_t, int64_t>, std::string> visible;
        for (int32_t p = 0; p < 2; ++p) {
            auto all = readAll(*m_broker, "full", p);
            QVERIFY2(all.ok(), describe(all).constData());
            for (const auto &r : *all)
                visible[{p, r.offset}] = r.value;
        }
        for (const auto &[at, value] : acked) {
            auto it = visible.find(at);
            QVERIFY2(it != visible.end(),
                     qPrintable(QString("%1: acknowledged %2/%3 is missing")
                                    .arg(when)
                                    .arg(at.first)
                                    .arg(at.second)));
            QVERIFY2(it->second == value, qPrintable(QString("%1: %2/%3 holds another value")
                                                         .arg(when)
                                                         .arg(at.first)
                                                         .arg(at.second)));
        }
        for (const auto &[at, value] : visible) {
            const QString head = QString::fromStdString(value.substr(0, 12));
            QVERIFY2(acked.count(at), qPrintable(QString("%1: %2/%3 (%4) was never acknowledged")
                                                     .arg(when)
                                                     .arg(at.first)
                                                     .arg(at.second)
                                                     .arg(head)));
        }
    };
    check("running");
    if (QTest::currentTestFailed())
        return;
    QVERIFY(reopen(config));
    check("after reopen");
}

void TestBrokerDiskFull::diskFullIdempotentRetry()
{
    // A batch that failed to store was never acknowledged, so its retry must be stored, not
    // answered as a duplicate with offsets that hold nothing (or someone else's records).
    auto config = testConfig(m_dir->path(), Durability::Durable);
    config.maxPageCount = kSmallStorePages;
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"idem", 1, {}}));
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    auto batch = [&](int32_t seq) {
        auto req = produceTo("idem", 0, {rec(std::string(20000, char('a' + seq % 26)))},
                             Acks::Durable);
        req.producerId = *pid;
        req.baseSequence = seq;
        return req;
    };
    int32_t seq = 0;
    std::optional<Error> failure;
    for (; seq < 400; ++seq) {
        auto r = m_broker->produceSync(batch(seq));
        if (!r) {
            failure = r.error();
            break;
        }
        QCOMPARE(r->offsets[0].second, int64_t(seq));
        QVERIFY(!r->placements[0].duplicate);
    }
    QVERIFY(failure.has_value());
    QCOMPARE(failure->code, Errc::StorageFull);
    const int64_t hw = m_broker->describeTopic("idem")->partitionInfo[0].highWatermark;
    QCOMPARE(hw, int64_t(seq));
    // The retry while still full fails again rather than being "deduplicated".
    auto retry = m_broker->produceSync(batch(seq));
    QVERIFY2(!retry.ok(), "the retry of a failed batch was acknowledged while the store is full");
    QCOMPARE(retry.code(), Errc::StorageFull);
    // A retry of the last stored batch is still a duplicate.
    auto dup = m_broker->produceSync(batch(seq - 1));
    EDDY_VERIFY_OK(dup);
    QVERIFY(dup->placements[0].duplicate);
    QCOMPARE(dup->offsets[0].second, int64_t(seq - 1));

    // With room again the retry is stored, at the next offset, exactly once.
    config.maxPageCount = 0;
    QVERIFY(reopen(config));
    auto stored = m_broker->produceSync(batch(seq));
    EDDY_VERIFY_OK(stored);
    QVERIFY(!stored->placements[0].duplicate);
    QCOMPARE(stored->offsets[0].second, hw);
    auto again = m_broker->produceSync(batch(seq));
    EDDY_VERIFY_OK(again);
    QVERIFY(again->placements[0].duplicate);
    auto all = readAll(*m_broker, "idem", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(seq + 1));
    QCOMPARE(all->back().value, std::string(20000, char('a' + seq % 26)));
}

QTEST_GUILESS_MAIN(TestBrokerDiskFull)
#include "tst_broker_disk_full.moc"
