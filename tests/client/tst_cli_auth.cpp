// Access control through the eddy command-line tool: `eddy broker --auth FILE` as a subprocess
// on an ephemeral loopback port, client commands with --token and EDDY_TOKEN (refused without,
// refused beyond their rules), `eddy simulate --broker --token` against it, the broker's log of
// refusals (never a token), and the start-up checks (a bad auth file, a live stream without
// --pub-without-auth).
#include "child_process.h"

#include <QtTest>

#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>

namespace {

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(contents) == contents.size();
}

// SHA-256 of "admin-token" (`printf %s admin-token | sha256sum`).
const char kAuthFile[] = R"({"principals": [
    {"name": "ops", "admin": true,
     "token_sha256": "10a4c7c9fc5206d6f36dc6944a81bb6f4a3cb0e25014ae3b12e6c3e52712292a"},
    {"name": "orders-writer", "token": "producer-token", "produce": ["orders.*"]}]})";

} // namespace

class TestCliAuth : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void startupChecks();
    void commandsNeedTheirToken();
    void simulateAgainstAnAuthBroker();

private:
    // Runs eddy against the broker; token "" passes none, anything else through EDDY_TOKEN.
    ChildRun eddy(QStringList args, const QString &envToken = {}, int timeoutMs = 10000);

    QTemporaryDir m_dir;
    ChildProcess m_broker;
    QString m_url;
    QString m_authFile;
};

ChildRun TestCliAuth::eddy(QStringList args, const QString &envToken, int timeoutMs)
{
    if (!args.isEmpty() && args.first() != "broker" && !args.contains("--broker"))
        args << "--broker" << m_url;
    ChildOptions options;
    options.unsetEnv << "EDDY_TOKEN";
    if (!envToken.isEmpty())
        options.setEnv.append({"EDDY_TOKEN", envToken});
    return runChild(EDDY_CLI_PATH, args, timeoutMs, {}, options);
}

void TestCliAuth::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_authFile = m_dir.filePath("auth.json");
    QVERIFY(writeFile(m_authFile, kAuthFile));
    QVERIFY2(m_broker.start(EDDY_CLI_PATH, {"broker", "--data", m_dir.filePath("data"),
                                            "--listen", "tcp://127.0.0.1:0", "--auth", m_authFile}),
             qPrintable(m_broker.errorString()));
    const QRegularExpression re("requests on (tcp://127\\.0\\.0\\.1:\\d+)");
    QByteArray seen;
    QElapsedTimer timer;
    timer.start();
    while (!seen.contains("access control on") && timer.elapsed() < 10000) {
        m_broker.waitForReadyRead(200);
        seen += m_broker.readAllStandardOutput();
    }
    const auto m = re.match(QString::fromUtf8(seen));
    QVERIFY2(m.hasMatch(), seen.constData());
    m_url = m.captured(1);
    QVERIFY2(seen.contains("access control on, 2 principals"), seen.constData());
    // With --auth and no --pub there is no live stream.
    QVERIFY2(!seen.contains("live stream"), seen.constData());
}

void TestCliAuth::cleanupTestCase()
{
    if (!m_broker.running())
        return;
    m_broker.terminate();
    QVERIFY(m_broker.waitForFinished(10000));
    QCOMPARE(m_broker.exitCode(), 0);
}

void TestCliAuth::startupChecks()
{
    const QString broken = m_dir.filePath("broken.json");
    QVERIFY(writeFile(broken, R"({"principals": [{"name": "a"}]})"));
    auto bad = eddy({"broker", "--data", m_dir.filePath("other"), "--listen", "tcp://127.0.0.1:0",
                     "--pub", "none", "--auth", broken});
    QVERIFY2(bad.exitCode == 2, qPrintable(bad.describe()));
    QVERIFY2(bad.err.contains("exactly one of"), qPrintable(bad.describe()));

    // A live stream under access control must be asked for with --pub-without-auth.
    auto stream = eddy({"broker", "--data", m_dir.filePath("other"), "--listen",
                        "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--auth", m_authFile});
    QVERIFY2(stream.exitCode == 1, qPrintable(stream.describe()));
    QVERIFY2(stream.err.contains("--pub-without-auth"), qPrintable(stream.describe()));
}

