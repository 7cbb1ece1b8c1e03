// Injected I/O errors (EIO) under the store, through the I/O-fault VFS of its write connection:
// while writes or fsyncs fail, a produce answers StorageError and acknowledges nothing, durable
// readers never see an unstored record, and once the fault ends the broker stores again at the
// next offsets; reopened, the data directory holds exactly the acknowledged records at their
// offsets. The store-level cases fail writes only, fsyncs only, or both.
#include "batch_codec.h"
#include "broker_fixture.h"
#include "sqlite_store.h"

#include <QTemporaryDir>
#include <QtTest>

#include <future>

using namespace eddy;
using namespace eddy::test;

Q_DECLARE_METATYPE(eddy::Durability)

namespace {

struct Acked {
    int64_t offset = 0;
    std::string value;
};

// The partition's records must be exactly these values at these offsets, from offset 0.
QString compareLog(const std::vector<Record> &log, const std::vector<Acked> &acked)
{
    if (log.size() != acked.size())
        return QString("the log has %1 records, %2 were acknowledged")
            .arg(log.size())
            .arg(acked.size());
    for (std::size_t i = 0; i < log.size(); ++i)
        if (log[i].offset != acked[i].offset || log[i].value != acked[i].value)
            return QString("record %1: offset %2 (acknowledged at %3), value %4")
                .arg(i)
                .arg(log[i].offset)
                .arg(acked[i].offset)
                .arg(QString::fromStdString(log[i].value.substr(0, 20)));
    return {};
}

RecordBatch batchOf(int64_t baseOffset, const std::string &value)
{
    RecordBatch batch;
    batch.baseOffset = baseOffset;
    batch.appendTimeUs = 1;
    Record r;
    r.offset = baseOffset;
    r.timestamp = 1000;
    r.value = value;
    batch.bytes = recordPayloadBytes(r);
    batch.maxTimestamp = r.timestamp;
    batch.count = 1;
    batch.encoded = encodeBatchRecords(baseOffset, {r});
    return batch;
}

} // namespace

class TestIoErrors : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void produceDuringIoErrorsAcknowledgesNothingThenRecovers_data();
    void produceDuringIoErrorsAcknowledgesNothingThenRecovers();
    void storeRollsBackAndRecovers_data();
    void storeRollsBackAndRecovers();

private:
    bool reopen(const BrokerConfig &config);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

void TestIoErrors::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestIoErrors::cleanup()
{
    m_broker.reset();
    m_dir.reset();
}

bool TestIoErrors::reopen(const BrokerConfig &config)
{
    m_broker.reset();
    auto opened = Broker::open(config);
    if (!opened) {
        qWarning("open failed: %s", describe(opened).constData());
        return false;
    }
    m_broker = std::move(opened.value());
    return true;
}

void TestIoErrors::produceDuringIoErrorsAcknowledgesNothingThenRecovers_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("durable") << Durability::Durable;
    QTest::newRow("fast, durable acks") << Durability::Fast;
}

void TestIoErrors::produceDuringIoErrorsAcknowledgesNothingThenRecovers()
{
    QFETCH(Durability, durability);
    const auto config = testConfig(m_dir->path(), durability);
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"io", 2, {}}));

    std::vector<Acked> acked;
    const auto produce = [&](const std::string &value, int32_t partition = 0) {
        return m_broker->produceSync(produceTo("io", partition, {rec(value)}, Acks::Durable));
    };
    for (int i = 0; i < 10; ++i) {
        const std::string value = "before-" + std::to_string(i);
        auto r = produce(value);
        EDDY_VERIFY_OK(r);
        acked.push_back({r->offsets[0].second, value});
    }

    // A durable reader waiting at the end must not be handed a record the disk refused.
    std::promise<Result<FetchResult>> waited;
    auto waitedFuture = waited.get_future();
    if (durability == Durability::Durable)
        m_broker->fetch(fetchFrom("io", 0, 10, 500, 1500),
                        [&waited](Result<FetchResult> r) { waited.set_value(std::move(r)); });

    m_broker->setIoErrorFault(true);
    for (int i = 0; i < 5; ++i) {
        auto r = produce("during-" + std::to_string(i), i % 2);
        QVERIFY2(!r, "a produce was acknowledged while every write failed");
        QCOMPARE(r.code(), Errc::StorageError);
        QVERIFY(errcRetriable(r.code()));
    }
    // Committing group offsets fails the same way.
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync({"g", {}, -1, {{"io", 0, 5, ""}}}),
                    Errc::StorageError);
    // Reads keep working and show exactly what was acknowledged.
    auto info = m_broker->describeTopic("io");
    EDDY_VERIFY_OK(info);
    QCOMPARE(info->partitionInfo[0].highWatermark, int64_t(10));
    QCOMPARE(info->partitionInfo[1].highWatermark, int64_t(0));
    auto during = readAll(*m_broker, "io", 0);
    EDDY_VERIFY_OK(during);
    QString diff = compareLog(*during, acked);
    QVERIFY2(diff.isEmpty(), qPrintable("during the fault: " + diff));
    if (durability == Durability::Durable) {
        QCOMPARE(waitedFuture.wait_for(std::chrono::seconds(10)), std::future_status::ready);
        auto r = waitedFuture.get();
        EDDY_VERIFY_OK(r);
        QVERIFY2(r->records.empty(), "a reader saw a record whose commit failed");
    }

    // The fault ends: the broker stores again, at the offsets the failures did not use up.
    m_broker->setIoErrorFault(false);
    for (int i = 0; i < 5; ++i) {
        const std::string value = "after-" + std::to_string(i);
        auto r = produce(value);
        EDDY_VERIFY_OK(r);
        QCOMPARE(r->offsets[0].second, int64_t(10 + i));
        acked.push_back({r->offsets[0].second, value});
    }
    auto one = produce("after-p1", 1);
    EDDY_VERIFY_OK(one);
    QCOMPARE(one->offsets[0].second, int64_t(0));
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync({"g", {}, -1, {{"io", 0, 12, ""}}}));

    // Reopened, the data directory holds exactly the acknowledged records at their offsets.
    QVERIFY(reopen(config));
    auto reread = readAll(*m_broker, "io", 0);
    EDDY_VERIFY_OK(reread);
    diff = compareLog(*reread, acked);
    QVERIFY2(diff.isEmpty(), qPrintable("after reopening: " + diff));
    auto p1 = readAll(*m_broker, "io", 1);
    EDDY_VERIFY_OK(p1);
    diff = compareLog(*p1, {{0, "after-p1"}});
    QVERIFY2(diff.isEmpty(), qPrintable("partition 1 after reopening: " + diff));
    auto committed = m_broker->committedOffsets("g", "io");
    EDDY_VERIFY_OK(committed);
    QCOMPARE(committed->at(0).offset, int64_t(12));
}

