// The wire protocol's connections as an external client sees them: the clients list (peers,
// records and rates per connection in both encodings, each request followed exactly, the JSON
// form round-tripping), 200 concurrent clients, a client pipelining past the in-flight cap while
// it reads its replies, and the live stream delivering records to subscribers. Requests, replies
// and errors: tst_protocol.cpp.
#include "protocol_fixture.h"

#include "binary_codec.h"
#include "connection.h"
#include "json_codec.h"

#include <QElapsedTimer>
#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using nlohmann::json;

class TestProtocolConnections : public QObject, eddy::test::ProtocolFixture
{
    Q_OBJECT

private slots:
    void init() { startServing(); }
    void cleanup() { stopServing(); }

    void clientsListsConnectedPeers();
    void clientsCountRecordsOfBothEncodings();
    void clientsFollowEachRequestOfAConnection();
    void clientInfoJsonRoundTrip();
    void twoHundredConcurrentClients();
    void readingClientMayPipelinePastTheCap();
    void liveStreamDeliversRecordsToSubscribers();
};

void TestProtocolConnections::clientsListsConnectedPeers()
{
    createTopic("c");
    ReqClient producer(m_tcpUrl);
    QCOMPARE(producer
                 .call({{"op", "produce"}, {"topic", "c"}, {"value", "v"}, {"client_id", "svc-a"}})
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
void TestProtocolConnections::clientsCountRecordsOfBothEncodings()
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
    QCOMPARE(peer.call({{"op", "fetch"},
                        {"topic", "b"},
                        {"offset", 0},
                        {"max_records", 3}})["records"]
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
void TestProtocolConnections::clientsFollowEachRequestOfAConnection()
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

void TestProtocolConnections::clientInfoJsonRoundTrip()
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

void TestProtocolConnections::twoHundredConcurrentClients()
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
void TestProtocolConnections::readingClientMayPipelinePastTheCap()
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

void TestProtocolConnections::liveStreamDeliversRecordsToSubscribers()
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

QTEST_GUILESS_MAIN(TestProtocolConnections)
#include "tst_protocol_connections.moc"
