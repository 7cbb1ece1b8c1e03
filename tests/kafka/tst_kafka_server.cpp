// The Kafka listener over loopback TCP, driven by hand-framed requests: ApiVersions (and its
// fallback for a newer client), Metadata, CreateTopics, Produce with each acks level, Fetch with
// long-poll, ListOffsets, and the unhappy paths: errors per partition that keep the connection,
// malformed or oversized frames that close only their own connection (and are logged), a
// client that vanishes mid-request, requests pipelined past the read-ahead limit, a client that
// does not read its response, descriptors running out, and stop() with a fetch parked in the
// engine.
#include "kafka_fixture.h"
#include "kafka_records.h"
#include "kafka_requests.h"
#include "kafka_server.h"
#include "kafka_test_client.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <future>

#include <sys/resource.h>

using namespace eddy;
using namespace eddy::kafka;

class TestKafkaServer : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void apiVersionsAndFallback();
    void metadataListsTopics();
    void createTopics();
    void produceEachAcksThenFetch();
    void produceErrorsKeepTheConnection();
    void fetchLongPollWakesOnProduce();
    void fetchErrorsAndEmptyWait();
    void listOffsets();
    void malformedFramesCloseOnlyTheirConnection();
    void clientVanishingMidRequest();
    void pipelinedRequestsAnsweredInOrder();
    void unreadResponseTimesOut();
    void descriptorsRunningOut();
    void stopWithParkedFetch();

private:
    int port() const { return m_fixture.port(); }

    KafkaBrokerFixture m_fixture;
    Broker *m_broker = nullptr;
    net::BrokerServer *m_server = nullptr;
};

using namespace kafka_test;

void TestKafkaServer::initTestCase()
{
    QVERIFY(m_fixture.start(Durability::Durable));
    m_broker = m_fixture.broker.get();
    m_server = m_fixture.server.get();
    QVERIFY(port() > 0);
    QVERIFY(m_broker->createTopic({"orders", 2, {}}));
}

void TestKafkaServer::cleanupTestCase()
{
    m_fixture.stop();
}

void TestKafkaServer::apiVersionsAndFallback()
{
    KafkaTestClient c(port());
    QVERIFY(c.connected());
    std::string body;
    KafkaWriter w(body);
    w.compactString("eddy-test");
    w.compactString("1.0");
    w.noTaggedFields();
    auto v3 = c.request(18, 3, body);
    QVERIFY(v3);
    KafkaReader r(*v3);
    QCOMPARE(r.i16(), int16_t(0));
    const int32_t n = r.compactArrayLength(7);
    QVERIFY(n >= 5);
    std::map<int16_t, std::pair<int16_t, int16_t>> ranges;
    for (int32_t i = 0; i < n; ++i) {
        const int16_t key = r.i16();
        const int16_t lo = r.i16();
        const int16_t hi = r.i16();
        r.skipTaggedFields();
        ranges[key] = {lo, hi};
    }
    r.i32();
    r.skipTaggedFields();
    QVERIFY(r.ok() && r.atEnd());
    QCOMPARE(ranges[0], std::make_pair(int16_t(3), int16_t(8)));  // Produce
    QCOMPARE(ranges[1], std::make_pair(int16_t(4), int16_t(11))); // Fetch
    QCOMPARE(ranges[3], std::make_pair(int16_t(0), int16_t(8)));  // Metadata
    // A client newer than the listener: answered in v0 with UNSUPPORTED_VERSION and the
    // ranges, on the same connection, so it can retry.
    auto v9 = c.request(18, 9, "anything newer");
    QVERIFY(v9);
    KafkaReader r0(*v9);
    QCOMPARE(r0.i16(), int16_t(35));
    QCOMPARE(r0.arrayLength(6), n);
    auto v0 = c.request(18, 0, "");
    QVERIFY(v0);
    QCOMPARE(KafkaReader(*v0).i16(), int16_t(0));
}

