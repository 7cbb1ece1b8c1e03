// Integration tests of produce and fetch through eddy::Broker: offset assignment (contiguous, and
// per-partition ordering under concurrent producers), partitioning (murmur2 keys, explicit and
// round-robin), request limits, idempotent produce (dedupe of retries, sequence gaps, unknown
// producer ids), fetch bounds and limits, long-poll wake-up / timeout / shutdown, and durable
// acknowledgement.
#include "broker_fixture.h"

#include <QElapsedTimer>
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace eddy;
using namespace eddy::test;

class TestBrokerProduce : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void contiguousOffsets();
    void concurrentProducersKeepPerProducerOrder();
    void produceWhileAdministering();
    void keyedRecordsFollowMurmur2();
    void explicitPartitionHonoured();
    void unkeyedRecordsSpread();
    void mixedRequestOffsetsInRequestOrder();
    void onePartitionPathMatchesSplitPath_data();
    void onePartitionPathMatchesSplitPath();
    void recordLimits();
    void batchLimits();
    void unknownPartition();
    void failedRequestStoresNothing();
    void idempotentRetryDeduplicated();
    void idempotentRetryDurableAcks_data();
    void idempotentRetryDurableAcks();
    void idempotentSequenceErrors();
    void invalidProducerId();
    void fetchLimits();
    void fetchBounds();
    void longPollWakesOnProduce();
    void longPollTimesOutEmpty();
    void closeCompletesParkedFetch();
    void closeRacingLongPolls();
    void callsAfterClose();
    void acksNoneStillReports();
    void durableModeDurableAcks();

private:
    void openBroker(BrokerConfig config);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

void TestBrokerProduce::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    openBroker(testConfig(m_dir->path()));
}

void TestBrokerProduce::openBroker(BrokerConfig config)
{
    m_broker.reset();
    auto opened = Broker::open(std::move(config));
    QVERIFY2(opened.ok(), describe(opened).constData());
    m_broker = std::move(opened.value());
}

void TestBrokerProduce::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

void TestBrokerProduce::contiguousOffsets()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 2, {}}));
    int64_t expected = 0;
    for (int batch = 1; batch <= 5; ++batch) {
        std::vector<Record> records;
        for (int i = 0; i < batch; ++i)
            records.push_back(rec("b" + std::to_string(batch) + "-" + std::to_string(i)));
        auto r = m_broker->produceSync(produceTo("t", 1, std::move(records)));
        EDDY_VERIFY_OK(r);
        QCOMPARE(r->placements.size(), std::size_t(1));
        QCOMPARE(r->placements[0].partition, 1);
        QCOMPARE(r->placements[0].baseOffset, expected);
        QCOMPARE(r->placements[0].count, batch);
        QVERIFY(!r->placements[0].duplicate);
        QCOMPARE(r->offsets.size(), std::size_t(batch));
        for (int i = 0; i < batch; ++i)
            QCOMPARE(r->offsets[i], std::make_pair(1, expected + i));
        expected += batch;
    }
    auto all = readAll(*m_broker, "t", 1);
    EDDY_VERIFY_OK(all);
    QCOMPARE(int64_t(all->size()), expected);
    QCOMPARE(all->front().value, std::string("b1-0"));
    QCOMPARE(all->back().value, std::string("b5-4"));
    // Append time is filled in for timestamp 0.
    QVERIFY(all->front().timestamp > 1600000000000LL);
    QCOMPARE(m_broker->describeTopic("t")->partitionInfo[0].highWatermark, 0);
    QCOMPARE(m_broker->describeTopic("t")->partitionInfo[1].highWatermark, expected);
}

