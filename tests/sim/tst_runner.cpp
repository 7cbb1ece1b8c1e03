// The simulation runner end to end: scenarios against an embedded broker over inproc://, with
// faults, checked by the verdict. Runs are a few seconds each; what they assert is the outcome
// (nothing acknowledged lost, partitions moved, records dead-lettered), never a speed.
#include "embedded_broker.h"
#include "sim_fixture.h"
#include "event_generator.h"
#include "nng_backend.h"
#include "runner.h"
#include "scenario.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace eddy;
using namespace eddy::sim;

class TestRunner : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void sameSeedSameEvents();
    void seedScenarioDeliversEverything();
    void crashedConsumersPartitionsMoveToSurvivor();
    void poisonEndsInDeadLetterTopic();
    void brokerRestartLosesNothingAcknowledged();
    void bundledScenariosPassShortened_data();
    void bundledScenariosPassShortened();
    void partitionOfflineAndDiskFullRecover();
    void networkFaultsOnAConsumer();
    void failedExpectationFailsTheRun();
    void liveFaultApi();
    void brokerFaultNeedsEmbeddedBroker();

private:
    Result<Report> runScenario(const std::string &json, RunnerOptions options = {})
    {
        return m_sim.run(json, std::move(options));
    }

    SimFixture m_sim;
};

void TestRunner::init()
{
    const std::string error = m_sim.start("runner-test");
    QVERIFY2(error.empty(), error.c_str());
}

void TestRunner::cleanup()
{
    m_sim.stop();
}

void TestRunner::sameSeedSameEvents()
{
    auto scenario = parseScenario(R"({"name": "g", "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 10,
          "keys": {"skew": "zipf", "cardinality": 100},
          "payload_bytes": {"kind": "uniform", "min": 0, "max": 50},
          "events": [{"type": "a", "fields": {"id": "uuid", "n": "int:1:9", "who": "name"}},
                     {"type": "b", "weight": 2,
                      "fields": {"mail": "email", "c": "choice:x|y"}}]}]})");
    QVERIFY2(scenario, scenario ? "" : scenario.error().message.c_str());
    const auto &spec = scenario->services[0];
    EventGenerator a(spec, 7), b(spec, 7), c(spec, 8);
    bool differs = false;
    for (int i = 0; i < 200; ++i) {
        const auto ea = a.next(i, 1000), eb = b.next(i, 1000), ec = c.next(i, 1000);
        QCOMPARE(ea.body, eb.body);
        QCOMPARE(ea.key, eb.key);
        QCOMPARE(ea.type, eb.type);
        differs = differs || ea.body != ec.body;
        QVERIFY(nlohmann::json::parse(ea.body).contains("type"));
    }
    QVERIFY(differs);
}

void TestRunner::seedScenarioDeliversEverything()
{
    QFile f(QString(EDDY_SCENARIOS_DIR) + "/seed-user-created.json");
    QVERIFY(f.open(QIODevice::ReadOnly));
    auto scenario = parseScenario(f.readAll().toStdString());
    QVERIFY(scenario);
    scenario->services[0].rate.perSecond = 50;
    RunnerOptions o;
    o.durationS = 2;
    SimulationRunner runner(*scenario, *m_sim.backend, m_sim.broker.get(), o);
    auto report = runner.run();
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY(report->verdict.acknowledged > 40);
    QCOMPARE(report->verdict.lost, 0);
    QCOMPARE(report->verdict.reordered, 0);
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    // Every record landed on partition 0 of `events`, and the group consumed all of them.
    auto topic = m_sim.broker->broker().describeTopic("events");
    QVERIFY(topic);
    QCOMPARE(topic->partitionInfo[0].highWatermark, report->verdict.acknowledged);
    QCOMPARE(report->groups.at(0).consumed, report->verdict.acknowledged);
    // The group caught up once production stopped, and the report says when.
    QVERIFY(report->groups.at(0).drainS.has_value());
    QCOMPARE(report->groups.at(0).finalLag, 0);
}

