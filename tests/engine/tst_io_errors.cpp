// Injected I/O errors (EIO) under the store, through the I/O-fault VFS of its write connection:
// while writes or fsyncs fail, a produce answers StorageError and acknowledges nothing, durable
// readers never see an unstored record, and once the fault ends the broker stores again at the
// next offsets; reopened, the data directory holds exactly the acknowledged records at their
// offsets. The store-level cases fail writes only, fsyncs only, or both. A failed fsync leaves
// its transaction's frames in the write-ahead log: neither a reopen nor a crash image (the files
// as a killed process leaves them) may then show a refused record where a later one was
// acknowledged.
#include "batch_codec.h"
#include "broker_fixture.h"
#include "sqlite_store.h"

#include <QFile>
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
    void failedFsyncResurrectsNothing();

private:
    bool reopen(const BrokerConfig &config);
    // Copies the running broker's database and write-ahead log into a new directory, as a
    // process killed at this moment leaves them; empty on failure.
    QString crashImage();
    // Opens a broker on dir and reads partition 0 of topic "f" (into log); why not, or empty.
    static QString readImage(const QString &dir, std::vector<Record> &log);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
    std::vector<std::unique_ptr<QTemporaryDir>> m_images;
};

void TestIoErrors::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestIoErrors::cleanup()
{
    m_broker.reset();
    m_images.clear();
    m_dir.reset();
}

QString TestIoErrors::crashImage()
{
    m_images.push_back(std::make_unique<QTemporaryDir>());
    const QString to = m_images.back()->path();
    for (const char *name : {"/eddy.db", "/eddy.db-wal"})
        if (!QFile::copy(m_dir->path() + name, to + name))
            return {};
    return to;
}

QString TestIoErrors::readImage(const QString &dir, std::vector<Record> &log)
{
    auto opened = Broker::open(testConfig(dir, Durability::Durable));
    if (!opened)
        return "cannot open: " + QString(describe(opened));
    auto read = readAll(**opened, "f", 0);
    if (!read)
        return "cannot read: " + QString(describe(read));
    log = std::move(*read);
    return {};
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
        EDDY_VERIFY_OK(
            store.submitAndWait([&](StoreWriter &w) { return w.insertTopic(1, spec, 0); }));
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

void TestIoErrors::failedFsyncResurrectsNothing()
{
    auto config = testConfig(m_dir->path(), Durability::Durable);
    config.metricsIntervalMs = 3600 * 1000; // no metric history commits in between
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"f", 1, {}}));
    std::vector<Acked> acked;
    const auto produce = [&](const std::string &value) {
        return m_broker->produceSync(produceTo("f", 0, {rec(value)}, Acks::Durable));
    };
    const auto produceAcked = [&](const std::string &value) {
        auto r = produce(value);
        if (r)
            acked.push_back({r->offsets[0].second, value});
        return r.ok();
    };
    for (int i = 0; i < 5; ++i)
        QVERIFY(produceAcked("before-" + std::to_string(i)));

    // Two commits whose fsync fails, the larger first (a record of 48 KiB spans a dozen pages,
    // one of 12 KiB a few): each one's frames are written to the log, then refused. The
    // successful commits after them are smaller still, so stale frames of both stay in the log
    // behind the live ones.
    const std::string refusedBig(48 << 10, 'B');
    const std::string refusedMid(12 << 10, 'M');
    std::vector<std::string> refused = {refusedBig, refusedMid};
    QString afterFirst;
    for (const auto &value : refused) {
        m_broker->setIoErrorFault(false, true);
        auto r = produce(value);
        m_broker->setIoErrorFault(false, false);
        QVERIFY2(!r, "a produce was acknowledged although its fsync failed");
        QCOMPARE(r.code(), Errc::StorageError);
        if (afterFirst.isEmpty())
            afterFirst = crashImage();
    }
    const QString afterRefusals = crashImage();
    QVERIFY(produceAcked("after-0"));
    QCOMPARE(acked.back().offset, int64_t(5)); // the refused ones used up no offset
    const QString afterOneMore = crashImage();
    for (int i = 1; i < 4; ++i)
        QVERIFY(produceAcked("after-" + std::to_string(i)));
    const QString afterAll = crashImage();
    QVERIFY(!afterFirst.isEmpty() && !afterRefusals.isEmpty() && !afterOneMore.isEmpty()
            && !afterAll.isEmpty());

    // A crash right after a refusal may bring the refused record back ("not acknowledged"
    // means "maybe stored" after a failed fsync), but only after everything acknowledged,
    // at the next offset, whole: never in place of an acknowledged one.
    const std::vector<Acked> before(acked.begin(), acked.begin() + 5);
    for (const QString &image : {afterFirst, afterRefusals}) {
        std::vector<Record> log;
        const QString error = readImage(image, log);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        std::vector<Record> prefix(log.begin(), log.begin() + std::min<std::size_t>(5, log.size()));
        const QString diff = compareLog(prefix, before);
        QVERIFY2(diff.isEmpty(), qPrintable("crash image after a refusal: " + diff));
        QVERIFY2(log.size() <= 6, qPrintable(QString("%1 records").arg(log.size())));
        if (log.size() == 6) {
            QCOMPARE(log[5].offset, int64_t(5));
            QVERIFY2(log[5].value == refusedBig || log[5].value == refusedMid,
                     "a record nobody produced");
        }
        qInfo("crash image after a refusal: %s", log.size() == 6
                                                     ? "the refused record came back"
                                                     : "nothing refused came back");
    }
    // Once later records were acknowledged, a crash image and a clean reopen both hold
    // exactly the acknowledged records at their offsets, contiguous, and nothing refused.
    const std::vector<Acked> oneMore(acked.begin(), acked.begin() + 6);
    for (const auto &[image, expected] :
         {std::pair{afterOneMore, oneMore}, std::pair{afterAll, acked}}) {
        std::vector<Record> log;
        const QString error = readImage(image, log);
        QVERIFY2(error.isEmpty(), qPrintable("crash image after later commits: " + error));
        const QString diff = compareLog(log, expected);
        QVERIFY2(diff.isEmpty(), qPrintable("crash image after later commits: " + diff));
    }
    QVERIFY(reopen(config));
    auto reread = readAll(*m_broker, "f", 0);
    EDDY_VERIFY_OK(reread);
    const QString diff = compareLog(*reread, acked);
    QVERIFY2(diff.isEmpty(), qPrintable("after reopening: " + diff));
    // And the reopened broker goes on at the next offset.
    QVERIFY(produceAcked("reopened"));
    QCOMPARE(acked.back().offset, int64_t(acked.size() - 1));
}

QTEST_GUILESS_MAIN(TestIoErrors)
#include "tst_io_errors.moc"
