// The eddy command-line tool end to end: `eddy broker` runs as a subprocess on an ephemeral
// loopback port with a temporary data directory, and the client commands (topic, produce,
// consume, group) run against it as separate processes, checking exit codes and output.
#include "child_process.h"

#include <QtTest>

#include <QRegularExpression>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

class TestCli : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void topicProduceConsume();
    void groupConsumeCommits();
    void errors();
    void seedExample();

private:
    ChildRun eddy(QStringList args, const QByteArray &input = {});

    QTemporaryDir m_dir;
    ChildProcess m_broker;
    QString m_url;
};

ChildRun TestCli::eddy(QStringList args, const QByteArray &input)
{
    if (!args.isEmpty() && args.first() != "broker" && !args.contains("--broker"))
        args << "--broker" << m_url;
    return runChild(EDDY_CLI_PATH, args, 10000, input);
}

void TestCli::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(m_broker.start(EDDY_CLI_PATH, {"broker", "--data", m_dir.path(), "--listen",
                                            "tcp://127.0.0.1:0", "--pub", "none"}),
             qPrintable(m_broker.errorString()));
    // The broker prints the bound URL once it listens.
    const QRegularExpression re("requests on (tcp://127\\.0\\.0\\.1:\\d+)");
    QByteArray seen;
    QElapsedTimer timer;
    timer.start();
    while (m_url.isEmpty() && timer.elapsed() < 10000) {
        m_broker.waitForReadyRead(200);
        seen += m_broker.readAllStandardOutput();
        const auto m = re.match(QString::fromUtf8(seen));
        if (m.hasMatch())
            m_url = m.captured(1);
    }
    QVERIFY2(!m_url.isEmpty(), seen.constData());
}

void TestCli::cleanupTestCase()
{
    if (!m_broker.running())
        return;
    m_broker.terminate(); // SIGTERM: the broker stops serving, flushes and exits 0
    QVERIFY(m_broker.waitForFinished(10000));
    QVERIFY(m_broker.exitedNormally());
    QCOMPARE(m_broker.exitCode(), 0);
    QVERIFY(m_broker.readAllStandardOutput().contains("stopped"));
}

void TestCli::topicProduceConsume()
{
    auto created = eddy({"topic", "create", "lines", "--partitions", "1"});
    QVERIFY2(created.exitCode == 0, qPrintable(created.err));
    QVERIFY(created.out.contains("lines"));

    auto produced = eddy({"produce", "lines"}, "first line\nsecond line\nthird line\n");
    QVERIFY2(produced.exitCode == 0, qPrintable(produced.err));
    QVERIFY(produced.out.contains("Produced 3 records"));
    auto single = eddy({"produce", "lines", "--key", "k", "--value", "fourth line", "--json"});
    QVERIFY2(single.exitCode == 0, qPrintable(single.err));
    const auto report = nlohmann::json::parse(single.out.toStdString(), nullptr, false);
    QVERIFY(report.is_object());
    QCOMPARE(report["offset"].get<int>(), 3);

    auto consumed = eddy({"consume", "lines", "--count", "4", "--from", "earliest"});
    QVERIFY2(consumed.exitCode == 0, qPrintable(consumed.err));
    QCOMPARE(consumed.out, QString("first line\nsecond line\nthird line\nfourth line\n"));

    auto fromOffset = eddy({"consume", "lines", "--from", "2", "--keys"});
    QVERIFY2(fromOffset.exitCode == 0, qPrintable(fromOffset.err));
    QCOMPARE(fromOffset.out, QString("\tthird line\nk\tfourth line\n"));

    auto limited = eddy({"consume", "lines", "--count", "1", "--json"});
    QVERIFY2(limited.exitCode == 0, qPrintable(limited.err));
    const auto rec = nlohmann::json::parse(limited.out.toStdString(), nullptr, false);
    QVERIFY(rec.is_object());
    QCOMPARE(rec["value"].get<std::string>(), std::string("first line"));
    QCOMPARE(rec["topic"].get<std::string>(), std::string("lines"));

    auto listed = eddy({"topic", "list"});
    QVERIFY2(listed.exitCode == 0, qPrintable(listed.err));
    QVERIFY(listed.out.contains("TOPIC"));
    QVERIFY(listed.out.contains(QRegularExpression("lines\\s+1\\s+4")));
    auto described = eddy({"topic", "describe", "lines", "--json"});
    QVERIFY2(described.exitCode == 0, qPrintable(described.err));
    const auto info = nlohmann::json::parse(described.out.toStdString(), nullptr, false);
    QCOMPARE(info["partition_info"][0]["high_watermark"].get<int>(), 4);
}

