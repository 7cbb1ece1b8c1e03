// Client library against a served broker: connection errors, admin ops, a producer round trip
// with partitioning over inproc://, ipc:// and loopback tcp://, group-less reads and TLS. The
// Producer's own behaviour is in tst_client_producer.cpp.
#include "client_fixture.h"

#include "admin.h"
#include "binary_codec.h"
#include "connection.h"
#include "consumer.h"
#include "producer.h"
#include "reader.h"
#include "test_certs.h"

#include <QtTest>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace eddy;
using namespace eddy::client;
using namespace eddy::test;

namespace {

// prefix + i, spelled with append: GCC 12 warns (wrongly, -Wrestrict) on inlined operator+.
std::string numbered(const char *prefix, int i)
{
    std::string out(prefix);
    out.append(std::to_string(i));
    return out;
}

// A TCP peer on loopback that completes NNG's handshake as a REP socket and then never reads:
// requests sent to it stay half written in the socket buffers (its receive buffer is tiny).
class DeafPeer
{
public:
    DeafPeer()
    {
        m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
        const int small = 4096; // inherited by the accepted socket
        ::setsockopt(m_listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(m_listener, reinterpret_cast<sockaddr *>(&addr), len) != 0
            || ::listen(m_listener, 4) != 0
            || ::getsockname(m_listener, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
            return;
        m_port = ntohs(addr.sin_port);
        m_accepting = std::thread([this] {
            while (!m_stop.load()) {
                pollfd p{m_listener, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0)
                    continue;
                const int fd = ::accept(m_listener, nullptr, nullptr);
                if (fd < 0)
                    continue;
                // NNG's SP header of a REP0 peer (protocol 0x31); the client's is never read.
                (void)::send(fd, "\0SP\0\0\x31\0\0", 8, MSG_NOSIGNAL);
                m_accepted.push_back(fd);
            }
        });
    }
    ~DeafPeer()
    {
        m_stop.store(true);
        if (m_accepting.joinable())
            m_accepting.join();
        for (int fd : m_accepted)
            ::close(fd);
        if (m_listener >= 0)
            ::close(m_listener);
    }
    std::string url() const { return "tcp://127.0.0.1:" + std::to_string(m_port); }
    bool ok() const { return m_port != 0; }

private:
    int m_listener = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::vector<int> m_accepted; // touched by the accepting thread only until it is joined
    std::thread m_accepting;
};

} // namespace

class TestClientProduce : public QObject
{
    Q_OBJECT

private slots:
    void connectionRefused();
    void abandonedCloseFreesUnsentRequests();
    void callMapsBrokerErrors();
    void concurrentRequests();
    void reconnectsAfterServerRestart();
    void adminTopics();
    void adminGroupsAndObservability();
    void roundTrip_data();
    void roundTrip();
    void readerFromPositions();
    void tlsConnection();
};

void TestClientProduce::connectionRefused()
{
    auto c = Connection::open("tcp://127.0.0.1:1");
    QVERIFY(!c);
    QCOMPARE(c.code(), Errc::Timeout);
    QVERIFY2(QString::fromStdString(c.error().message).contains("tcp://127.0.0.1:1"),
             c.error().message.c_str());
    auto bad = Connection::open("nonsense://x");
    QVERIFY(!bad);
    QCOMPARE(bad.code(), Errc::InvalidConfig);
}

void TestClientProduce::abandonedCloseFreesUnsentRequests()
{
    // A close that outlasts its bound is left to NNG on its own thread, and the connection is
    // destroyed while NNG may still hold its requests: one half written to a peer that does not
    // read, the others queued behind it. Every request must still complete exactly once, and
    // (under ASan's leak check) every unsent message must be freed. A bound of 0 does not wait
    // for NNG at all; the close is attempted again in the unlikely case it finished at once.
    DeafPeer peer;
    QVERIFY(peer.ok());
    constexpr int kRequests = 8;
    bool abandoned = false;
    for (int attempt = 0; attempt < 5 && !abandoned; ++attempt) {
        ConnectionOptions options;
        options.url = peer.url();
        options.closeTimeoutMs = 0;
        auto c = Connection::open(options);
        EDDY_VERIFY_OK(c);
        std::atomic<int> completed{0};
        std::atomic<int> failed{0};
        const std::string large(4 << 20, 'x');
        for (int i = 0; i < kRequests; ++i)
            (*c)->requestAsync(large, 60000, [&](Result<std::string> r) {
                // SHUTTING_DOWN, or for the one on the wire the transport's error (TIMEOUT,
                // "connection shut down") when the pipe's end reaches it first.
                if (!r && (r.code() == Errc::ShuttingDown || r.code() == Errc::Timeout))
                    ++failed;
                ++completed;
            });
        // Let the first request fill the socket buffers; the others wait behind it.
        QTest::qWait(200);
        QCOMPARE(completed.load(), 0);
        abandoned = !(*c)->close();
        c->reset(); // destroys the connection, its close possibly still running in NNG
        QCOMPARE(completed.load(), kRequests);
        QCOMPARE(failed.load(), kRequests);
    }
    QVERIFY2(abandoned, "no close outlasted a bound of 0 ms in 5 attempts");
}

void TestClientProduce::callMapsBrokerErrors()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    auto c = Connection::open(served.url());
    EDDY_VERIFY_OK(c);
    auto hello = (*c)->call({{"op", "hello"}}, 5000);
    EDDY_VERIFY_OK(hello);
    QCOMPARE((*hello)["protocol"].get<int>(), 1);
    EDDY_VERIFY_ERR((*c)->call({{"op", "nope"}}, 5000), Errc::UnknownOp);
    auto missing = (*c)->call({{"op", "describe_topic"}, {"topic", "absent"}}, 5000);
    EDDY_VERIFY_ERR(missing, Errc::UnknownTopic);
    QVERIFY(!missing.error().message.empty());
    // A long-poll longer than the request timeout comes back as Timeout.
    Admin admin(*c);
    EDDY_VERIFY_OK(admin.createTopic("t", 1));
    FetchRequest f;
    f.topic = "t";
    f.waitMs = 2000;
    auto timedOut = (*c)->request(net::encodeFetchRequest(f), 100);
    EDDY_VERIFY_ERR(timedOut, Errc::Timeout);
    // After close, requests fail at once.
    (*c)->close();
    EDDY_VERIFY_ERR((*c)->call({{"op", "hello"}}, 5000), Errc::ShuttingDown);
}

void TestClientProduce::concurrentRequests()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    auto c = Connection::open(served.url());
    EDDY_VERIFY_OK(c);
    Admin admin(*c);
    EDDY_VERIFY_OK(admin.createTopic("t", 1));
    // A parked long-poll on one context must not hold up requests on others.
    FetchRequest f;
    f.topic = "t";
    f.waitMs = 1500;
    std::promise<Result<std::string>> parked;
    (*c)->requestAsync(net::encodeFetchRequest(f), 5000,
                       [&parked](Result<std::string> r) { parked.set_value(std::move(r)); });
    QElapsedTimer timer;
    timer.start();
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i)
                if ((*c)->call({{"op", "hello"}}, 5000))
                    ++ok;
        });
    for (auto &t : threads)
        t.join();
    QCOMPARE(ok.load(), 160);
    QVERIFY2(timer.elapsed() < 1400, "hello requests waited behind the long-poll");
    auto r = parked.get_future().get();
    EDDY_VERIFY_OK(r);
}

