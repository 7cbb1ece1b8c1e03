// The binary produce_batch op (4), which carries a produce's records as one batch in the store's
// format, as the client library's Producer sends it: the broker appends the batch without
// decoding it, so these check what it must still do as for records -- append times, limits,
// structured errors for every kind of malformed batch with the broker serving on, retries and
// the reply's offsets.
#include "batch_codec.h"
#include "binary_codec.h"
#include "broker.h"
#include "broker_server.h"
#include "req_client.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>

using nlohmann::json;

namespace {

int64_t nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

eddy::Record record(std::string value, int64_t timestamp = 0,
                    std::optional<std::string> key = std::nullopt,
                    std::vector<eddy::Header> headers = {})
{
    eddy::Record r;
    r.timestamp = timestamp;
    r.key = std::move(key);
    r.headers = std::move(headers);
    r.value = std::move(value);
    return r;
}

// A produce_batch request of records to topic/partition.
eddy::ProduceRequest batchRequest(const std::string &topic, std::optional<int32_t> partition,
                                  const std::vector<eddy::Record> &records)
{
    eddy::ProduceRequest req;
    req.topic = topic;
    req.partition = partition;
    eddy::BatchBuilder builder;
    for (const auto &r : records)
        builder.add(r);
    req.encoded = builder.take();
    return req;
}

} // namespace

class TestProduceBatch : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void appendsTheBatchAndAnswersOffsetsPerRecord();
    void recordsWithoutTimestampTakeTheAppendTime();
    void malformedBatchesGetStructuredErrors_data();
    void malformedBatchesGetStructuredErrors();
    void everyTruncationIsRefused();
    void limitsApplyAsToRecords();
    void idempotentRetryIsADuplicate();

private:
    eddy::Result<eddy::ProduceResult> produce(const eddy::ProduceRequest &req)
    {
        const auto reply = m_client->raw(eddy::net::encodeProduceRequest(req));
        if (!reply)
            return eddy::makeError(eddy::Errc::Timeout, "no reply");
        return eddy::net::decodeProduceReply(*reply);
    }
    std::vector<eddy::Record> fetchAll(const std::string &topic, int32_t partition)
    {
        auto r = m_broker->fetchSync({topic, partition, 0, 10000, 1 << 24, 0, {}});
        return r ? r->records : std::vector<eddy::Record>{};
    }
    int64_t highWatermark(const std::string &topic)
    {
        return m_broker->describeTopic(topic)->partitionInfo[0].highWatermark;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<eddy::Broker> m_broker;
    std::unique_ptr<eddy::net::BrokerServer> m_server;
    std::unique_ptr<ReqClient> m_client;
    int m_round = 0;
};

void TestProduceBatch::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    eddy::BrokerConfig config;
    config.dataDir = m_dir->path().toStdString();
    config.maxRecordBytes = 1000;
    config.maxBatchRecords = 50;
    config.maxKeyBytes = 16;
    config.maxHeaders = 2;
    auto broker = eddy::Broker::open(config);
    QVERIFY(broker);
    m_broker = std::move(*broker);
    QVERIFY(m_broker->createTopic({"t", 2, {}}));
    eddy::net::BrokerServerOptions options;
    const std::string url = "inproc://produce-batch-test-" + std::to_string(++m_round);
    options.requests.listen = {url};
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
    m_client = std::make_unique<ReqClient>(url);
    QVERIFY(m_client->connected());
}

void TestProduceBatch::cleanup()
{
    m_client.reset();
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_broker.reset();
    m_dir.reset();
}

