// The wire protocol as an external client sees it: JSON and binary requests over inproc:// and
// loopback tcp://, every documented error for bad input (each answered while another client
// keeps working), long-poll through the server, oversized frames, and 200 concurrent clients.
#include "binary_codec.h"
#include "broker.h"
#include "connection.h"
#include "broker_server.h"
#include "json_codec.h"
#include "req_client.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using nlohmann::json;

class TestProtocol : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

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
    void clientsListsConnectedPeers();
    void clientsCountRecordsOfBothEncodings();
    void clientsFollowEachRequestOfAConnection();
    void clientInfoJsonRoundTrip();
    void twoHundredConcurrentClients();
    void readingClientMayPipelinePastTheCap();
    void liveStreamDeliversRecordsToSubscribers();

private:
    json call(const json &request) { return m_client->call(request); }
    // The `clients` entry of the connection that said hello with clientId (null if none).
    json entryOf(const std::string &clientId)
    {
        const json reply = call({{"op", "clients"}});
        for (const auto &c : reply["clients"])
            if (c.value("client_id", std::string()) == clientId)
                return c;
        return json();
    }
    void createTopic(const std::string &name, int partitions = 1);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<eddy::Broker> m_broker;
    std::unique_ptr<eddy::net::BrokerServer> m_server;
    std::unique_ptr<ReqClient> m_client;
    std::string m_tcpUrl;
    std::string m_pubUrl;
    int m_round = 0;
};

void TestProtocol::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    eddy::BrokerConfig config;
    config.dataDir = m_dir->path().toStdString();
    config.maxRecordBytes = 64 * 1024;
    auto broker = eddy::Broker::open(config);
    QVERIFY(broker);
    m_broker = std::move(*broker);
    eddy::net::BrokerServerOptions options;
    const std::string inproc = "inproc://protocol-test-" + std::to_string(++m_round);
    options.requests.listen = {inproc, "tcp://127.0.0.1:0"};
    options.requests.maxMessageBytes = 1 << 20;
    options.publish = {"tcp://127.0.0.1:0"};
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
    m_tcpUrl = m_server->requestUrls().at(1);
    m_pubUrl = m_server->publishUrls().at(0);
    QVERIFY(m_tcpUrl.rfind("tcp://127.0.0.1:", 0) == 0 && m_tcpUrl != "tcp://127.0.0.1:0");
    m_client = std::make_unique<ReqClient>(inproc);
    QVERIFY(m_client->connected());
}

void TestProtocol::cleanup()
{
    m_client.reset();
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_broker.reset();
    m_dir.reset();
}

void TestProtocol::createTopic(const std::string &name, int partitions)
{
    const auto r = call({{"op", "create_topic"}, {"topic", name}, {"partitions", partitions}});
    QCOMPARE(r.value("ok", false), true);
}

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
    QTest::newRow("non-utf8 topic") << QByteArray("{\"op\":\"create_topic\",\"topic\":\"\xff\xfe\"}")
                                    << "MALFORMED_REQUEST";
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
    const auto p = call({{"op", "produce"}, {"topic", "offsets"}, {"partition", 7}, {"value", "a"}});
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
    QCOMPARE(call({{"op", "produce"}, {"topic", "lp"}, {"value", "wake"}}).value("ok", false), true);
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
        call({{"op", "produce"}, {"topic", "orders"}, {"partition", i % 2}, {"value", std::to_string(i)}});
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
    const auto commit = call({{"op", "commit"},
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
                             {"offsets", {{{"topic", "orders"}, {"partition", 1}, {"offset", 1}}}}});
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

void TestProtocol::clientsListsConnectedPeers()
{
    createTopic("c");
    ReqClient producer(m_tcpUrl);
    QCOMPARE(producer.call({{"op", "produce"}, {"topic", "c"}, {"value", "v"}, {"client_id", "svc-a"}})
                 .value("ok", false),
             true);
    const auto r = call({{"op", "clients"}});
    bool found = false;
    for (const auto &c : r["clients"]) {
        if (c["client_id"] == "svc-a") {
            found = true;
            QCOMPARE(c["role"].get<std::string>(), std::string("producer"));
            QVERIFY(c["address"].get<std::string>().rfind("tcp://127.0.0.1:", 0) == 0);
            QCOMPARE(c["requests"].get<int>(), 1);
        }
    }
    QVERIFY(found);
}

