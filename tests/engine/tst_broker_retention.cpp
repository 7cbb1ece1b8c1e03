// Integration tests of retention through eddy::Broker: by record count (exact), by payload bytes
// and by age (whole stored batches), the effect on fetch and lag, the periodic pass, and that the
// trimmed state survives a restart. Each runs in both durability modes: in fast mode the newest
// batches may not have reached the store when a pass runs, which must not skew the accounting.
#include "broker_fixture.h"

#include <QtTest>

using namespace eddy;
using namespace eddy::test;

Q_DECLARE_METATYPE(eddy::Durability)

class TestBrokerRetention : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void byRecordCount_data();
    void byRecordCount();
    void byBytes_data();
    void byBytes();
    void byAge_data();
    void byAge();
    void alterRetentionApplies();
    void lagCountsFromLogStart();
    void periodicPass();
    void survivesReopen_data();
    void survivesReopen();

private:
    void openBroker(const BrokerConfig &config);
    // Produces `batches` batches of `perBatch` records with `bytes`-byte values to partition 0.
    void produceBatches(const std::string &topic, int batches, int perBatch, int bytes);
    void addDurabilityColumn();

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
    Durability m_durability = Durability::Fast;
};

void TestBrokerRetention::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_durability = Durability::Fast;
    if (QTest::currentDataTag() && QByteArray(QTest::currentDataTag()) == "durable")
        m_durability = Durability::Durable;
    openBroker(testConfig(m_dir->path(), m_durability));
}

void TestBrokerRetention::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

void TestBrokerRetention::openBroker(const BrokerConfig &config)
{
    m_broker.reset();
    auto opened = Broker::open(config);
    QVERIFY2(opened.ok(), describe(opened).constData());
    m_broker = std::move(opened.value());
}

void TestBrokerRetention::addDurabilityColumn()
{
    QTest::addColumn<int>("unused");
    QTest::newRow("fast") << 0;
    QTest::newRow("durable") << 1;
}

void TestBrokerRetention::produceBatches(const std::string &topic, int batches, int perBatch,
                                         int bytes)
{
    for (int b = 0; b < batches; ++b) {
        std::vector<Record> records;
        for (int i = 0; i < perBatch; ++i)
            records.push_back(rec(std::string(std::size_t(bytes), char('a' + (b + i) % 26))));
        // Leader acks: in fast mode the batches may still be queued for the store when the
        // test runs a retention pass.
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo(topic, 0, std::move(records))));
    }
    if (m_durability == Durability::Durable) {
        // Durable mode shows records once persisted; wait for all of them.
        const int64_t want = int64_t(batches) * perBatch;
        QTRY_VERIFY_WITH_TIMEOUT(m_broker->describeTopic(topic)->partitionInfo[0].highWatermark
                                     >= want,
                                 3000);
    }
}

void TestBrokerRetention::byRecordCount_data()
{
    addDurabilityColumn();
}

void TestBrokerRetention::byRecordCount()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"cnt", 1, {10, 0, 0}}));
    produceBatches("cnt", 9, 3, 10); // 27 records, batches [0,3) [3,6) ... [24,27)
    QCOMPARE(m_broker->describeTopic("cnt")->partitionInfo[0].sizeBytes, 270);
    m_broker->runRetention();
    auto info = m_broker->describeTopic("cnt");
    EDDY_VERIFY_OK(info);
    const auto &p = info->partitionInfo[0];
    QCOMPARE(p.highWatermark, 27);
    QCOMPARE(p.logStartOffset, 17); // exact: HW - maxRecords, mid-batch
    // Size counts exactly the records from the log start on, though the log start is inside
    // a batch (and inside the stored row, which merges all nine).
    QCOMPARE(p.sizeBytes, 100);

    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("cnt", 0, 16)), Errc::OffsetOutOfRange);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("cnt", 0, 0)), Errc::OffsetOutOfRange);
    auto f = m_broker->fetchSync(fetchFrom("cnt", 0, 17));
    EDDY_VERIFY_OK(f);
    QCOMPARE(f->logStartOffset, 17);
    QCOMPARE(f->records.size(), std::size_t(10));
    QCOMPARE(f->records.front().offset, 17);
    auto all = readAll(*m_broker, "cnt", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(10));

    // Another pass without new data changes nothing; new data moves the start along exactly.
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("cnt")->partitionInfo[0].logStartOffset, 17);
    produceBatches("cnt", 1, 4, 10);
    m_broker->runRetention();
    info = m_broker->describeTopic("cnt");
    QCOMPARE(info->partitionInfo[0].highWatermark, 31);
    QCOMPARE(info->partitionInfo[0].logStartOffset, 21);
    QCOMPARE(info->partitionInfo[0].sizeBytes, 100); // batches [21,24) [24,27) [27,31)
}