void TestProduceBatch::appendsTheBatchAndAnswersOffsetsPerRecord()
{
    QVERIFY(produce(batchRequest("t", 1, {record("first")})));
    const std::vector<eddy::Record> sent = {
        record("a", 1000, "k1", {{"h", std::string("\0x", 2)}}),
        record("", 1001),
        record(std::string(900, 'z'), 999, std::string()),
    };
    const auto req = batchRequest("t", 1, sent);
    const auto frame = eddy::net::encodeProduceRequest(req);
    QCOMPARE(static_cast<uint8_t>(frame[2]), uint8_t(4));
    const auto reply = m_client->raw(frame);
    QVERIFY(reply);
    QCOMPARE(static_cast<uint8_t>((*reply)[2]), uint8_t(4 | 0x80));
    auto produced = eddy::net::decodeProduceReply(*reply);
    QVERIFY2(produced, produced ? "" : produced.error().message.c_str());
    QCOMPARE(produced->placements.size(), 1u);
    QCOMPARE(produced->placements[0].partition, 1);
    QCOMPARE(produced->placements[0].baseOffset, 1);
    QCOMPARE(produced->placements[0].count, 3);
    QCOMPARE(produced->offsets.size(), 3u);
    QCOMPARE(produced->offsets[2], std::make_pair(int32_t(1), int64_t(3)));

    const auto stored = fetchAll("t", 1);
    QCOMPARE(stored.size(), 4u);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        auto expected = sent[i];
        expected.offset = static_cast<int64_t>(i) + 1;
        QVERIFY2(stored[i + 1] == expected, qPrintable(QString("record %1 differs").arg(i)));
    }
    // The batch counts as its records do, in the partition's figures.
    const auto info = m_broker->describeTopic("t")->partitionInfo[1];
    QCOMPARE(info.highWatermark, 4);
}

void TestProduceBatch::recordsWithoutTimestampTakeTheAppendTime()
{
    const int64_t before = nowMs();
    QVERIFY(produce(batchRequest("t", 0, {record("a"), record("b"), record("c")})));
    const int64_t after = nowMs();
    // Some with a timestamp and some without: only those without take the append time.
    QVERIFY(produce(batchRequest("t", 0, {record("d", 5), record("e"), record("f", 7)})));
    const auto stored = fetchAll("t", 0);
    QCOMPARE(stored.size(), 6u);
    for (int i = 0; i < 3; ++i) {
        QVERIFY2(stored[i].timestamp >= before && stored[i].timestamp <= after,
                 qPrintable(QString("record %1 has timestamp %2, appended in [%3, %4]")
                                .arg(i).arg(stored[i].timestamp).arg(before).arg(after)));
        QCOMPARE(stored[i].timestamp, stored[0].timestamp);
    }
    QCOMPARE(stored[3].timestamp, 5);
    QVERIFY(stored[4].timestamp >= before);
    QCOMPARE(stored[5].timestamp, 7);
    QCOMPARE(stored[4].value, std::string("e"));
}

void TestProduceBatch::malformedBatchesGetStructuredErrors_data()
{
    QTest::addColumn<QByteArray>("batch");
    QTest::addColumn<int>("code");
    const auto blob = [](std::vector<eddy::Record> records) {
        eddy::BatchBuilder b;
        for (const auto &r : records)
            b.add(r);
        return b.take();
    };
    const std::string two = blob({record("a"), record("b")});
    const auto bytes = [](const std::string &s) { return QByteArray(s.data(), int(s.size())); };
    const int malformed = static_cast<int>(eddy::Errc::MalformedRequest);

    std::string version = two;
    version[0] = 9;
    QTest::newRow("unknown format version") << bytes(version) << malformed;
    std::string moreCounted = two;
    moreCounted[1] = 3; // the count says 3, two records follow
    QTest::newRow("fewer records than counted") << bytes(moreCounted) << malformed;
    std::string fewerCounted = two;
    fewerCounted[1] = 1;
    QTest::newRow("trailing records") << bytes(fewerCounted) << malformed;
    QTest::newRow("trailing bytes") << bytes(two + "x") << malformed;
    // The second record's offset delta is 1; 2 leaves a gap.
    std::string gap = two;
    const std::size_t second = 3 + 6; // header (3), first record (delta, ts, key, headers, "a")
    QCOMPARE(int(gap[second]), 1);
    gap[second] = 2;
    QTest::newRow("non-contiguous offsets") << bytes(gap) << malformed;
    std::string keyPastEnd = blob({record("a", 0, "key")});
    keyPastEnd[5] = 100; // key length (zigzag 50) past the end
    QTest::newRow("key past the end") << bytes(keyPastEnd) << malformed;
    QTest::newRow("no record") << bytes(blob({})) << static_cast<int>(eddy::Errc::EmptyBatch);
}

void TestProduceBatch::malformedBatchesGetStructuredErrors()
{
    QFETCH(QByteArray, batch);
    QFETCH(int, code);
    auto req = batchRequest("t", 0, {});
    req.encoded = batch.toStdString();
    const auto r = produce(req);
    QVERIFY(!r);
    QCOMPARE(static_cast<int>(r.code()), code);
    QVERIFY(!r.error().message.empty());
    // Nothing of it was stored, and the broker answers the next request.
    QCOMPARE(highWatermark("t"), 0);
    QVERIFY(produce(batchRequest("t", 0, {record("ok")})));
    QCOMPARE(highWatermark("t"), 1);
}

