// Scenario files: the bundled scenarios parse, defaults are filled in, scenarioToJson round-trips
// field by field, and each kind of mistake is reported with the exact field path and line (and
// column for JSON syntax errors), since those messages are what a user fixes a file from.
#include "scenario.h"

#include <QDir>
#include <QObject>
#include <QString>
#include <QTest>

#include <string>

using namespace eddy;
using namespace eddy::sim;

namespace {

// The base of the bad-input table; each row changes one snippet. Line numbers are those of this
// text (line 1 is "{").
const char *const kBase = R"({
  "name": "t",
  "duration_s": 60,
  "topics": [
    {"name": "orders", "partitions": 3},
    {"name": "orders.dlq"}
  ],
  "services": [
    {"name": "checkout", "kind": "producer", "outputs": ["orders"],
     "rate": {"kind": "poisson", "per_second": 200}},
    {"name": "billing", "kind": "consumer", "group": "billing", "inputs": ["orders"],
     "instances": 3, "dead_letter": "orders.dlq"}
  ],
  "faults": [
    {"at_s": 20, "kind": "crash", "target": "billing#1"}
  ],
  "expect": ["lost == 0"]
})";

// Lines are not part of a scenario's content; zero them to compare two parses of different texts.
Scenario withoutLines(Scenario s)
{
    for (auto &t : s.topics)
        t.line = 0;
    for (auto &svc : s.services)
        svc.line = 0;
    for (auto &f : s.faults)
        f.line = 0;
    return s;
}

QString messageOf(const Result<Scenario> &r)
{
    return r ? QStringLiteral("(parsed)") : QString::fromStdString(r.error().message);
}

} // namespace

class TestScenario : public QObject
{
    Q_OBJECT

private slots:
    void baseIsValid();
    void bundled_data();
    void bundled();
    void seedScenario();
    void defaults();
    void fieldOrderAndLines();
    void roundTripRich();
    void roundTripFromCode();
    void badInput_data();
    void badInput();
    void syntaxErrorColumn();
    void escapedKeysKeepTheirLines();
    void loadMissingFile();
};

void TestScenario::baseIsValid()
{
    const auto s = parseScenario(kBase);
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QCOMPARE(s->services.size(), std::size_t(2));
    QCOMPARE(s->services[1].deadLetterTopic, std::string("orders.dlq"));
}

void TestScenario::bundled_data()
{
    QTest::addColumn<QString>("file");
    const QDir dir(QStringLiteral(EDDY_SCENARIOS_DIR));
    const QStringList files = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
    QVERIFY(files.size() >= 4);
    for (const QString &f : files)
        QTest::newRow(qPrintable(f)) << dir.filePath(f);
}

void TestScenario::bundled()
{
    QFETCH(QString, file);
    const auto s = loadScenario(file.toStdString());
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QVERIFY(!s->services.empty());
    // Saved and read back, the scenario is the same.
    const std::string text = scenarioToJson(*s);
    const auto again = parseScenario(text);
    QVERIFY2(again.ok(), qPrintable(messageOf(again) + "\n" + QString::fromStdString(text)));
    QVERIFY(withoutLines(*again) == withoutLines(*s));
    QCOMPARE(scenarioToJson(*again), text);
}

void TestScenario::seedScenario()
{
    const auto s = loadScenario(EDDY_SCENARIOS_DIR "/seed-user-created.json");
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QCOMPARE(s->topics.size(), std::size_t(1));
    QCOMPARE(s->topics[0].spec.name, std::string("events"));
    QCOMPARE(s->topics[0].spec.partitions, 1);
    QCOMPARE(s->services.size(), std::size_t(2));
    const ServiceSpec &producer = s->services[0];
    QVERIFY(producer.kind == ServiceSpec::Kind::Producer);
    QCOMPARE(producer.outputs, std::vector<std::string>{"events"});
    QCOMPARE(producer.events.size(), std::size_t(1));
    QCOMPARE(producer.events[0].type, std::string("user.created"));
    QCOMPARE(producer.events[0].fields.size(), std::size_t(3));
    QCOMPARE(producer.events[0].fields[0].first, std::string("id"));
    QCOMPARE(producer.events[0].fields[1].first, std::string("name"));
    QCOMPARE(producer.events[0].fields[2].first, std::string("email"));
    const ServiceSpec &consumer = s->services[1];
    QVERIFY(consumer.kind == ServiceSpec::Kind::Consumer);
    QCOMPARE(consumer.commitMode, std::string("manual"));
    QCOMPARE(consumer.inputs, std::vector<std::string>{"events"});
}