void TestBrokerRetention::byBytes_data()
{
    addDurabilityColumn();
}

void TestBrokerRetention::byBytes()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"bytes", 1, {0, 1000, 0}}));
    produceBatches("bytes", 20, 2, 50); // 20 batches of 100 bytes
    QCOMPARE(m_broker->describeTopic("bytes")->partitionInfo[0].sizeBytes, 2000);
    m_broker->runRetention();
    auto info = m_broker->describeTopic("bytes");
    EDDY_VERIFY_OK(info);
    const auto &p = info->partitionInfo[0];
    QVERIFY2(p.sizeBytes <= 1000, qPrintable(QString("size %1").arg(p.sizeBytes)));
    QVERIFY2(p.sizeBytes > 900,
             qPrintable(QString("dropped more than needed: size %1").arg(p.sizeBytes)));
    QCOMPARE(p.logStartOffset % 2, 0); // a batch boundary
    QCOMPARE(p.logStartOffset, 20);
    QCOMPARE(p.highWatermark, 40);
    auto all = readAll(*m_broker, "bytes", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(20));
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("bytes", 0, 19)), Errc::OffsetOutOfRange);

    // One batch over the limit again: exactly one batch goes.
    produceBatches("bytes", 1, 1, 60);
    m_broker->runRetention();
    info = m_broker->describeTopic("bytes");
    QCOMPARE(info->partitionInfo[0].logStartOffset, 22);
    QCOMPARE(info->partitionInfo[0].sizeBytes, 960);
}

void TestBrokerRetention::byAge_data()
{
    addDurabilityColumn();
}

void TestBrokerRetention::byAge()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"age", 1, {0, 0, 300}}));
    produceBatches("age", 4, 2, 10);
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("age")->partitionInfo[0].logStartOffset, 0); // still young
    QTest::qWait(450);
    produceBatches("age", 1, 3, 10); // a young batch after the old ones
    m_broker->runRetention();
    auto info = m_broker->describeTopic("age");
    EDDY_VERIFY_OK(info);
    QCOMPARE(info->partitionInfo[0].logStartOffset, 8);
    QCOMPARE(info->partitionInfo[0].highWatermark, 11);
    QCOMPARE(info->partitionInfo[0].sizeBytes, 30);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("age", 0, 7)), Errc::OffsetOutOfRange);

    QTest::qWait(450);
    m_broker->runRetention();
    info = m_broker->describeTopic("age");
    QCOMPARE(info->partitionInfo[0].logStartOffset, 11);
    QCOMPARE(info->partitionInfo[0].highWatermark, 11);
    QCOMPARE(info->partitionInfo[0].sizeBytes, 0);
    auto f = m_broker->fetchSync(fetchFrom("age", 0, 11));
    EDDY_VERIFY_OK(f);
    QVERIFY(f->records.empty());
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("age", 0, 10)), Errc::OffsetOutOfRange);
    // An emptied partition takes new records at the next offset.
    auto r = m_broker->produceSync(produceTo("age", 0, {rec("fresh")}, Acks::Durable));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->offsets[0].second, 11);
}

void TestBrokerRetention::alterRetentionApplies()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"alt", 1, {}}));
    produceBatches("alt", 10, 1, 10);
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("alt")->partitionInfo[0].logStartOffset, 0);
    EDDY_VERIFY_OK(m_broker->alterRetention("alt", {4, 0, 0}));
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("alt")->partitionInfo[0].logStartOffset, 6);
    // Relaxing the policy never brings records back.
    EDDY_VERIFY_OK(m_broker->alterRetention("alt", {}));
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("alt")->partitionInfo[0].logStartOffset, 6);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("alt", 0, 5)), Errc::OffsetOutOfRange);
}

