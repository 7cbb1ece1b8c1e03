// Interop with kcat (Debian's kcat on librdkafka 2.0), a real Kafka client that knows nothing of
// Eddy: it lists the cluster, produces keyed records with headers and acks=all, consumes them
// back from the beginning, waits in a long-poll for a record the engine appends later, and fails
// cleanly (non-zero exit, nothing created) when it produces to a topic that does not exist.
#include "child_process.h"
#include "kafka_fixture.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace eddy;

class TestKcat : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void listsTheCluster();
    void producesAndConsumesBack();
    void consumerWaitsForNewRecords();
    void unknownTopicFailsCleanly();

private:
    QStringList base() const { return {"-b", m_bootstrap, "-X", "socket.timeout.ms=5000"}; }

    KafkaBrokerFixture m_fixture;
    Broker *m_broker = nullptr;
    QString m_bootstrap;
};

void TestKcat::initTestCase()
{
    QVERIFY(m_fixture.start(Durability::Fast));
    m_broker = m_fixture.broker.get();
    m_bootstrap = QString::fromStdString(m_fixture.bootstrap());
    QVERIFY(m_broker->createTopic({"kc", 2, {}}));
}

void TestKcat::cleanupTestCase()
{
    m_fixture.stop();
}

void TestKcat::listsTheCluster()
{
    const auto run = runChild(EDDY_KCAT_PATH, base() << "-L", 20000);
    QVERIFY2(run.exitCode == 0, qPrintable(run.describe()));
    QVERIFY2(run.out.contains("topic \"kc\" with 2 partitions"), qPrintable(run.out));
    QVERIFY(run.out.contains("broker 0 at " + m_bootstrap));
}

void TestKcat::producesAndConsumesBack()
{
    QByteArray input;
    for (int i = 0; i < 200; ++i)
        input += "key" + QByteArray::number(i % 7) + ":value-" + QByteArray::number(i) + "\n";
    const auto produced = runChild(EDDY_KCAT_PATH,
                                   base() << "-P" << "-t" << "kc" << "-K:" << "-H" << "origin=kcat"
                                          << "-X" << "acks=all",
                                   30000, input);
    QVERIFY2(produced.exitCode == 0, qPrintable(produced.describe()));
    const auto info = m_broker->describeTopic("kc");
    QVERIFY(info);
    QCOMPARE(info->partitionInfo[0].highWatermark + info->partitionInfo[1].highWatermark,
             int64_t(200));
    // Keyed records land by Kafka's murmur2 partitioner: one key, one partition.
    FetchRequest req;
    req.topic = "kc";
    req.maxRecords = 1000;
    auto p0 = m_broker->fetchSync(req);
    QVERIFY(p0);
    QVERIFY(!p0->records.empty());
    QCOMPARE(p0->records[0].headers.at(0).key, std::string("origin"));
    QCOMPARE(p0->records[0].headers.at(0).value, std::string("kcat"));

    const auto consumed = runChild(EDDY_KCAT_PATH,
                                   base() << "-C" << "-t" << "kc" << "-o" << "beginning" << "-e"
                                          << "-f" << "%k=%s|%h\\n",
                                   30000);
    QVERIFY2(consumed.exitCode == 0, qPrintable(consumed.describe()));
    const auto lines = consumed.out.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 200);
    QVERIFY(lines.contains("key3=value-10|origin=kcat"));
    QVERIFY(lines.contains("key3=value-199|origin=kcat"));
}

void TestKcat::consumerWaitsForNewRecords()
{
    QVERIFY(m_broker->createTopic({"later", 1, {}}));
    ChildProcess consumer;
    QVERIFY(consumer.start(EDDY_KCAT_PATH, base() << "-C" << "-t" << "later" << "-o" << "end"
                                                  << "-c" << "1" << "-f" << "%o:%s\\n"));
    // Give it time to find the end and park its fetch; then the engine appends.
    QThread::msleep(1500);
    QVERIFY(consumer.running());
    ProduceRequest req;
    req.topic = "later";
    req.records.resize(1);
    req.records[0].value = "appended by the engine";
    QVERIFY(m_broker->produceSync(req));
    QVERIFY(consumer.waitForFinished(15000));
    QCOMPARE(consumer.exitCode(), 0);
    QCOMPARE(QString(consumer.readAllStandardOutput()).trimmed(),
             QString("0:appended by the engine"));
}

void TestKcat::unknownTopicFailsCleanly()
{
    const auto run = runChild(EDDY_KCAT_PATH,
                              base() << "-P"
                                     << "-t"
                                     << "nosuch"
                                     << "-X"
                                     << "message.timeout.ms=1500",
                              30000, "lost\n");
    QVERIFY2(run.exitCode != 0, qPrintable(run.describe()));
    QVERIFY(!m_broker->describeTopic("nosuch"));
}

QTEST_GUILESS_MAIN(TestKcat)
#include "tst_kcat.moc"