void TestScenario::defaults()
{
    const auto s = parseScenario(R"({
      "name": "minimal",
      "topics": [{"name": "t"}],
      "services": [
        {"name": "p", "kind": "producer", "outputs": ["t"], "rate": 5},
        {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"]}
      ],
      "faults": [{"at_s": 1, "duration_s": 2, "kind": "latency", "target": "c"},
                 {"at_s": 3, "kind": "broker-restart"}]
    })");
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QCOMPARE(s->durationSeconds, 30.0);
    QCOMPARE(s->seed, uint64_t(1));
    QCOMPARE(s->delivery, std::string("at-least-once"));
    QCOMPARE(s->topics[0].spec.partitions, 1);
    QCOMPARE(s->topics[0].spec.retention, RetentionPolicy{});
    const ServiceSpec &p = s->services[0];
    QCOMPARE(p.instances, 1);
    QVERIFY(p.rate.kind == RateSpec::Kind::Constant);
    QCOMPARE(p.rate.perSecond, 5.0);
    QCOMPARE(p.acks, std::string("leader"));
    QVERIFY(p.idempotent);
    QVERIFY(p.keys.skew == KeySpec::Skew::Uniform);
    QCOMPARE(p.keys.cardinality, int64_t(1000));
    QCOMPARE(p.events.size(), std::size_t(1)); // the default template
    QCOMPARE(p.events[0].type, std::string("p.event"));
    const ServiceSpec &c = s->services[1];
    QCOMPARE(c.commitMode, std::string("manual"));
    QCOMPARE(c.retry.maxAttempts, 1);
    QCOMPARE(c.errorRate, 0.0);
    QCOMPARE(c.sessionTimeoutMs, 3000);
    QVERIFY(c.deadLetterTopic.empty());
    QCOMPARE(s->faults[0].params.at("latency_ms"), 50.0);
    QCOMPARE(s->faults[0].params.at("jitter_ms"), 0.0);
    QCOMPARE(s->faults[1].target, std::string("broker"));
    QCOMPARE(s->faults[1].durationSeconds, 0.0);
}

void TestScenario::fieldOrderAndLines()
{
    const auto s = parseScenario(kBase);
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QCOMPARE(s->topics[0].line, 5);
    QCOMPARE(s->topics[1].line, 6);
    QCOMPARE(s->services[0].line, 9);
    QCOMPARE(s->services[1].line, 11);
    QCOMPARE(s->faults[0].line, 15);

    const auto ordered = parseScenario(R"({"name": "o", "topics": [{"name": "t"}],
      "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 1,
        "events": [{"type": "x", "fields": {"zeta": "uuid", "alpha": "name", "mid": "lit"}}]}]})");
    QVERIFY2(ordered.ok(), qPrintable(messageOf(ordered)));
    const auto &fields = ordered->services[0].events[0].fields;
    QCOMPARE(fields.size(), std::size_t(3));
    QCOMPARE(fields[0], (std::pair<std::string, std::string>("zeta", "uuid")));
    QCOMPARE(fields[1], (std::pair<std::string, std::string>("alpha", "name")));
    QCOMPARE(fields[2], (std::pair<std::string, std::string>("mid", "lit")));
}