void TestBrokerProduce::concurrentProducersKeepPerProducerOrder()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"race", 1, {}}));
    constexpr int kProducers = 4;
    constexpr int kPerProducer = 400;
    std::vector<std::vector<int64_t>> acked(kProducers);
    std::atomic<int> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < kProducers; ++p) {
        threads.emplace_back([&, p] {
            while (!go.load())
                std::this_thread::yield();
            int seq = 0;
            while (seq < kPerProducer) {
                // Batches of 1-3 records, so batch boundaries interleave too.
                std::vector<Record> records;
                const int n = std::min(1 + seq % 3, kPerProducer - seq);
                for (int i = 0; i < n; ++i, ++seq)
                    records.push_back(rec(std::to_string(seq), "p" + std::to_string(p)));
                auto r = m_broker->produceSync(produceTo("race", 0, std::move(records)));
                if (!r) {
                    ++failures;
                    return;
                }
                for (const auto &[part, off] : r->offsets)
                    acked[p].push_back(off);
            }
        });
    }
    go = true;
    for (auto &t : threads)
        t.join();
    QCOMPARE(failures.load(), 0);

    auto all = readAll(*m_broker, "race", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(kProducers * kPerProducer));
    std::map<std::string, int> nextSeq;
    std::map<std::string, std::vector<int64_t>> offsetsOf;
    for (std::size_t i = 0; i < all->size(); ++i) {
        const auto &r = (*all)[i];
        QCOMPARE(r.offset, int64_t(i)); // readAll checked contiguity; double check no gaps
        QVERIFY(r.key.has_value());
        const int seq = std::stoi(r.value);
        QVERIFY2(seq == nextSeq[*r.key],
                 qPrintable(QString("producer %1: sequence %2 at offset %3, expected %4")
                                .arg(QString::fromStdString(*r.key))
                                .arg(seq)
                                .arg(r.offset)
                                .arg(nextSeq[*r.key])));
        ++nextSeq[*r.key];
        offsetsOf[*r.key].push_back(r.offset);
    }
    QCOMPARE(int(nextSeq.size()), kProducers);
    // The offsets each producer was acknowledged are exactly where its records are.
    for (int p = 0; p < kProducers; ++p)
        QCOMPARE(acked[p], offsetsOf["p" + std::to_string(p)]);
}

void TestBrokerProduce::produceWhileAdministering()
{
    // Produces racing partition increases (on the same topic) and delete / create cycles (of
    // another): every acknowledged record of the surviving topic is where it was acknowledged.
    EDDY_VERIFY_OK(m_broker->createTopic({"grow", 1, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"churn", 2, {}}));
    std::atomic<bool> stop{false};
    std::atomic<int> unexpected{0};
    std::mutex mutex;
    std::map<std::pair<int32_t, int64_t>, std::string> acked;
    std::vector<std::thread> producers;
    for (int t = 0; t < 2; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; !stop.load(); ++i) {
                const std::string value = std::to_string(t) + ":" + std::to_string(i);
                // Keys spread records over whatever partitions exist at the time. Durable acks
                // pace the producers to the store: with leader acks in fast mode nothing slows
                // an in-process producer down (there is no backpressure), and the admin calls
                // would queue behind an ever-growing write backlog.
                auto r = m_broker->produceSync(produceTo(
                    "grow", std::nullopt, {rec(value, "k" + std::to_string(i))}, Acks::Durable));
                if (!r) {
                    ++unexpected;
                    continue;
                }
                {
                    std::lock_guard lock(mutex);
                    acked[r->offsets[0]] = value;
                }
                auto c = m_broker->produceSync(
                    produceTo("churn", std::nullopt, {rec(value)}, Acks::Durable));
                if (!c && c.code() != Errc::UnknownTopic)
                    ++unexpected;
            }
        });
    }
    for (int32_t n = 2; n <= 8; ++n) {
        QTest::qWait(15);
        EDDY_VERIFY_OK(m_broker->alterPartitions("grow", n));
        EDDY_VERIFY_OK(m_broker->deleteTopic("churn"));
        EDDY_VERIFY_OK(m_broker->createTopic({"churn", n, {}}));
    }
    QTest::qWait(15);
    stop = true;
    for (auto &t : producers)
        t.join();
    QCOMPARE(unexpected.load(), 0);
    QVERIFY(acked.size() > 20);
    std::size_t total = 0;
    std::set<int32_t> used;
    for (int32_t p = 0; p < 8; ++p) {
        auto all = readAll(*m_broker, "grow", p);
        EDDY_VERIFY_OK(all);
        total += all->size();
        for (const auto &r : *all) {
            auto it = acked.find({p, r.offset});
            QVERIFY2(it != acked.end(), qPrintable(QString("%1/%2 never acknowledged")
                                                       .arg(p)
                                                       .arg(r.offset)));
            QCOMPARE(r.value, it->second);
            used.insert(p);
        }
    }
    QCOMPARE(total, acked.size());
    QVERIFY(used.size() > 1);
}

