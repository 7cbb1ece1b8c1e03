// Integration tests of topic administration through eddy::Broker: create / describe / list /
// delete, partition increases (never decreases), name and partition-count validation, unknown
// topics on every topic-addressed call, and that a deleted-then-recreated topic starts empty.
#include "broker_fixture.h"

#include <QtTest>

#include <algorithm>

using namespace eddy;
using namespace eddy::test;

class TestBrokerTopics : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void createDescribeList();
    void createPersistsRetention();
    void duplicateTopic();
    void invalidNames_data();
    void invalidNames();
    void validEdgeNames();
    void invalidPartitionCounts_data();
    void invalidPartitionCounts();
    void negativeRetentionRejected();
    void alterPartitionsUpwardOnly();
    void alterPartitionsNewPartitionsUsable();
    void unknownTopicOperations();
    void deleteTopic();
    void deleteThenRecreateStartsEmpty();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

void TestBrokerTopics::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    auto opened = Broker::open(testConfig(m_dir->path()));
    QVERIFY2(opened.ok(), describe(opened).constData());
    m_broker = std::move(opened.value());
}

void TestBrokerTopics::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

void TestBrokerTopics::createDescribeList()
{
    QVERIFY(m_broker->listTopics().empty());
    auto created = m_broker->createTopic({"orders", 3, {}});
    EDDY_VERIFY_OK(created);
    QCOMPARE(created->name, std::string("orders"));
    QCOMPARE(created->partitions, 3);
    QCOMPARE(created->partitionInfo.size(), std::size_t(3));
    QVERIFY(created->createdMs > 0);
    for (int p = 0; p < 3; ++p) {
        QCOMPARE(created->partitionInfo[p].partition, p);
        QCOMPARE(created->partitionInfo[p].logStartOffset, 0);
        QCOMPARE(created->partitionInfo[p].highWatermark, 0);
        QCOMPARE(created->partitionInfo[p].sizeBytes, 0);
    }
    EDDY_VERIFY_OK(m_broker->createTopic({"payments", 1, {}}));

    auto described = m_broker->describeTopic("orders");
    EDDY_VERIFY_OK(described);
    QCOMPARE(described->partitions, 3);
    QCOMPARE(described->createdMs, created->createdMs);

    const auto list = m_broker->listTopics();
    QCOMPARE(list.size(), std::size_t(2));
    std::vector<std::string> names;
    for (const auto &t : list)
        names.push_back(t.name);
    std::sort(names.begin(), names.end());
    QCOMPARE(names, (std::vector<std::string>{"orders", "payments"}));

    // describe reflects produced data.
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("orders", 1, {rec("abc"), rec("de")})));
    described = m_broker->describeTopic("orders");
    EDDY_VERIFY_OK(described);
    QCOMPARE(described->partitionInfo[1].highWatermark, 2);
    QCOMPARE(described->partitionInfo[1].sizeBytes, 5);
    QCOMPARE(described->partitionInfo[0].highWatermark, 0);
}

void TestBrokerTopics::createPersistsRetention()
{
    const RetentionPolicy ret{100, 4096, 60000};
    auto created = m_broker->createTopic({"kept", 2, ret});
    EDDY_VERIFY_OK(created);
    QCOMPARE(created->retention, ret);
    const RetentionPolicy ret2{0, 0, 1000};
    auto altered = m_broker->alterRetention("kept", ret2);
    EDDY_VERIFY_OK(altered);
    QCOMPARE(altered->retention, ret2);
    QCOMPARE(m_broker->describeTopic("kept")->retention, ret2);
    EDDY_VERIFY_ERR(m_broker->alterRetention("kept", {-1, 0, 0}), Errc::InvalidConfig);
    QCOMPARE(m_broker->describeTopic("kept")->retention, ret2);
}

void TestBrokerTopics::duplicateTopic()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"dup", 2, {}}));
    EDDY_VERIFY_ERR(m_broker->createTopic({"dup", 2, {}}), Errc::TopicAlreadyExists);
    EDDY_VERIFY_ERR(m_broker->createTopic({"dup", 5, {}}), Errc::TopicAlreadyExists);
    // The original is untouched.
    QCOMPARE(m_broker->describeTopic("dup")->partitions, 2);
    QCOMPARE(m_broker->listTopics().size(), std::size_t(1));
}

