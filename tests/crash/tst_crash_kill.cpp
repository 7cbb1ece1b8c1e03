// Durability under crashes: `eddy broker` runs as a child process while producers (acks=durable)
// and a committing consumer group member work against it, and is killed with SIGKILL at random
// moments — while serving, and now and then while it is still recovering from the previous kill —
// then restarted on the same data directory and port. After every restart the workload's
// verify() checks that every acknowledged record is at its acknowledged offset with its payload,
// offsets are contiguous and unique, committed offsets never went back, and the consumer, which
// resumes from its committed offset, skipped nothing; at the end the consumer drains every
// partition. EDDY_CRASH_KILLS sets the number of kills (tests/crash/kill_loop.sh runs many).
#include "broker_process.h"
#include "crash_workload.h"

#include <QTemporaryDir>
#include <QtTest>

#include <random>

class TestCrashKill : public QObject
{
    Q_OBJECT

private slots:
    void killsLoseNothingAcknowledged_data();
    void killsLoseNothingAcknowledged();
};

void TestCrashKill::killsLoseNothingAcknowledged_data()
{
    QTest::addColumn<QString>("durability");
    QTest::addColumn<int>("kills");
    const int kills = qEnvironmentVariableIntValue("EDDY_CRASH_KILLS");
    // Durable mode is the guarantee under test; fast mode with acks=durable promises the same
    // against a process crash (only a power loss may take back its latest commits).
    QTest::newRow("durable") << "durable" << (kills > 0 ? kills : 16);
    QTest::newRow("fast, acks=durable") << "fast" << (kills > 0 ? kills : 6);
}

void TestCrashKill::killsLoseNothingAcknowledged()
{
    QFETCH(QString, durability);
    QFETCH(int, kills);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const int port = freeLoopbackPort();
    QVERIFY(port > 0);
    // EDDY_CLI runs another build of eddy (kill_loop.sh runs a copy, so rebuilding meanwhile is
    // harmless).
    const QString cli = qEnvironmentVariableIsSet("EDDY_CLI") ? qEnvironmentVariable("EDDY_CLI")
                                                               : QString(EDDY_CLI_PATH);
    BrokerProcess broker(cli, dir.path(), durability, port);
    QVERIFY2(broker.start(), qPrintable(broker.lastError()));

    crash::WorkloadOptions options;
    options.url = broker.url().toStdString();
    options.checkDeliveredPayloads = durability == "durable";
    crash::Workload workload(options);
    QVERIFY2(workload.start().isEmpty(), "the workload could not start");
    QVERIFY2(workload.waitForAcks(50, 20000), "no progress before the first kill");

    const unsigned seed = qEnvironmentVariableIsSet("EDDY_CRASH_SEED")
                              ? unsigned(qEnvironmentVariableIntValue("EDDY_CRASH_SEED"))
                              : std::random_device{}();
    qInfo("seed %u (EDDY_CRASH_SEED reproduces the kill timing)", seed);
    std::mt19937 random(seed);
    int duringRecovery = 0;
    qint64 slowestStartMs = 0;
    for (int kill = 1; kill <= kills; ++kill) {
        // A random moment while the workload runs; it must have done something since the last
        // restart, or the kill would prove nothing.
        QTest::qSleep(int(100 + random() % 900));
        workload.waitForAcks(5, 10000);
        broker.kill();
        // Now and then the restarted broker is killed again while it opens and checks its store.
        if (random() % 5 == 0) {
            QVERIFY(broker.launch());
            QTest::qSleep(int(random() % 40));
            broker.kill();
            ++duringRecovery;
        }
        QVERIFY2(broker.start(), qPrintable(QString("restart after kill %1: %2")
                                                .arg(kill)
                                                .arg(broker.lastError())));
        slowestStartMs = std::max(slowestStartMs, broker.lastStartMs());
        const QString violation = workload.verify();
        QVERIFY2(violation.isEmpty(),
                 qPrintable(QString("after kill %1: %2").arg(kill).arg(violation)));
    }
    const QString end = workload.finish(60000);
    QVERIFY2(end.isEmpty(), qPrintable(end));
    const auto s = workload.stats();
    qInfo("summary: %d kills (%d during recovery), %zu records acknowledged and verified, "
          "%zu stored, %zu sends failed (not acknowledged), %zu delivered to the consumer, %zu "
          "commits acknowledged, %zu failed, slowest restart %lld ms",
          kills, duringRecovery, s.acked, s.stored, s.failedSends, s.delivered, s.commits,
          s.failedCommits, slowestStartMs);
    QVERIFY(s.acked > std::size_t(kills) * 5);
    QVERIFY(s.commits > 0);
    QCOMPARE(broker.terminate(), 0);
}

QTEST_GUILESS_MAIN(TestCrashKill)
#include "tst_crash_kill.moc"