void TestBrokerProduce::keyedRecordsFollowMurmur2()
{
    constexpr int kPartitions = 7;
    EDDY_VERIFY_OK(m_broker->createTopic({"keys", kPartitions, {}}));
    std::vector<Record> records;
    std::vector<std::string> keys;
    for (int i = 0; i < 50; ++i) {
        keys.push_back("key-" + std::to_string(i * 7919));
        records.push_back(rec("v" + std::to_string(i), keys.back()));
    }
    records.push_back(rec("empty-key", std::string()));
    keys.push_back(std::string());
    const std::string binary("\x00\xff\x80\x7f", 4);
    records.push_back(rec("binary-key", binary));
    keys.push_back(binary);

    auto r = m_broker->produceSync(produceTo("keys", std::nullopt, records));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->offsets.size(), records.size());
    std::set<int32_t> used;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        QCOMPARE(r->offsets[i].first, keyPartition(keys[i], kPartitions));
        used.insert(r->offsets[i].first);
    }
    QVERIFY(used.size() > 1);
    // And the records are really there, with their keys.
    for (int32_t p = 0; p < kPartitions; ++p) {
        auto all = readAll(*m_broker, "keys", p);
        EDDY_VERIFY_OK(all);
        for (const auto &rr : *all) {
            QVERIFY(rr.key.has_value());
            QCOMPARE(keyPartition(*rr.key, kPartitions), p);
        }
    }
    // Same key, later request: same partition.
    auto again = m_broker->produceSync(produceTo("keys", std::nullopt, {rec("x", keys[3])}));
    EDDY_VERIFY_OK(again);
    QCOMPARE(again->offsets[0].first, r->offsets[3].first);
}

void TestBrokerProduce::explicitPartitionHonoured()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"exp", 4, {}}));
    // An explicit partition wins over the key's partition.
    const std::string key = "some-key";
    const int32_t keyed = keyPartition(key, 4);
    const int32_t other = (keyed + 1) % 4;
    auto r = m_broker->produceSync(produceTo("exp", other, {rec("a", key), rec("b")}));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->placements.size(), std::size_t(1));
    QCOMPARE(r->offsets[0], std::make_pair(other, int64_t(0)));
    QCOMPARE(r->offsets[1], std::make_pair(other, int64_t(1)));
    auto info = m_broker->describeTopic("exp");
    EDDY_VERIFY_OK(info);
    for (int p = 0; p < 4; ++p)
        QCOMPARE(info->partitionInfo[p].highWatermark, p == other ? 2 : 0);
}

void TestBrokerProduce::unkeyedRecordsSpread()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"rr", 4, {}}));
    std::vector<Record> records;
    for (int i = 0; i < 40; ++i)
        records.push_back(rec("v" + std::to_string(i)));
    auto r = m_broker->produceSync(produceTo("rr", std::nullopt, records));
    EDDY_VERIFY_OK(r);
    std::map<int32_t, int> perPartition;
    for (const auto &[p, off] : r->offsets)
        ++perPartition[p];
    QCOMPARE(int(perPartition.size()), 4);
    for (const auto &[p, n] : perPartition)
        QCOMPARE(n, 10); // round-robin: exactly even

    // Single-record requests spread as well.
    for (int i = 0; i < 8; ++i)
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo("rr", std::nullopt, {rec("s")})));
    auto info = m_broker->describeTopic("rr");
    EDDY_VERIFY_OK(info);
    int64_t total = 0;
    for (const auto &p : info->partitionInfo) {
        QCOMPARE(p.highWatermark, 12);
        total += p.highWatermark;
    }
    QCOMPARE(total, 48);
}

