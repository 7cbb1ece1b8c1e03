// Fault injection through eddy::Broker, as the simulator and the studio drive it: a partition
// taken offline refuses produce/fetch/poll with the retriable PARTITION_OFFLINE (a poll skips it
// and reads the member's other partitions) and serves again once back online; an injected full
// disk fails durable produces with STORAGE_FULL and acknowledges nothing, then recovers at the
// next offset; an injected slow disk holds durable acknowledgements for at least the delay; and
// fault announcements reach the event log and the event listener.
#include "broker_fixture.h"

#include <QElapsedTimer>
#include <QtTest>

#include <future>
#include <mutex>

using namespace eddy;
using namespace eddy::test;

class TestBrokerFaults : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void offlinePartitionRefusesProduceAndFetch();
    void offlineCheckedBeforeAnyAppend();
    void parkedFetchAnswersOfflineAtItsDeadline();
    void pollSkipsOfflinePartitions();
    void setPartitionOfflineValidates();
    void diskFullAcknowledgesNothingThenRecovers_data();
    void diskFullAcknowledgesNothingThenRecovers();
    void diskSlowHoldsDurableAcks_data();
    void diskSlowHoldsDurableAcks();
    void publishEventReachesLogAndListener();

private:
    void openBroker(BrokerConfig config);
    int64_t highWatermark(const std::string &topic, int32_t partition);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

void TestBrokerFaults::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    openBroker(testConfig(m_dir->path()));
}

void TestBrokerFaults::openBroker(BrokerConfig config)
{
    m_broker.reset();
    auto opened = Broker::open(std::move(config));
    QVERIFY2(opened.ok(), describe(opened).constData());
    m_broker = std::move(opened.value());
}

void TestBrokerFaults::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

int64_t TestBrokerFaults::highWatermark(const std::string &topic, int32_t partition)
{
    auto info = m_broker->describeTopic(topic);
    if (!info)
        return -1;
    return info->partitionInfo.at(static_cast<std::size_t>(partition)).highWatermark;
}

void TestBrokerFaults::offlinePartitionRefusesProduceAndFetch()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 2, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("t", 0, {rec("a0")})));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("t", 1, {rec("b0")})));

    EDDY_VERIFY_OK(m_broker->setPartitionOffline("t", 1, true));
    auto refused = m_broker->produceSync(produceTo("t", 1, {rec("b1")}, Acks::Durable));
    EDDY_VERIFY_ERR(refused, Errc::PartitionOffline);
    QVERIFY(errcRetriable(refused.code()));
    QCOMPARE(errcName(Errc::PartitionOffline), std::string_view("PARTITION_OFFLINE"));
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("t", 1, 0)), Errc::PartitionOffline);
    QCOMPARE(highWatermark("t", 1), 1);

    // The other partition is untouched.
    auto other = m_broker->produceSync(produceTo("t", 0, {rec("a1")}));
    EDDY_VERIFY_OK(other);
    QCOMPARE(other->offsets[0].second, 1);
    auto read = m_broker->fetchSync(fetchFrom("t", 0, 0));
    EDDY_VERIFY_OK(read);
    QCOMPARE(read->records.size(), std::size_t(2));

    // Setting it twice is harmless; back online it serves from where it was.
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("t", 1, true));
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("t", 1, false));
    auto back = m_broker->produceSync(produceTo("t", 1, {rec("b1")}, Acks::Durable));
    EDDY_VERIFY_OK(back);
    QCOMPARE(back->offsets[0].second, 1);
    auto all = readAll(*m_broker, "t", 1);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
    QCOMPARE(all->at(0).value, std::string("b0"));
    QCOMPARE(all->at(1).value, std::string("b1"));
}

void TestBrokerFaults::offlineCheckedBeforeAnyAppend()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"rr", 3, {}}));
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("rr", 2, true));
    // Unkeyed records go round-robin over all three partitions: one of them is offline, so the
    // whole request is refused and no partition received anything.
    std::vector<Record> records;
    for (int i = 0; i < 6; ++i)
        records.push_back(rec("r" + std::to_string(i)));
    EDDY_VERIFY_ERR(m_broker->produceSync(produceTo("rr", std::nullopt, records)),
                    Errc::PartitionOffline);
    for (int32_t p = 0; p < 3; ++p)
        QCOMPARE(highWatermark("rr", p), 0);

    // Deleting the topic forgets the setting: a new topic of that name is online.
    EDDY_VERIFY_OK(m_broker->deleteTopic("rr"));
    EDDY_VERIFY_OK(m_broker->createTopic({"rr", 3, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("rr", 2, {rec("fresh")})));
}

