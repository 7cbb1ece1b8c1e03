// The wire protocol as an external client sees it: JSON and binary requests over inproc:// and
// loopback tcp://, every documented error for bad input (each answered while another client
// keeps working), idempotent retries, every truncation of a binary frame, oversized frames,
// long-poll through the server and a consumer group over the wire. The clients list, 200
// concurrent clients, pipelining past the in-flight cap and the live stream:
// tst_protocol_connections.cpp.
#include "protocol_fixture.h"

#include "binary_codec.h"

#include <QElapsedTimer>
#include <QtTest>

#include <thread>

using nlohmann::json;

class TestProtocol : public QObject, eddy::test::ProtocolFixture
{
    Q_OBJECT

private slots:
    void init() { startServing(); }
    void cleanup() { stopServing(); }

    void helloListsOpsAndLimits();
    void jsonProduceFetchRoundTrip_data();
    void jsonProduceFetchRoundTrip();
    void binaryValuesTravelAsBase64();
    void batchProduceReturnsOffsetsPerRecord();
    void malformedRequestsGetStructuredErrors_data();
    void malformedRequestsGetStructuredErrors();
    void badOffsetsAndPartitions_data();
    void badOffsetsAndPartitions();
    void idempotentRetryOverTheWire();
    void binaryProduceAndFetch();
    void everyTruncationOfABinaryFrameIsRefused();
    void binaryCountsLargerThanTheFrameAreRefused();
    void oversizedFrameClosesOnlyThatPipe();
    void longPollFetchWakesOnProduce();
    void groupJoinPollCommitOverTheWire();
};

void TestProtocol::helloListsOpsAndLimits()
{
    const auto r = call({{"op", "hello"}, {"id", 7}});
    QCOMPARE(r.value("ok", false), true);
    QCOMPARE(r["protocol"].get<int>(), 1);
    QCOMPARE(r["id"].get<int>(), 7);
    const auto ops = r["ops"].get<std::vector<std::string>>();
    for (const char *op : {"create_topic", "produce", "fetch", "join_group", "poll", "commit",
                           "describe_group", "reset_offsets", "metrics", "clients"})
        QVERIFY2(std::find(ops.begin(), ops.end(), op) != ops.end(), op);
    QCOMPARE(r["limits"]["max_record_bytes"].get<int>(), 64 * 1024);
}

void TestProtocol::jsonProduceFetchRoundTrip_data()
{
    QTest::addColumn<bool>("overTcp");
    QTest::newRow("inproc") << false;
    QTest::newRow("tcp") << true;
}

void TestProtocol::jsonProduceFetchRoundTrip()
{
    QFETCH(bool, overTcp);
    if (overTcp)
        m_client = std::make_unique<ReqClient>(m_tcpUrl);
    createTopic("events", 3);
    const auto p = call({{"op", "produce"},
                         {"topic", "events"},
                         {"partition", 0},
                         {"key", "123"},
                         {"headers", {{{"key", "trace"}, {"value", "abc"}}}},
                         {"value", "{\"type\":\"user.created\"}"}});
    QCOMPARE(p.value("ok", false), true);
    QCOMPARE(p["partition"].get<int>(), 0);
    QCOMPARE(p["offset"].get<int>(), 0);
    const auto f = call({{"op", "fetch"}, {"topic", "events"}, {"partition", 0}, {"offset", 0}});
    QCOMPARE(f.value("ok", false), true);
    QCOMPARE(f["high_watermark"].get<int>(), 1);
    QCOMPARE(f["records"].size(), 1u);
    const auto &rec = f["records"][0];
    QCOMPARE(rec["key"].get<std::string>(), std::string("123"));
    QCOMPARE(rec["value"].get<std::string>(), std::string("{\"type\":\"user.created\"}"));
    QCOMPARE(rec["headers"][0]["key"].get<std::string>(), std::string("trace"));
    QCOMPARE(rec["headers"][0]["value"].get<std::string>(), std::string("abc"));
    QVERIFY(rec["timestamp"].get<int64_t>() > 1600000000000);
}