void TestClientProduce::reconnectsAfterServerRestart()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    auto admin = Admin::open(served.url(), 300);
    EDDY_VERIFY_OK(admin);
    EDDY_VERIFY_OK((*admin)->createTopic("t", 1));
    served.stopServing();
    // While the broker is away a request cannot be sent: it times out, it is not lost silently.
    EDDY_VERIFY_ERR((*admin)->listTopics(), Errc::Timeout);
    const std::string why = served.serveAgain();
    QVERIFY2(why.empty(), why.c_str());
    // NNG redials by itself; the same connection works again.
    QVERIFY(waitUntil(5000, [&] {
        auto topics = (*admin)->listTopics();
        return topics && topics->size() == 1;
    }));
}

void TestClientProduce::adminTopics()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    auto admin = Admin::open(served.url());
    EDDY_VERIFY_OK(admin);
    auto &a = **admin;
    auto created = a.createTopic("orders", 3, RetentionPolicy{100, 0, 0});
    EDDY_VERIFY_OK(created);
    QCOMPARE(created->partitions, 3);
    QCOMPARE(created->retention.maxRecords, int64_t(100));
    EDDY_VERIFY_ERR(a.createTopic("orders", 3), Errc::TopicAlreadyExists);
    EDDY_VERIFY_ERR(a.createTopic("bad name!", 1), Errc::InvalidTopicName);
    auto list = a.listTopics();
    EDDY_VERIFY_OK(list);
    QCOMPARE(list->size(), std::size_t(1));
    QCOMPARE(list->front().name, std::string("orders"));
    auto altered = a.alterPartitions("orders", 5);
    EDDY_VERIFY_OK(altered);
    QCOMPARE(altered->partitions, 5);
    EDDY_VERIFY_ERR(a.alterPartitions("orders", 2), Errc::InvalidPartitions);
    auto described = a.describeTopic("orders");
    EDDY_VERIFY_OK(described);
    QCOMPARE(described->partitionInfo.size(), std::size_t(5));
    EDDY_VERIFY_OK(a.deleteTopic("orders"));
    EDDY_VERIFY_ERR(a.describeTopic("orders"), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(a.deleteTopic("orders"), Errc::UnknownTopic);
}