void TestBrokerTopics::invalidNames_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("250 chars") << QByteArray(250, 'a');
    QTest::newRow("space") << QByteArray("a b");
    QTest::newRow("slash") << QByteArray("x/y");
    QTest::newRow("dot") << QByteArray(".");
    QTest::newRow("dotdot") << QByteArray("..");
    QTest::newRow("NUL") << QByteArray("ab\0cd", 5);
    QTest::newRow("trailing NUL") << QByteArray("abc\0", 4);
    QTest::newRow("non-ASCII") << QByteArray("caf\xc3\xa9");
    QTest::newRow("colon") << QByteArray("a:b");
}

void TestBrokerTopics::invalidNames()
{
    QFETCH(QByteArray, name);
    const std::string n = name.toStdString();
    QCOMPARE(n.size(), std::size_t(name.size())); // NUL bytes survive the conversion
    EDDY_VERIFY_ERR(m_broker->createTopic({n, 1, {}}), Errc::InvalidTopicName);
    QVERIFY(m_broker->listTopics().empty());
    // Every topic-addressed call rejects the name the same way rather than "unknown topic".
    EDDY_VERIFY_ERR(m_broker->describeTopic(n), Errc::InvalidTopicName);
    EDDY_VERIFY_ERR(m_broker->deleteTopic(n), Errc::InvalidTopicName);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo(n, std::nullopt, {rec("v")})),
                    Errc::InvalidTopicName);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom(n, 0, 0)), Errc::InvalidTopicName);
}

void TestBrokerTopics::validEdgeNames()
{
    const std::string longest(249, 'z');
    EDDY_VERIFY_OK(m_broker->createTopic({longest, 1, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"A-b_c.9", 1, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"...", 1, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"_", 1, {}}));
    QCOMPARE(m_broker->listTopics().size(), std::size_t(4));
    EDDY_VERIFY_OK(m_broker->describeTopic(longest));
}

void TestBrokerTopics::invalidPartitionCounts_data()
{
    QTest::addColumn<int>("partitions");
    QTest::newRow("0") << 0;
    QTest::newRow("-1") << -1;
    QTest::newRow("1025") << 1025;
}

void TestBrokerTopics::invalidPartitionCounts()
{
    QFETCH(int, partitions);
    EDDY_VERIFY_ERR(m_broker->createTopic({"t", partitions, {}}), Errc::InvalidPartitions);
    EDDY_VERIFY_ERR(m_broker->describeTopic("t"), Errc::UnknownTopic);
}

void TestBrokerTopics::negativeRetentionRejected()
{
    EDDY_VERIFY_ERR(m_broker->createTopic({"r", 1, {-1, 0, 0}}), Errc::InvalidConfig);
    EDDY_VERIFY_ERR(m_broker->createTopic({"r", 1, {0, -5, 0}}), Errc::InvalidConfig);
    EDDY_VERIFY_ERR(m_broker->createTopic({"r", 1, {0, 0, -1}}), Errc::InvalidConfig);
    EDDY_VERIFY_OK(m_broker->createTopic({"r", 1024, {}}));
    QCOMPARE(m_broker->describeTopic("r")->partitions, 1024);
}

void TestBrokerTopics::alterPartitionsUpwardOnly()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"grow", 3, {}}));
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", 3), Errc::InvalidPartitions);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", 2), Errc::InvalidPartitions);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", 0), Errc::InvalidPartitions);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", -4), Errc::InvalidPartitions);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", 1025), Errc::InvalidPartitions);
    QCOMPARE(m_broker->describeTopic("grow")->partitions, 3);

    auto grown = m_broker->alterPartitions("grow", 5);
    EDDY_VERIFY_OK(grown);
    QCOMPARE(grown->partitions, 5);
    QCOMPARE(grown->partitionInfo.size(), std::size_t(5));
    QCOMPARE(grown->partitionInfo[4].partition, 4);
    QCOMPARE(m_broker->describeTopic("grow")->partitions, 5);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("grow", 4), Errc::InvalidPartitions);
    EDDY_VERIFY_OK(m_broker->alterPartitions("grow", 1024));
    QCOMPARE(m_broker->describeTopic("grow")->partitions, 1024);
}