void TestBrokerFaults::parkedFetchAnswersOfflineAtItsDeadline()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"lp", 1, {}}));
    std::promise<Result<FetchResult>> fetched;
    auto future = fetched.get_future();
    m_broker->fetch(fetchFrom("lp", 0, 0, 10, 300),
                    [&fetched](Result<FetchResult> r) { fetched.set_value(std::move(r)); });
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("lp", 0, true));
    QVERIFY(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    EDDY_VERIFY_ERR(future.get(), Errc::PartitionOffline);
}

void TestBrokerFaults::pollSkipsOfflinePartitions()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"p", 2, {}}));
    for (int32_t p = 0; p < 2; ++p)
        for (int i = 0; i < 3; ++i)
            EDDY_VERIFY_OK(m_broker->produceSync(
                produceTo("p", p, {rec("p" + std::to_string(p) + "-" + std::to_string(i))})));
    JoinGroupRequest join;
    join.group = "g";
    join.topics = {"p"};
    auto member = m_broker->joinGroup(join);
    EDDY_VERIFY_OK(member);
    QCOMPARE(member->assigned.size(), std::size_t(2));
    PollRequest poll;
    poll.group = "g";
    poll.memberId = member->memberId;
    poll.generation = member->generation;

    EDDY_VERIFY_OK(m_broker->setPartitionOffline("p", 1, true));
    auto first = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(first);
    QCOMPARE(first->records.size(), std::size_t(3));
    for (const auto &r : first->records)
        QCOMPARE(r.partition, 0);
    // Partition 1 stays skipped; partition 0 has nothing more.
    auto second = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(second);
    QVERIFY(second->records.empty());

    // Every partition offline: the poll itself is refused (retriable).
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("p", 0, true));
    EDDY_VERIFY_ERR(m_broker->pollSync(poll), Errc::PartitionOffline);

    // Back online, partition 1 is read from where the member left it: its start.
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("p", 0, false));
    EDDY_VERIFY_OK(m_broker->setPartitionOffline("p", 1, false));
    auto third = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(third);
    QCOMPARE(third->records.size(), std::size_t(3));
    for (std::size_t i = 0; i < third->records.size(); ++i) {
        QCOMPARE(third->records[i].partition, 1);
        QCOMPARE(third->records[i].record.offset, int64_t(i));
    }
}

void TestBrokerFaults::setPartitionOfflineValidates()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"v", 2, {}}));
    EDDY_VERIFY_ERR(m_broker->setPartitionOffline("nope", 0, true), Errc::UnknownTopic);
    EDDY_VERIFY_ERR(m_broker->setPartitionOffline("v", 2, true), Errc::UnknownPartition);
    EDDY_VERIFY_ERR(m_broker->setPartitionOffline("v", -1, true), Errc::UnknownPartition);
}

void TestBrokerFaults::diskFullAcknowledgesNothingThenRecovers_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("fast") << Durability::Fast;
    QTest::newRow("durable") << Durability::Durable;
}

