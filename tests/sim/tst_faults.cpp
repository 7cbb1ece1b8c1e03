// The fault kinds tst_runner.cpp leaves out, one scenario each against an embedded broker over
// inproc://: an instance restart, the timing of a crash's takeover, a slow consumer, dropped
// producer requests, a broker stall and a slow disk, plus the seed's promise that the same seed
// writes the same records. Each test shows the fault's effect and the recovery after it, in at
// most 6.5 s of simulated time; nothing asserts a speed except the generous crash takeover bound.
// Recovery is read off the 500 ms timeline (rates over a second, healthy for a full second), so
// every window fault ends at least 2.5 s before production does.
#include "embedded_broker.h"
#include "sim_fixture.h"
#include "nng_backend.h"
#include "runner.h"
#include "scenario.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <thread>

using namespace eddy;
using namespace eddy::sim;

namespace {

// The timeline's running total `column` per second between samples `from` and `to`.
template<typename Column>
double ratePerSecond(const std::vector<TimelinePoint> &t, std::size_t from, std::size_t to,
                     Column column)
{
    const double dt = t[to].elapsedS - t[from].elapsedS;
    return dt > 0 ? static_cast<double>(column(t[to]) - column(t[from])) / dt : 0;
}

// Index of the first sample at or after `s` (t.size() when none).
std::size_t firstAtOrAfter(const std::vector<TimelinePoint> &t, double s)
{
    std::size_t i = 0;
    while (i < t.size() && t[i].elapsedS < s)
        ++i;
    return i;
}

// Index of the last sample at or before `s` (0 when none).
std::size_t lastAtOrBefore(const std::vector<TimelinePoint> &t, double s)
{
    std::size_t found = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (t[i].elapsedS <= s)
            found = i;
    return found;
}

// The summary and the timeline, for failure messages.
std::string explain(const Report &report)
{
    std::string out = reportSummary(report) + "timeline (s produced acknowledged consumed lag):\n";
    for (const auto &p : report.timeline)
        out += QString("  %1 %2 %3 %4 %5\n").arg(p.elapsedS, 0, 'f', 2).arg(p.produced)
                   .arg(p.acknowledged).arg(p.consumed).arg(p.totalLag).toStdString();
    for (const auto &f : report.faults)
        out += QString("fault %1 %2..%3\n").arg(QString::fromStdString(f.kind))
                   .arg(f.startS, 0, 'f', 2).arg(f.endS, 0, 'f', 2).toStdString();
    return out;
}

// Keys and bodies of the first `count` records of partition 0 of `topic`.
std::vector<std::pair<std::string, std::string>> firstRecords(Broker &broker,
                                                              const std::string &topic,
                                                              std::size_t count)
{
    FetchRequest request;
    request.topic = topic;
    request.maxRecords = count;
    std::vector<std::pair<std::string, std::string>> out;
    auto fetched = broker.fetchSync(request);
    if (!fetched)
        return out;
    for (const auto &r : fetched->records)
        out.emplace_back(r.key.value_or("<none>"), r.value);
    return out;
}

} // namespace

class TestFaults : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void restartedConsumerRejoins();
    void crashTakeoverWithinSessionTimeout();
    void slowConsumerBuildsLagAndRecovers();
    void droppedProduceRequestsAreNotAcknowledged();
    void brokerStallIsDetectedAndRecovered();
    void slowDiskSlowsDurableAcks();
    void sameSeedSameRecords();

private:
    Result<Report> runScenario(const std::string &json, RunnerOptions options = {})
    {
        return m_sim.run(json, std::move(options));
    }

    SimFixture m_sim;
};

void TestFaults::init()
{
    const std::string error = m_sim.start("faults-test");
    QVERIFY2(error.empty(), error.c_str());
}

void TestFaults::cleanup()
{
    m_sim.stop();
}