void TestProtocol::binaryValuesTravelAsBase64()
{
    createTopic("bin");
    // "\x00\xff\x10" in base64 is "AP8Q".
    const auto p = call({{"op", "produce"}, {"topic", "bin"}, {"value_base64", "AP8Q"}});
    QCOMPARE(p.value("ok", false), true);
    const auto f = call({{"op", "fetch"}, {"topic", "bin"}, {"offset", 0}});
    const auto &rec = f["records"][0];
    QVERIFY(!rec.contains("value"));
    QCOMPARE(rec["value_base64"].get<std::string>(), std::string("AP8Q"));
    QVERIFY(rec["key"].is_null());
    const auto bad = call({{"op", "produce"}, {"topic", "bin"}, {"value_base64", "***"}});
    QCOMPARE(ReqClient::code(bad), std::string("INVALID_REQUEST"));
}

void TestProtocol::batchProduceReturnsOffsetsPerRecord()
{
    createTopic("batch", 4);
    json records = json::array();
    for (int i = 0; i < 20; ++i)
        records.push_back({{"key", "k" + std::to_string(i % 5)}, {"value", std::to_string(i)}});
    const auto p = call({{"op", "produce"}, {"topic", "batch"}, {"records", records}});
    QCOMPARE(p.value("ok", false), true);
    QCOMPARE(p["offsets"].size(), 20u);
    for (int i = 0; i < 20; ++i) {
        const int expected = eddy::keyPartition("k" + std::to_string(i % 5), 4);
        QCOMPARE(p["offsets"][i]["partition"].get<int>(), expected);
    }
}

