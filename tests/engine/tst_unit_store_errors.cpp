// Unit tests of SqliteStore (engine/sqlite_store.h) failing, on real database files in a
// QTemporaryDir: a transaction with one failing op storing nothing of any op; corrupted files
// (random garbage, a valid file truncated mid-page, an unknown schema version) failing with
// Errc::CorruptStore; a full disk (maxPageCount) reported as Errc::StorageFull through the op's
// done callback without storing the batch, and the store recovering for new writes after
// deleting data; close() committing queued ops and later submits failing with
// Errc::ShuttingDown; a failed group's completions (which roll the partition logs back) running
// before the writer applies the next group. Writes, loads and reads: tst_unit_store.cpp.
#include "sqlite_store_fixture.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <thread>

using namespace eddy;
using namespace eddy::test;

namespace {

// Submits apply as a plain (non-urgent unless asked) op and returns a future of its outcome.
std::future<Result<void>> submitOp(SqliteStore &store,
                                   std::function<Result<void>(StoreWriter &)> apply,
                                   bool urgent = true)
{
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    store.submit({std::move(apply), [promise](const Result<void> &r) { promise->set_value(r); },
                  urgent});
    return future;
}

} // namespace

class TestUnitStoreErrors : public QObject, SqliteStoreFixture
{
    Q_OBJECT

private slots:
    void init() { makeDir(); }

    void failingOpRollsBackWholeGroup();
    void garbageFileIsCorrupt();
    void truncatedFileIsCorrupt();
    void unknownSchemaVersionIsCorrupt();
    void diskFullThenRecovery();
    void closeCommitsQueuedThenRefuses();
    void failedGroupCompletesBeforeNextApply();
};

void TestUnitStoreErrors::failingOpRollsBackWholeGroup()
{
    // Fast mode with a long flush interval: both ops land in one transaction.
    auto store = openStore(dbPath(), Durability::Fast, 0, 300);
    QVERIFY(store);
    QVERIFY(store->submitAndWait([](StoreWriter &w) { return w.insertTopic(1, spec("t", 1), 0); })
                .ok());
    auto good = submitOp(
        *store, [](StoreWriter &w) { return w.insertBatch(1, 0, makeBatch(0, filler(3, 3), 1)); },
        false);
    auto bad = submitOp(
        *store, [](StoreWriter &w) { return w.insertTopic(1, spec("again", 1), 0); }, false);
    store->flush();
    QCOMPARE(bad.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    QCOMPARE(good.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const Result<void> badResult = bad.get();
    const Result<void> goodResult = good.get();
    QVERIFY(!badResult.ok());
    QCOMPARE(badResult.code(), Errc::StorageError);
    QVERIFY(!goodResult.ok()); // same transaction: it failed too
    QCOMPARE(goodResult.code(), badResult.code());
    auto loaded = store->load();
    QCOMPARE(loaded->topics.size(), std::size_t(1));
    QCOMPARE(loaded->topics[0].partitions[0].endOffset, int64_t(0));
    QVERIFY(store->readRecords(1, 0, 0, 10, 10, kNoLimit)->empty());
    // The store keeps working.
    QVERIFY(store->submitAndWait([](StoreWriter &w) {
                      return w.insertBatch(1, 0, makeBatch(0, filler(3, 3), 1));
                  })
                .ok());
    QCOMPARE(store->load()->topics[0].partitions[0].endOffset, int64_t(3));
}

void TestUnitStoreErrors::garbageFileIsCorrupt()
{
    const std::string path = dbPath();
    {
        QFile f(QString::fromStdString(path));
        QVERIFY(f.open(QIODevice::WriteOnly));
        std::mt19937 rng(1);
        QByteArray garbage(64 * 1024, '\0');
        for (auto &c : garbage)
            c = static_cast<char>(rng() & 0xff);
        QCOMPARE(f.write(garbage), qint64(garbage.size()));
    }
    SqliteStore::Options options;
    options.path = path;
    auto r = SqliteStore::open(options);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::CorruptStore);
    // The damaged file was not "repaired" or replaced.
    QCOMPARE(QFileInfo(QString::fromStdString(path)).size(), qint64(64 * 1024));
}

void TestUnitStoreErrors::truncatedFileIsCorrupt()
{
    const std::string path = dbPath();
    {
        auto store = openStore(path, Durability::Fast);
        QVERIFY(store);
        QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                          if (auto x = w.insertTopic(1, spec("t", 1), 0); !x)
                              return x;
                          for (int i = 0; i < 60; ++i) {
                              const RecordBatch b = makeBatch(i * 10, filler(10, 300), 1);
                              if (auto x = w.insertBatch(1, 0, b); !x)
                                  return x;
                          }
                          return {};
                      })
                    .ok());
        store->close();
    }
    // Closing the last connection checkpoints the WAL into the main file.
    QFile f(QString::fromStdString(path));
    const qint64 fullSize = f.size();
    QVERIFY2(fullSize > 40 * 4096, qPrintable(QString::number(fullSize)));
    QVERIFY(!QFile::exists(QString::fromStdString(path + "-wal"))
            || QFileInfo(QString::fromStdString(path + "-wal")).size() == 0);
    // Cut the file in the middle of a page, well inside the data.
    QVERIFY(f.resize(fullSize / 2 + 1000));

    SqliteStore::Options options;
    options.path = path;
    auto r = SqliteStore::open(options);
    if (r.ok()) {
        // Accept detection at load time, but nothing may read as healthy.
        auto loaded = r.value()->load();
        QVERIFY(!loaded.ok());
        QCOMPARE(loaded.code(), Errc::CorruptStore);
    } else {
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
}