void TestCli::groupConsumeCommits()
{
    QCOMPARE(eddy({"topic", "create", "jobs", "--partitions", "2"}).exitCode, 0);
    QCOMPARE(eddy({"produce", "jobs"}, "a\nb\nc\nd\ne\n").exitCode, 0);
    auto first = eddy({"consume", "jobs", "--group", "workers", "--count", "3"});
    QVERIFY2(first.exitCode == 0, qPrintable(first.err));
    QCOMPARE(first.out.split('\n', Qt::SkipEmptyParts).size(), 3);
    auto rest = eddy({"consume", "jobs", "--group", "workers", "--idle-ms", "300"});
    QVERIFY2(rest.exitCode == 0, qPrintable(rest.err));
    QStringList all = first.out.split('\n', Qt::SkipEmptyParts)
                      + rest.out.split('\n', Qt::SkipEmptyParts);
    all.sort();
    QCOMPARE(all, QStringList({"a", "b", "c", "d", "e"}));

    auto described = eddy({"group", "describe", "workers"});
    QVERIFY2(described.exitCode == 0, qPrintable(described.err));
    QVERIFY(described.out.contains("Total lag: 0"));
    auto listed = eddy({"group", "list", "--json"});
    QVERIFY2(listed.exitCode == 0, qPrintable(listed.err));
    QVERIFY(listed.out.contains("\"workers\""));

    auto reset = eddy({"group", "reset-offsets", "workers", "--topic", "jobs", "--to",
                       "earliest"});
    QVERIFY2(reset.exitCode == 0, qPrintable(reset.err));
    auto again = eddy({"consume", "jobs", "--group", "workers", "--idle-ms", "300"});
    QVERIFY2(again.exitCode == 0, qPrintable(again.err));
    QCOMPARE(again.out.split('\n', Qt::SkipEmptyParts).size(), 5);
}

void TestCli::errors()
{
    auto unknown = eddy({"consume", "no-such-topic", "--count", "1"});
    QCOMPARE(unknown.exitCode, 1);
    QVERIFY2(unknown.err.contains("UNKNOWN_TOPIC"), qPrintable(unknown.err));
    QVERIFY(unknown.out.isEmpty());
    auto unknownGroup = eddy({"consume", "no-such-topic", "--group", "g"});
    QCOMPARE(unknownGroup.exitCode, 1);
    QVERIFY(unknownGroup.err.contains("UNKNOWN_TOPIC"));
    auto produce = eddy({"produce", "no-such-topic", "--value", "x"});
    QCOMPARE(produce.exitCode, 1);
    QVERIFY(produce.err.contains("UNKNOWN_TOPIC"));
    auto duplicate = eddy({"topic", "create", "dup"});
    QCOMPARE(duplicate.exitCode, 0);
    auto again = eddy({"topic", "create", "dup"});
    QCOMPARE(again.exitCode, 1);
    QVERIFY(again.err.contains("TOPIC_ALREADY_EXISTS"));
    auto unreachable = eddy({"topic", "list", "--broker", "tcp://127.0.0.1:1"});
    QCOMPARE(unreachable.exitCode, 1);
    QVERIFY2(unreachable.err.contains("cannot connect to tcp://127.0.0.1:1"),
             qPrintable(unreachable.err));
    auto usage = eddy({"produce"});
    QCOMPARE(usage.exitCode, 2);
    QVERIFY(!usage.err.isEmpty());
    auto badFrom = eddy({"consume", "dup", "--from", "yesterday"});
    QCOMPARE(badFrom.exitCode, 2);
    auto unknownCommand = eddy({"frobnicate"});
    QCOMPARE(unknownCommand.exitCode, 2);
}

void TestCli::seedExample()
{
    // Twice: the first run creates `events`, the second finds it; each consumes its own event.
    for (int run = 0; run < 2; ++run) {
        const ChildRun r = runChild(EDDY_SEED_EXAMPLE_PATH, {"--broker", m_url}, 15000);
        const QString &out = r.out;
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY(out.contains("produced {\"payload\""));
        QVERIFY(out.contains("type=user.created"));
        QVERIFY(out.contains("committed"));
    }
    auto described = eddy({"group", "describe", "seed-example"});
    QVERIFY2(described.exitCode == 0, qPrintable(described.err));
    QVERIFY(described.out.contains("Total lag: 0"));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