void TestBrokerProduce::mixedRequestOffsetsInRequestOrder()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"mix", 3, {}}));
    // Find keys that land on different partitions.
    std::map<int32_t, std::string> keyFor;
    for (int i = 0; keyFor.size() < 3; ++i)
        keyFor.emplace(keyPartition("k" + std::to_string(i), 3), "k" + std::to_string(i));
    std::vector<Record> records;
    const std::vector<int32_t> order{2, 0, 2, 1, 0, 2};
    for (std::size_t i = 0; i < order.size(); ++i)
        records.push_back(rec("r" + std::to_string(i), keyFor[order[i]]));
    auto r = m_broker->produceSync(produceTo("mix", std::nullopt, records));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->placements.size(), std::size_t(3));
    std::map<int32_t, int64_t> next;
    for (std::size_t i = 0; i < order.size(); ++i) {
        QCOMPARE(r->offsets[i].first, order[i]);
        QCOMPARE(r->offsets[i].second, next[order[i]]++);
    }
    for (const auto &pl : r->placements)
        QCOMPARE(int64_t(pl.count), next[pl.partition]);
    auto p2 = readAll(*m_broker, "mix", 2);
    EDDY_VERIFY_OK(p2);
    QCOMPARE(p2->size(), std::size_t(3));
    QCOMPARE(p2->at(0).value, std::string("r0"));
    QCOMPARE(p2->at(1).value, std::string("r2"));
    QCOMPARE(p2->at(2).value, std::string("r5"));
}

// A request for one partition (explicit, or a single record) takes the produce path without a
// per-partition split; one spread over partitions takes the split. The same records produced
// either way must get the same offsets, be stored the same and survive a reopen the same, for
// every acks setting in both durability modes.
void TestBrokerProduce::onePartitionPathMatchesSplitPath_data()
{
    QTest::addColumn<int>("durability");
    QTest::addColumn<int>("acks");
    for (auto d : {Durability::Fast, Durability::Durable})
        for (auto a : {Acks::None, Acks::Leader, Acks::Durable})
            QTest::addRow("%s/acks=%d", d == Durability::Fast ? "fast" : "durable", int(a))
                << int(d) << int(a);
}

