// Network faults as a real external client sees them: a BrokerServer with its normal request
// endpoint and the faulty one (BrokerServerOptions::faultyListen), both on loopback tcp://, driven
// by plain NNG REQ sockets. Latency delays only the faulty endpoint; drop leaves requests
// unanswered (the client times out) while the normal endpoint keeps working; disconnect closes
// the client's connection and, once cleared, the client's automatic redial gets through; a broker
// stall delays every endpoint without holding NNG threads. Each fault, cleared, restores service.
#include "broker.h"
#include "broker_server.h"
#include "req_client.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <thread>
#include <vector>

using nlohmann::json;

class TestFaultProxy : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void faultyEndpointServesTheSameBroker();
    void latencyDelaysOnlyTheFaultyEndpoint();
    void dropLeavesRequestsUnanswered();
    void disconnectClosesThePipeUntilCleared();
    void stallDelaysEveryEndpoint();
    void stalledRequestsHoldNoNngThread();
    void faultOpStartsAndEndsFaults();
    void networkFaultOpNeedsAFaultyEndpoint();

private:
    static bool ok(const json &reply) { return reply.is_object() && reply.value("ok", false); }
    // The pipe id of the connection that said hello with clientId, or 0 when none is open.
    uint32_t pipeOf(const std::string &clientId) const;

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<eddy::Broker> m_broker;
    std::unique_ptr<eddy::net::BrokerServer> m_server;
    std::string m_url;
    std::string m_faultyUrl;
};

void TestFaultProxy::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    eddy::BrokerConfig config;
    config.dataDir = m_dir->path().toStdString();
    auto broker = eddy::Broker::open(config);
    QVERIFY(broker);
    m_broker = std::move(*broker);
    eddy::net::BrokerServerOptions options;
    options.requests.listen = {"tcp://127.0.0.1:0"};
    options.requests.workers = 32;
    options.faultyListen = {"tcp://127.0.0.1:0"};
    options.publish = {};
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
    QCOMPARE(m_server->requestUrls().size(), std::size_t(1));
    QCOMPARE(m_server->faultyUrls().size(), std::size_t(1));
    m_url = m_server->requestUrls()[0];
    m_faultyUrl = m_server->faultyUrls()[0];
    QVERIFY(m_faultyUrl.rfind("tcp://127.0.0.1:", 0) == 0 && m_faultyUrl != "tcp://127.0.0.1:0");
    QVERIFY(m_faultyUrl != m_url);
}

void TestFaultProxy::cleanup()
{
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_broker.reset();
    m_dir.reset();
}

uint32_t TestFaultProxy::pipeOf(const std::string &clientId) const
{
    for (const auto &c : m_server->clients())
        if (c.clientId == clientId)
            return c.id;
    return 0;
}

void TestFaultProxy::faultyEndpointServesTheSameBroker()
{
    ReqClient normal(m_url);
    ReqClient faulty(m_faultyUrl);
    QVERIFY(normal.connected() && faulty.connected());
    QVERIFY(ok(normal.call({{"op", "create_topic"}, {"topic", "shared"}})));
    const auto p = faulty.call({{"op", "produce"}, {"topic", "shared"}, {"value", "via-faulty"}});
    QVERIFY2(ok(p), p.dump().c_str());
    const auto f = normal.call({{"op", "fetch"}, {"topic", "shared"}, {"offset", 0}});
    QVERIFY(ok(f));
    QCOMPARE(f["records"].size(), 1u);
    QCOMPARE(f["records"][0]["value"].get<std::string>(), std::string("via-faulty"));
    // No fault set: the default is "none".
    const auto fault = m_server->networkFault();
    QCOMPARE(fault.latencyMs, 0);
    QCOMPARE(fault.dropProbability, 0.0);
    QVERIFY(!fault.disconnected);
}

