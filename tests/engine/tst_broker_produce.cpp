// Integration tests of produce through eddy::Broker: offset assignment (contiguous, and
// per-partition ordering under concurrent producers), partitioning (murmur2 keys, explicit and
// round-robin), request limits and idempotent produce (dedupe of retries, sequence gaps, unknown
// producer ids). Fetch, long poll, shutdown and acknowledgement: tst_broker_fetch.cpp.
#include "produce_fixture.h"

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

class TestBrokerProduce : public QObject, ProduceFixture
{
    Q_OBJECT

private slots:
    void init() { openTestBroker(); }
    void cleanup() { closeBroker(); }

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
};

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

QTEST_GUILESS_MAIN(TestBrokerProduce)
#include "tst_broker_produce.moc"