void TestRunner::crashedConsumersPartitionsMoveToSurvivor()
{
    auto report = runScenario(R"({"name": "crash", "duration_s": 6, "seed": 3,
        "topics": [{"name": "orders", "partitions": 4}],
        "services": [
          {"name": "shop", "kind": "producer", "outputs": ["orders"], "acks": "durable",
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "billing", "kind": "consumer", "group": "billing", "inputs": ["orders"],
           "instances": 2, "session_timeout_ms": 600, "processing_ms": 1}],
        "faults": [{"at_s": 2, "kind": "crash", "target": "billing#0"}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    // The survivor took over the crashed member's partitions: everything acknowledged was
    // consumed (redeliveries of uncommitted records are allowed and counted).
    QCOMPARE(report->verdict.lost, 0);
    QCOMPARE(report->verdict.reordered, 0);
    QVERIFY(report->verdict.acknowledged > 400);
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    auto group = m_sim.broker->broker().describeGroup("billing");
    QVERIFY(group);
    QCOMPARE(report->faults.size(), std::size_t(1));
    QCOMPARE(report->faults[0].kind, std::string("crash"));
}

void TestRunner::poisonEndsInDeadLetterTopic()
{
    auto report = runScenario(R"({"name": "poison", "duration_s": 4,
        "topics": [{"name": "in", "partitions": 2}, {"name": "in.dlq"}],
        "services": [
          {"name": "src", "kind": "producer", "outputs": ["in"], "rate": 100},
          {"name": "worker", "kind": "consumer", "group": "w", "inputs": ["in"],
           "processing_ms": 0, "retry": {"max_attempts": 2, "backoff_ms": 1},
           "dead_letter": "in.dlq"}],
        "faults": [{"at_s": 1, "duration_s": 1, "kind": "poison", "target": "src"}],
        "expect": ["dead_lettered > 0", "lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QVERIFY(report->verdict.deadLettered >= 50);
    auto dlq = m_sim.broker->broker().describeTopic("in.dlq");
    QVERIFY(dlq);
    QCOMPARE(dlq->partitionInfo[0].highWatermark, report->verdict.deadLettered);
}

void TestRunner::brokerRestartLosesNothingAcknowledged()
{
    QFile f(QString(EDDY_SCENARIOS_DIR) + "/broker-restart.json");
    QVERIFY(f.open(QIODevice::ReadOnly));
    auto scenario = parseScenario(f.readAll().toStdString());
    QVERIFY(scenario);
    // Shortened: the restart moved to 2 s into a 5 s run.
    for (auto &fault : scenario->faults)
        fault.atSeconds = 2;
    RunnerOptions o;
    o.durationS = 5;
    SimulationRunner runner(*scenario, *m_sim.backend, m_sim.broker.get(), o);
    auto report = runner.run();
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QCOMPARE(report->verdict.lost, 0);
    QVERIFY(report->verdict.acknowledged > 0);
    QVERIFY2(report->verdict.ok, reportSummary(*report).c_str());
}

void TestRunner::bundledScenariosPassShortened_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("order-pipeline") << "order-pipeline.json";
    QTest::newRow("fanout-notifications") << "fanout-notifications.json";
    QTest::newRow("broker-restart") << "broker-restart.json";
}

void TestRunner::bundledScenariosPassShortened()
{
    QFETCH(QString, file);
    QFile f(QString(EDDY_SCENARIOS_DIR) + "/" + file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    auto scenario = parseScenario(f.readAll().toStdString());
    QVERIFY(scenario);
    // The same story in 12 s: every fault keeps its place and length relative to the scenario.
    // Then 6 s more of steady traffic, so that "recovered" (a full healthy second after the last
    // fault) has room to show when the machine is loaded: under ASan, beside three other tests
    // on two cores, a crash at 5 s and its restart at 7 s were once not recovered from by 12 s,
    // and a poison record at 2 s was once first seen at 13.8 s and not recovered from by 15 s.
    const double scale = 12.0 / scenario->durationSeconds;
    for (auto &fault : scenario->faults) {
        fault.atSeconds *= scale;
        fault.durationSeconds *= scale;
    }
    RunnerOptions o;
    o.durationS = 18;
    SimulationRunner runner(*scenario, *m_sim.backend, m_sim.broker.get(), o);
    auto report = runner.run();
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY(report->verdict.acknowledged > 0);
    QVERIFY2(report->verdict.ok, reportSummary(*report).c_str());
    for (const auto &e : report->expectations) {
#ifdef EDDY_SANITIZER_BUILD
        // Under ASan the services run several times slower (a poison record at 2 s was once
        // first seen at 9.3 s and not recovered from by 18 s, the consumers lagging by
        // hundreds): recovery time measures the sanitizer there. It is asserted in the normal
        // build; everything else (nothing lost, dead letters, lag seen) is asserted in both.
        if (e.text.find("recovery_s") != std::string::npos) {
            if (!e.ok)
                qInfo("sanitizer build, not asserted: %s", e.text.c_str());
            continue;
        }
#endif
        QVERIFY2(e.ok, (e.text + "\n" + reportSummary(*report)).c_str());
    }
    QCOMPARE(report->expectations.size(), scenario->expectations.size());
}

void TestRunner::partitionOfflineAndDiskFullRecover()
{
    auto report = runScenario(R"({"name": "broker-faults", "duration_s": 5,
        "topics": [{"name": "t", "partitions": 2}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"], "acks": "durable", "rate": 100},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0}],
        "faults": [{"at_s": 1, "duration_s": 1, "kind": "partition-offline", "target": "t/0"},
                   {"at_s": 2.5, "duration_s": 1, "kind": "disk-full", "target": "broker"}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    // While the disk was full nothing was acknowledged, yet production went on before and after.
    QVERIFY(report->verdict.acknowledged < report->verdict.produced);
    QVERIFY(report->verdict.acknowledged > 200);
    // Both faults were announced on the broker's event log.
    int started = 0;
    for (const auto &e : m_sim.broker->broker().recentEvents())
        started += e.kind == "fault_started" ? 1 : 0;
    QVERIFY(started >= 2);
}

void TestRunner::networkFaultsOnAConsumer()
{
    // The disconnect is long (2 s at 200 rec/s: ~400 records of lag) so that its effect stands
    // far above the detector's noise allowance even on a loaded machine.
    auto report = runScenario(R"({"name": "net", "duration_s": 6,
        "topics": [{"name": "t"}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"], "rate": 200},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0,
           "session_timeout_ms": 8000}],
        "faults": [{"at_s": 1, "duration_s": 2, "kind": "disconnect", "target": "c"},
                   {"at_s": 3.5, "duration_s": 1, "kind": "latency", "target": "c",
                    "params": {"latency_ms": 30}},
                   {"at_s": 4.5, "duration_s": 0.5, "kind": "pause", "target": "c#0"}]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QCOMPARE(report->verdict.lost, 0);
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    // The disconnect stopped consumption long enough to be seen as lag.
    QCOMPARE(report->faults.size(), std::size_t(3));
    QVERIFY(report->faults[0].detectS.has_value());
    QVERIFY(report->maxLag > 20);
}

void TestRunner::failedExpectationFailsTheRun()
{
    auto report = runScenario(R"({"name": "strict", "duration_s": 1.5,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 50},
                     {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"]}],
        "expect": ["consumed > 1000000", "lost == 0"]})");
    QVERIFY(report);
    QCOMPARE(report->expectations.size(), std::size_t(2));
    QCOMPARE(report->expectations[0].ok, false);
    QCOMPARE(report->expectations[1].ok, true);
    QVERIFY(!report->passed());
    const auto j = reportToJson(*report);
    QCOMPARE(j["passed"].get<bool>(), false);
    QVERIFY(j["timeline"].size() >= 2);
}

void TestRunner::liveFaultApi()
{
    auto scenario = parseScenario(R"({"name": "live", "duration_s": 3,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 50},
                     {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"]}]})");
    QVERIFY(scenario);
    SimulationRunner runner(*scenario, *m_sim.backend, m_sim.broker.get());
    Result<Report> report = makeError(Errc::Internal, "not run");
    std::thread t([&] { report = runner.run(); });
    QTest::qWait(1000);
    FaultSpec slow;
    slow.kind = "slow";
    slow.target = "c";
    slow.params["factor"] = 5;
    auto id = runner.startFault(slow);
    QVERIFY(id);
    QCOMPARE(runner.activeFaults().size(), std::size_t(1));
    QVERIFY(runner.endFault(*id));
    QVERIFY(!runner.endFault(*id));
    QCOMPARE(runner.activeFaults().size(), std::size_t(0));
    FaultSpec bogus;
    bogus.kind = "crash";
    bogus.target = "nobody";
    QVERIFY(!runner.startFault(bogus));
    t.join();
    QVERIFY(report);
    QCOMPARE(report->faults.size(), std::size_t(1));
    QCOMPARE(report->faults[0].live, true);
}

void TestRunner::brokerFaultNeedsEmbeddedBroker()
{
    auto scenario = parseScenario(R"({"name": "remote", "duration_s": 1,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 10}],
        "faults": [{"at_s": 0.5, "kind": "broker-restart", "target": "broker"}]})");
    QVERIFY2(scenario, scenario ? "" : scenario.error().message.c_str());
    SimulationRunner runner(*scenario, *m_sim.backend, nullptr);
    auto report = runner.run();
    QVERIFY(!report);
    QCOMPARE(report.code(), Errc::InvalidConfig);
}

QTEST_GUILESS_MAIN(TestRunner)
#include "tst_runner.moc"