void TestKafkaServer::metadataListsTopics()
{
    KafkaTestClient c(port());
    auto all = c.request(3, 8, metadataBody(std::nullopt));
    QVERIFY(all);
    KafkaReader r(*all);
    r.i32(); // throttle
    QCOMPARE(r.arrayLength(), 1);
    QCOMPARE(r.i32(), 0);
    QCOMPARE(std::string(r.string()), std::string("127.0.0.1"));
    QCOMPARE(r.i32(), port()); // the address the client used
    r.nullableString();
    QCOMPARE(std::string(*r.nullableString()), std::string("eddy-1"));
    QCOMPARE(r.i32(), 0); // controller
    const int32_t topics = r.arrayLength();
    bool sawOrders = false;
    for (int32_t t = 0; t < topics; ++t) {
        QCOMPARE(r.i16(), int16_t(0));
        const std::string name(r.string());
        r.boolean();
        const int32_t parts = r.arrayLength();
        if (name == "orders") {
            sawOrders = true;
            QCOMPARE(parts, 2);
        }
        for (int32_t p = 0; p < parts; ++p) {
            r.i16();
            r.i32();
            QCOMPARE(r.i32(), 0); // leader
            r.i32();
            QCOMPARE(r.arrayLength(), 1);
            r.i32();
            QCOMPARE(r.arrayLength(), 1);
            r.i32();
            QCOMPARE(r.arrayLength(), 0);
        }
        r.i32();
    }
    r.i32();
    QVERIFY(r.ok() && r.atEnd());
    QVERIFY(sawOrders);

    auto unknown = c.request(3, 1, [] {
        std::string b;
        KafkaWriter w(b);
        w.arrayLength(1);
        w.string("nosuch");
        return b;
    }());
    QVERIFY(unknown);
    KafkaReader u(*unknown);
    u.arrayLength();
    u.i32();
    u.string();
    u.i32();
    u.nullableString();
    u.i32();
    QCOMPARE(u.arrayLength(), 1);
    QCOMPARE(u.i16(), int16_t(3)); // UNKNOWN_TOPIC_OR_PARTITION
}

void TestKafkaServer::createTopics()
{
    KafkaTestClient c(port());
    auto made =
        c.request(19, 4, createTopicBody("made", 3, -1, {{"retention.ms", "60000"}}, false));
    QVERIFY(made);
    QCOMPARE(createTopicError(*made), int16_t(0));
    auto info = m_broker->describeTopic("made");
    QVERIFY(info);
    QCOMPARE(info->partitions, 3);
    QCOMPARE(info->retention.maxAgeMs, int64_t(60000));
    auto again = c.request(19, 4, createTopicBody("made", 3, 1, {}, false));
    QCOMPARE(createTopicError(*again), int16_t(36)); // TOPIC_ALREADY_EXISTS
    auto replicated = c.request(19, 4, createTopicBody("rf3", 1, 3, {}, false));
    QCOMPARE(createTopicError(*replicated), int16_t(38)); // INVALID_REPLICATION_FACTOR
    auto config = c.request(19, 4, createTopicBody("cfg", 1, 1, {{"cleanup.policy", "compact"}},
                                                   false));
    QCOMPARE(createTopicError(*config), int16_t(40)); // INVALID_CONFIG
    auto name = c.request(19, 4, createTopicBody("bad name!", 1, 1, {}, false));
    QCOMPARE(createTopicError(*name), int16_t(17)); // INVALID_TOPIC_EXCEPTION
    auto dry = c.request(19, 4, createTopicBody("dry", 1, 1, {}, true));
    QCOMPARE(createTopicError(*dry), int16_t(0));
    QVERIFY(!m_broker->describeTopic("dry")); // validate_only created nothing
    QVERIFY(!m_broker->describeTopic("rf3"));
}