void TestBrokerProduce::onePartitionPathMatchesSplitPath()
{
    QFETCH(int, durability);
    QFETCH(int, acks);
    const auto mode = static_cast<Durability>(durability);
    const auto ack = static_cast<Acks>(acks);
    openBroker(testConfig(m_dir->path(), mode));
    EDDY_VERIFY_OK(m_broker->createTopic({"split", 3, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"one", 3, {}}));
    std::map<int32_t, std::string> keyFor;
    for (int i = 0; keyFor.size() < 3; ++i)
        keyFor.emplace(keyPartition("k" + std::to_string(i), 3), "k" + std::to_string(i));
    const std::vector<int32_t> order{2, 0, 2, 1, 0, 2};
    std::vector<Record> records;
    for (std::size_t i = 0; i < order.size(); ++i)
        records.push_back(rec("r" + std::to_string(i), keyFor[order[i]]));

    auto split = m_broker->produceSync(produceTo("split", std::nullopt, records, ack));
    EDDY_VERIFY_OK(split);
    QCOMPARE(split->placements.size(), std::size_t(3));
    // The same records, one request per partition (several records, explicit partition) or per
    // record (a single keyed record, no partition).
    std::vector<std::pair<int32_t, int64_t>> one(records.size());
    for (int32_t p = 0; p < 3; ++p) {
        std::vector<Record> mine;
        std::vector<std::size_t> at;
        for (std::size_t i = 0; i < order.size(); ++i)
            if (order[i] == p) {
                mine.push_back(records[i]);
                at.push_back(i);
            }
        if (mine.size() == 1) {
            auto r = m_broker->produceSync(produceTo("one", std::nullopt, mine, ack));
            EDDY_VERIFY_OK(r);
            QCOMPARE(r->placements.size(), std::size_t(1));
            one[at[0]] = r->offsets.at(0);
            continue;
        }
        auto r = m_broker->produceSync(produceTo("one", p, mine, ack));
        EDDY_VERIFY_OK(r);
        QCOMPARE(r->placements.size(), std::size_t(1));
        QCOMPARE(r->placements[0].partition, p);
        QCOMPARE(r->placements[0].count, int32_t(mine.size()));
        QCOMPARE(r->offsets.size(), mine.size());
        for (std::size_t k = 0; k < at.size(); ++k)
            one[at[k]] = r->offsets[k];
    }
    QCOMPARE(one, split->offsets);

    const auto same = [&] {
        for (int32_t p = 0; p < 3; ++p) {
            // Leader and no acks in durable mode: visible once the writer committed. Each topic
            // waits for its own count: comparing the two moving watermarks with each other would
            // pass at once while both are still 0.
            const auto want = int64_t(std::count(order.begin(), order.end(), p));
            for (const char *topic : {"split", "one"})
                QTRY_COMPARE_WITH_TIMEOUT(
                    m_broker->describeTopic(topic)->partitionInfo[p].highWatermark, want, 3000);
            auto a = readAll(*m_broker, "split", p);
            auto b = readAll(*m_broker, "one", p);
            EDDY_VERIFY_OK(a);
            EDDY_VERIFY_OK(b);
            QCOMPARE(a->size(), b->size());
            for (std::size_t k = 0; k < a->size(); ++k) {
                QCOMPARE(a->at(k).offset, b->at(k).offset);
                QCOMPARE(a->at(k).key, b->at(k).key);
                QCOMPARE(a->at(k).value, b->at(k).value);
            }
        }
    };
    same();
    if (QTest::currentTestFailed())
        return;
    // Both were written to the store the same way.
    openBroker(testConfig(m_dir->path(), mode));
    same();
}

void TestBrokerProduce::recordLimits()
{
    auto config = testConfig(m_dir->path());
    config.maxRecordBytes = 1000;
    config.maxKeyBytes = 100;
    config.maxHeaders = 3;
    openBroker(config);
    EDDY_VERIFY_OK(m_broker->createTopic({"lim", 1, {}}));

    // At the limits: accepted.
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("lim", 0, {rec(std::string(1000, 'v'))})));
    EDDY_VERIFY_OK(m_broker->produceSync(
        produceTo("lim", 0, {rec(std::string(900, 'v'), std::string(100, 'k'))})));
    EDDY_VERIFY_OK(m_broker->produceSync(
        produceTo("lim", 0, {rec("v", std::nullopt, 0, {{"a", "1"}, {"b", "2"}, {"a", "3"}})})));
    QCOMPARE(m_broker->describeTopic("lim")->partitionInfo[0].highWatermark, 3);

    // One past each limit.
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, {rec(std::string(1001, 'v'))})),
                    Errc::RecordTooLarge);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, {rec("v", std::string(101, 'k'))})),
                    Errc::RecordTooLarge);
    const std::vector<Header> fourHeaders{{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}};
    EDDY_VERIFY_ERR(m_broker->produceSync(
                        produceTo("lim", 0, {rec("v", std::nullopt, 0, fourHeaders)})),
                    Errc::RecordTooLarge);
    // Key + value + headers together count against the record limit.
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo(
                        "lim", 0, {rec(std::string(900, 'v'), std::string(50, 'k'), 0,
                                       {{std::string(30, 'h'), std::string(30, 'x')}})})),
                    Errc::RecordTooLarge);
    // A bad record anywhere in the batch fails the whole batch.
    EDDY_VERIFY_ERR(m_broker->produceSync(
                        produceTo("lim", 0, {rec("ok"), rec("ok"), rec(std::string(1001, 'v'))})),
                    Errc::RecordTooLarge);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, {rec("v", std::nullopt, -1)})),
                    Errc::InvalidRequest);
    QCOMPARE(m_broker->describeTopic("lim")->partitionInfo[0].highWatermark, 3);
}