void TestScenario::roundTripRich()
{
    const auto s = parseScenario(R"({
      "name": "rich", "description": "every kind of field", "duration_s": 90.5,
      "seed": 18446744073709551615, "delivery": "at-most-once",
      "topics": [{"name": "a", "partitions": 4,
                  "retention": {"records": 10, "bytes": 20, "ms": 30}},
                 {"name": "b", "partitions": 2}, {"name": "dlq"}],
      "services": [
        {"name": "p", "kind": "producer", "instances": 2, "outputs": ["a", "b"],
         "rate": {"kind": "bursty", "per_second": 12.5, "on_s": 0.5, "off_s": 2},
         "payload_bytes": {"kind": "normal", "mean": 100, "stddev": 7.25},
         "keys": {"skew": "zipf", "cardinality": 77, "exponent": 1.3},
         "acks": "durable", "idempotent": false,
         "events": [{"type": "e1", "weight": 0.3, "fields": {"x": "int:-5:5", "y": "choice:a|b"}},
                    {"type": "e2", "fields": {}}]},
        {"name": "q", "kind": "producer", "outputs": ["b"], "rate": {"kind": "poisson",
         "per_second": 3}, "keys": {"skew": "none"}, "payload_bytes": 10},
        {"name": "proc", "kind": "processor", "group": "g1", "inputs": ["a"], "outputs": ["b"],
         "processing_ms": {"kind": "uniform", "min": 1, "max": 2.5}, "commit": "auto",
         "error_rate": 0.25, "retry": {"max_attempts": 4,
         "backoff_ms": {"kind": "exponential", "mean": 30}}, "dead_letter": "dlq",
         "session_timeout_ms": 6000, "keys": {"skew": "uniform", "cardinality": 3}},
        {"name": "c", "kind": "consumer", "group": "g2", "inputs": ["a", "b"], "instances": 4}
      ],
      "faults": [
        {"at_s": 1, "duration_s": 2, "kind": "slow", "target": "proc#0", "params": {"factor": 3}},
        {"at_s": 2, "duration_s": 1.5, "kind": "latency", "target": "c",
         "params": {"latency_ms": 80, "jitter_ms": 5}},
        {"at_s": 3, "duration_s": 1, "kind": "drop", "target": "p#1"},
        {"at_s": 4, "duration_s": 1, "kind": "partition-offline", "target": "a/3"},
        {"at_s": 5, "duration_s": 1, "kind": "disk-full", "target": "broker"},
        {"at_s": 6, "duration_s": 0.5, "kind": "poison", "target": "q"},
        {"at_s": 7, "kind": "restart", "target": "c#3"},
        {"at_s": 8, "duration_s": 1, "kind": "pause", "target": "c"},
        {"at_s": 9, "duration_s": 1, "kind": "disconnect", "target": "p"},
        {"at_s": 10, "duration_s": 1, "kind": "broker-stall", "params": {"jitter_ms": 3}},
        {"at_s": 11, "duration_s": 1, "kind": "disk-slow", "params": {"commit_delay_ms": 9}},
        {"at_s": 12, "kind": "crash", "target": "proc"},
        {"at_s": 13, "kind": "broker-restart"}
      ],
      "expect": ["lost == 0", "duplicates<=3", " max_lag  >  1e3 ", "recovery_s != 2.5",
                 "produced >= 1", "consumed > 0", "acknowledged > 0", "reordered == 0",
                 "dead_lettered < 100"],
      "layout": {"topic:a": [10, -20.5], "service:proc": [240, 0], "topic:ghost": [1, 2]}
    })");
    QVERIFY2(s.ok(), qPrintable(messageOf(s)));
    QCOMPARE(s->seed, uint64_t(18446744073709551615ull));
    QCOMPARE(s->expectations[2].metric, std::string("max_lag"));
    QCOMPARE(s->expectations[2].op, std::string(">"));
    QCOMPARE(s->expectations[2].value, 1000.0);
    QCOMPARE(s->expectations[1].op, std::string("<="));
    // Canvas positions by node id; an id naming no node is kept (the studio ignores it).
    QCOMPARE(s->layout.size(), std::size_t(3));
    QCOMPARE(s->layout.at("topic:a")[0], 10.0);
    QCOMPARE(s->layout.at("topic:a")[1], -20.5);
    QCOMPARE(s->layout.at("topic:ghost")[1], 2.0);
    const std::string text = scenarioToJson(*s);
    const auto again = parseScenario(text);
    QVERIFY2(again.ok(), qPrintable(messageOf(again) + "\n" + QString::fromStdString(text)));
    // Field by field: every struct compares all its members.
    const Scenario a = withoutLines(*s);
    const Scenario b = withoutLines(*again);
    QCOMPARE(b.topics.size(), a.topics.size());
    for (std::size_t i = 0; i < a.topics.size(); ++i)
        QVERIFY(b.topics[i] == a.topics[i]);
    QCOMPARE(b.services.size(), a.services.size());
    for (std::size_t i = 0; i < a.services.size(); ++i)
        QVERIFY2(b.services[i] == a.services[i], a.services[i].name.c_str());
    QCOMPARE(b.faults.size(), a.faults.size());
    for (std::size_t i = 0; i < a.faults.size(); ++i)
        QVERIFY2(b.faults[i] == a.faults[i], a.faults[i].kind.c_str());
    QVERIFY(b.expectations == a.expectations);
    QVERIFY(b == a);
    QCOMPARE(scenarioToJson(*again), text);
}