void TestFaultProxy::latencyDelaysOnlyTheFaultyEndpoint()
{
    constexpr int kLatencyMs = 800;
    ReqClient normal(m_url);
    ReqClient faulty(m_faultyUrl);
    QVERIFY(ok(faulty.call({{"op", "hello"}}))); // connected before the fault
    m_server->setNetworkFault({kLatencyMs, 50, 0.0, false});
    QCOMPARE(m_server->networkFault().latencyMs, kLatencyMs);

    std::atomic<bool> faultyDone{false};
    qint64 faultyElapsed = 0;
    json faultyReply;
    std::thread slow([&] {
        QElapsedTimer timer;
        timer.start();
        faultyReply = faulty.call({{"op", "hello"}});
        faultyElapsed = timer.elapsed();
        faultyDone = true;
    });
    // While the faulty request waits out its latency, the normal endpoint answers.
    const auto quick = normal.call({{"op", "hello"}});
    const bool normalFirst = !faultyDone.load();
    slow.join();
    QVERIFY(ok(quick));
    QVERIFY2(ok(faultyReply), faultyReply.dump().c_str());
    QVERIFY2(faultyElapsed >= kLatencyMs - 1,
             qPrintable(QString("faulty endpoint answered after %1 ms").arg(faultyElapsed)));
    QVERIFY2(normalFirst, "the normal endpoint waited for the faulty one's latency");

    // Cleared: the faulty endpoint answers again (no speed asserted).
    m_server->setNetworkFault({});
    QVERIFY(ok(faulty.call({{"op", "hello"}})));
}

void TestFaultProxy::dropLeavesRequestsUnanswered()
{
    ReqClient normal(m_url);
    ReqClient dropped(m_faultyUrl, 400);
    QVERIFY(ok(dropped.call({{"op", "hello"}})));
    m_server->setNetworkFault({0, 0, 1.0, false});
    for (int i = 0; i < 3; ++i) {
        QVERIFY(dropped.call({{"op", "hello"}}).is_null()); // timed out
        QVERIFY(ok(normal.call({{"op", "hello"}})));
    }
    // Nothing was leaked: the faulty endpoint's work items went back to receiving, so it still
    // serves once cleared (from the same socket and from a new one).
    m_server->setNetworkFault({});
    ReqClient fresh(m_faultyUrl);
    QVERIFY(ok(fresh.call({{"op", "hello"}})));
    QVERIFY(ok(dropped.call({{"op", "hello"}})));
}

void TestFaultProxy::disconnectClosesThePipeUntilCleared()
{
    ReqClient idle(m_faultyUrl);
    ReqClient client(m_faultyUrl, 1500);
    QVERIFY(ok(idle.call({{"op", "hello"}, {"client_id", "idle"}})));
    QVERIFY(ok(client.call({{"op", "hello"}, {"client_id", "victim"}})));
    const uint32_t idlePipe = pipeOf("idle");
    const uint32_t victimPipe = pipeOf("victim");
    QVERIFY(idlePipe != 0 && victimPipe != 0);

    // Setting it closes the open connections, idle ones included.
    m_server->setNetworkFault({0, 0, 0.0, true});
    QTRY_VERIFY_WITH_TIMEOUT(pipeOf("idle") == 0 && pipeOf("victim") == 0, 5000);
    // Requests meanwhile are never answered: each connection the client redials is closed.
    QVERIFY(client.call({{"op", "hello"}, {"client_id", "victim"}}).is_null());
    ReqClient normal(m_url);
    QVERIFY(ok(normal.call({{"op", "hello"}})));

    // Cleared: the client's automatic redial gets through.
    m_server->setNetworkFault({});
    json reply;
    for (int attempt = 0; attempt < 5 && !ok(reply); ++attempt)
        reply = client.call({{"op", "hello"}, {"client_id", "victim"}});
    QVERIFY2(ok(reply), reply.dump().c_str());
    const uint32_t newPipe = pipeOf("victim");
    QVERIFY(newPipe != 0 && newPipe != victimPipe);
}

void TestFaultProxy::stallDelaysEveryEndpoint()
{
    constexpr int kStallMs = 400;
    ReqClient normal(m_url);
    ReqClient faulty(m_faultyUrl);
    QVERIFY(ok(normal.call({{"op", "create_topic"}, {"topic", "stalled"}})));
    m_server->setStall(kStallMs, 20);
    for (ReqClient *c : {&normal, &faulty}) {
        QElapsedTimer timer;
        timer.start();
        const auto r = c->call({{"op", "produce"}, {"topic", "stalled"}, {"value", "v"}});
        const qint64 elapsed = timer.elapsed();
        QVERIFY2(ok(r), r.dump().c_str());
        QVERIFY2(elapsed >= kStallMs - 1, qPrintable(QString("answered after %1 ms").arg(elapsed)));
    }
    m_server->setStall(0, 0);
    const auto f = normal.call({{"op", "fetch"}, {"topic", "stalled"}, {"offset", 0}});
    QVERIFY(ok(f));
    QCOMPARE(f["records"].size(), 2u);
}

