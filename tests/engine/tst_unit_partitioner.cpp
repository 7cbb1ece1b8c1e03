// Unit tests of the Kafka-compatible partitioner (engine/partitioner.h). murmur2 is checked against
// the exact vectors of Kafka's UtilsTest.testMurmur2 (apache/kafka,
// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java) plus binary keys whose bytes
// have the high bit set (the Java port masks every byte with 0xff, so sign extension would show
// here); keyPartition is checked to use Kafka's toPositive (`& 0x7fffffff`, not abs()) modulo the
// partition count; Partitioner::choose is checked to honour an explicit partition, to place a keyed
// record like keyPartition does and to spread un-keyed records round-robin, also across threads.
#include "partitioner.h"

#include <QtTest>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace eddy;

namespace {

// prefix followed by n in decimal. (Spelled out rather than `"lit" + std::to_string(n)`, which
// trips a GCC 12 -Wrestrict false positive at -O2 and above.)
std::string tagged(const std::string &prefix, long long n)
{
    std::string out = prefix;
    out += std::to_string(n);
    return out;
}

std::string bytesOf(std::initializer_list<unsigned char> bytes)
{
    std::string out;
    for (unsigned char b : bytes)
        out.push_back(static_cast<char>(b));
    return out;
}

} // namespace

class TestUnitPartitioner : public QObject
{
    Q_OBJECT

private slots:
    void murmur2KafkaVectors_data();
    void murmur2KafkaVectors();
    void murmur2BinaryKeys();
    void keyPartitionUsesToPositiveNotAbs();
    void keyPartitionIsStableAndInRange();
    void explicitPartitionHonoured();
    void keyedRecordsFollowKeyPartition();
    void unkeyedRecordsRoundRobin();
    void unkeyedRoundRobinAcrossThreads();
};

void TestUnitPartitioner::murmur2KafkaVectors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("expected");
    // Verbatim from Kafka's UtilsTest.testMurmur2.
    QTest::newRow("21") << QByteArray("21") << -973932308;
    QTest::newRow("foobar") << QByteArray("foobar") << -790332482;
    QTest::newRow("a-little-bit-long-string") << QByteArray("a-little-bit-long-string")
                                               << -985981536;
    QTest::newRow("a-little-bit-longer-string") << QByteArray("a-little-bit-longer-string")
                                                 << -1486304829;
    QTest::newRow("lkjh...") << QByteArray("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")
                             << -58897971;
    QTest::newRow("abc bytes") << QByteArray("abc", 3) << 479470107;
}

void TestUnitPartitioner::murmur2KafkaVectors()
{
    QFETCH(QByteArray, input);
    QFETCH(int, expected);
    const std::string_view data(input.constData(), static_cast<std::size_t>(input.size()));
    QCOMPARE(murmur2(data), static_cast<int32_t>(expected));
}

void TestUnitPartitioner::murmur2BinaryKeys()
{
    // Values computed with an independent port of Utils.murmur2 (Java semantics, every byte
    // masked with 0xff); they cover the empty key, all tail lengths and high-bit bytes.
    QCOMPARE(murmur2(std::string_view()), int32_t(275646681));
    QCOMPARE(murmur2(bytesOf({0xff, 0xfe, 0x80})), int32_t(-160726397));
    QCOMPARE(murmur2(bytesOf({0x00, 0x00, 0x00, 0x00, 0x00})), int32_t(263274959));
    QCOMPARE(murmur2(bytesOf({0x80, 0x81, 0x82, 0x83, 0xff})), int32_t(59675667));
    QCOMPARE(murmur2("key-1"), int32_t(193331640));
    // Embedded NULs are data, not terminators.
    QVERIFY(murmur2(std::string_view("a\0b", 3)) != murmur2(std::string_view("a", 1)));
}