void TestKafkaServer::produceEachAcksThenFetch()
{
    QVERIFY(m_broker->createTopic({"acks", 1, {}}));
    KafkaTestClient c(port());
    // acks=all: answered after the store committed it (the broker is in durable mode).
    auto all = c.request(0, 8, produceBody(-1, "acks", 0, recordSet({"a", "b", "c"})));
    QVERIFY(all);
    auto p = parseProduce(*all);
    QCOMPARE(p.topic, std::string("acks"));
    QCOMPARE(p.error, int16_t(0));
    QCOMPARE(p.baseOffset, int64_t(0));
    auto one = c.request(0, 3, [] {
        std::string b;
        KafkaWriter w(b);
        w.nullableString(std::nullopt);
        w.i16(1);
        w.i32(5000);
        w.arrayLength(1);
        w.string("acks");
        w.arrayLength(1);
        w.i32(0);
        const std::string set = recordSet({"d"});
        w.nullableBytes(std::string_view(set));
        return b;
    }());
    QVERIFY(one); // v3: no log_start_offset, no record_errors
    KafkaReader r3(*one);
    r3.arrayLength();
    r3.string();
    r3.arrayLength();
    r3.i32();
    QCOMPARE(r3.i16(), int16_t(0));
    QCOMPARE(r3.i64(), int64_t(3));
    // acks=0: no response at all; the next request's response is the next thing read.
    QVERIFY(c.send(0, 8, produceBody(0, "acks", 0, recordSet({"e"}))) > 0);
    auto meta = c.request(3, 8, metadataBody(std::vector<std::string>{"acks"}));
    QVERIFY(meta);
    QVERIFY(waitFor(
        [&] { return m_broker->describeTopic("acks")->partitionInfo[0].highWatermark == 5; }));

    auto fetched = c.request(1, 11, fetchBody("acks", 0, 0, 0));
    QVERIFY(fetched);
    auto f = parseFetch(*fetched);
    QCOMPARE(f.topError, int16_t(0));
    QCOMPARE(f.error, int16_t(0));
    QCOMPARE(f.highWatermark, int64_t(5));
    QCOMPARE(f.records.size(), std::size_t(5));
    QCOMPARE(f.records[0].value, std::string("a"));
    QCOMPARE(f.records[0].key, std::optional<std::string>("key-0"));
    QCOMPARE(f.records[0].headers.at(0).value, std::string("v0"));
    QCOMPARE(f.records[0].timestamp, int64_t(1700000000000));
    QCOMPARE(f.records[4].value, std::string("e"));
    QCOMPARE(f.offsets.back(), int64_t(4));
    // The same records through the engine's own API: one log, whichever protocol wrote it.
    FetchRequest req;
    req.topic = "acks";
    auto engine = m_broker->fetchSync(req);
    QVERIFY(engine);
    QCOMPARE(engine->records.size(), std::size_t(5));
    QCOMPARE(engine->records[2].value, std::string("c"));
    QCOMPARE(engine->records[2].headers.at(0).key, std::string("h"));
}

void TestKafkaServer::produceErrorsKeepTheConnection()
{
    KafkaTestClient c(port());
    auto unknown = parseProduce(*c.request(0, 8, produceBody(1, "nosuch", 0, recordSet({"x"}))));
    QCOMPARE(unknown.error, int16_t(3));
    QVERIFY(unknown.message && !unknown.message->empty());
    auto partition = parseProduce(*c.request(0, 8, produceBody(1, "orders", 7, recordSet({"x"}))));
    QCOMPARE(partition.error, int16_t(3));
    std::string corrupt = recordSet({"x"});
    corrupt.back() ^= 0x55;
    auto crc = parseProduce(*c.request(0, 8, produceBody(1, "orders", 0, corrupt)));
    QCOMPARE(crc.error, int16_t(2)); // CORRUPT_MESSAGE
    auto acks = parseProduce(*c.request(0, 8, produceBody(2, "orders", 0, recordSet({"x"}))));
    QCOMPARE(acks.error, int16_t(21)); // INVALID_REQUIRED_ACKS
    const std::string big(2 << 20, 'b'); // over the broker's 1 MiB record limit
    auto large = parseProduce(*c.request(0, 8, produceBody(1, "orders", 0, recordSet({big}))));
    QCOMPARE(large.error, int16_t(10)); // MESSAGE_TOO_LARGE
    // Nothing of any of them was appended, and the connection still serves.
    QCOMPARE(m_broker->describeTopic("orders")->partitionInfo[0].highWatermark, int64_t(0));
    auto ok = parseProduce(*c.request(0, 8, produceBody(1, "orders", 0, recordSet({"fine"}))));
    QCOMPARE(ok.error, int16_t(0));
    QCOMPARE(ok.partition, 0);
}