void TestBrokerProduce::batchLimits()
{
    auto config = testConfig(m_dir->path());
    config.maxBatchRecords = 10;
    config.maxBatchBytes = 100;
    openBroker(config);
    EDDY_VERIFY_OK(m_broker->createTopic({"lim", 2, {}}));

    std::vector<Record> ten(10, rec("0123456789"));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("lim", 0, ten)));
    std::vector<Record> eleven(11, rec("x"));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, eleven)), Errc::BatchTooLarge);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", std::nullopt, eleven)),
                    Errc::BatchTooLarge);
    std::vector<Record> tooManyBytes(3, rec(std::string(34, 'b')));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, tooManyBytes)), Errc::BatchTooLarge);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", 0, {})), Errc::EmptyBatch);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("lim", std::nullopt, {})), Errc::EmptyBatch);
    auto info = m_broker->describeTopic("lim");
    QCOMPARE(info->partitionInfo[0].highWatermark, 10);
    QCOMPARE(info->partitionInfo[1].highWatermark, 0);
}

void TestBrokerProduce::unknownPartition()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"up", 3, {}}));
    for (int p : {-1, -100, 3, 4, 1 << 30}) {
        EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("up", p, {rec("v")})),
                        Errc::UnknownPartition);
        EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("up", p, 0)), Errc::UnknownPartition);
        EDDY_VERIFY_ERR(m_broker->offsetForTimestamp("up", p, 0), Errc::UnknownPartition);
    }
    // Bound first: the range would otherwise live in a temporary Result that dies before
    // the loop body runs (ASan: stack-use-after-scope).
    const auto described = m_broker->describeTopic("up");
    QVERIFY(described.ok());
    for (const auto &p : described->partitionInfo)
        QCOMPARE(p.highWatermark, 0);
}

void TestBrokerProduce::failedRequestStoresNothing()
{
    // A multi-partition request that fails validation leaves every partition untouched, also
    // after a restart.
    EDDY_VERIFY_OK(m_broker->createTopic({"atomic", 3, {}}));
    std::vector<Record> records;
    for (int i = 0; i < 6; ++i)
        records.push_back(rec("v"));
    records.push_back(rec("bad", std::nullopt, -5));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("atomic", std::nullopt, records)),
                    Errc::InvalidRequest);
    openBroker(testConfig(m_dir->path()));
    // Bound first: the range would otherwise live in a temporary Result that dies before
    // the loop body runs (ASan: stack-use-after-scope).
    const auto described = m_broker->describeTopic("atomic");
    QVERIFY(described.ok());
    for (const auto &p : described->partitionInfo)
        QCOMPARE(p.highWatermark, 0);
}