void TestUnitPartitioner::keyPartitionUsesToPositiveNotAbs()
{
    // murmur2("21") = -973932308: toPositive gives 1173551340 (% 7 == 3) whereas abs() would give
    // 973932308 (% 7 == 6). Kafka's DefaultPartitioner/BuiltInPartitioner use toPositive.
    QCOMPARE(keyPartition("21", 7), 3);
    QCOMPARE(keyPartition("foobar", 7), 0);
    QCOMPARE(keyPartition("foobar", 12), 6);
    QCOMPARE(keyPartition("a-little-bit-longer-string", 12), 11);
    QCOMPARE(keyPartition("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 7), 3);
    QCOMPARE(keyPartition("abc", 7), 4);
    QCOMPARE(keyPartition("", 12), 9);
    QCOMPARE(keyPartition(bytesOf({0xff, 0xfe, 0x80}), 7), 3);
    // One partition: everything lands on 0.
    QCOMPARE(keyPartition("foobar", 1), 0);
}

void TestUnitPartitioner::keyPartitionIsStableAndInRange()
{
    for (int32_t partitions : {1, 2, 3, 7, 16, 1024}) {
        std::map<int32_t, int> histogram;
        for (int i = 0; i < 2000; ++i) {
            const std::string key = tagged("user-", i);
            const int32_t p = keyPartition(key, partitions);
            QVERIFY2(p >= 0 && p < partitions, key.c_str());
            const uint32_t positive = static_cast<uint32_t>(murmur2(key)) & 0x7fffffffu;
            QCOMPARE(p, static_cast<int32_t>(positive % static_cast<uint32_t>(partitions)));
            QCOMPARE(keyPartition(key, partitions), p);
            ++histogram[p];
        }
        // 2000 distinct keys over up to 16 partitions touch every one of them.
        if (partitions <= 16)
            QCOMPARE(static_cast<int32_t>(histogram.size()), partitions);
    }
}

void TestUnitPartitioner::explicitPartitionHonoured()
{
    Partitioner partitioner;
    QCOMPARE(partitioner.choose(2, std::nullopt, 4), 2);
    // An explicit partition wins over the key.
    const std::optional<std::string> key = std::string("foobar");
    QCOMPARE(keyPartition(*key, 4), 2); // 1357151166 % 4
    QCOMPARE(partitioner.choose(0, key, 4), 0);
    QCOMPARE(partitioner.choose(3, key, 4), 3);
    // Out-of-range explicit partitions are passed through for the caller to validate.
    QCOMPARE(partitioner.choose(9, key, 4), 9);
    QCOMPARE(partitioner.choose(-1, std::nullopt, 4), -1);
}

void TestUnitPartitioner::keyedRecordsFollowKeyPartition()
{
    Partitioner partitioner;
    for (int i = 0; i < 200; ++i) {
        const std::optional<std::string> key = tagged("k", i);
        QCOMPARE(partitioner.choose(std::nullopt, key, 12), keyPartition(*key, 12));
        // The same key always lands in the same place, whatever happened in between.
        QVERIFY(partitioner.choose(std::nullopt, std::nullopt, 12) >= 0);
        QCOMPARE(partitioner.choose(std::nullopt, key, 12), keyPartition(*key, 12));
    }
    // An empty key is a key, not "no key": it hashes, it does not round-robin.
    const std::optional<std::string> empty = std::string();
    for (int i = 0; i < 5; ++i)
        QCOMPARE(partitioner.choose(std::nullopt, empty, 12), 9);
}

void TestUnitPartitioner::unkeyedRecordsRoundRobin()
{
    Partitioner partitioner;
    const int32_t partitions = 5;
    std::vector<int32_t> seen;
    for (int i = 0; i < 50; ++i)
        seen.push_back(partitioner.choose(std::nullopt, std::nullopt, partitions));
    std::vector<int> counts(partitions, 0);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        QVERIFY(seen[i] >= 0 && seen[i] < partitions);
        ++counts[static_cast<std::size_t>(seen[i])];
        // Consecutive un-keyed records go to consecutive partitions.
        if (i > 0)
            QCOMPARE(seen[i], (seen[i - 1] + 1) % partitions);
    }
    for (int c : counts)
        QCOMPARE(c, 10);
}

void TestUnitPartitioner::unkeyedRoundRobinAcrossThreads()
{
    Partitioner partitioner;
    const int32_t partitions = 4;
    const int perThread = 1000;
    std::vector<std::atomic<int>> counts(partitions);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < perThread; ++i)
                counts[static_cast<std::size_t>(
                           partitioner.choose(std::nullopt, std::nullopt, partitions))]
                    .fetch_add(1);
        });
    for (auto &th : threads)
        th.join();
    // 4000 choices from one shared counter: exactly 1000 per partition.
    for (auto &c : counts)
        QCOMPARE(c.load(), perThread);
}

QTEST_GUILESS_MAIN(TestUnitPartitioner)
#include "tst_unit_partitioner.moc"