void TestFaults::restartedConsumerRejoins()
{
    // A single consumer: whatever the group consumes after the restart, the restarted instance
    // consumed as a new member.
    auto report = runScenario(R"({"name": "restart", "duration_s": 5, "seed": 5,
        "topics": [{"name": "t", "partitions": 2}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"],
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0,
           "session_timeout_ms": 600}],
        "faults": [{"at_s": 1.5, "kind": "restart", "target": "c#0"}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->verdict.ok, reportSummary(*report).c_str());
    QCOMPARE(report->verdict.lost, 0);
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QCOMPARE(report->faults.size(), std::size_t(1));
    QCOMPARE(report->faults[0].kind, std::string("restart"));
    // Consumption went on after the restart: between the first sample a second after it and
    // the end of production, the group consumed at least a second's worth of traffic.
    const auto &t = report->timeline;
    const auto after = firstAtOrAfter(t, report->faults[0].startS + 1.0);
    const auto end = lastAtOrBefore(t, report->durationS + 0.01);
    QVERIFY2(after < end, qPrintable(QString("samples %1..%2 of %3").arg(after).arg(end)
                                         .arg(t.size())));
    QVERIFY2(t[end].consumed - t[after].consumed >= 50,
             qPrintable(QString("consumed %1 -> %2").arg(t[after].consumed).arg(t[end].consumed)));
    // And the restarted member caught up with everything acknowledged.
    QCOMPARE(report->groups.at(0).finalLag, 0);
    QVERIFY(report->groups.at(0).consumed >= report->verdict.acknowledged);
}

void TestFaults::crashTakeoverWithinSessionTimeout()
{
    constexpr double kCrashAtS = 2.0; // the scenario's at_s below
    auto scenario = parseScenario(R"({"name": "crash-timing", "duration_s": 5, "seed": 9,
        "topics": [{"name": "orders", "partitions": 4}],
        "services": [
          {"name": "shop", "kind": "producer", "outputs": ["orders"], "acks": "durable",
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "billing", "kind": "consumer", "group": "billing", "inputs": ["orders"],
           "instances": 2, "session_timeout_ms": 600, "processing_ms": 1}],
        "faults": [{"at_s": 2, "kind": "crash", "target": "billing#0"}],
        "expect": ["lost == 0"]})");
    QVERIFY2(scenario, scenario ? "" : scenario.error().message.c_str());
    SimulationRunner runner(*scenario, *m_sim.backend, m_sim.broker.get());
    Result<Report> report = makeError(Errc::Internal, "not run");
    std::thread thread([&] { report = runner.run(); });
    // Joins the run's thread whatever the test's outcome, so a failed check cannot leave it
    // running against a broker that cleanup() destroys.
    struct Joiner {
        SimulationRunner &runner;
        std::thread &thread;
        ~Joiner()
        {
            if (thread.joinable()) {
                runner.stop();
                thread.join();
            }
        }
    } joiner{runner, thread};

    const auto members = [&]() -> std::vector<MemberDescription> {
        auto g = m_sim.broker->broker().describeGroup("billing");
        return g ? g->members : std::vector<MemberDescription>{};
    };
    // Before the crash: two members sharing the four partitions.
    QTRY_VERIFY_WITH_TIMEOUT(members().size() == 2 && members()[0].assigned.size() == 2
                                 && members()[1].assigned.size() == 2,
                             1900);
    QVERIFY2(runner.elapsedS() < kCrashAtS, "the crash came before the group settled");
    // The crash, as soon as the run's clock passes its time (instant faults are never listed
    // as active: they happen and are over).
    QTRY_VERIFY_WITH_TIMEOUT(runner.elapsedS() >= kCrashAtS, 3000);
    QElapsedTimer sinceCrash;
    sinceCrash.start();
    // Session timeout + one heartbeat interval + slack: the survivor owns all four partitions.
    const int boundMs = 600 + 200 + 1500;
    bool tookOver = false;
    std::string last;
    while (sinceCrash.elapsed() < boundMs) {
        const auto now = members();
        if (now.size() == 1 && now[0].assigned.size() == 4 && now[0].pending.empty()) {
            tookOver = now[0].clientId == "billing#1";
            last = "member " + now[0].clientId;
            break;
        }
        last = std::to_string(now.size()) + " members";
        QTest::qWait(50);
    }
    const qint64 takeoverMs = sinceCrash.elapsed();
    QVERIFY2(tookOver, ("no takeover by billing#1 within the bound; last seen: " + last).c_str());
    qInfo("takeover %lld ms after the crash", static_cast<long long>(takeoverMs));
    // The crashed member's partitions are not handed over before its session could expire.
    QVERIFY2(takeoverMs >= 250, qPrintable(QString("takeover after %1 ms").arg(takeoverMs)));

    thread.join();
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QCOMPARE(report->verdict.lost, 0);
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
}