void TestBrokerProduce::idempotentRetryDeduplicated()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"idem", 2, {}}));
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    auto pid2 = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid2);
    QVERIFY(*pid >= 0);
    QVERIFY(*pid2 != *pid);

    // Some unrelated data first so offsets are not trivially 0.
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("idem", 1, {rec("x"), rec("y")})));

    auto makeReq = [&](int32_t seq, std::vector<Record> records) {
        auto req = produceTo("idem", 1, std::move(records));
        req.producerId = *pid;
        req.baseSequence = seq;
        return req;
    };
    auto first = m_broker->produceSync(makeReq(0, {rec("a"), rec("b"), rec("c")}));
    EDDY_VERIFY_OK(first);
    QCOMPARE(first->placements[0].baseOffset, 2);
    QVERIFY(!first->placements[0].duplicate);

    auto retry = m_broker->produceSync(makeReq(0, {rec("a"), rec("b"), rec("c")}));
    EDDY_VERIFY_OK(retry);
    QVERIFY(retry->placements[0].duplicate);
    QCOMPARE(retry->placements[0].baseOffset, 2);
    QCOMPARE(retry->placements[0].count, 3);
    QCOMPARE(retry->offsets, first->offsets);

    auto second = m_broker->produceSync(makeReq(3, {rec("d")}));
    EDDY_VERIFY_OK(second);
    QCOMPARE(second->placements[0].baseOffset, 5);
    QVERIFY(!second->placements[0].duplicate);
    // Retrying the older batch after a newer one is still answered with the original offsets.
    retry = m_broker->produceSync(makeReq(0, {rec("a"), rec("b"), rec("c")}));
    EDDY_VERIFY_OK(retry);
    QVERIFY(retry->placements[0].duplicate);
    QCOMPARE(retry->placements[0].baseOffset, 2);
    // A retry with a different record count is not a retry.
    EDDY_VERIFY_ERR(m_broker->produceSync(makeReq(3, {rec("d"), rec("e")})), Errc::InvalidRequest);

    // Another producer's sequence space is independent.
    auto other = produceTo("idem", 1, {rec("o")});
    other.producerId = *pid2;
    other.baseSequence = 0;
    auto o = m_broker->produceSync(other);
    EDDY_VERIFY_OK(o);
    QVERIFY(!o->placements[0].duplicate);
    QCOMPARE(o->placements[0].baseOffset, 6);
    // And the same producer on another partition starts its own sequence.
    auto p0 = produceTo("idem", 0, {rec("p0")});
    p0.producerId = *pid;
    p0.baseSequence = 0;
    auto r0 = m_broker->produceSync(p0);
    EDDY_VERIFY_OK(r0);
    QVERIFY(!r0->placements[0].duplicate);
    QCOMPARE(r0->placements[0].baseOffset, 0);

    auto all = readAll(*m_broker, "idem", 1);
    EDDY_VERIFY_OK(all);
    std::vector<std::string> values;
    for (const auto &r : *all)
        values.push_back(r.value);
    QCOMPARE(values, (std::vector<std::string>{"x", "y", "a", "b", "c", "d", "o"}));
}

void TestBrokerProduce::idempotentRetryDurableAcks_data()
{
    QTest::addColumn<bool>("durableMode");
    QTest::newRow("fast") << false;
    QTest::newRow("durable") << true;
}