void TestScenario::roundTripFromCode()
{
    Scenario s;
    s.name = "built";
    s.durationSeconds = 12;
    s.topics.push_back({TopicSpec{"in", 2, {}}, 0});
    s.topics.push_back({TopicSpec{"out", 1, {5, 0, 0}}, 0});
    ServiceSpec p;
    p.name = "src";
    p.kind = ServiceSpec::Kind::Producer;
    p.outputs = {"in"};
    p.rate.kind = RateSpec::Kind::Poisson;
    p.rate.perSecond = 33;
    p.events.push_back({"thing.made", 2, {{"id", "uuid"}, {"when", "timestamp"}}});
    s.services.push_back(p);
    ServiceSpec c;
    c.name = "sink";
    c.kind = ServiceSpec::Kind::Processor;
    c.group = "sinks";
    c.inputs = {"in"};
    c.outputs = {"out"};
    c.processingMs.kind = Distribution::Kind::Exponential;
    c.processingMs.value = 4;
    s.services.push_back(c);
    s.expectations.push_back({"lost", "==", 0, ""}); // no text: written from its parts
    s.layout["service:src"] = {12.5, -3};
    s.layout["topic:out"] = {480, 1e6};
    const auto back = parseScenario(scenarioToJson(s));
    QVERIFY2(back.ok(), qPrintable(messageOf(back)));
    Scenario expected = s;
    expected.expectations[0].text = "lost == 0";
    QVERIFY(withoutLines(*back) == expected);
}