void TestBrokerFaults::diskFullAcknowledgesNothingThenRecovers()
{
    QFETCH(Durability, durability);
    openBroker(testConfig(m_dir->path(), durability));
    EDDY_VERIFY_OK(m_broker->createTopic({"full", 1, {}}));
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("full", 0, {rec("before")}, Acks::Durable)));

    m_broker->setDiskFault(0, true);
    auto failed = m_broker->produceSync(
        produceTo("full", 0, {rec("lost-1"), rec("lost-2")}, Acks::Durable));
    EDDY_VERIFY_ERR(failed, Errc::StorageFull);
    QVERIFY(errcRetriable(failed.code()));
    // Nothing of it is visible or readable.
    QCOMPARE(highWatermark("full", 0), 1);
    auto read = m_broker->fetchSync(fetchFrom("full", 0, 0));
    EDDY_VERIFY_OK(read);
    QCOMPARE(read->records.size(), std::size_t(1));
    QCOMPARE(read->records[0].value, std::string("before"));
    // Metadata changes fail the same way and leave nothing behind.
    EDDY_VERIFY_ERR(m_broker->createTopic({"while-full", 1, {}}), Errc::StorageFull);
    EDDY_VERIFY_ERR(m_broker->describeTopic("while-full"), Errc::UnknownTopic);

    m_broker->setDiskFault(0, false);
    auto resumed = m_broker->produceSync(produceTo("full", 0, {rec("after")}, Acks::Durable));
    EDDY_VERIFY_OK(resumed);
    QCOMPARE(resumed->offsets[0].second, 1); // the failed request burnt no offsets
    auto all = readAll(*m_broker, "full", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
    QCOMPARE(all->at(1).value, std::string("after"));
    EDDY_VERIFY_OK(m_broker->createTopic({"while-full", 1, {}}));

    // What was acknowledged is what the store holds.
    openBroker(testConfig(m_dir->path(), durability));
    auto reopened = readAll(*m_broker, "full", 0);
    EDDY_VERIFY_OK(reopened);
    QCOMPARE(reopened->size(), std::size_t(2));
    QCOMPARE(reopened->at(0).value, std::string("before"));
    QCOMPARE(reopened->at(1).value, std::string("after"));
}

void TestBrokerFaults::diskSlowHoldsDurableAcks_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("fast") << Durability::Fast;
    QTest::newRow("durable") << Durability::Durable;
}

void TestBrokerFaults::diskSlowHoldsDurableAcks()
{
    QFETCH(Durability, durability);
    openBroker(testConfig(m_dir->path(), durability));
    EDDY_VERIFY_OK(m_broker->createTopic({"slow", 1, {}}));

    constexpr int kDelayMs = 300;
    m_broker->setDiskFault(kDelayMs, false);
    QElapsedTimer timer;
    timer.start();
    auto slow = m_broker->produceSync(produceTo("slow", 0, {rec("s")}, Acks::Durable));
    const qint64 elapsed = timer.elapsed();
    EDDY_VERIFY_OK(slow);
    // Only a lower bound: the commit waited out the delay before the acknowledgement.
    QVERIFY2(elapsed >= kDelayMs - 1, qPrintable(QString("acknowledged after %1 ms").arg(elapsed)));

    // Cleared, durable produces go on; everything acknowledged is readable.
    m_broker->setDiskFault(0, false);
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("slow", 0, {rec("t")}, Acks::Durable)));
    auto all = readAll(*m_broker, "slow", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
}

void TestBrokerFaults::publishEventReachesLogAndListener()
{
    std::mutex mutex;
    std::vector<BrokerEvent> heard;
    m_broker->setEventListener([&](const BrokerEvent &e) {
        std::lock_guard lock(mutex);
        heard.push_back(e);
    });
    m_broker->publishEvent("fault_started", "t/1", "partition t/1 taken offline");
    m_broker->publishEvent("fault_ended", "t/1", "partition t/1 back online");
    m_broker->setEventListener({});

    const auto events = m_broker->recentEvents();
    QVERIFY(events.size() >= 2);
    const auto &started = events[events.size() - 2];
    const auto &ended = events.back();
    QCOMPARE(started.kind, std::string("fault_started"));
    QCOMPARE(started.subject, std::string("t/1"));
    QCOMPARE(started.detail, std::string("partition t/1 taken offline"));
    QVERIFY(started.timestampMs > 0);
    QCOMPARE(ended.kind, std::string("fault_ended"));
    QVERIFY(ended.timestampMs >= started.timestampMs);

    std::lock_guard lock(mutex);
    QCOMPARE(heard.size(), std::size_t(2));
    QCOMPARE(heard[0].kind, std::string("fault_started"));
    QCOMPARE(heard[1].kind, std::string("fault_ended"));
}

QTEST_GUILESS_MAIN(TestBrokerFaults)
#include "tst_broker_faults.moc"
