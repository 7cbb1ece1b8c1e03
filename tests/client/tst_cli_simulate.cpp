// `eddy simulate` end to end, as a subprocess with its own embedded broker: the bundled seed
// scenario passes (exit 0, "PASSED", a JSON report with no loss), a failed expectation exits 3,
// a broken scenario file exits 2 naming the line, and a fault typed on standard input while the
// run goes on is started, announced on standard error and reported as live.
#include "child_process.h"

#include <QtTest>

#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

namespace {

// Runs eddy with `args`, stdin closed, and waits for it (a scenario run lasts a few seconds).
ChildRun eddy(const QStringList &args)
{
    return runChild(EDDY_CLI_PATH, args, 40000);
}

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(contents) == contents.size();
}

nlohmann::json readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return nullptr;
    return nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
}


} // namespace

class TestCliSimulate : public QObject
{
    Q_OBJECT

private slots:
    void seedScenarioPasses();
    void failedExpectationExitsThree();
    void badScenarioExitsTwoWithLine();
    void liveFaultFromStandardInput();

private:
    QTemporaryDir m_dir;
};

void TestCliSimulate::seedScenarioPasses()
{
    QVERIFY(m_dir.isValid());
    const QString report = m_dir.filePath("seed-report.json");
    const auto r = eddy({"simulate", QString(EDDY_SCENARIOS_DIR) + "/seed-user-created.json",
                         "--duration", "3", "--report", report, "--quiet"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
    QVERIFY2(r.out.contains("PASSED"), qPrintable(r.describe()));
    const auto j = readJson(report);
    QVERIFY2(j.is_object(), "the report is not a JSON object");
    QCOMPARE(j["passed"].get<bool>(), true);
    QCOMPARE(j["verdict"]["lost"].get<int64_t>(), int64_t(0));
    QVERIFY(j["verdict"]["acknowledged"].get<int64_t>() > 0);
}

void TestCliSimulate::failedExpectationExitsThree()
{
    QVERIFY(m_dir.isValid());
    const QString scenario = m_dir.filePath("impossible.json");
    QVERIFY(writeFile(scenario, R"({"name": "impossible", "duration_s": 1.5,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 20},
                     {"name": "c", "kind": "consumer", "group": "g", "inputs": ["t"]}],
        "expect": ["consumed > 1000000", "lost == 0"]})"));
    const QString report = m_dir.filePath("impossible-report.json");
    const auto r = eddy({"simulate", scenario, "--report", report, "--quiet"});
    QVERIFY2(r.exitCode == 3, qPrintable(r.describe()));
    QVERIFY2(r.out.contains("FAILED"), qPrintable(r.describe()));
    const auto j = readJson(report);
    QVERIFY(j.is_object());
    QCOMPARE(j["passed"].get<bool>(), false);
    // The verdict itself holds; only the expectation failed.
    QCOMPARE(j["verdict"]["lost"].get<int64_t>(), int64_t(0));
}

void TestCliSimulate::badScenarioExitsTwoWithLine()
{
    QVERIFY(m_dir.isValid());
    const QString scenario = m_dir.filePath("typo.json");
    QVERIFY(writeFile(scenario, "{\"name\": \"typo\",\n"
                                "  \"topics\": [{\"name\": \"t\"}],\n"
                                "  \"duraton_s\": 3,\n"
                                "  \"services\": [{\"name\": \"p\", \"kind\": \"producer\", "
                                "\"outputs\": [\"t\"]}]}\n"));
    const auto r = eddy({"simulate", scenario, "--quiet"});
    QVERIFY2(r.exitCode == 2, qPrintable(r.describe()));
    QVERIFY2(r.err.contains(QRegularExpression("line \\d+:")), qPrintable(r.describe()));
    QVERIFY2(r.err.contains("line 3:"), qPrintable(r.describe()));
    QVERIFY2(r.out.isEmpty(), qPrintable(r.describe()));
}

void TestCliSimulate::liveFaultFromStandardInput()
{
    QVERIFY(m_dir.isValid());
    const QString scenario = m_dir.filePath("live.json");
    QVERIFY(writeFile(scenario, R"({"name": "live", "duration_s": 4,
        "topics": [{"name": "t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["t"], "rate": 50},
                     {"name": "worker", "kind": "consumer", "group": "g", "inputs": ["t"],
                      "processing_ms": 1}],
        "expect": ["lost == 0"]})"));
    const QString report = m_dir.filePath("live-report.json");
    ChildProcess p;
    ChildOptions options;
    options.keepStdinOpen = true;
    QVERIFY2(p.start(EDDY_CLI_PATH, {"simulate", scenario, "--report", report, "--quiet"}, options),
             qPrintable(p.errorString()));
    QTest::qWait(1000);
    QVERIFY2(p.running(), qPrintable(QString::fromUtf8(p.readAllStandardError())));
    QVERIFY(p.write("fault slow worker 1 factor=5\n"));
    if (!p.waitForFinished(40000)) {
        p.kill();
        QFAIL("eddy simulate did not finish");
    }
    ChildRun r;
    r.exitCode = p.exitedNormally() ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
    QVERIFY2(r.err.contains("fault 1 started"), qPrintable(r.describe()));
    const auto j = readJson(report);
    QVERIFY(j.is_object());
    QVERIFY2(j["faults"].is_array() && j["faults"].size() == 1, j.dump(2).c_str());
    QCOMPARE(j["faults"][0]["live"].get<bool>(), true);
    QCOMPARE(j["faults"][0]["kind"].get<std::string>(), std::string("slow"));
    QCOMPARE(j["faults"][0]["target"].get<std::string>(), std::string("worker"));
}

QTEST_GUILESS_MAIN(TestCliSimulate)
#include "tst_cli_simulate.moc"