void TestBrokerRetention::lagCountsFromLogStart()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"lag", 1, {5, 0, 0}}));
    produceBatches("lag", 10, 2, 10);
    CommitRequest commit;
    commit.group = "g";
    commit.offsets = {{"lag", 0, 2, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
    QCOMPARE(m_broker->committedOffsets("g")->at(0).lag, 18);
    m_broker->runRetention();
    auto offsets = m_broker->committedOffsets("g");
    EDDY_VERIFY_OK(offsets);
    QCOMPARE(offsets->at(0).logStartOffset, 15);
    QCOMPARE(offsets->at(0).offset, 2);
    QCOMPARE(offsets->at(0).lag, 5); // what is left to read, not HW - committed
    // Resetting to earliest lands on the new log start.
    ResetOffsetsRequest reset;
    reset.group = "g";
    reset.topic = "lag";
    reset.kind = ResetKind::Earliest;
    auto r = m_broker->resetOffsets(reset);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 15);
    // And a reset to an offset below it is clamped up to it.
    reset.kind = ResetKind::ToOffset;
    reset.value = 3;
    r = m_broker->resetOffsets(reset);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 15);
}

void TestBrokerRetention::periodicPass()
{
    auto config = testConfig(m_dir->path());
    config.retentionIntervalMs = 50;
    openBroker(config);
    EDDY_VERIFY_OK(m_broker->createTopic({"auto", 1, {3, 0, 0}}));
    produceBatches("auto", 10, 1, 10);
    QTRY_COMPARE_WITH_TIMEOUT(m_broker->describeTopic("auto")->partitionInfo[0].logStartOffset,
                              int64_t(7), 3000);
    QTRY_COMPARE_WITH_TIMEOUT(m_broker->describeTopic("auto")->partitionInfo[0].sizeBytes,
                              int64_t(30), 3000);
    // The broker stays responsive while the pass runs on the timer thread.
    auto r = m_broker->fetchSync(fetchFrom("auto", 0, 7, 500, 100));
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->records.size(), std::size_t(3));
}

void TestBrokerRetention::survivesReopen_data()
{
    addDurabilityColumn();
}

void TestBrokerRetention::survivesReopen()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"cnt", 2, {7, 0, 0}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"bytes", 1, {0, 300, 0}}));
    produceBatches("cnt", 6, 4, 10);
    produceBatches("bytes", 8, 1, 100);
    m_broker->runRetention();
    const auto cnt = m_broker->describeTopic("cnt");
    const auto bytes = m_broker->describeTopic("bytes");
    EDDY_VERIFY_OK(cnt);
    EDDY_VERIFY_OK(bytes);
    QCOMPARE(cnt->partitionInfo[0].logStartOffset, 17);
    QCOMPARE(bytes->partitionInfo[0].logStartOffset, 5);
    auto cntRecords = readAll(*m_broker, "cnt", 0);
    EDDY_VERIFY_OK(cntRecords);

    openBroker(testConfig(m_dir->path(), m_durability));
    for (const auto &[before, name] :
         {std::make_pair(&*cnt, "cnt"), std::make_pair(&*bytes, "bytes")}) {
        auto after = m_broker->describeTopic(name);
        EDDY_VERIFY_OK(after);
        QCOMPARE(after->retention, before->retention);
        for (std::size_t p = 0; p < after->partitionInfo.size(); ++p) {
            const auto &a = after->partitionInfo[p];
            const auto &b = before->partitionInfo[p];
            QCOMPARE(a.logStartOffset, b.logStartOffset);
            QCOMPARE(a.highWatermark, b.highWatermark);
            QCOMPARE(a.sizeBytes, b.sizeBytes);
        }
    }
    auto again = readAll(*m_broker, "cnt", 0);
    EDDY_VERIFY_OK(again);
    QVERIFY(*again == *cntRecords);
    EDDY_VERIFY_ERR(m_broker->fetchSync(fetchFrom("cnt", 0, 16)), Errc::OffsetOutOfRange);
    // Retention keeps working from the restored state.
    produceBatches("cnt", 1, 2, 10);
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("cnt")->partitionInfo[0].logStartOffset, 19);
}

QTEST_GUILESS_MAIN(TestBrokerRetention)
#include "tst_broker_retention.moc"