void TestFaultProxy::stalledRequestsHoldNoNngThread()
{
    // Many clients stalled at once all wait out the stall together: were each stall a sleep on
    // an NNG thread, they would queue behind NNG's few threads and take several stalls in turn.
    constexpr int kClients = 24;
    constexpr int kStallMs = 400;
    m_server->setStall(kStallMs, 0);
    std::vector<std::unique_ptr<ReqClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<ReqClient>(m_url, 20000));
        QVERIFY(clients.back()->connected());
    }
    std::atomic<int> answered{0};
    QElapsedTimer timer;
    timer.start();
    std::vector<std::thread> threads;
    for (auto &c : clients)
        threads.emplace_back([&answered, client = c.get()] {
            if (ok(client->call({{"op", "hello"}})))
                ++answered;
        });
    for (auto &t : threads)
        t.join();
    const qint64 elapsed = timer.elapsed();
    QCOMPARE(answered.load(), kClients);
    QVERIFY(elapsed >= kStallMs - 1);
    // The bound is what serving them one stall at a time would take: far from any plausible
    // scheduling delay, and unreachable for an implementation that sleeps per request.
    QVERIFY2(elapsed < qint64(kClients) * kStallMs,
             qPrintable(QString("%1 stalled requests took %2 ms").arg(kClients).arg(elapsed)));
    m_server->setStall(0, 0);
    QVERIFY(ok(clients.front()->call({{"op", "hello"}})));
}

void TestFaultProxy::faultOpStartsAndEndsFaults()
{
    ReqClient client(m_url);
    QVERIFY(ok(client.call({{"op", "create_topic"}, {"topic", "f"}, {"partitions", 2}})));
    const json produce{{"op", "produce"}, {"topic", "f"}, {"partition", 1}, {"value", "v"}};
    QVERIFY(ok(client.call({{"op", "fault"}, {"kind", "partition-offline"}, {"target", "f/1"}})));
    QCOMPARE(ReqClient::code(client.call(produce)), std::string("PARTITION_OFFLINE"));
    QVERIFY(ok(client.call(
        {{"op", "fault"}, {"kind", "partition-offline"}, {"target", "f/1"}, {"active", false}})));
    QVERIFY(ok(client.call(produce)));

    // Latency set through the op applies to the faulty endpoint only.
    QVERIFY(ok(client.call(
        {{"op", "fault"}, {"kind", "latency"}, {"params", {{"latency_ms", 400}}}})));
    QCOMPARE(m_server->networkFault().latencyMs, 400);
    ReqClient faulty(m_faultyUrl, 5000);
    QElapsedTimer timer;
    timer.start();
    QVERIFY(ok(faulty.call({{"op", "hello"}})));
    QVERIFY(timer.elapsed() >= 400);
    QVERIFY(ok(client.call({{"op", "fault"}, {"kind", "latency"}, {"active", false}})));
    QCOMPARE(m_server->networkFault().latencyMs, 0);

    // Bad requests are refused with their codes and change nothing.
    QCOMPARE(ReqClient::code(client.call({{"op", "fault"}, {"kind", "meteor"}})),
             std::string("INVALID_REQUEST"));
    QCOMPARE(ReqClient::code(client.call({{"op", "fault"}, {"kind", "partition-offline"},
                                          {"target", "nope/0"}})),
             std::string("UNKNOWN_TOPIC"));
    QCOMPARE(ReqClient::code(client.call({{"op", "fault"}, {"kind", "drop"},
                                          {"params", {{"probability", 2}}}})),
             std::string("INVALID_REQUEST"));
    QCOMPARE(m_server->networkFault().dropProbability, 0.0);
    // Every start and end was announced.
    int announced = 0;
    for (const auto &e : m_broker->recentEvents())
        announced += e.kind == "fault_started" || e.kind == "fault_ended" ? 1 : 0;
    QCOMPARE(announced, 4);
}

void TestFaultProxy::networkFaultOpNeedsAFaultyEndpoint()
{
    eddy::net::BrokerServerOptions options;
    options.requests.listen = {"inproc://no-faulty-endpoint"};
    options.publish = {};
    m_server.reset();
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY(server);
    ReqClient client("inproc://no-faulty-endpoint");
    QCOMPARE(ReqClient::code(client.call({{"op", "fault"}, {"kind", "disconnect"}})),
             std::string("INVALID_CONFIG"));
    QVERIFY(ok(client.call({{"op", "fault"}, {"kind", "broker-stall"},
                            {"params", {{"delay_ms", 1}}}, {"active", false}})));
}

QTEST_GUILESS_MAIN(TestFaultProxy)
#include "tst_fault_proxy.moc"