void TestCliAuth::commandsNeedTheirToken()
{
    auto anonymous = eddy({"topic", "create", "orders.eu"});
    QVERIFY2(anonymous.exitCode == 1, qPrintable(anonymous.describe()));
    QVERIFY2(anonymous.err.contains("UNAUTHENTICATED"), qPrintable(anonymous.describe()));

    auto wrong = eddy({"topic", "list", "--token", "guess"});
    QVERIFY2(wrong.exitCode == 1, qPrintable(wrong.describe()));
    QVERIFY2(wrong.err.contains("UNAUTHENTICATED"), qPrintable(wrong.describe()));

    auto created = eddy({"topic", "create", "orders.eu", "--token", "admin-token"});
    QVERIFY2(created.exitCode == 0, qPrintable(created.describe()));
    auto other = eddy({"topic", "create", "payments"}, "admin-token"); // through EDDY_TOKEN
    QVERIFY2(other.exitCode == 0, qPrintable(other.describe()));

    auto produced = eddy({"produce", "orders.eu", "--value", "v"}, "producer-token");
    QVERIFY2(produced.exitCode == 0, qPrintable(produced.describe()));
    auto outside = eddy({"produce", "payments", "--value", "v"}, "producer-token");
    QVERIFY2(outside.exitCode == 1, qPrintable(outside.describe()));
    QVERIFY2(outside.err.contains("FORBIDDEN"), qPrintable(outside.describe()));
    auto deleted = eddy({"topic", "delete", "orders.eu"}, "producer-token");
    QVERIFY2(deleted.exitCode == 1, qPrintable(deleted.describe()));
    QVERIFY2(deleted.err.contains("FORBIDDEN"), qPrintable(deleted.describe()));
    // The producer sees only its topics.
    auto listed = eddy({"topic", "list"}, "producer-token");
    QVERIFY2(listed.exitCode == 0, qPrintable(listed.describe()));
    QVERIFY2(listed.out.contains("orders.eu") && !listed.out.contains("payments"),
             qPrintable(listed.describe()));

    // The broker logged the refusals with principal and address, and no token.
    QString log;
    const auto read = [&] {
        log += QString::fromUtf8(m_broker.readAllStandardError());
        return log.contains("refused for principal 'orders-writer'");
    };
    QTRY_VERIFY_WITH_TIMEOUT(read(), 10000);
    QVERIFY2(log.contains("failed authentication from tcp://127.0.0.1:"), qPrintable(log));
    QVERIFY2(log.contains("refused for principal 'orders-writer' at tcp://127.0.0.1:"),
             qPrintable(log));
    for (const char *secret : {"guess", "admin-token", "producer-token"})
        QVERIFY2(!log.contains(secret), qPrintable(log));
}

void TestCliAuth::simulateAgainstAnAuthBroker()
{
    const QString scenario = m_dir.filePath("small.json");
    QVERIFY(writeFile(scenario, R"({"name": "small", "duration_s": 1.5,
        "topics": [{"name": "sim.t"}],
        "services": [{"name": "p", "kind": "producer", "outputs": ["sim.t"], "rate": 50},
                     {"name": "c", "kind": "consumer", "group": "g", "inputs": ["sim.t"]}],
        "expect": ["lost == 0"]})"));
    auto refused = eddy({"simulate", scenario, "--quiet"}, {}, 40000);
    QVERIFY2(refused.exitCode != 0, qPrintable(refused.describe()));
    QVERIFY2(refused.err.contains("requires authentication"), qPrintable(refused.describe()));
    auto passed = eddy({"simulate", scenario, "--quiet", "--token", "admin-token"}, {}, 40000);
    QVERIFY2(passed.exitCode == 0, qPrintable(passed.describe()));
    QVERIFY2(passed.out.contains("PASSED"), qPrintable(passed.describe()));
}

QTEST_GUILESS_MAIN(TestCliAuth)
#include "tst_cli_auth.moc"