void TestProtocol::malformedRequestsGetStructuredErrors_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<QString>("code");
    QTest::newRow("not json") << QByteArray("{\"op\":\"produce\",") << "MALFORMED_REQUEST";
    QTest::newRow("not an object") << QByteArray("[1,2,3]") << "MALFORMED_REQUEST";
    QTest::newRow("empty") << QByteArray("") << "MALFORMED_REQUEST";
    QTest::newRow("deeply nested") << QByteArray(5000, '[') << "MALFORMED_REQUEST";
    QTest::newRow("nested object") << (QByteArray("{\"op\":\"hello\",\"x\":") + QByteArray(100, '{')
                                       + QByteArray(100, '}') + "}")
                                   << "MALFORMED_REQUEST";
    QTest::newRow("no op") << QByteArray("{\"topic\":\"a\"}") << "INVALID_REQUEST";
    QTest::newRow("op not a string") << QByteArray("{\"op\":5}") << "INVALID_REQUEST";
    QTest::newRow("unknown op") << QByteArray("{\"op\":\"teleport\"}") << "UNKNOWN_OP";
    QTest::newRow("wrong version") << QByteArray("{\"op\":\"hello\",\"version\":99}")
                                   << "UNSUPPORTED_VERSION";
    QTest::newRow("topic not a string")
        << QByteArray("{\"op\":\"create_topic\",\"topic\":42}") << "INVALID_REQUEST";
    QTest::newRow("partitions a string")
        << QByteArray("{\"op\":\"create_topic\",\"topic\":\"t\",\"partitions\":\"3\"}")
        << "INVALID_REQUEST";
    QTest::newRow("empty topic") << QByteArray("{\"op\":\"create_topic\",\"topic\":\"\"}")
                                 << "INVALID_TOPIC_NAME";
    QTest::newRow("topic with slash") << QByteArray("{\"op\":\"create_topic\",\"topic\":\"a/b\"}")
                                      << "INVALID_TOPIC_NAME";
    QTest::newRow("topic with NUL")
        << QByteArray("{\"op\":\"create_topic\",\"topic\":\"a\\u0000b\"}") << "INVALID_TOPIC_NAME";
    QTest::newRow("topic too long")
        << ("{\"op\":\"create_topic\",\"topic\":\"" + QByteArray(250, 'x') + "\"}")
        << "INVALID_TOPIC_NAME";
    QTest::newRow("non-utf8 topic")
        << QByteArray("{\"op\":\"create_topic\",\"topic\":\"\xff\xfe\"}") << "MALFORMED_REQUEST";
    QTest::newRow("zero partitions")
        << QByteArray("{\"op\":\"create_topic\",\"topic\":\"z\",\"partitions\":0}")
        << "INVALID_PARTITIONS";
    QTest::newRow("unknown topic") << QByteArray("{\"op\":\"describe_topic\",\"topic\":\"nope\"}")
                                   << "UNKNOWN_TOPIC";
    QTest::newRow("value missing") << QByteArray("{\"op\":\"produce\",\"topic\":\"t\"}")
                                   << "INVALID_REQUEST";
    QTest::newRow("value a number")
        << QByteArray("{\"op\":\"produce\",\"topic\":\"t\",\"value\":5}") << "INVALID_REQUEST";
    QTest::newRow("bad acks") << QByteArray("{\"op\":\"produce\",\"topic\":\"t\",\"value\":\"v\","
                                            "\"acks\":\"all\"}")
                              << "INVALID_REQUEST";
    QTest::newRow("empty batch") << QByteArray("{\"op\":\"produce\",\"topic\":\"known\","
                                               "\"records\":[]}")
                                 << "EMPTY_BATCH";
    QTest::newRow("record too large")
        << ("{\"op\":\"produce\",\"topic\":\"known\",\"value\":\"" + QByteArray(70000, 'v') + "\"}")
        << "RECORD_TOO_LARGE";
    QTest::newRow("huge offset number")
        << QByteArray("{\"op\":\"fetch\",\"topic\":\"known\",\"offset\":99999999999999999999}")
        << "INVALID_REQUEST";
    QTest::newRow("commit without offsets")
        << QByteArray("{\"op\":\"commit\",\"group\":\"g\"}") << "INVALID_REQUEST";
    QTest::newRow("join without topics")
        << QByteArray("{\"op\":\"join_group\",\"group\":\"g\",\"topics\":[]}") << "INVALID_REQUEST";
    QTest::newRow("poll positions not an array")
        << QByteArray("{\"op\":\"poll\",\"group\":\"g\",\"member_id\":\"m\",\"generation\":1,"
                      "\"positions\":5}")
        << "INVALID_REQUEST";
    QTest::newRow("poll position partition a string")
        << QByteArray("{\"op\":\"poll\",\"group\":\"g\",\"member_id\":\"m\",\"generation\":1,"
                      "\"positions\":[{\"topic\":\"known\",\"partition\":\"0\",\"offset\":0}]}")
        << "INVALID_REQUEST";
    QTest::newRow("poll negative position")
        << QByteArray("{\"op\":\"poll\",\"group\":\"g\",\"member_id\":\"m\",\"generation\":1,"
                      "\"positions\":[{\"topic\":\"known\",\"partition\":0,\"offset\":-1}]}")
        << "INVALID_OFFSET";
    QTest::newRow("poll negative position partition")
        << QByteArray("{\"op\":\"poll\",\"group\":\"g\",\"member_id\":\"m\",\"generation\":1,"
                      "\"positions\":[{\"topic\":\"known\",\"partition\":-1,\"offset\":0}]}")
        << "UNKNOWN_PARTITION";
    QTest::newRow("heartbeat unknown group")
        << QByteArray("{\"op\":\"heartbeat\",\"group\":\"none\",\"member_id\":\"m\","
                      "\"generation\":1}")
        << "UNKNOWN_GROUP";
}

void TestProtocol::malformedRequestsGetStructuredErrors()
{
    QFETCH(QByteArray, request);
    QFETCH(QString, code);
    createTopic("known");
    ReqClient other(m_tcpUrl);
    const auto reply = m_client->raw(request.toStdString());
    QVERIFY2(reply, "no reply: the broker must answer every request");
    const auto j = json::parse(*reply, nullptr, false);
    QVERIFY2(j.is_object(), reply->c_str());
    QCOMPARE(j.value("ok", true), false);
    QCOMPARE(QString::fromStdString(j["error"]["code"].get<std::string>()), code);
    QVERIFY(!j["error"]["message"].get<std::string>().empty());
    // Another client is served meanwhile, and so is this one afterwards.
    QCOMPARE(other.call({{"op", "produce"}, {"topic", "known"}, {"value", "x"}}).value("ok", false),
             true);
    QCOMPARE(call({{"op", "hello"}}).value("ok", false), true);
}

