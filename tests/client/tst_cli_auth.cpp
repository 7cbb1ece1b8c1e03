// Access control through the eddy command-line tool: `eddy broker --auth FILE` as a subprocess
// on an ephemeral loopback port, client commands with --token and EDDY_TOKEN (refused without,
// refused beyond their rules), `eddy simulate --broker --token` against it, the broker's log of
// refusals (never a token), and the start-up checks (a bad auth file, a live stream without
// --pub-without-auth).
#include <QtTest>

#include <QFile>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTemporaryDir>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

QString describe(const Run &r)
{
    return QString("exit %1\nstdout:\n%2\nstderr:\n%3").arg(r.exitCode).arg(r.out, r.err);
}

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
    Run eddy(QStringList args, const QString &envToken = {}, int timeoutMs = 10000);

    QTemporaryDir m_dir;
    QProcess m_broker;
    QString m_url;
    QString m_authFile;
};

Run TestCliAuth::eddy(QStringList args, const QString &envToken, int timeoutMs)
{
    if (!args.isEmpty() && args.first() != "broker" && !args.contains("--broker"))
        args << "--broker" << m_url;
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.remove("EDDY_TOKEN");
    if (!envToken.isEmpty())
        env.insert("EDDY_TOKEN", envToken);
    p.setProcessEnvironment(env);
    p.start(EDDY_CLI_PATH, args);
    Run r;
    if (!p.waitForStarted(5000))
        return r;
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
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

void TestCliAuth::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_authFile = m_dir.filePath("auth.json");
    QVERIFY(writeFile(m_authFile, kAuthFile));
    m_broker.start(EDDY_CLI_PATH, {"broker", "--data", m_dir.filePath("data"), "--listen",
                                   "tcp://127.0.0.1:0", "--auth", m_authFile});
    QVERIFY(m_broker.waitForStarted(5000));
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
    if (m_broker.state() == QProcess::NotRunning)
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
    QVERIFY2(bad.exitCode == 2, qPrintable(describe(bad)));
    QVERIFY2(bad.err.contains("exactly one of"), qPrintable(describe(bad)));

    // A live stream under access control must be asked for with --pub-without-auth.
    auto stream = eddy({"broker", "--data", m_dir.filePath("other"), "--listen",
                        "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--auth", m_authFile});
    QVERIFY2(stream.exitCode == 1, qPrintable(describe(stream)));
    QVERIFY2(stream.err.contains("--pub-without-auth"), qPrintable(describe(stream)));
}

void TestCliAuth::commandsNeedTheirToken()
{
    auto anonymous = eddy({"topic", "create", "orders.eu"});
    QVERIFY2(anonymous.exitCode == 1, qPrintable(describe(anonymous)));
    QVERIFY2(anonymous.err.contains("UNAUTHENTICATED"), qPrintable(describe(anonymous)));

    auto wrong = eddy({"topic", "list", "--token", "guess"});
    QVERIFY2(wrong.exitCode == 1, qPrintable(describe(wrong)));
    QVERIFY2(wrong.err.contains("UNAUTHENTICATED"), qPrintable(describe(wrong)));

    auto created = eddy({"topic", "create", "orders.eu", "--token", "admin-token"});
    QVERIFY2(created.exitCode == 0, qPrintable(describe(created)));
    auto other = eddy({"topic", "create", "payments"}, "admin-token"); // through EDDY_TOKEN
    QVERIFY2(other.exitCode == 0, qPrintable(describe(other)));

    auto produced = eddy({"produce", "orders.eu", "--value", "v"}, "producer-token");
    QVERIFY2(produced.exitCode == 0, qPrintable(describe(produced)));
    auto outside = eddy({"produce", "payments", "--value", "v"}, "producer-token");
    QVERIFY2(outside.exitCode == 1, qPrintable(describe(outside)));
    QVERIFY2(outside.err.contains("FORBIDDEN"), qPrintable(describe(outside)));
    auto deleted = eddy({"topic", "delete", "orders.eu"}, "producer-token");
    QVERIFY2(deleted.exitCode == 1, qPrintable(describe(deleted)));
    QVERIFY2(deleted.err.contains("FORBIDDEN"), qPrintable(describe(deleted)));
    // The producer sees only its topics.
    auto listed = eddy({"topic", "list"}, "producer-token");
    QVERIFY2(listed.exitCode == 0, qPrintable(describe(listed)));
    QVERIFY2(listed.out.contains("orders.eu") && !listed.out.contains("payments"),
             qPrintable(describe(listed)));

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
    QVERIFY2(refused.exitCode != 0, qPrintable(describe(refused)));
    QVERIFY2(refused.err.contains("requires authentication"), qPrintable(describe(refused)));
    auto passed = eddy({"simulate", scenario, "--quiet", "--token", "admin-token"}, {}, 40000);
    QVERIFY2(passed.exitCode == 0, qPrintable(describe(passed)));
    QVERIFY2(passed.out.contains("PASSED"), qPrintable(describe(passed)));
}

QTEST_GUILESS_MAIN(TestCliAuth)
#include "tst_cli_auth.moc"