void TestKafkaServer::fetchLongPollWakesOnProduce()
{
    QVERIFY(m_broker->createTopic({"poll", 1, {}}));
    KafkaTestClient consumer(port());
    QElapsedTimer t;
    t.start();
    const int32_t id = consumer.send(1, 11, fetchBody("poll", 0, 0, 10000));
    QVERIFY(id > 0);
    QThread::msleep(200);
    KafkaTestClient producer(port());
    QCOMPARE(parseProduce(*producer.request(0, 8, produceBody(-1, "poll", 0, recordSet({"woke"}))))
                 .error,
             int16_t(0));
    auto body = consumer.receive(id);
    QVERIFY(body);
    const auto f = parseFetch(*body);
    QCOMPARE(f.records.size(), std::size_t(1));
    QCOMPARE(f.records[0].value, std::string("woke"));
    QVERIFY2(t.elapsed() < 8000, "the fetch waited out its max_wait instead of waking");
}

void TestKafkaServer::fetchErrorsAndEmptyWait()
{
    KafkaTestClient c(port());
    auto past = parseFetch(*c.request(1, 11, fetchBody("orders", 1, 1000, 0)));
    QCOMPARE(past.error, int16_t(1)); // OFFSET_OUT_OF_RANGE
    auto unknown = parseFetch(*c.request(1, 11, fetchBody("nosuch", 0, 0, 5000)));
    QCOMPARE(unknown.error, int16_t(3)); // answered at once: an error does not wait
    QElapsedTimer t;
    t.start();
    auto empty = parseFetch(*c.request(1, 11, fetchBody("orders", 1, 0, 300)));
    QCOMPARE(empty.error, int16_t(0));
    QVERIFY(empty.records.empty());
    QVERIFY2(t.elapsed() >= 250, "an empty fetch did not wait for its max_wait");
}

void TestKafkaServer::listOffsets()
{
    QVERIFY(m_broker->createTopic({"offsets", 1, {}}));
    KafkaTestClient c(port());
    QCOMPARE(parseProduce(
                 *c.request(0, 8, produceBody(-1, "offsets", 0, recordSet({"0", "1", "2"}))))
                 .error,
             int16_t(0));
    auto query = [&](int64_t timestamp) {
        std::string b;
        KafkaWriter w(b);
        w.i32(-1);
        w.i8(0);
        w.arrayLength(1);
        w.string("offsets");
        w.arrayLength(1);
        w.i32(0);
        w.i32(-1);
        w.i64(timestamp);
        const auto body = c.request(2, 5, b);
        if (!body)
            return int64_t(-200);
        KafkaReader r(*body);
        r.i32();
        r.arrayLength();
        r.string();
        r.arrayLength();
        r.i32();
        const int16_t error = r.i16();
        r.i64();
        const int64_t offset = r.i64();
        r.i32();
        return r.ok() && r.atEnd() && error == 0 ? offset : int64_t(-100);
    };
    QCOMPARE(query(-2), int64_t(0));                 // earliest
    QCOMPARE(query(-1), int64_t(3));                 // latest
    QCOMPARE(query(1700000000001), int64_t(1));      // the first at or after the time
    QCOMPARE(query(1800000000000), int64_t(-1));     // none as new: Kafka's -1
}