void TestFaults::slowConsumerBuildsLagAndRecovers()
{
    // 2 ms per record × 20 = 40 ms: 25 records/s against 100 produced.
    auto report = runScenario(R"({"name": "slow", "duration_s": 6, "seed": 2,
        "topics": [{"name": "t", "partitions": 2}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"],
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 2}],
        "faults": [{"at_s": 2, "duration_s": 1.5, "kind": "slow", "target": "c",
                    "params": {"factor": 20}}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QCOMPARE(report->faults.size(), std::size_t(1));
    const auto &f = report->faults[0];
    QCOMPARE(f.kind, std::string("slow"));
    QVERIFY2(f.detectS.has_value(), explain(*report).c_str());
    QVERIFY(report->maxLag > 50);
    QVERIFY2(f.recoveryS.has_value(), explain(*report).c_str());
    // The lag built up during the window was gone by the end.
    QCOMPARE(report->groups.at(0).finalLag, 0);
}

void TestFaults::droppedProduceRequestsAreNotAcknowledged()
{
    auto report = runScenario(R"({"name": "drop", "duration_s": 6, "seed": 4,
        "topics": [{"name": "t"}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"],
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0}],
        "faults": [{"at_s": 1.5, "duration_s": 1.5, "kind": "drop", "target": "p",
                    "params": {"probability": 0.5}}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QCOMPARE(report->verdict.lost, 0);
    // Lost requests were never acknowledged...
    QVERIFY2(report->verdict.acknowledged < report->verdict.produced,
             reportSummary(*report).c_str());
    // ...and once the window closed every request got through again: the gap between produced
    // and acknowledged stopped growing (one record may be between the two counters).
    const auto &t = report->timeline;
    const auto after = firstAtOrAfter(t, report->faults.at(0).endS + 0.2);
    const auto end = lastAtOrBefore(t, report->durationS + 0.01);
    QVERIFY(after < end);
    const auto gap = [](const TimelinePoint &p) { return p.produced - p.acknowledged; };
    QVERIFY2(gap(t[end]) <= gap(t[after]) + 1,
             qPrintable(QString("unacknowledged %1 -> %2").arg(gap(t[after])).arg(gap(t[end]))));
    QVERIFY(t[end].acknowledged - t[after].acknowledged >= 50);
    QVERIFY2(report->faults[0].recoveryS.has_value(), explain(*report).c_str());
}

void TestFaults::brokerStallIsDetectedAndRecovered()
{
    auto report = runScenario(R"({"name": "stall", "duration_s": 6.5, "seed": 6,
        "topics": [{"name": "t", "partitions": 2}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"], "acks": "durable",
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0,
           "session_timeout_ms": 5000}],
        "faults": [{"at_s": 2.5, "duration_s": 1.5, "kind": "broker-stall", "target": "broker",
                    "params": {"delay_ms": 300}}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QCOMPARE(report->verdict.lost, 0);
    QCOMPARE(report->faults.size(), std::size_t(1));
    const auto &f = report->faults[0];
    QCOMPARE(f.kind, std::string("broker-stall"));
    // Every request waited 300 ms: throughput dipped under half its baseline. The stall starts
    // at 2.5 s, not earlier, because the baseline averages the first sample's rate as 0 (see
    // measureRecovery) and the runner's own lag sampling waits on the stalled broker too,
    // smoothing the dip; nor later, as recovery needs a healthy second before production ends.
    // It lasts 1.5 s: the rate is read over the last second at samples that a loaded machine
    // spaces up to 0.8 s apart, and a 1 s stall once fell between them (ASan build, load 4).
    QVERIFY2(f.detectS.has_value(), explain(*report).c_str());
    QVERIFY2(f.recoveryS.has_value(), explain(*report).c_str());
    qInfo("stall detected after %.1f s, recovered %.1f s after its end", *f.detectS,
          *f.recoveryS);
}

void TestFaults::slowDiskSlowsDurableAcks()
{
    // A 1.5 s window rather than 1 s: the timeline samples every ~500 ms (a little more under
    // load), and the rate inside needs two samples that are both inside.
    auto report = runScenario(R"({"name": "disk-slow", "duration_s": 5.5, "seed": 8,
        "topics": [{"name": "t"}],
        "services": [
          {"name": "p", "kind": "producer", "outputs": ["t"], "acks": "durable",
           "rate": {"kind": "constant", "per_second": 100}},
          {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"], "processing_ms": 0}],
        "faults": [{"at_s": 2, "duration_s": 1.5, "kind": "disk-slow", "target": "broker",
                    "params": {"commit_delay_ms": 100}}],
        "expect": ["lost == 0"]})");
    QVERIFY2(report, report ? "" : report.error().message.c_str());
    QVERIFY2(report->passed(), reportSummary(*report).c_str());
    QCOMPARE(report->verdict.lost, 0);
    const auto &f = report->faults.at(0);
    QVERIFY2(f.recoveryS.has_value(), explain(*report).c_str());
    // Acknowledgements per second: before the window, inside it, and after it.
    const auto &t = report->timeline;
    const auto acked = [](const TimelinePoint &p) { return p.acknowledged; };
    const auto beforeFrom = firstAtOrAfter(t, 0.4);
    const auto beforeTo = lastAtOrBefore(t, f.startS);
    const auto insideFrom = firstAtOrAfter(t, f.startS);
    const auto insideTo = lastAtOrBefore(t, f.endS);
    const auto afterFrom = firstAtOrAfter(t, f.endS + 0.3);
    const auto afterTo = lastAtOrBefore(t, report->durationS + 0.01);
    QVERIFY(beforeFrom < beforeTo && insideFrom < insideTo && afterFrom < afterTo);
    const double before = ratePerSecond(t, beforeFrom, beforeTo, acked);
    const double inside = ratePerSecond(t, insideFrom, insideTo, acked);
    const double after = ratePerSecond(t, afterFrom, afterTo, acked);
    const QString rates = QString("acks/s before %1, inside %2, after %3")
                              .arg(before).arg(inside).arg(after);
    qInfo("%s", qPrintable(rates));
    QVERIFY2(inside < 0.7 * before, qPrintable(rates));
    QVERIFY2(after > inside, qPrintable(rates));
}

void TestFaults::sameSeedSameRecords()
{
    const std::string json = R"({"name": "seeded", "duration_s": 1.5, "seed": 42,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"],
          "rate": {"kind": "constant", "per_second": 50},
          "keys": {"skew": "zipf", "cardinality": 1000},
          "events": [{"type": "a", "fields": {"id": "uuid", "n": "int:1:1000000", "who": "name"}},
                     {"type": "b", "fields": {"mail": "email", "c": "choice:x|y|z"}}]}]})";
    auto scenario = parseScenario(json);
    QVERIFY2(scenario, scenario ? "" : scenario.error().message.c_str());
    const auto runIn = [&](BrokerBackend &backend, EmbeddedBroker &broker,
                           std::optional<uint64_t> seed) {
        RunnerOptions o;
        o.seed = seed;
        SimulationRunner runner(*scenario, backend, &broker, o);
        return runner.run();
    };
    const std::size_t n = 40;

    auto first = runIn(*m_sim.backend, *m_sim.broker, std::nullopt);
    QVERIFY2(first, first ? "" : first.error().message.c_str());
    QVERIFY(first->verdict.acknowledged >= static_cast<int64_t>(n));
    const auto a = firstRecords(m_sim.broker->broker(), "t", n);

    SimFixture second;
    const std::string secondError = second.start("faults-test-seed-b");
    QVERIFY2(secondError.empty(), secondError.c_str());
    auto rerun = runIn(*second.backend, *second.broker, std::nullopt);
    QVERIFY2(rerun, rerun ? "" : rerun.error().message.c_str());
    const auto b = firstRecords(second.broker->broker(), "t", n);

    SimFixture third;
    const std::string thirdError = third.start("faults-test-seed-c");
    QVERIFY2(thirdError.empty(), thirdError.c_str());
    auto reseeded = runIn(*third.backend, *third.broker, uint64_t(43));
    QVERIFY2(reseeded, reseeded ? "" : reseeded.error().message.c_str());
    const auto c = firstRecords(third.broker->broker(), "t", n);

    QCOMPARE(a.size(), n);
    QCOMPARE(b.size(), n);
    QCOMPARE(c.size(), n);
    int keysDiffer = 0, bodiesDiffer = 0;
    for (std::size_t i = 0; i < n; ++i) {
        QCOMPARE(b[i].first, a[i].first);
        QCOMPARE(b[i].second, a[i].second);
        keysDiffer += c[i].first != a[i].first ? 1 : 0;
        bodiesDiffer += c[i].second != a[i].second ? 1 : 0;
    }
    // Another seed: other keys and other bodies (zipf keys may collide now and then).
    QVERIFY2(keysDiffer > 0, "seed 43 wrote the same keys as seed 42");
    QVERIFY2(bodiesDiffer > static_cast<int>(n) / 2, "seed 43 wrote the same bodies as seed 42");
}

QTEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
