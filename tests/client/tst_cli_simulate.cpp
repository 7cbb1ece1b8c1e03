// `eddy simulate` end to end, as a subprocess with its own embedded broker: the bundled seed
// scenario passes (exit 0, "PASSED", a JSON report with no loss), a failed expectation exits 3,
// a broken scenario file exits 2 naming the line, and a fault typed on standard input while the
// run goes on is started, announced on standard error and reported as live.
#include <QtTest>

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

// Runs eddy with `args`, stdin closed, and waits for it (a scenario run lasts a few seconds).
Run eddy(const QStringList &args)
{
    QProcess p;
    p.start(EDDY_CLI_PATH, args);
    Run r;
    if (!p.waitForStarted(5000))
        return r;
    p.closeWriteChannel();
    if (!p.waitForFinished(40000)) {
        p.kill();
        p.waitForFinished(1000);
        r.err = "timed out";
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
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

QString describe(const Run &r)
{
    return QString("exit %1\nstdout:\n%2\nstderr:\n%3").arg(r.exitCode).arg(r.out, r.err);
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
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("PASSED"), qPrintable(describe(r)));
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
    QVERIFY2(r.exitCode == 3, qPrintable(describe(r)));
    QVERIFY2(r.out.contains("FAILED"), qPrintable(describe(r)));
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
    QVERIFY2(r.exitCode == 2, qPrintable(describe(r)));
    QVERIFY2(r.err.contains(QRegularExpression("line \\d+:")), qPrintable(describe(r)));
    QVERIFY2(r.err.contains("line 3:"), qPrintable(describe(r)));
    QVERIFY2(r.out.isEmpty(), qPrintable(describe(r)));
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
    QProcess p;
    p.start(EDDY_CLI_PATH, {"simulate", scenario, "--report", report, "--quiet"});
    QVERIFY(p.waitForStarted(5000));
    QTest::qWait(1000);
    QVERIFY2(p.state() == QProcess::Running,
             qPrintable(QString::fromUtf8(p.readAllStandardError())));
    p.write("fault slow worker 1 factor=5\n");
    QVERIFY(p.waitForBytesWritten(5000));
    if (!p.waitForFinished(40000)) {
        p.kill();
        p.waitForFinished(1000);
        QFAIL("eddy simulate did not finish");
    }
    Run r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
    QVERIFY2(r.err.contains("fault 1 started"), qPrintable(describe(r)));
    const auto j = readJson(report);
    QVERIFY(j.is_object());
    QVERIFY2(j["faults"].is_array() && j["faults"].size() == 1, j.dump(2).c_str());
    QCOMPARE(j["faults"][0]["live"].get<bool>(), true);
    QCOMPARE(j["faults"][0]["kind"].get<std::string>(), std::string("slow"));
    QCOMPARE(j["faults"][0]["target"].get<std::string>(), std::string("worker"));
}

QTEST_GUILESS_MAIN(TestCliSimulate)
#include "tst_cli_simulate.moc"