void TestUnitStoreErrors::unknownSchemaVersionIsCorrupt()
{
    const std::string path = dbPath();
    {
        auto store = openStore(path);
        QVERIFY(store);
        QVERIFY(store->submitAndWait([](StoreWriter &w) { return w.setMeta("schema_version", 99); })
                    .ok());
    }
    SqliteStore::Options options;
    options.path = path;
    auto r = SqliteStore::open(options);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::CorruptStore);
}

void TestUnitStoreErrors::diskFullThenRecovery()
{
    // 384 KiB: room for the schema (a page per table and index) and a handful of 20 KiB
    // batches.
    auto store = openStore(dbPath(), Durability::Fast, (384 << 10) / SqliteStore::kPageSize);
    QVERIFY(store);
    QVERIFY(store->submitAndWait([](StoreWriter &w) { return w.insertTopic(1, spec("t", 1), 0); })
                .ok());
    int64_t end = 0;
    std::optional<Result<void>> failure;
    for (int i = 0; i < 100 && !failure; ++i) {
        const RecordBatch batch = makeBatch(end, filler(4, 5000), 1);
        auto done =
            submitOp(*store, [batch](StoreWriter &w) { return w.insertBatch(1, 0, batch); });
        QCOMPARE(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
        Result<void> r = done.get();
        if (r.ok())
            end = batch.endOffset();
        else
            failure = r;
    }
    QVERIFY2(failure.has_value(), "the store never filled up");
    QCOMPARE(failure->code(), Errc::StorageFull);
    QVERIFY(errcRetriable(failure->code()));
    QVERIFY(end > 0); // some batches fitted before it filled

    // Nothing of the failed batch was stored.
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    QCOMPARE(loaded->topics[0].partitions[0].endOffset, end);
    QCOMPARE(static_cast<int64_t>(store->readRecords(1, 0, 0, end + 100, 10'000, kNoLimit)->size()),
             end);

    // Still full for another big batch...
    auto again = store->submitAndWait([end](StoreWriter &w) {
        return w.insertBatch(1, 0, makeBatch(end, filler(4, 5000), 1));
    });
    QCOMPARE(again.code(), Errc::StorageFull);

    // ...until retention deletes data; then writes succeed again.
    auto freed = store->submitAndWait([end](StoreWriter &w) -> Result<void> {
        if (auto x = w.setLogStart(1, 0, end); !x)
            return x;
        return w.deleteBatchesBelow(1, 0, end);
    });
    QVERIFY2(freed.ok(), freed.ok() ? "" : freed.error().message.c_str());
    auto small = store->submitAndWait([end](StoreWriter &w) {
        return w.insertBatch(1, 0, makeBatch(end, filler(1, 10), 1));
    });
    QVERIFY2(small.ok(), small.ok() ? "" : small.error().message.c_str());
    auto big = store->submitAndWait([end](StoreWriter &w) {
        return w.insertBatch(1, 0, makeBatch(end + 1, filler(4, 5000), 1));
    });
    QVERIFY2(big.ok(), big.ok() ? "" : big.error().message.c_str());
    auto after = store->load();
    QCOMPARE(after->topics[0].partitions[0].logStart, end);
    QCOMPARE(after->topics[0].partitions[0].endOffset, end + 5);
    QCOMPARE(store->readRecords(1, 0, end, end + 5, 100, kNoLimit)->size(), std::size_t(5));
}

void TestUnitStoreErrors::closeCommitsQueuedThenRefuses()
{
    const std::string path = dbPath();
    {
        // A long flush interval: the op is only committed because close() commits the queue.
        auto store = openStore(path, Durability::Fast, 0, 60'000);
        QVERIFY(store);
        auto queued = submitOp(
            *store, [](StoreWriter &w) { return w.insertTopic(1, spec("kept", 1), 0); }, false);
        store->close();
        QCOMPARE(queued.wait_for(std::chrono::seconds(0)), std::future_status::ready);
        QVERIFY(queued.get().ok());

        // After close: the done callback reports ShuttingDown at once, apply never runs.
        bool applied = false;
        std::optional<Result<void>> outcome;
        store->submit({[&](StoreWriter &) -> Result<void> {
                           applied = true;
                           return {};
                       },
                       [&](const Result<void> &r) { outcome = r; }, true});
        QVERIFY(outcome.has_value());
        QVERIFY(!outcome->ok());
        QCOMPARE(outcome->code(), Errc::ShuttingDown);
        QVERIFY(!applied);
        auto waited = store->submitAndWait([](StoreWriter &) -> Result<void> { return {}; });
        QCOMPARE(waited.code(), Errc::ShuttingDown);
        store->flush(); // returns rather than waiting forever
        store->close(); // idempotent
    }
    auto reopened = openStore(path);
    QVERIFY(reopened);
    auto loaded = reopened->load();
    QVERIFY(loaded.ok());
    QVERIFY(findTopic(*loaded, "kept"));
}

void TestUnitStoreErrors::failedGroupCompletesBeforeNextApply()
{
    // A failed group's dones roll the partition logs back (PartitionLog::truncateToPersisted),
    // and the next group's ops check the logs' epoch when applied: the writer must not apply
    // anything before those dones ran, even one queued while they run.
    auto store = openStore(dbPath(), Durability::Durable);
    QVERIFY(store);
    struct State {
        std::atomic<bool> firstFailed = false, firstDone = false, sawFirstDone = false;
        std::promise<bool> second;
    };
    auto state = std::make_shared<State>();
    SqliteStore *s = store.get();
    store->setFull(true);
    store->submit({[](StoreWriter &) { return Result<void>(); },
                   [state, s](const Result<void> &r) {
                       state->firstFailed = !r;
                       s->setFull(false);
                       s->submit({[state](StoreWriter &) {
                                      state->sawFirstDone = state->firstDone.load();
                                      return Result<void>();
                                  },
                                  [state](const Result<void> &r) {
                                      state->second.set_value(r.ok());
                                  },
                                  true});
                       std::this_thread::sleep_for(std::chrono::milliseconds(100));
                       state->firstDone = true;
                   },
                   true});
    auto second = state->second.get_future();
    QVERIFY(second.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    QVERIFY(second.get());
    QVERIFY(state->firstFailed);
    QVERIFY2(state->sawFirstDone, "the next group was applied while the failed group's "
                                  "completions still ran");
}

QTEST_GUILESS_MAIN(TestUnitStoreErrors)
#include "tst_unit_store_errors.moc"