void TestProtocol::badOffsetsAndPartitions_data()
{
    QTest::addColumn<int>("partition");
    QTest::addColumn<qlonglong>("offset");
    QTest::addColumn<QString>("code");
    QTest::newRow("negative offset") << 0 << qlonglong(-1) << "INVALID_OFFSET";
    QTest::newRow("past the end") << 0 << qlonglong(3) << "OFFSET_OUT_OF_RANGE";
    QTest::newRow("int64 max") << 0 << qlonglong(INT64_MAX) << "OFFSET_OUT_OF_RANGE";
    QTest::newRow("negative partition") << -1 << qlonglong(0) << "UNKNOWN_PARTITION";
    QTest::newRow("unknown partition") << 2 << qlonglong(0) << "UNKNOWN_PARTITION";
}

void TestProtocol::badOffsetsAndPartitions()
{
    QFETCH(int, partition);
    QFETCH(qlonglong, offset);
    QFETCH(QString, code);
    createTopic("offsets", 2);
    QCOMPARE(call({{"op", "produce"}, {"topic", "offsets"}, {"partition", 0}, {"value", "a"}})
                 .value("ok", false),
             true);
    const auto r = call(
        {{"op", "fetch"}, {"topic", "offsets"}, {"partition", partition}, {"offset", offset}});
    QCOMPARE(QString::fromStdString(ReqClient::code(r)), code);
    const auto p =
        call({{"op", "produce"}, {"topic", "offsets"}, {"partition", 7}, {"value", "a"}});
    QCOMPARE(ReqClient::code(p), std::string("UNKNOWN_PARTITION"));
}

void TestProtocol::idempotentRetryOverTheWire()
{
    createTopic("idem");
    const auto init = call({{"op", "init_producer"}});
    const int64_t pid = init["producer_id"].get<int64_t>();
    const json req{{"op", "produce"},       {"topic", "idem"}, {"partition", 0},
                   {"producer_id", pid},    {"sequence", 0},   {"value", "once"}};
    const auto first = call(req);
    const auto retry = call(req);
    QCOMPARE(first["offset"], retry["offset"]);
    QCOMPARE(retry["duplicate"].get<bool>(), true);
    auto gap = req;
    gap["sequence"] = 5;
    QCOMPARE(ReqClient::code(call(gap)), std::string("OUT_OF_ORDER_SEQUENCE"));
    auto bogus = req;
    bogus["producer_id"] = pid + 1000;
    QCOMPARE(ReqClient::code(call(bogus)), std::string("INVALID_PRODUCER_ID"));
    const auto f = call({{"op", "fetch"}, {"topic", "idem"}, {"offset", 0}});
    QCOMPARE(f["records"].size(), 1u);
}

void TestProtocol::binaryProduceAndFetch()
{
    createTopic("fast", 2);
    eddy::ProduceRequest req;
    req.topic = "fast";
    req.partition = 1;
    for (int i = 0; i < 1000; ++i) {
        eddy::Record r;
        r.key = "k" + std::to_string(i);
        r.headers = {{"h", std::string("\0x", 2)}};
        r.value = std::string(100, static_cast<char>('a' + i % 26));
        req.records.push_back(std::move(r));
    }
    const auto reply = m_client->raw(eddy::net::encodeProduceRequest(req));
    QVERIFY(reply);
    auto produced = eddy::net::decodeProduceReply(*reply);
    QVERIFY2(produced, produced ? "" : produced.error().message.c_str());
    QCOMPARE(produced->placements.size(), 1u);
    QCOMPARE(produced->placements[0].partition, 1);
    QCOMPARE(produced->placements[0].count, 1000);
    QCOMPARE(produced->offsets.size(), 1000u);

    eddy::FetchRequest fr{"fast", 1, 10, 100, 1 << 20, 0, {}};
    auto fetched = eddy::net::decodeFetchReply(*m_client->raw(eddy::net::encodeFetchRequest(fr)));
    QVERIFY(fetched);
    QCOMPARE(fetched->records.size(), 100u);
    QCOMPARE(fetched->records[0].offset, 10);
    QCOMPARE(*fetched->records[0].key, std::string("k10"));
    QCOMPARE(fetched->records[0].headers[0].value, std::string("\0x", 2));
    QCOMPARE(fetched->highWatermark, 1000);

    fr.topic = "missing";
    auto error = eddy::net::decodeFetchReply(*m_client->raw(eddy::net::encodeFetchRequest(fr)));
    QVERIFY(!error);
    QCOMPARE(error.code(), eddy::Errc::UnknownTopic);
}