void TestIoErrors::storeRollsBackAndRecovers_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::addColumn<bool>("writes");
    QTest::addColumn<bool>("syncs");
    QTest::newRow("durable, writes fail") << Durability::Durable << true << false;
    QTest::newRow("durable, fsyncs fail") << Durability::Durable << false << true;
    QTest::newRow("durable, both fail") << Durability::Durable << true << true;
    QTest::newRow("fast, writes fail") << Durability::Fast << true << false;
}

void TestIoErrors::storeRollsBackAndRecovers()
{
    QFETCH(Durability, durability);
    QFETCH(bool, writes);
    QFETCH(bool, syncs);
    const std::string path = m_dir->filePath("eddy.db").toStdString();
    SqliteStore::Options options;
    options.path = path;
    options.durability = durability;
    int64_t end = 0;
    {
        auto opened = SqliteStore::open(options);
        EDDY_VERIFY_OK(opened);
        auto &store = **opened;
        TopicSpec spec;
        spec.name = "t";
        spec.partitions = 1;
        EDDY_VERIFY_OK(store.submitAndWait([&](StoreWriter &w) { return w.insertTopic(1, spec, 0); }));
        for (; end < 3; ++end)
            EDDY_VERIFY_OK(store.submitAndWait([end](StoreWriter &w) {
                return w.insertBatch(1, 0, batchOf(end, "kept-" + std::to_string(end)));
            }));

        store.setIoError(writes, syncs);
        for (int i = 0; i < 3; ++i) {
            auto failed = store.submitAndWait([end](StoreWriter &w) {
                return w.insertBatch(1, 0, batchOf(end, "lost"));
            });
            QVERIFY2(!failed, "a transaction committed while the disk failed");
            QCOMPARE(failed.code(), Errc::StorageError);
        }
        // The reader sees only what committed.
        auto loaded = store.load();
        EDDY_VERIFY_OK(loaded);
        QCOMPARE(loaded->topics.at(0).partitions.at(0).endOffset, end);

        store.setIoError(false, false);
        // The same offset is free again: nothing of the failed transactions is in the way.
        EDDY_VERIFY_OK(store.submitAndWait(
            [end](StoreWriter &w) { return w.insertBatch(1, 0, batchOf(end, "after")); }));
        ++end;
        auto records = store.readRecords(1, 0, 0, 100, 100, 1 << 20);
        EDDY_VERIFY_OK(records);
        QCOMPARE(int64_t(records->size()), end);
        QCOMPARE(records->back().first.value, std::string("after"));
    }
    auto reopened = SqliteStore::open(options);
    EDDY_VERIFY_OK(reopened);
    auto records = (*reopened)->readRecords(1, 0, 0, 100, 100, 1 << 20);
    EDDY_VERIFY_OK(records);
    QCOMPARE(int64_t(records->size()), end);
    for (int64_t i = 0; i < end; ++i) {
        QCOMPARE((*records)[std::size_t(i)].first.offset, i);
        QCOMPARE((*records)[std::size_t(i)].first.value,
                 i + 1 < end ? "kept-" + std::to_string(i) : std::string("after"));
    }
}

QTEST_GUILESS_MAIN(TestIoErrors)
#include "tst_io_errors.moc"