void TestClientProduce::adminGroupsAndObservability()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    auto admin = Admin::open(served.url());
    EDDY_VERIFY_OK(admin);
    auto &a = **admin;
    EDDY_VERIFY_OK(a.createTopic("t", 2));
    auto hello = a.hello();
    EDDY_VERIFY_OK(hello);
    QVERIFY(hello->contains("ops"));
    auto metrics = a.metrics();
    EDDY_VERIFY_OK(metrics);
    QVERIFY(metrics->is_object());
    auto clients = a.clients();
    EDDY_VERIFY_OK(clients);
    QVERIFY(clients->is_array());
    QVERIFY(!clients->empty());

    ConsumerOptions co;
    co.url = served.url();
    co.group = "g";
    co.topics = {"t"};
    co.clientId = "tester";
    auto consumer = Consumer::open(co);
    EDDY_VERIFY_OK(consumer);
    auto groups = a.listGroups();
    EDDY_VERIFY_OK(groups);
    QCOMPARE(groups->size(), std::size_t(1));
    QCOMPARE(groups->front().group, std::string("g"));
    QCOMPARE(groups->front().members, 1);
    auto described = a.describeGroup("g");
    EDDY_VERIFY_OK(described);
    QCOMPARE(described->members.size(), std::size_t(1));
    QCOMPARE(described->members.front().clientId, std::string("tester"));
    QCOMPARE(described->members.front().assigned.size(), std::size_t(2));
    // Offsets of a group with members cannot be reset.
    EDDY_VERIFY_ERR(a.resetOffsets("g", "t", {ResetKind::Latest, 0}), Errc::GroupNotEmpty);
    EDDY_VERIFY_OK((*consumer)->close());
    auto reset = a.resetOffsets("g", "t", {ResetKind::ToOffset, 0}, {1});
    EDDY_VERIFY_OK(reset);
    // The reply lists the topic's committed offsets; partition 1 is the one just set.
    auto p1 = std::find_if(reset->begin(), reset->end(),
                           [](const GroupOffset &o) { return o.partition == 1; });
    QVERIFY(p1 != reset->end());
    QCOMPARE(p1->offset, int64_t(0));
    auto committed = a.committed("g", "t");
    EDDY_VERIFY_OK(committed);
    QVERIFY(!committed->empty());
    EDDY_VERIFY_ERR(a.describeGroup("absent"), Errc::UnknownGroup);
}

void TestClientProduce::roundTrip_data()
{
    QTest::addColumn<QString>("transport");
    QTest::newRow("tcp") << "tcp";
    QTest::newRow("inproc") << "inproc";
    QTest::newRow("ipc") << "ipc";
}

void TestClientProduce::roundTrip()
{
    QFETCH(QString, transport);
    EDDY_SERVE(served, listenUrl(transport));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "events", 4));

    ProducerOptions po;
    po.url = served.url();
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    QVERIFY((*producer)->producerId() >= 0);
    constexpr int kCount = 200;
    std::vector<std::future<Result<DeliveryReport>>> futures;
    for (int i = 0; i < kCount; ++i) {
        Record r = rec(numbered("value-", i), numbered("key-", i % 17));
        r.headers = {{"h", numbered("v", i)}};
        futures.push_back((*producer)->send("events", std::move(r)));
    }
    (*producer)->flush();
    std::map<int32_t, int64_t> lastOffset;
    for (int i = 0; i < kCount; ++i) {
        QCOMPARE(futures[i].wait_for(std::chrono::seconds(0)), std::future_status::ready);
        auto report = futures[i].get();
        EDDY_VERIFY_OK(report);
        QCOMPARE(report->topic, std::string("events"));
        QCOMPARE(report->partition, keyPartition(numbered("key-", i % 17), 4));
        // Offsets grow in send order within a partition.
        auto it = lastOffset.find(report->partition);
        QVERIFY(it == lastOffset.end() || report->offset > it->second);
        lastOffset[report->partition] = report->offset;
    }

    ConsumerOptions co;
    co.url = served.url();
    co.group = "rt";
    co.topics = {"events"};
    co.maxPollRecords = 37;
    auto consumer = Consumer::open(co);
    EDDY_VERIFY_OK(consumer);
    std::vector<ConsumerRecord> got;
    QVERIFY(waitUntil(5000, [&] {
        auto polled = (*consumer)->poll(100);
        if (polled)
            got.insert(got.end(), polled->begin(), polled->end());
        return got.size() >= kCount;
    }));
    QCOMPARE(got.size(), std::size_t(kCount));
    std::set<std::string> values;
    std::map<int32_t, int64_t> next;
    for (const auto &cr : got) {
        QVERIFY(cr.record.key.has_value());
        QCOMPARE(cr.partition, keyPartition(*cr.record.key, 4));
        QCOMPARE(cr.record.headers.size(), std::size_t(1));
        QVERIFY(next[cr.partition] == cr.record.offset); // in order, nothing skipped
        next[cr.partition] = cr.record.offset + 1;
        values.insert(cr.record.value);
    }
    QCOMPARE(values.size(), std::size_t(kCount));
    EDDY_VERIFY_OK((*consumer)->close());
    (*producer)->close();
}