// Records in and out per connection, whichever encoding carried them, with the topics and the
// rates of the last full second (which show in the next second and fall to 0 after).
void TestProtocol::clientsCountRecordsOfBothEncodings()
{
    createTopic("a");
    createTopic("b");
    // Five records in b, produced by the fixture's own connection: they count there, not below.
    for (int i = 0; i < 5; ++i)
        QVERIFY(call({{"op", "produce"}, {"topic", "b"}, {"value", std::to_string(i)}})
                    .value("ok", false));

    ReqClient peer(m_tcpUrl);
    QVERIFY(peer.connected());
    // N = 7 in JSON (a batch of 4 and 3 single records), M = 10 in binary.
    json batch = json::array();
    for (int i = 0; i < 4; ++i)
        batch.push_back({{"value", "j" + std::to_string(i)}});
    QVERIFY(peer.call({{"op", "produce"}, {"topic", "a"}, {"records", batch}, {"client_id", "rec"}})
                .value("ok", false));
    for (int i = 0; i < 3; ++i)
        QVERIFY(peer.call({{"op", "produce"}, {"topic", "a"}, {"value", "single"}})
                    .value("ok", false));
    eddy::ProduceRequest binary;
    binary.topic = "a";
    binary.records.resize(10);
    for (auto &r : binary.records)
        r.value = "bin";
    const auto produced = eddy::net::decodeProduceReply(
        peer.raw(eddy::net::encodeProduceRequest(binary)).value_or(""));
    QVERIFY2(produced, produced ? "" : produced.error().message.c_str());
    // Refused requests move no records: a produce to a missing topic, a fetch past the end.
    QCOMPARE(ReqClient::code(peer.call({{"op", "produce"}, {"topic", "none"}, {"value", "x"}})),
             std::string("UNKNOWN_TOPIC"));
    QCOMPARE(ReqClient::code(peer.call({{"op", "fetch"}, {"topic", "b"}, {"offset", 99}})),
             std::string("OFFSET_OUT_OF_RANGE"));
    // K = 5 out of b: 3 through a JSON fetch, 2 through a binary one.
    QCOMPARE(peer.call({{"op", "fetch"}, {"topic", "b"}, {"offset", 0}, {"max_records", 3}})["records"]
                 .size(),
             3u);
    eddy::FetchRequest fr{"b", 0, 3, 100, 1 << 20, 0, {}};
    const auto fetched =
        eddy::net::decodeFetchReply(peer.raw(eddy::net::encodeFetchRequest(fr)).value_or(""));
    QVERIFY(fetched);
    QCOMPARE(fetched->records.size(), 2u);

    // The rates count the last full second: wait (bounded) for the one the records went in.
    json entry;
    QElapsedTimer waited;
    waited.start();
    do {
        entry = entryOf("rec");
        QVERIFY(entry.is_object());
        if (entry["records_in_per_s"].get<double>() > 0
            && entry["records_out_per_s"].get<double>() > 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (waited.elapsed() < 3000);
    QCOMPARE(entry["records_in"].get<int>(), 17);
    QCOMPARE(entry["records_out"].get<int>(), 5);
    QVERIFY2(entry["records_in_per_s"].get<double>() > 0, entry.dump().c_str());
    QVERIFY(entry["records_in_per_s"].get<double>() <= 17);
    QVERIFY(entry["records_out_per_s"].get<double>() > 0);
    QVERIFY(entry["records_out_per_s"].get<double>() <= 5);
    QCOMPARE(entry["produced_topics"], json::array({"a"}));
    QCOMPARE(entry["consumed_topics"], json::array({"b"}));
    QCOMPARE(entry["role"].get<std::string>(), std::string("producer+consumer"));

    // A group member's poll counts too, with the topics it was assigned.
    ReqClient member(m_tcpUrl);
    const auto join = member.call({{"op", "join_group"},
                                   {"group", "g"},
                                   {"topics", {"b"}},
                                   {"client_id", "poller"}});
    QVERIFY(join.value("ok", false));
    const auto polled = member.call({{"op", "poll"},
                                     {"group", "g"},
                                     {"member_id", join["member_id"]},
                                     {"generation", join["generation"]}});
    QCOMPARE(polled["records"].size(), 5u);
    const auto poller = entryOf("poller");
    QCOMPARE(poller["records_out"].get<int>(), 5);
    QCOMPARE(poller["records_in"].get<int>(), 0);
    QCOMPARE(poller["consumed_topics"], json::array({"b"}));
    QCOMPARE(poller["produced_topics"], json::array());

    // Idle for a full second: the rates fall back to 0 while the totals stay.
    waited.restart();
    do {
        entry = entryOf("rec");
        if (entry["records_in_per_s"].get<double>() == 0
            && entry["records_out_per_s"].get<double>() == 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (waited.elapsed() < 3000);
    QCOMPARE(entry["records_in_per_s"].get<double>(), 0.0);
    QCOMPARE(entry["records_out_per_s"].get<double>(), 0.0);
    QCOMPARE(entry["records_in"].get<int>(), 17);
}

// What the clients list shows of one connection follows every request exactly, whichever
// encoding carried it: the request count, the last op and the role as they change, a client id
// that changes, and the topics of a binary poll over two assigned topics (counted without a
// copy of their names).
void TestProtocol::clientsFollowEachRequestOfAConnection()
{
    createTopic("t1");
    createTopic("t2");
    ReqClient peer(m_tcpUrl);
    QVERIFY(peer.connected());
    QVERIFY(peer.call({{"op", "hello"}, {"client_id", "first"}}).value("ok", false));
    json e = entryOf("first");
    QVERIFY(e.is_object());
    QCOMPARE(e["requests"].get<int>(), 1);
    QCOMPARE(e["last_op"].get<std::string>(), std::string("hello"));
    QCOMPARE(e["role"].get<std::string>(), std::string("admin"));

    eddy::ProduceRequest binary;
    binary.topic = "t1";
    binary.records.resize(3);
    for (auto &r : binary.records)
        r.value = "x";
    for (int i = 0; i < 4; ++i)
        QVERIFY(eddy::net::decodeProduceReply(
            peer.raw(eddy::net::encodeProduceRequest(binary)).value_or("")));
    e = entryOf("first");
    QCOMPARE(e["requests"].get<int>(), 5);
    QCOMPARE(e["last_op"].get<std::string>(), std::string("produce"));
    QCOMPARE(e["role"].get<std::string>(), std::string("producer"));
    QCOMPARE(e["records_in"].get<int>(), 12);
    QCOMPARE(e["produced_topics"], json::array({"t1"}));

    // A new client id replaces the old one; the connection (and its counts) stay.
    QVERIFY(peer.call({{"op", "produce"}, {"topic", "t2"}, {"value", "y"}, {"client_id", "second"}})
                .value("ok", false));
    QVERIFY(!entryOf("first").is_object());
    e = entryOf("second");
    QCOMPARE(e["requests"].get<int>(), 6);
    QCOMPARE(e["records_in"].get<int>(), 13);
    QCOMPARE(e["produced_topics"], json::array({"t1", "t2"}));

    const auto join = peer.call({{"op", "join_group"}, {"group", "g2"}, {"topics", {"t2", "t1"}}});
    QVERIFY(join.value("ok", false));
    e = entryOf("second");
    QCOMPARE(e["last_op"].get<std::string>(), std::string("join_group"));
    eddy::PollRequest poll;
    poll.group = "g2";
    poll.memberId = join["member_id"].get<std::string>();
    poll.generation = join["generation"].get<int32_t>();
    const auto polled =
        eddy::net::decodePollReply(peer.raw(eddy::net::encodePollRequest(poll)).value_or(""));
    QVERIFY2(polled, polled ? "" : polled.error().message.c_str());
    QCOMPARE(polled->records.size(), 13u);
    e = entryOf("second");
    QCOMPARE(e["requests"].get<int>(), 8);
    QCOMPARE(e["last_op"].get<std::string>(), std::string("poll"));
    QCOMPARE(e["role"].get<std::string>(), std::string("producer+consumer"));
    QCOMPARE(e["records_out"].get<int>(), 13);
    QCOMPARE(e["consumed_topics"], json::array({"t1", "t2"}));
}

void TestProtocol::clientInfoJsonRoundTrip()
{
    eddy::net::ClientInfo in;
    in.id = 7;
    in.address = "tcp://127.0.0.1:5555";
    in.role = "producer";
    in.clientId = "svc";
    in.connectedMs = 1700000000000;
    in.requests = 12;
    in.requestsPerSec = 2.5;
    in.lastOp = "produce";
    in.recordsIn = 1234567890123;
    in.recordsOut = 9;
    in.recordsInPerSec = 1500;
    in.recordsOutPerSec = 0.5;
    in.producedTopics = {"a", "b"};
    in.consumedTopics = {"c"};
    const auto out = eddy::net::clientInfoFromJson(eddy::net::clientInfoToJson(in));
    QVERIFY(out);
    QCOMPARE(eddy::net::clientInfoToJson(*out), eddy::net::clientInfoToJson(in));
    QCOMPARE(out->recordsIn, in.recordsIn);
    QCOMPARE(out->producedTopics, in.producedTopics);
    QVERIFY(out->principal.empty());
    // An older broker's entry (no record fields) reads as zeros; wrong types are refused.
    auto old = eddy::net::clientInfoToJson(in);
    old.erase("records_in");
    old.erase("consumed_topics");
    const auto fromOld = eddy::net::clientInfoFromJson(old);
    QVERIFY(fromOld);
    QCOMPARE(fromOld->recordsIn, uint64_t{0});
    QVERIFY(fromOld->consumedTopics.empty());
    for (const auto &[field, bad] : std::vector<std::pair<std::string, json>>{
             {"records_in", "many"}, {"records_in", -1}, {"records_out_per_s", "fast"},
             {"produced_topics", "a"}, {"consumed_topics", json::array({1})}, {"id", 1.5}}) {
        auto wrong = eddy::net::clientInfoToJson(in);
        wrong[field] = bad;
        const auto refused = eddy::net::clientInfoFromJson(wrong);
        QVERIFY2(!refused, field.c_str());
        QCOMPARE(refused.code(), eddy::Errc::MalformedRequest);
    }
    QVERIFY(!eddy::net::clientInfoFromJson(json::array()));
}

void TestProtocol::twoHundredConcurrentClients()
{
    createTopic("many", 8);
    constexpr int kClients = 200;
    constexpr int kEach = 5;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int c = 0; c < kClients; ++c) {
        threads.emplace_back([&, c] {
            ReqClient client(m_tcpUrl, 20000);
            if (!client.connected()) {
                ++failed;
                return;
            }
            for (int i = 0; i < kEach; ++i) {
                const auto r = client.call({{"op", "produce"},
                                            {"topic", "many"},
                                            {"key", "client-" + std::to_string(c)},
                                            {"value", std::to_string(i)}});
                (r.is_object() && r.value("ok", false) ? ok : failed)++;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    QCOMPARE(failed.load(), 0);
    QCOMPARE(ok.load(), kClients * kEach);
    int64_t total = 0;
    // Bound first: the range would otherwise live in a temporary Result that dies before
    // the loop body runs (ASan: stack-use-after-scope).
    const auto described = m_broker->describeTopic("many");
    QVERIFY(described.ok());
    for (const auto &p : described->partitionInfo)
        total += p.highWatermark;
    QCOMPARE(total, int64_t(kClients * kEach));
    // Each client's records landed in its key's partition, in order.
    const int p = eddy::keyPartition("client-7", 8);
    auto f = m_broker->fetchSync({"many", p, 0, 10000, 1 << 24, 0, {}});
    QVERIFY(f);
    int next = 0;
    for (const auto &r : f->records)
        if (r.key == std::string("client-7"))
            QCOMPARE(r.value, std::to_string(next++));
    QCOMPARE(next, kEach);
}

// The per-connection in-flight cap (64) disconnects clients that do not read their replies, not
// clients that pipeline past it and read: 100 long-polls parked on one tcp connection at once
// (a consumer waiting on many partitions, say) are all answered when data arrives, and no
// slow_client event is logged.
void TestProtocol::readingClientMayPipelinePastTheCap()
{
    constexpr int kPolls = 100;
    createTopic("wide", 1);
    auto connection = eddy::client::Connection::open(m_tcpUrl);
    QVERIFY(connection);
    std::mutex mutex;
    std::condition_variable cv;
    int answered = 0;
    int withRecord = 0;
    std::string firstError;
    for (int i = 0; i < kPolls; ++i) {
        const json fetch = {{"op", "fetch"}, {"topic", "wide"}, {"offset", 0}, {"wait_ms", 20000}};
        (*connection)->requestAsync(fetch.dump(), 30000, [&](eddy::Result<std::string> reply) {
            std::lock_guard lock(mutex);
            ++answered;
            if (!reply) {
                if (firstError.empty())
                    firstError = reply.error().message;
            } else {
                const auto r = json::parse(*reply, nullptr, false);
                if (r.is_object() && r.value("ok", false) && r["records"].size() == 1)
                    ++withRecord;
            }
            cv.notify_all();
        });
    }
    // Every poll reached the broker and parked there: the connection holds 100 requests in
    // flight (the inproc test client made one request, so only the tcp one can count 100).
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (const auto &c : m_server->clients())
                if (c.requests >= uint64_t(kPolls))
                    return true;
            return false;
        }(),
        10000);
    QCOMPARE(answered, 0);
    QCOMPARE(call({{"op", "produce"}, {"topic", "wide"}, {"value", "wake"}}).value("ok", false),
             true);
    std::unique_lock lock(mutex);
    QVERIFY(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == kPolls; }));
    QVERIFY2(firstError.empty(), firstError.c_str());
    QCOMPARE(withRecord, kPolls);
    lock.unlock();
    for (const auto &e : m_broker->recentEvents())
        QVERIFY2(e.kind != "slow_client", e.detail.c_str());
}

void TestProtocol::liveStreamDeliversRecordsToSubscribers()
{
    createTopic("live");
    createTopic("livelier");
    nng_socket sub;
    QCOMPARE(nng_sub0_open(&sub), 0);
    QCOMPARE(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "live ", 5), 0);
    nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 200);
    QCOMPARE(nng_dial(sub, m_pubUrl.c_str(), nullptr, 0), 0);
    // PUB drops messages until the subscription has reached the publisher, so produce until
    // one arrives (bounded), with a record of another topic before each that must be filtered.
    std::string msg;
    for (int attempt = 0; attempt < 25 && msg.empty(); ++attempt) {
        call({{"op", "produce"}, {"topic", "livelier"}, {"value", "other topic"}});
        call({{"op", "produce"}, {"topic", "live"}, {"key", "k"}, {"value", "hello stream"}});
        char *buf = nullptr;
        size_t size = 0;
        if (nng_recv(sub, &buf, &size, NNG_FLAG_ALLOC) == 0) {
            msg.assign(buf, size);
            nng_free(buf, size);
        }
    }
    // Bounded: the publisher keeps sending ($metrics every 100 ms), and NNG 1.5.2 may never
    // finish closing a connection with a message half received.
    if (!eddy::closeSocketBounded(sub, 5000))
        qInfo("NNG did not finish closing the subscriber within 5 s; left to its own thread");
    QVERIFY2(msg.rfind("live ", 0) == 0, msg.c_str());
    const auto j = json::parse(msg.substr(5));
    QCOMPARE(j["topic"].get<std::string>(), std::string("live"));
    QCOMPARE(j["value"].get<std::string>(), std::string("hello stream"));
    QVERIFY(j["offset"].get<int>() >= 0);
}

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