void TestProtocol::everyTruncationOfABinaryFrameIsRefused()
{
    createTopic("trunc");
    eddy::ProduceRequest req;
    req.topic = "trunc";
    req.partition = 0;
    for (int i = 0; i < 3; ++i)
        req.records.push_back({-1, 5, "key", {{"a", "b"}}, "value"});
    const std::string frame = eddy::net::encodeProduceRequest(req);
    for (std::size_t n = 1; n < frame.size(); ++n) {
        const auto reply = m_client->raw(frame.substr(0, n));
        QVERIFY2(reply, qPrintable(QString("no reply to a %1-byte truncation").arg(n)));
        if (n < 3)
            continue; // too short to name its op: answered as a malformed frame of some op
        auto decoded = eddy::net::decodeProduceReply(*reply);
        QVERIFY2(!decoded, qPrintable(QString("truncation to %1 bytes accepted").arg(n)));
        QCOMPARE(decoded.code(), eddy::Errc::MalformedRequest);
    }
    // Nothing of the truncated frames was stored; the whole frame still works.
    QCOMPARE(m_broker->describeTopic("trunc")->partitionInfo[0].highWatermark, 0);
    QVERIFY(eddy::net::decodeProduceReply(*m_client->raw(frame)));
    QCOMPARE(m_broker->describeTopic("trunc")->partitionInfo[0].highWatermark, 3);

    // The same for a poll carrying client positions: no truncation reads as a shorter poll.
    eddy::PollRequest poll;
    poll.group = "no-such-group";
    poll.memberId = "m";
    poll.generation = 1;
    poll.positions = {{eddy::TopicPartition{"trunc", 0}, 2}, {eddy::TopicPartition{"x", 3}, 9}};
    const std::string pollFrame = eddy::net::encodePollRequest(poll);
    for (std::size_t n = 3; n < pollFrame.size(); ++n) {
        const auto reply = m_client->raw(pollFrame.substr(0, n));
        QVERIFY2(reply, qPrintable(QString("no reply to a %1-byte poll truncation").arg(n)));
        QCOMPARE(eddy::net::decodePollReply(*reply).code(), eddy::Errc::MalformedRequest);
    }
    const auto decoded = eddy::net::decodePollRequest(pollFrame.substr(3));
    QVERIFY(decoded);
    QVERIFY(decoded->positions == poll.positions);
    QCOMPARE(eddy::net::decodePollReply(*m_client->raw(pollFrame)).code(),
             eddy::Errc::UnknownGroup);
}

void TestProtocol::binaryCountsLargerThanTheFrameAreRefused()
{
    // A produce that claims 2^40 records in a few bytes must not make the broker allocate them.
    std::string frame;
    eddy::ByteWriter w(frame);
    w.u8(eddy::net::kBinaryMagic);
    w.u8(1);
    w.u8(1);
    w.bytes("t");
    w.vari(0);
    w.u8(1);
    w.vari(-1);
    w.vari(-1);
    w.varu(uint64_t(1) << 40);
    const auto r = eddy::net::decodeProduceReply(*m_client->raw(frame));
    QCOMPARE(r.code(), eddy::Errc::MalformedRequest);
    std::string badVersion = frame;
    badVersion[1] = 9;
    QCOMPARE(eddy::net::decodeProduceReply(*m_client->raw(badVersion)).code(),
             eddy::Errc::UnsupportedVersion);
    std::string badOp = frame.substr(0, 3);
    badOp[2] = 42;
    const auto raw = m_client->raw(badOp);
    QVERIFY(raw && raw->size() > 4 && (*raw)[3] == 1);
}