void TestBrokerProduce::idempotentRetryDurableAcks()
{
    QFETCH(bool, durableMode);
    if (durableMode)
        openBroker(testConfig(m_dir->path(), Durability::Durable));
    EDDY_VERIFY_OK(m_broker->createTopic({"idem", 1, {}}));
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    auto req = produceTo("idem", 0, {rec("a"), rec("b")}, Acks::Durable);
    req.producerId = *pid;
    req.baseSequence = 0;
    // Send the original and its retry back to back, so the retry may find the original in
    // flight: it still must be acknowledged with the original offsets, and stored once.
    std::promise<Result<ProduceResult>> p1, p2;
    m_broker->produce(req, [&](Result<ProduceResult> r) { p1.set_value(std::move(r)); });
    m_broker->produce(req, [&](Result<ProduceResult> r) { p2.set_value(std::move(r)); });
    auto r1 = p1.get_future().get();
    auto r2 = p2.get_future().get();
    EDDY_VERIFY_OK(r1);
    EDDY_VERIFY_OK(r2);
    QVERIFY(!r1->placements[0].duplicate);
    QVERIFY(r2->placements[0].duplicate);
    QCOMPARE(r2->offsets, r1->offsets);
    auto all = readAll(*m_broker, "idem", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
}

void TestBrokerProduce::idempotentSequenceErrors()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"seq", 1, {}}));
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    auto make = [&](int32_t seq, int n) {
        std::vector<Record> records(static_cast<std::size_t>(n), rec("s" + std::to_string(seq)));
        auto req = produceTo("seq", 0, std::move(records));
        req.producerId = *pid;
        req.baseSequence = seq;
        return req;
    };
    EDDY_VERIFY_OK(m_broker->produceSync(make(0, 2)));
    // Gap: 2 expected.
    EDDY_VERIFY_ERR(m_broker->produceSync(make(5, 1)), Errc::OutOfOrderSequence);
    EDDY_VERIFY_ERR(m_broker->produceSync(make(3, 1)), Errc::OutOfOrderSequence);
    QCOMPARE(m_broker->describeTopic("seq")->partitionInfo[0].highWatermark, 2);
    // The gap did not move the expected sequence.
    auto ok = m_broker->produceSync(make(2, 1));
    EDDY_VERIFY_OK(ok);
    QCOMPARE(ok->placements[0].baseOffset, 2);
    // Six more batches push seq 0 out of the five remembered ones.
    for (int s = 3; s < 9; ++s)
        EDDY_VERIFY_OK(m_broker->produceSync(make(s, 1)));
    EDDY_VERIFY_ERR(m_broker->produceSync(make(0, 2)), Errc::DuplicateSequence);
    // A remembered one is still deduplicated.
    auto dup = m_broker->produceSync(make(8, 1));
    EDDY_VERIFY_OK(dup);
    QVERIFY(dup->placements[0].duplicate);
    QCOMPARE(m_broker->describeTopic("seq")->partitionInfo[0].highWatermark, 9);

    // Idempotence needs an explicit partition and a sequence.
    auto noPartition = make(9, 1);
    noPartition.partition.reset();
    EDDY_VERIFY_ERR(m_broker->produceSync(noPartition), Errc::InvalidRequest);
    auto noSeq = make(9, 1);
    noSeq.baseSequence = -1;
    EDDY_VERIFY_ERR(m_broker->produceSync(noSeq), Errc::InvalidRequest);
    QCOMPARE(m_broker->describeTopic("seq")->partitionInfo[0].highWatermark, 9);
}

void TestBrokerProduce::invalidProducerId()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"pid", 1, {}}));
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    for (int64_t bogus : {*pid + 1, *pid + 1000, int64_t(-2), int64_t(-100)}) {
        auto req = produceTo("pid", 0, {rec("v")});
        req.producerId = bogus;
        req.baseSequence = 0;
        EDDY_VERIFY_ERR(m_broker->produceSync(req), Errc::InvalidProducerId);
    }
    QCOMPARE(m_broker->describeTopic("pid")->partitionInfo[0].highWatermark, 0);
    // Producer ids are never reused, also across restarts.
    openBroker(testConfig(m_dir->path()));
    auto next = m_broker->initProducerId();
    EDDY_VERIFY_OK(next);
    QVERIFY(*next > *pid);
    auto req = produceTo("pid", 0, {rec("v")});
    req.producerId = *pid;
    req.baseSequence = 0;
    EDDY_VERIFY_OK(m_broker->produceSync(req));
}

void TestBrokerProduce::fetchLimits()
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

void TestBrokerProduce::fetchBounds()
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

void TestBrokerProduce::longPollWakesOnProduce()
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

void TestBrokerProduce::longPollTimesOutEmpty()
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

void TestBrokerProduce::closeCompletesParkedFetch()
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

void TestBrokerProduce::closeRacingLongPolls()
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

void TestBrokerProduce::callsAfterClose()
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

void TestBrokerProduce::acksNoneStillReports()
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

void TestBrokerProduce::durableModeDurableAcks()
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

QTEST_GUILESS_MAIN(TestBrokerProduce)
#include "tst_broker_produce.moc"