void TestScenario::badInput_data()
{
    QTest::addColumn<QString>("from");     // snippet of kBase to replace ("" = whole text)
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("expected"); // substring of the message

    QTest::newRow("syntax: missing comma")
        << R"("duration_s": 60,)" << R"("duration_s": 60)"
        << "line 4, column 3: JSON syntax error";
    QTest::newRow("syntax: trailing comma")
        << R"(["lost == 0"])" << R"(["lost == 0",])" << "line 17, column 26: JSON syntax error";
    QTest::newRow("syntax: unterminated string")
        << R"("name": "t",)" << R"("name": "t,)" << "line 2, column 14: JSON syntax error";
    QTest::newRow("not an object") << "" << "[1, 2]"
                                   << "line 1: a scenario must be a JSON object";
    QTest::newRow("duplicate key")
        << R"("duration_s": 60,)" << R"("duration_s": 60, "duration_s": 30,)"
        << R"(line 3: duplicate key "duration_s")";
    QTest::newRow("unknown field")
        << R"("duration_s": 60,)" << R"("duraton_s": 60,)"
        << R"(line 3: duraton_s is not a known field; did you mean "duration_s"?)";
    QTest::newRow("missing name") << R"("name": "t",)" << "" << "line 1: name is required";
    QTest::newRow("wrong type")
        << R"("duration_s": 60,)" << R"("duration_s": "60",)"
        << R"(line 3: duration_s must be a number > 0 (got "60"))";
    QTest::newRow("invalid topic name")
        << R"({"name": "orders.dlq"})" << R"({"name": "orders dlq"})"
        << "line 6: topics[1].name is not a valid topic name";
    QTest::newRow("partitions 0")
        << R"("partitions": 3)" << R"("partitions": 0)"
        << "line 5: topics[0].partitions must be an integer from 1 to 1024 (got 0)";
    QTest::newRow("duplicate topic")
        << R"({"name": "orders.dlq"})" << R"({"name": "orders"})"
        << R"(line 6: topics[1].name "orders" is declared twice (first on line 5))";
    QTest::newRow("unknown retention field")
        << R"({"name": "orders.dlq"})" << R"({"name": "orders.dlq", "retention": {"age": 5}})"
        << "line 6: topics[1].retention.age is not a known field";
    QTest::newRow("negative rate")
        << R"("per_second": 200)" << R"("per_second": -5)"
        << "line 10: services[0].rate.per_second must be a number > 0 (got -5)";
    QTest::newRow("bad service kind")
        << R"("kind": "consumer")" << R"("kind": "consumr")"
        << R"(line 11: services[1].kind must be one of "producer", "consumer" or "processor" )"
           R"((got "consumr"; did you mean "consumer"?))";
    QTest::newRow("duplicate service")
        << R"("name": "billing", "kind")" << R"("name": "checkout", "kind")"
        << R"(line 11: services[1].name "checkout" is used by another service (line 9))";
    QTest::newRow("unknown topic reference")
        << R"("inputs": ["orders"])" << R"("inputs": ["ordres"])"
        << R"(line 11: services[1].inputs[0] refers to topic "ordres", which is not declared )"
           R"(in topics; did you mean "orders"?)";
    QTest::newRow("undeclared dead letter")
        << R"("dead_letter": "orders.dlq")" << R"("dead_letter": "billing.dlq")"
        << R"(line 12: services[1].dead_letter refers to topic "billing.dlq")";
    QTest::newRow("missing group")
        << R"("group": "billing", )" << "" << "line 11: services[1] needs a group";
    QTest::newRow("producer without rate")
        << R"("rate": {"kind": "poisson", "per_second": 200})" << R"("acks": "none")"
        << "line 9: services[0] needs a rate";
    QTest::newRow("field of another kind")
        << R"("instances": 3,)" << R"("instances": 3, "rate": 5,)"
        << "line 12: services[1].rate applies only to producers, not to a consumer";
    QTest::newRow("instances 0")
        << R"("instances": 3,)" << R"("instances": 0,)"
        << "line 12: services[1].instances must be an integer from 1 to 1000 (got 0)";
    QTest::newRow("error rate above 1")
        << R"("instances": 3,)" << R"("instances": 3, "error_rate": 2,)"
        << "line 12: services[1].error_rate must be a number from 0 to 1 (got 2)";
    QTest::newRow("uniform max below min")
        << R"("instances": 3,)"
        << R"("instances": 3, "processing_ms": {"kind": "uniform", "min": 5, "max": 1},)"
        << "line 12: services[1].processing_ms.max must be >= min (5)";
    QTest::newRow("distribution field of another kind")
        << R"("instances": 3,)"
        << R"("instances": 3, "processing_ms": {"kind": "exponential", "mean": 5, "min": 1},)"
        << "line 12: services[1].processing_ms.min is not a field of an exponential distribution";
    QTest::newRow("bad generator")
        << R"("rate": {"kind": "poisson", "per_second": 200})"
        << "\"rate\": 5,\n"
           "     \"events\": [{\"type\": \"x\", \"fields\": {\"amount\": \"int:5:1\"}}]"
        << R"(line 11: services[0].events[0].fields.amount must be "int:MIN:MAX")";
    QTest::newRow("bad fault kind")
        << R"("kind": "crash")" << R"("kind": "crush")"
        << R"(line 15: faults[0].kind must be one of "crash", )";
    QTest::newRow("fault target: unknown service")
        << R"("target": "billing#1")" << R"("target": "biling")"
        << R"(line 15: faults[0].target must name a service or "service#instance" (got "biling"; )"
           R"(no such service; did you mean "billing"?))";
    QTest::newRow("fault target: instance out of range")
        << R"("target": "billing#1")" << R"("target": "billing#3")"
        << R"(line 15: faults[0].target names instance "3" but service "billing" )"
           R"(has instances 0-2)";
    QTest::newRow("fault target: slow on a producer")
        << R"("kind": "crash", "target": "billing#1")"
        << R"("kind": "slow", "duration_s": 5, "target": "checkout")"
        << "line 15: faults[0].target must be a consumer or processor for a slow fault";
    QTest::newRow("fault target: broker kind")
        << R"("kind": "crash", "target": "billing#1")"
        << R"("kind": "broker-restart", "target": "billing")"
        << R"(line 15: faults[0].target must be "broker" for a broker-restart fault)";
    QTest::newRow("fault target: partition out of range")
        << R"("kind": "crash", "target": "billing#1")"
        << R"("kind": "partition-offline", "duration_s": 5, "target": "orders/3")"
        << R"(line 15: faults[0].target names partition "3" but topic "orders" has partitions 0-2)";
    QTest::newRow("fault time past the end")
        << R"("at_s": 20)" << R"("at_s": 61)"
        << "line 15: faults[0].at_s is 61, not before the scenario's end (duration_s 60)";
    QTest::newRow("fault runs past the end")
        << R"("at_s": 20, "kind": "crash")" << R"("at_s": 50, "duration_s": 20, "kind": "pause")"
        << "line 15: faults[0].duration_s runs the fault to 70 s, past the scenario's end";
    QTest::newRow("fault needs a duration")
        << R"("kind": "crash")" << R"("kind": "pause")"
        << "line 15: faults[0].duration_s must be > 0 for a pause fault";
    QTest::newRow("instant fault with a duration")
        << R"("kind": "crash")" << R"("kind": "crash", "duration_s": 5)"
        << "line 15: faults[0].duration_s must be 0 for a crash fault";
    QTest::newRow("fault target: partition missing")
        << R"("kind": "crash", "target": "billing#1")"
        << R"("kind": "partition-offline", "duration_s": 5, "target": "orders")"
        << R"(line 15: faults[0].target must name a partition: "orders/0" .. "orders/2")";
    QTest::newRow("fault param of another kind")
        << R"("target": "billing#1"})" << R"("target": "billing#1", "params": {"factor": 2}})"
        << "line 15: faults[0].params.factor is not a parameter of a crash fault (it takes none)";
    QTest::newRow("expectation: unknown metric")
        << R"("lost == 0")" << R"("lots == 0")"
        << R"(line 17: expect[0] has unknown metric "lots"; did you mean "lost"?)";
    QTest::newRow("expectation: bad number")
        << R"("lost == 0")" << R"("lost == many")"
        << R"(line 17: expect[0] must read "metric op number")";
    QTest::newRow("expectation: bad operator")
        << R"("lost == 0")" << R"("lost ~ 0")"
        << "line 17: expect[0] needs an operator";
    QTest::newRow("layout: not an object")
        << R"("expect": ["lost == 0"])" << R"("expect": ["lost == 0"], "layout": [1, 2])"
        << "line 17: layout must be an object";
    QTest::newRow("layout: not a pair")
        << R"("expect": ["lost == 0"])"
        << R"("expect": ["lost == 0"], "layout": {"topic:orders": [1]})"
        << R"(line 17: layout["topic:orders"] must be an array [x, y] (got an array))";
    QTest::newRow("layout: not a number")
        << R"("expect": ["lost == 0"])"
        << R"("expect": ["lost == 0"], "layout": {"topic:orders": [1, "x"]})"
        << R"(line 17: layout["topic:orders"][1] must be a number (got "x"))";
}