void TestKafkaServer::malformedFramesCloseOnlyTheirConnection()
{
    KafkaTestClient bystander(port());
    QVERIFY(bystander.request(18, 0, ""));
    const auto eventsBefore = m_broker->recentEvents().size();
    {
        KafkaTestClient c(port());
        c.send(0, 8, "\x00\x01truncated"); // a Produce that ends inside its first field
        QVERIFY(c.closedByServer());
    }
    {
        KafkaTestClient c(port());
        c.send(99, 0, ""); // an API the listener does not have
        QVERIFY(c.closedByServer());
    }
    {
        KafkaTestClient c(port());
        c.send(1, 3, ""); // Fetch older than v4
        QVERIFY(c.closedByServer());
    }
    {
        KafkaTestClient c(port());
        c.sendRaw(std::string("\x7f\xff\xff\xff", 4)); // a 2 GiB frame
        QVERIFY(c.closedByServer());
    }
    {
        KafkaTestClient c(port());
        c.sendRaw(std::string("\xff\xff\xff\xfe", 4)); // a negative size
        QVERIFY(c.closedByServer());
    }
    QVERIFY(waitFor([&] { return m_broker->recentEvents().size() >= eventsBefore + 5; }));
    const auto events = m_broker->recentEvents();
    int reported = 0;
    for (const auto &e : events)
        if (e.kind == "kafka_client" && e.subject.rfind("tcp://127.0.0.1:", 0) == 0)
            ++reported;
    QVERIFY(reported >= 5);
    QVERIFY(QString::fromStdString(events.back().detail).contains("frame")
            || QString::fromStdString(events.back().detail).contains("malformed")
            || QString::fromStdString(events.back().detail).contains("not supported"));
    // The other client was served throughout.
    QVERIFY(bystander.request(3, 8, metadataBody(std::vector<std::string>{"orders"})));
}

void TestKafkaServer::clientVanishingMidRequest()
{
    {
        KafkaTestClient c(port());
        c.sendRaw(std::string("\x00\x00\x01\x00\x00\x03", 6)); // half a frame, then gone
    }
    {
        KafkaTestClient c(port());
        // A long-poll whose client leaves before it is answered.
        c.send(1, 11, fetchBody("orders", 1, 0, 2000));
    }
    // Both connections end on the server's side too (nothing leaks per vanished client).
    QVERIFY(waitFor([&] { return m_server->kafkaConnectionCount() == 0; }));
    KafkaTestClient c(port());
    QVERIFY(c.request(18, 2, ""));
}

void TestKafkaServer::pipelinedRequestsAnsweredInOrder()
{
    QVERIFY(m_broker->createTopic({"pipelined", 1, {}}));
    // Durable produces (answered later, from the store's completion thread) with other requests
    // between them, all in one write: more than the listener reads ahead of a busy request
    // (1 MiB), so reading pauses and resumes as the responses go out.
    const std::string value(4096, 'v');
    std::string frames;
    std::vector<std::pair<int32_t, bool>> sent; // id, is a produce
    KafkaTestClient c(port(), 15000);
    for (int i = 0; i < 300; ++i) {
        if (i % 50 == 25)
            sent.emplace_back(c.appendFrame(frames, 3, 8, metadataBody(std::nullopt)), false);
        sent.emplace_back(c.appendFrame(frames, 0, 8,
                                        produceBody(-1, "pipelined", 0, recordSet({value}))),
                          true);
    }
    QVERIFY(frames.size() > (1u << 20));
    auto writer = std::async(std::launch::async, [&] { return c.sendRaw(frames); });
    int64_t expected = 0;
    for (const auto &[id, isProduce] : sent) {
        const auto reply = c.receive(id); // nullopt for an answer out of order
        QVERIFY2(reply, qPrintable(QString("no answer in order for request %1").arg(id)));
        if (isProduce) {
            const auto p = parseProduce(*reply);
            QCOMPARE(p.error, int16_t(0));
            QCOMPARE(p.baseOffset, expected++);
        }
    }
    QVERIFY(writer.get());
    QCOMPARE(m_broker->describeTopic("pipelined")->partitionInfo[0].highWatermark, int64_t(300));
}