void TestBrokerTopics::alterPartitionsNewPartitionsUsable()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"g2", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("g2", 0, {rec("old")})));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("g2", 1, {rec("x")})), Errc::UnknownPartition);
    EDDY_VERIFY_OK(m_broker->alterPartitions("g2", 2));
    auto produced = m_broker->produceSync(produceTo("g2", 1, {rec("new")}));
    EDDY_VERIFY_OK(produced);
    QCOMPARE(produced->offsets.at(0), std::make_pair(1, int64_t(0)));
    auto all = readAll(*m_broker, "g2", 1);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(1));
    QCOMPARE(all->at(0).value, std::string("new"));
    // The existing partition keeps its data.
    auto old = readAll(*m_broker, "g2", 0);
    EDDY_VERIFY_OK(old);
    QCOMPARE(old->size(), std::size_t(1));
    QCOMPARE(old->at(0).value, std::string("old"));
}

void TestBrokerTopics::unknownTopicOperations()
{
    EDDY_VERIFY_ERR(m_broker->describeTopic("nope"), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->deleteTopic("nope"), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->alterPartitions("nope", 4), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->alterRetention("nope", {}), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("nope", std::nullopt, {rec("v")})),
                    Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("nope", 0, {rec("v")})), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("nope", 0, 0)), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->offsetForTimestamp("nope", 0, 0), Errc::UnknownTopic);
    ResetOffsetsRequest reset;
    reset.group = "g";
    reset.topic = "nope";
    EDDY_VERIFY_ERR(m_broker->resetOffsets(reset), Errc::UnknownTopic);
    CommitRequest commit;
    commit.group = "g";
    commit.offsets.push_back({"nope", 0, 0, {}});
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(commit), Errc::UnknownTopic);
    QVERIFY(m_broker->listTopics().empty());
}

void TestBrokerTopics::deleteTopic()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"a", 2, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"b", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("a", 0, {rec("1"), rec("2")})));
    EDDY_VERIFY_OK(m_broker->deleteTopic("a"));
    EDDY_VERIFY_ERR(m_broker->describeTopic("a"), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->deleteTopic("a"), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("a", 0, 0)), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("a", 0, {rec("3")})), Errc::UnknownTopic);
    const auto list = m_broker->listTopics();
    QCOMPARE(list.size(), std::size_t(1));
    QCOMPARE(list[0].name, std::string("b"));
}

void TestBrokerTopics::deleteThenRecreateStartsEmpty()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"again", 2, {}}));
    for (int i = 0; i < 5; ++i)
        EDDY_VERIFY_OK(
            m_broker->produceSync(produceTo("again", 0, {rec("old-" + std::to_string(i))})));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("again", 1, {rec("old-p1")})));
    // A committed offset for the old topic must not carry over either.
    CommitRequest commit;
    commit.group = "grp";
    commit.offsets.push_back({"again", 0, 3, {}});
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));

    EDDY_VERIFY_OK(m_broker->deleteTopic("again"));
    auto created = m_broker->createTopic({"again", 1, {}});
    EDDY_VERIFY_OK(created);
    QCOMPARE(created->partitions, 1);
    QCOMPARE(created->partitionInfo[0].highWatermark, 0);
    QCOMPARE(created->partitionInfo[0].logStartOffset, 0);
    QCOMPARE(created->partitionInfo[0].sizeBytes, 0);

    auto empty = m_broker->fetchSync(fetchFrom("again", 0, 0));
    EDDY_VERIFY_OK(empty);
    QVERIFY(empty->records.empty());
    QCOMPARE(empty->highWatermark, 0);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("again", 0, 1)), Errc::OffsetOutOfRange);

    auto produced = m_broker->produceSync(produceTo("again", 0, {rec("new")}));
    EDDY_VERIFY_OK(produced);
    QCOMPARE(produced->offsets.at(0).second, 0);
    auto all = readAll(*m_broker, "again", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(1));
    QCOMPARE(all->at(0).value, std::string("new"));

    auto committed = m_broker->committedOffsets("grp", "again");
    EDDY_VERIFY_OK(committed);
    QCOMPARE(committed->size(), std::size_t(1));
    QCOMPARE(committed->at(0).offset, -1);

    // The same holds after a restart: old batches of the deleted topic never resurface.
    m_broker.reset();
    auto reopened = Broker::open(testConfig(m_dir->path()));
    QVERIFY2(reopened.ok(), describe(reopened).constData());
    m_broker = std::move(reopened.value());
    auto info = m_broker->describeTopic("again");
    EDDY_VERIFY_OK(info);
    QCOMPARE(info->partitions, 1);
    QCOMPARE(info->partitionInfo[0].highWatermark, 1);
    all = readAll(*m_broker, "again", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(1));
    QCOMPARE(all->at(0).value, std::string("new"));
}

QTEST_GUILESS_MAIN(TestBrokerTopics)
#include "tst_broker_topics.moc"