void TestScenario::badInput()
{
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, expected);
    QString text = QString::fromUtf8(kBase);
    if (from.isEmpty()) {
        text = to;
    } else {
        QCOMPARE(text.count(from), 1); // the row changes exactly one place
        text.replace(from, to);
    }
    const auto s = parseScenario(text.toStdString());
    QVERIFY2(!s.ok(), qPrintable(text));
    QCOMPARE(s.code(), Errc::InvalidConfig);
    const QString message = messageOf(s);
    QVERIFY2(message.contains(expected), qPrintable(message));
}

void TestScenario::syntaxErrorColumn()
{
    const auto s = parseScenario("{\n  \"a\": 1\n    \"b\": 2\n}");
    QVERIFY(!s.ok());
    QVERIFY2(messageOf(s).startsWith("line 3, column 5: JSON syntax error"),
             qPrintable(messageOf(s)));
}

// Keys with JSON escapes, '/' and '~' must still map to their own lines (the line index unescapes
// keys and uses JSON-pointer escaping, as the parser's paths do).
void TestScenario::escapedKeysKeepTheirLines()
{
    const auto s = parseScenario(R"({"name": "x",
 "topics": [{"name": "t"}],
 "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 1,
   "events": [{"type": "e", "fields": {"a\/b": "uuid", "\u00e9\"q": "text:0",
     "ok~1": "text:0"}}]}]})");
    QVERIFY(!s.ok());
    QVERIFY2(messageOf(s).startsWith(
                 R"(line 4: services[0].events[0].fields["é\"q"] must be "text:N")"),
             qPrintable(messageOf(s)));

    const auto t = parseScenario(R"({"name": "x",
 "topics": [{"name": "t"}],
 "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 1,
   "events": [{"type": "e", "fields": {"a\/b": "uuid", "\u00e9\"q": "name",
     "ok~1": "text:0"}}]}]})");
    QVERIFY(!t.ok());
    QVERIFY2(messageOf(t).startsWith(R"(line 5: services[0].events[0].fields["ok~1"])"),
             qPrintable(messageOf(t)));
}

void TestScenario::loadMissingFile()
{
    const auto s = loadScenario("/nonexistent/scenario.json");
    QVERIFY(!s.ok());
    QVERIFY2(messageOf(s).contains("/nonexistent/scenario.json"), qPrintable(messageOf(s)));
}

QTEST_GUILESS_MAIN(TestScenario)
#include "tst_scenario.moc"