void TestKafkaServer::unreadResponseTimesOut()
{
    // A listener of its own with a short send timeout, on the same broker.
    KafkaServerOptions options;
    options.listen = {"127.0.0.1:0"};
    options.sendTimeoutMs = 300;
    auto server = KafkaServer::start(*m_broker, options);
    QVERIFY(server);
    const std::string url = (*server)->urls().at(0);
    const int serverPort = std::stoi(url.substr(url.rfind(':') + 1));
    // 12 MiB to fetch, for a client with a small receive window.
    QVERIFY(m_broker->createTopic({"unread", 1, {}}));
    for (int i = 0; i < 24; ++i) {
        ProduceRequest req;
        req.topic = "unread";
        Record r;
        r.value = std::string(512 << 10, char('a' + i % 26));
        req.records.push_back(std::move(r));
        QVERIFY(m_broker->produceSync(std::move(req)));
    }
    // Readable once the store committed them (the broker is durable; an acks=leader produce
    // is answered before that).
    QVERIFY(waitFor([&] {
        return m_broker->describeTopic("unread")->partitionInfo[0].highWatermark == 24;
    }));
    const auto eventsBefore = m_broker->recentEvents().size();
    KafkaTestClient slow(serverPort, 5000, 4096);
    KafkaTestClient bystander(serverPort);
    QVERIFY(waitFor([&] { return (*server)->connectionCount() == 2; }));
    // Fetches pipelined: a response holds at least one record (512 KiB; how many more depends
    // on what the engine's read reaches), 24 of them more than the sockets' buffers hold.
    std::string fetches;
    for (int i = 0; i < 24; ++i)
        slow.appendFrame(fetches, 1, 11, fetchBody("unread", 0, 0, 0, 16 << 20));
    QVERIFY(slow.sendRaw(fetches));
    // Not read: the server gives up on it after the timeout and closes it.
    QVERIFY(waitFor([&] { return (*server)->connectionCount() == 1; }));
    QVERIFY(waitFor([&] {
        for (const auto &e : m_broker->recentEvents())
            if (e.kind == "kafka_client"
                && QString::fromStdString(e.detail).contains("did not read its response"))
                return true;
        return false;
    }));
    QVERIFY(m_broker->recentEvents().size() > eventsBefore);
    // The other client is still served.
    QVERIFY(bystander.request(18, 0, ""));
}

void TestKafkaServer::descriptorsRunningOut()
{
    // The process's descriptor limit lowered so that the next socket takes the last number
    // allowed: the client below gets it, and the listener's accept fails with EMFILE.
    rlimit old{};
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &old), 0);
    const int lowestFree = ::dup(0);
    QVERIFY(lowestFree >= 0);
    ::close(lowestFree);
    struct Restore {
        rlimit limit;
        ~Restore() { setrlimit(RLIMIT_NOFILE, &limit); }
    } restore{old};
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(lowestFree) + 1;
    QCOMPARE(setrlimit(RLIMIT_NOFILE, &low), 0);
    KafkaTestClient c(port());
    QVERIFY(c.connected()); // the kernel completed the handshake; the server cannot accept it
    // Meanwhile the listener must not spin on a pending connection it cannot take.
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    QThread::msleep(600);
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const auto cpuUs = [](const rusage &r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec
               + r.ru_stime.tv_usec;
    };
    QVERIFY(setrlimit(RLIMIT_NOFILE, &old) == 0);
    const long spent = cpuUs(after) - cpuUs(before);
    QVERIFY2(spent < 100000, qPrintable(QString("%1 us of CPU in 600 ms").arg(spent)));
    // With descriptors back, the waiting connection is accepted and served.
    QVERIFY(c.request(18, 0, ""));
}

void TestKafkaServer::stopWithParkedFetch()
{
    KafkaTestClient c(port(), 15000);
    const int32_t id = c.send(1, 11, fetchBody("orders", 1, 0, 20000));
    QVERIFY(id > 0);
    QThread::msleep(200);
    QElapsedTimer t;
    t.start();
    m_server->stop();
    QVERIFY2(t.elapsed() < 5000, "stop() waited for a parked fetch");
    QVERIFY(!c.receive(id)); // closed, not answered
}

QTEST_GUILESS_MAIN(TestKafkaServer)
#include "tst_kafka_server.moc"