void TestClientProduce::readerFromPositions()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 2));
    for (int p = 0; p < 2; ++p)
        for (int i = 0; i < 5; ++i)
            EDDY_VERIFY_OK(served.broker().produceSync(
                produceTo("t", p, {rec(std::to_string(p) + ":" + std::to_string(i))})));
    ReaderOptions ro;
    ro.url = served.url();
    ro.topic = "t";
    auto reader = Reader::open(ro);
    EDDY_VERIFY_OK(reader);
    QVERIFY(!(*reader)->caughtUp());
    std::vector<ConsumerRecord> got;
    while (!(*reader)->caughtUp()) {
        auto r = (*reader)->read(100);
        EDDY_VERIFY_OK(r);
        got.insert(got.end(), r->begin(), r->end());
    }
    QCOMPARE(got.size(), std::size_t(10));

    ro.start = *StartPosition::parse("3");
    ro.partitions = {1};
    auto fromThree = Reader::open(ro);
    EDDY_VERIFY_OK(fromThree);
    auto r = (*fromThree)->read(100);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->size(), std::size_t(2));
    QCOMPARE(r->front().record.value, std::string("1:3"));

    // From latest: nothing now, then what arrives while long-polling.
    ro.start = *StartPosition::parse("latest");
    ro.partitions = {};
    auto latest = Reader::open(ro);
    EDDY_VERIFY_OK(latest);
    QVERIFY((*latest)->caughtUp());
    std::thread late([&] {
        QThread::msleep(100);
        (void)served.broker().produceSync(produceTo("t", 0, {rec("new")}));
    });
    QElapsedTimer timer;
    timer.start();
    auto waited = (*latest)->read(3000);
    late.join();
    EDDY_VERIFY_OK(waited);
    QCOMPARE(waited->size(), std::size_t(1));
    QCOMPARE(waited->front().record.value, std::string("new"));
    QVERIFY(timer.elapsed() < 2500);

    ro.topic = "absent";
    EDDY_VERIFY_ERR(Reader::open(ro), Errc::UnknownTopic);
    QVERIFY(!StartPosition::parse("-1"));
    QVERIFY(!StartPosition::parse("x"));
}

void TestClientProduce::tlsConnection()
{
    QTemporaryDir dir;
    const auto write = [&dir](const char *name, const char *text) {
        QFile f(dir.filePath(name));
        f.open(QIODevice::WriteOnly);
        f.write(text);
        return dir.filePath(name).toStdString();
    };
    net::TlsOptions tls;
    tls.certFile = write("cert.pem", kLocalhostCert);
    tls.keyFile = write("key.pem", kLocalhostKey);
    const std::string otherCa = write("other.pem", kOtherCert);
    EDDY_SERVE(served, "tls+tcp://127.0.0.1:0", tls);
    const std::string port = served.url().substr(served.url().rfind(':'));
    QVERIFY2(served.url().rfind("tls+tcp://", 0) == 0, served.url().c_str());

    ConnectionOptions verified;
    verified.url = "tls+tcp://localhost" + port;
    verified.tlsCaFile = tls.certFile;
    auto admin = Admin::open(verified);
    EDDY_VERIFY_OK(admin);
    EDDY_VERIFY_OK((*admin)->createTopic("secure", 1));
    ProducerOptions po;
    static_cast<ConnectionOptions &>(po) = verified;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    EDDY_VERIFY_OK((*producer)->send("secure", rec("over tls")).get());

    ConnectionOptions wrongCa = verified;
    wrongCa.tlsCaFile = otherCa;
    EDDY_VERIFY_ERR(Connection::open(wrongCa), Errc::InvalidConfig);
    ConnectionOptions missingCa = verified;
    missingCa.tlsCaFile = dir.filePath("absent.pem").toStdString();
    EDDY_VERIFY_ERR(Connection::open(missingCa), Errc::InvalidConfig);
    ConnectionOptions plain;
    plain.url = "tcp://127.0.0.1" + port; // TLS listener, plain client: the handshake fails
    QVERIFY(!Connection::open(plain).ok());
}

QTEST_GUILESS_MAIN(TestClientProduce)
#include "tst_client_produce.moc"