void TestProduceBatch::everyTruncationIsRefused()
{
    const auto req = batchRequest("t", 0, {record("v1", 3, "k", {{"a", "b"}}), record("v2")});
    const std::string frame = eddy::net::encodeProduceRequest(req);
    for (std::size_t n = 3; n < frame.size(); ++n) {
        const auto reply = m_client->raw(frame.substr(0, n));
        QVERIFY2(reply, qPrintable(QString("no reply to a %1-byte truncation").arg(n)));
        const auto decoded = eddy::net::decodeProduceReply(*reply);
        QVERIFY2(!decoded, qPrintable(QString("truncation to %1 bytes accepted").arg(n)));
        QCOMPARE(decoded.code(), eddy::Errc::MalformedRequest);
    }
    QCOMPARE(highWatermark("t"), 0);
    QVERIFY(produce(req));
    QCOMPARE(highWatermark("t"), 2);
}

void TestProduceBatch::limitsApplyAsToRecords()
{
    struct Case {
        const char *what;
        eddy::ProduceRequest req;
        eddy::Errc code;
    };
    std::vector<eddy::Record> many(51, record("x"));
    const std::vector<Case> cases = {
        {"no partition", batchRequest("t", std::nullopt, {record("a")}),
         eddy::Errc::InvalidRequest},
        {"unknown partition", batchRequest("t", 7, {record("a")}), eddy::Errc::UnknownPartition},
        {"unknown topic", batchRequest("nope", 0, {record("a")}), eddy::Errc::UnknownTopic},
        {"record too large", batchRequest("t", 0, {record("a"), record(std::string(1001, 'x'))}),
         eddy::Errc::RecordTooLarge},
        {"key too large", batchRequest("t", 0, {record("a", 0, std::string(17, 'k'))}),
         eddy::Errc::RecordTooLarge},
        {"too many headers", batchRequest("t", 0, {record("a", 0, {}, {{"1", ""}, {"2", ""},
                                                                        {"3", ""}})}),
         eddy::Errc::RecordTooLarge},
        {"negative timestamp", batchRequest("t", 0, {record("a", 5), record("b", -1)}),
         eddy::Errc::InvalidRequest},
        {"too many records", batchRequest("t", 0, many), eddy::Errc::BatchTooLarge},
    };
    for (const auto &c : cases) {
        const auto r = produce(c.req);
        QVERIFY2(!r, c.what);
        QVERIFY2(r.code() == c.code,
                 qPrintable(QString("%1: %2").arg(c.what, r.error().message.c_str())));
    }
    QCOMPARE(highWatermark("t"), 0);
    // At the limits, it is accepted: 50 records of 1,000 payload bytes (key, header keys, value).
    std::vector<eddy::Record> fifty(50, record(std::string(982, 'y'), 0, std::string(16, 'k'),
                                               {{"1", ""}, {"2", ""}}));
    const auto atLimits = produce(batchRequest("t", 0, fifty));
    QVERIFY2(atLimits, atLimits ? "" : atLimits.error().message.c_str());
    QCOMPARE(highWatermark("t"), 50);
}

void TestProduceBatch::idempotentRetryIsADuplicate()
{
    const auto id = m_broker->initProducerId();
    QVERIFY(id);
    auto req = batchRequest("t", 0, {record("a"), record("b")});
    req.producerId = *id;
    req.baseSequence = 0;
    req.acks = eddy::Acks::Durable;
    const std::string frame = eddy::net::encodeProduceRequest(req);
    const auto first = eddy::net::decodeProduceReply(*m_client->raw(frame));
    const auto again = eddy::net::decodeProduceReply(*m_client->raw(frame));
    QVERIFY(first && again);
    QVERIFY(!first->placements[0].duplicate);
    QVERIFY(again->placements[0].duplicate);
    QCOMPARE(again->offsets, first->offsets);
    QCOMPARE(highWatermark("t"), 2);
    // The next sequence goes on; a gap is refused.
    req.baseSequence = 5;
    QCOMPARE(produce(req).code(), eddy::Errc::OutOfOrderSequence);
    req.baseSequence = 2;
    QVERIFY(produce(req));
    QCOMPARE(highWatermark("t"), 4);
}

QTEST_GUILESS_MAIN(TestProduceBatch)
#include "tst_produce_batch.moc"