void TestProtocol::oversizedFrameClosesOnlyThatPipe()
{
    ReqClient big(m_tcpUrl, 1500);
    QVERIFY(big.connected());
    // 2 MiB against a 1 MiB NNG_OPT_RECVMAXSZ: the broker drops the pipe without answering.
    const auto reply = big.raw(std::string(2 << 20, 'x'));
    QVERIFY(!reply);
    ReqClient other(m_tcpUrl);
    QCOMPARE(other.call({{"op", "hello"}}).value("ok", false), true);
    QCOMPARE(call({{"op", "hello"}}).value("ok", false), true);
}

void TestProtocol::longPollFetchWakesOnProduce()
{
    createTopic("lp");
    ReqClient waiter(m_tcpUrl, 10000);
    json result;
    QElapsedTimer timer;
    timer.start();
    std::thread t([&] {
        result = waiter.call({{"op", "fetch"}, {"topic", "lp"}, {"offset", 0}, {"wait_ms", 8000}});
    });
    QTest::qWait(200);
    const qint64 producedAt = timer.elapsed();
    const auto woke = call({{"op", "produce"}, {"topic", "lp"}, {"value", "wake"}});
    QCOMPARE(woke.value("ok", false), true);
    t.join();
    QCOMPARE(result.value("ok", false), true);
    QCOMPARE(result["records"].size(), 1u);
    // Woken by the append, not by the 8 s deadline.
    QVERIFY2(timer.elapsed() - producedAt < 4000, "the long-poll was not woken by the append");
    const auto empty = call({{"op", "fetch"}, {"topic", "lp"}, {"offset", 1}, {"wait_ms", 100}});
    QCOMPARE(empty.value("ok", false), true);
    QCOMPARE(empty["records"].size(), 0u);
}

void TestProtocol::groupJoinPollCommitOverTheWire()
{
    createTopic("orders", 2);
    for (int i = 0; i < 6; ++i)
        call({{"op", "produce"},
              {"topic", "orders"},
              {"partition", i % 2},
              {"value", std::to_string(i)}});
    const auto join = call({{"op", "join_group"},
                            {"group", "billing"},
                            {"topics", {"orders"}},
                            {"session_timeout_ms", 5000}});
    QCOMPARE(join.value("ok", false), true);
    const std::string member = join["member_id"];
    const int generation = join["generation"];
    QCOMPARE(join["assignment"].size(), 2u);
    const auto polled = call({{"op", "poll"},
                              {"group", "billing"},
                              {"member_id", member},
                              {"generation", generation},
                              {"max_records", 100}});
    QCOMPARE(polled["records"].size(), 6u);
    const auto again = call({{"op", "poll"},
                             {"group", "billing"},
                             {"member_id", member},
                             {"generation", generation},
                             {"wait_ms", 50}});
    QCOMPARE(again["records"].size(), 0u);
    const auto commit = call(
        {{"op", "commit"},
         {"group", "billing"},
         {"member_id", member},
         {"generation", generation},
         {"offsets", {{{"topic", "orders"}, {"partition", 0}, {"offset", 3}}}}});
    QCOMPARE(commit.value("ok", false), true);
    const auto described = call({{"op", "describe_group"}, {"group", "billing"}});
    QCOMPARE(described["group"]["state"].get<std::string>(), std::string("stable"));
    QCOMPARE(described["group"]["total_lag"].get<int>(), 3);
    const auto stale = call({{"op", "commit"},
                             {"group", "billing"},
                             {"member_id", member},
                             {"generation", generation + 5},
                             {"offsets",
                              {{{"topic", "orders"}, {"partition", 1}, {"offset", 1}}}}});
    QCOMPARE(ReqClient::code(stale), std::string("STALE_GENERATION"));
    QCOMPARE(call({{"op", "leave_group"}, {"group", "billing"}, {"member_id", member}})
                 .value("ok", false),
             true);
    const auto reset = call({{"op", "reset_offsets"},
                             {"group", "billing"},
                             {"topic", "orders"},
                             {"to", "earliest"}});
    QCOMPARE(reset.value("ok", false), true);
    QCOMPARE(reset["offsets"][0]["offset"].get<int>(), 0);
}

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
