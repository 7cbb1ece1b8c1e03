// Unit tests of SqliteStore (engine/sqlite_store.h) on real database files in a QTemporaryDir.
// Covers: insertTopic + insertBatch through submitAndWait, then load() returning the topic spec,
// per-partition log start, end offset, stored bytes and idempotent-producer state, committed
// offsets, groups and the producer-id counter, also after closing and reopening; the page size
// of a new store, and a store made with 4 KiB pages keeping them and its data; readRecords
// returning the stored records (keys, headers, binary values, append times) within [from, to) and
// the maxRecords/maxBytes limits (at least one record); offsetForTimestamp; oldestBatches;
// log-start moves and deleteBatchesBelow (rows below go, the row holding the new start is cut
// to it, bytes exact); small batches of a partition written in one transaction merged into one
// row (records, keys, headers, timestamps and offsets intact; latest append time; not across a
// gap, a producer's batch, a large batch or the row size limit; partitions kept apart), and
// later statements of the same transaction seeing them; a slow completion not holding up the
// next group's commit, completions still running in commit order. Failing transactions, corrupt
// files, a full disk and close: tst_unit_store_errors.cpp; deleted topics' batches:
// tst_unit_store_purge.cpp.
#include "sqlite_store_fixture.h"

#include "batch_codec.h"

#include <QtTest>

#include <sqlite3.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

using namespace eddy;
using namespace eddy::test;

namespace {

// The page size of the store file at path, read by SQLite itself; -1 when it cannot be read.
int64_t filePageSize(const std::string &path)
{
    sqlite3 *db = nullptr;
    int64_t size = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt *s = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, nullptr) == SQLITE_OK
            && sqlite3_step(s) == SQLITE_ROW)
            size = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return size;
}

// The records of a batch made by makeBatch, decoded again.
std::vector<Record> decoded(const RecordBatch &batch)
{
    std::vector<Record> out;
    if (!decodeBatchRecords(batch.encoded, batch.baseOffset, out))
        out.clear();
    return out;
}

} // namespace

class TestUnitStore : public QObject, SqliteStoreFixture
{
    Q_OBJECT

private slots:
    void init() { makeDir(); }
    void insertThenLoad();
    void loadSurvivesReopen();
    void pageSizeOfNewAndExistingStores();
    void readRecordsWithLimits();
    void offsetForTimestamp();
    void oldestBatches();
    void logStartAndDeleteBatchesBelow();
    void smallBatchesShareARow();
    void statementsSeeEarlierBatches();
    void completionsDoNotHoldUpTheNextCommit();
};

void TestUnitStore::insertThenLoad()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    {
        // A fresh store is empty.
        auto empty = store->load();
        QVERIFY(empty.ok());
        QVERIFY(empty->topics.empty());
        QCOMPARE(empty->nextTopicId, int64_t(1));
        QCOMPARE(empty->nextProducerId, int64_t(1));
    }
    const RecordBatch b0 = makeBatch(0, filler(3, 10), 111);
    const RecordBatch b1 = makeBatch(3, filler(2, 7), 222, 77, 3);
    const RecordBatch p1 = makeBatch(0, filler(1, 5), 333, 88, 0);
    auto r = store->submitAndWait([&](StoreWriter &w) -> Result<void> {
        if (auto x = w.insertTopic(1, spec("orders", 3, {100, 2000, 60000}), 1234); !x)
            return x;
        if (auto x = w.insertBatch(1, 0, b0); !x)
            return x;
        if (auto x = w.insertBatch(1, 0, b1); !x)
            return x;
        if (auto x = w.insertBatch(1, 1, p1); !x)
            return x;
        if (auto x = w.setMeta("next_producer_id", 89); !x)
            return x;
        if (auto x = w.upsertGroup({"billing", "roundrobin", 555}); !x)
            return x;
        return w.upsertOffset({"billing", "orders", 0, 4, "meta", 999});
    });
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());

    auto loaded = store->load();
    QVERIFY(loaded.ok());
    QCOMPARE(loaded->topics.size(), std::size_t(1));
    const StoredTopic &t = loaded->topics[0];
    QCOMPARE(t.id, int64_t(1));
    QCOMPARE(QByteArray::fromStdString(t.spec.name), QByteArray("orders"));
    QCOMPARE(t.spec.partitions, 3);
    QVERIFY(t.spec.retention == (RetentionPolicy{100, 2000, 60000}));
    QCOMPARE(t.createdMs, int64_t(1234));
    QCOMPARE(t.partitions.size(), std::size_t(3));

    const StoredPartition &sp0 = t.partitions[0];
    QCOMPARE(sp0.partition, 0);
    QCOMPARE(sp0.logStart, int64_t(0));
    QCOMPARE(sp0.endOffset, int64_t(5));
    QCOMPARE(sp0.bytes, static_cast<int64_t>(b0.bytes + b1.bytes));
    QCOMPARE(sp0.bytes, int64_t(3 * 10 + 2 * 7));
    QCOMPARE(sp0.producers.size(), std::size_t(1));
    QCOMPARE(sp0.producers[0].producerId, int64_t(77));
    QCOMPARE(sp0.producers[0].baseSequence, 3);
    QCOMPARE(sp0.producers[0].count, 2);
    QCOMPARE(sp0.producers[0].baseOffset, int64_t(3));

    const StoredPartition &sp1 = t.partitions[1];
    QCOMPARE(sp1.endOffset, int64_t(1));
    QCOMPARE(sp1.bytes, int64_t(5));
    QCOMPARE(sp1.producers.size(), std::size_t(1));
    QCOMPARE(sp1.producers[0].producerId, int64_t(88));

    const StoredPartition &sp2 = t.partitions[2];
    QCOMPARE(sp2.endOffset, int64_t(0));
    QCOMPARE(sp2.bytes, int64_t(0));
    QVERIFY(sp2.producers.empty());

    QCOMPARE(loaded->nextTopicId, int64_t(2));
    QCOMPARE(loaded->nextProducerId, int64_t(89));
    QCOMPARE(loaded->groups.size(), std::size_t(1));
    QCOMPARE(QByteArray::fromStdString(loaded->groups[0].assignor), QByteArray("roundrobin"));
    QCOMPARE(loaded->groups[0].createdMs, int64_t(555));
    QCOMPARE(loaded->offsets.size(), std::size_t(1));
    QCOMPARE(loaded->offsets[0].offset, int64_t(4));
    QCOMPARE(QByteArray::fromStdString(loaded->offsets[0].metadata), QByteArray("meta"));

    // A later batch of the same producer replaces its stored state.
    const RecordBatch b2 = makeBatch(5, filler(4, 1), 444, 77, 5);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertBatch(1, 0, b2); }).ok());
    auto again = store->load();
    QVERIFY(again.ok());
    const StoredPartition &sp0b = again->topics[0].partitions[0];
    QCOMPARE(sp0b.endOffset, int64_t(9));
    QCOMPARE(sp0b.producers.size(), std::size_t(1));
    QCOMPARE(sp0b.producers[0].baseSequence, 5);
    QCOMPARE(sp0b.producers[0].count, 4);
    QCOMPARE(sp0b.producers[0].baseOffset, int64_t(5));

    // A batch at an offset that is already stored is refused (primary key), not duplicated.
    auto dup = store->submitAndWait([&](StoreWriter &w) { return w.insertBatch(1, 0, b0); });
    QVERIFY(!dup.ok());
    QCOMPARE(dup.code(), Errc::StorageError);
}

void TestUnitStore::loadSurvivesReopen()
{
    const std::string path = dbPath();
    {
        auto store = openStore(path, Durability::Fast);
        QVERIFY(store);
        QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                          if (auto x = w.insertTopic(4, spec("events", 2), 10); !x)
                              return x;
                          return w.insertBatch(4, 1, makeBatch(0, filler(6, 3), 1));
                      })
                    .ok());
        store->close();
    }
    auto store = openStore(path, Durability::Durable);
    QVERIFY(store);
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    const StoredTopic *t = findTopic(*loaded, "events");
    QVERIFY(t);
    QCOMPARE(t->id, int64_t(4));
    QCOMPARE(t->partitions[1].endOffset, int64_t(6));
    QCOMPARE(t->partitions[1].bytes, int64_t(18));
    QCOMPARE(loaded->nextTopicId, int64_t(5));
    auto records = store->readRecords(4, 1, 0, 6, 100, kNoLimit);
    QVERIFY(records.ok());
    QCOMPARE(records->size(), std::size_t(6));
}

void TestUnitStore::pageSizeOfNewAndExistingStores()
{
    // A new store gets SqliteStore::kPageSize pages.
    const std::string fresh = dbPath("fresh.db");
    {
        auto store = openStore(fresh, Durability::Fast);
        QVERIFY(store);
        store->close();
    }
    QCOMPARE(filePageSize(fresh), int64_t(SqliteStore::kPageSize));

    // A store begun with SQLite's default 4 KiB pages, as every store was before, keeps them:
    // it opens, takes batches smaller and larger than a page, and reads them back after a
    // reopen.
    const std::string old = dbPath("old.db");
    {
        sqlite3 *db = nullptr;
        QCOMPARE(sqlite3_open(old.c_str(), &db), SQLITE_OK);
        const int rc = sqlite3_exec(db,
                                    "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; "
                                    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT "
                                    "NULL) WITHOUT ROWID;",
                                    nullptr, nullptr, nullptr);
        sqlite3_close(db);
        QCOMPARE(rc, SQLITE_OK);
    }
    QCOMPARE(filePageSize(old), int64_t(4096));
    const RecordBatch small = makeBatch(0, filler(3, 10), 1);
    const RecordBatch large = makeBatch(3, filler(4, 10'000), 2); // 40 KB: overflow pages
    {
        auto store = openStore(old, Durability::Durable);
        QVERIFY(store);
        QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                          if (auto x = w.insertTopic(1, spec("t", 1), 0); !x)
                              return x;
                          return w.insertBatch(1, 0, small);
                      })
                    .ok());
        QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertBatch(1, 0, large); })
                    .ok());
        store->close();
    }
    auto store = openStore(old, Durability::Durable);
    QVERIFY(store);
    QCOMPARE(filePageSize(old), int64_t(4096));
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    const StoredTopic *t = findTopic(*loaded, "t");
    QVERIFY(t);
    QCOMPARE(t->partitions[0].endOffset, int64_t(7));
    auto records = store->readRecords(1, 0, 0, 7, 100, kNoLimit);
    QVERIFY(records.ok());
    QCOMPARE(records->size(), std::size_t(7));
    const auto expected = decoded(large);
    for (std::size_t i = 0; i < expected.size(); ++i)
        QVERIFY((*records)[3 + i].first == expected[i]);
}

void TestUnitStore::readRecordsWithLimits()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    // Partition 0: [0,3) at 1000us, [3,5) at 2000us, [5,9) at 3000us; values of 10 bytes.
    std::vector<Record> first;
    first.push_back(rec(50, std::string(10, 'a'), std::nullopt));
    first.push_back(rec(51, std::string("\0\1\2\3\4\5\6\7\x08\xff", 10), std::string()));
    first.push_back(rec(52, std::string(10, 'c'), std::string("key"),
                        {{"h", "1"}, {"h", "2"}}));
    const RecordBatch b0 = makeBatch(0, first, 1000);
    const RecordBatch b1 = makeBatch(3, filler(2, 10, 60), 2000);
    const RecordBatch b2 = makeBatch(5, filler(4, 10, 70), 3000);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertTopic(1, spec("t", 2), 0); })
                .ok());
    // One transaction each: batches written together would share a row (and its append time).
    for (const RecordBatch *b : {&b0, &b1, &b2})
        QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertBatch(1, 0, *b); }).ok());
    QVERIFY(store->submitAndWait([&](StoreWriter &w) {
                      return w.insertBatch(1, 1, makeBatch(0, filler(1, 1), 9));
                  })
                .ok());

    auto all = store->readRecords(1, 0, 0, 9, 100, kNoLimit);
    QVERIFY(all.ok());
    QCOMPARE(all->size(), std::size_t(9));
    for (std::size_t i = 0; i < all->size(); ++i)
        QCOMPARE((*all)[i].first.offset, static_cast<int64_t>(i));
    // Content and append times round-trip.
    const auto b0Records = decoded(b0);
    QCOMPARE(b0Records.size(), std::size_t(3));
    QVERIFY((*all)[0].first == b0Records[0]);
    QVERIFY((*all)[1].first == b0Records[1]);
    QVERIFY((*all)[2].first == b0Records[2]);
    QVERIFY(!(*all)[0].first.key.has_value());
    QVERIFY((*all)[1].first.key.has_value() && (*all)[1].first.key->empty());
    QCOMPARE((*all)[2].first.headers.size(), std::size_t(2));
    QCOMPARE((*all)[0].second, int64_t(1000));
    QCOMPARE((*all)[4].second, int64_t(2000));
    QCOMPARE((*all)[8].second, int64_t(3000));
    QCOMPARE((*all)[8].first.timestamp, int64_t(73));

    // From the middle of a batch, up to an exclusive end in another one.
    auto mid = store->readRecords(1, 0, 4, 7, 100, kNoLimit);
    QVERIFY(mid.ok());
    QCOMPARE(mid->size(), std::size_t(3));
    QCOMPARE(mid->front().first.offset, int64_t(4));
    QCOMPARE(mid->back().first.offset, int64_t(6));

    // maxRecords.
    auto two = store->readRecords(1, 0, 1, 9, 2, kNoLimit);
    QCOMPARE(two->size(), std::size_t(2));
    QCOMPARE(two->back().first.offset, int64_t(2));

    // maxBytes: whole records only, at least one.
    auto bytes = store->readRecords(1, 0, 0, 9, 100, 25);
    QVERIFY(bytes.ok());
    QCOMPARE(bytes->size(), std::size_t(2));
    auto one = store->readRecords(1, 0, 2, 9, 100, 1);
    QCOMPARE(one->size(), std::size_t(1));
    QCOMPARE(one->front().first.offset, int64_t(2));

    // Empty ranges and other partitions/topics.
    QVERIFY(store->readRecords(1, 0, 9, 20, 100, kNoLimit)->empty());
    QVERIFY(store->readRecords(1, 0, 3, 3, 100, kNoLimit)->empty());
    QCOMPARE(store->readRecords(1, 1, 0, 10, 100, kNoLimit)->size(), std::size_t(1));
    QVERIFY(store->readRecords(2, 0, 0, 10, 100, kNoLimit)->empty());
}

void TestUnitStore::offsetForTimestamp()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    // Timestamps by offset: 0:100 1:300 2:200 | 3:400 4:400 | 5:1000.
    const RecordBatch b0 = makeBatch(0, {rec(100, "a"), rec(300, "b"), rec(200, "c")}, 1);
    const RecordBatch b1 = makeBatch(3, {rec(400, "d"), rec(400, "e")}, 2);
    const RecordBatch b2 = makeBatch(5, {rec(1000, "f")}, 3);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                      if (auto x = w.insertTopic(1, spec("t", 1), 0); !x)
                          return x;
                      for (const RecordBatch *b : {&b0, &b1, &b2})
                          if (auto x = w.insertBatch(1, 0, *b); !x)
                              return x;
                      return {};
                  })
                .ok());
    const auto at = [&](int64_t from, int64_t to, int64_t ts) {
        auto r = store->offsetForTimestamp(1, 0, from, to, ts);
        return r.ok() && r->has_value() ? **r : (r.ok() ? -1 : -2);
    };
    QCOMPARE(at(0, 6, 0), int64_t(0));
    QCOMPARE(at(0, 6, 100), int64_t(0));
    QCOMPARE(at(0, 6, 101), int64_t(1));  // the first offset whose timestamp is >= 101
    QCOMPARE(at(0, 6, 250), int64_t(1));
    QCOMPARE(at(0, 6, 301), int64_t(3));
    QCOMPARE(at(0, 6, 400), int64_t(3));
    QCOMPARE(at(0, 6, 401), int64_t(5));
    QCOMPARE(at(0, 6, 1000), int64_t(5));
    QCOMPARE(at(0, 6, 1001), int64_t(-1)); // none
    // The range limits are honoured.
    QCOMPARE(at(2, 6, 150), int64_t(2));
    QCOMPARE(at(4, 6, 0), int64_t(4));
    QCOMPARE(at(0, 5, 401), int64_t(-1));
    QCOMPARE(at(0, 1, 101), int64_t(-1));
}

void TestUnitStore::oldestBatches()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertTopic(1, spec("t", 1), 0); })
                .ok());
    // One transaction each, so that each batch is a row of its own.
    int64_t base = 0;
    for (int i = 0; i < 6; ++i) {
        const RecordBatch b = makeBatch(base, filler(i + 1, 4), 100 * (i + 1));
        QVERIFY(store->submitAndWait([&](StoreWriter &w) { return w.insertBatch(1, 0, b); }).ok());
        base = b.endOffset();
    }
    // Batches: [0,1) [1,3) [3,6) [6,10) [10,15) [15,21).
    auto first = store->oldestBatches(1, 0, 0, 3);
    QVERIFY(first.ok());
    QCOMPARE(first->size(), std::size_t(3));
    QCOMPARE((*first)[0].baseOffset, int64_t(0));
    QCOMPARE((*first)[0].endOffset, int64_t(1));
    QCOMPARE((*first)[1].baseOffset, int64_t(1));
    QCOMPARE((*first)[1].endOffset, int64_t(3));
    QCOMPARE((*first)[1].appendTimeUs, int64_t(200));
    QCOMPARE((*first)[1].bytes, int64_t(8));
    QCOMPARE((*first)[2].baseOffset, int64_t(3));

    // fromOffset inside a batch still returns that batch first.
    auto fromMid = store->oldestBatches(1, 0, 7, 10);
    QVERIFY(fromMid.ok());
    QCOMPARE(fromMid->size(), std::size_t(3));
    QCOMPARE(fromMid->front().baseOffset, int64_t(6));
    QCOMPARE(fromMid->back().endOffset, int64_t(21));
    QVERIFY(store->oldestBatches(1, 0, 21, 10)->empty());
    QVERIFY(store->oldestBatches(1, 0, 0, 0)->empty());
}

void TestUnitStore::logStartAndDeleteBatchesBelow()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                      if (auto x = w.insertTopic(1, spec("t", 1), 0); !x)
                          return x;
                      for (int64_t base : {0, 5, 10})
                          if (auto x = w.insertBatch(1, 0, makeBatch(base, filler(5, 10), 1)); !x)
                              return x;
                      return {};
                  })
                .ok());
    // Retention: the log start moves to 7. The three batches went in one transaction, so they
    // share one row [0,15): it is rewritten to hold [7,15) only.
    QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                      if (auto x = w.setLogStart(1, 0, 7); !x)
                          return x;
                      return w.deleteBatchesBelow(1, 0, 7);
                  })
                .ok());
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    const StoredPartition &p = loaded->topics[0].partitions[0];
    QCOMPARE(p.logStart, int64_t(7));
    QCOMPARE(p.endOffset, int64_t(15));
    QCOMPARE(p.bytes, int64_t(80)); // exactly the 8 records of 10 bytes left
    auto batches = store->oldestBatches(1, 0, 0, 10);
    QCOMPARE(batches->size(), std::size_t(1));
    QCOMPARE(batches->front().baseOffset, int64_t(7));
    QCOMPARE(batches->front().endOffset, int64_t(15));
    QCOMPARE(batches->front().bytes, int64_t(80));
    QCOMPARE(*store->recordSizes(1, 0, 7), std::vector<int64_t>(8, 10));
    auto left = store->readRecords(1, 0, 0, 15, 100, kNoLimit);
    QVERIFY(left.ok());
    QCOMPARE(left->size(), std::size_t(8));
    const auto kept = filler(5, 10); // the records of each batch: values 'a'..'e', ts 1000..
    for (std::size_t i = 0; i < left->size(); ++i) {
        const int64_t offset = 7 + static_cast<int64_t>(i);
        QCOMPARE((*left)[i].first.offset, offset);
        QCOMPARE((*left)[i].first.value, kept[std::size_t(offset % 5)].value);
        QCOMPARE((*left)[i].first.timestamp, kept[std::size_t(offset % 5)].timestamp);
    }

    // Everything deleted: the end offset stays at the log start, offsets are not reused.
    QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                      if (auto x = w.setLogStart(1, 0, 15); !x)
                          return x;
                      return w.deleteBatchesBelow(1, 0, 15);
                  })
                .ok());
    auto emptied = store->load();
    QCOMPARE(emptied->topics[0].partitions[0].logStart, int64_t(15));
    QCOMPARE(emptied->topics[0].partitions[0].endOffset, int64_t(15));
    QCOMPARE(emptied->topics[0].partitions[0].bytes, int64_t(0));
    QVERIFY(store->oldestBatches(1, 0, 0, 10)->empty());
}

void TestUnitStore::smallBatchesShareARow()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    // Partition 0: 12 one-record batches with keys, headers and falling timestamps, then a
    // producer's batch (a row of its own), then 3 more; partition 1, interleaved: 5 batches
    // with a gap after the third (a new row), then a batch over the merge size (its own row).
    std::vector<RecordBatch> p0;
    for (int i = 0; i < 16; ++i) {
        std::vector<Record> one;
        one.push_back(
            rec(5000 - 7 * i, "v" + std::to_string(i),
                i % 3 == 0 ? std::nullopt : std::optional<std::string>("k" + std::to_string(i)),
                i % 2 ? std::vector<Header>{{"h", std::to_string(i)}} : std::vector<Header>{}));
        p0.push_back(i == 12 ? makeBatch(i, one, 100 + i, 42, 0) : makeBatch(i, one, 100 + i));
    }
    std::vector<RecordBatch> p1;
    for (int64_t base : {0, 1, 2, 10, 11})
        p1.push_back(makeBatch(base, filler(1, 8, base), 500 + base));
    const RecordBatch big = makeBatch(12, filler(1, StoreWriter::kMergeBatchBytes + 1), 600);
    QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                      if (auto x = w.insertTopic(1, spec("t", 2), 0); !x)
                          return x;
                      for (std::size_t i = 0; i < p0.size(); ++i) {
                          if (auto x = w.insertBatch(1, 0, p0[i]); !x)
                              return x;
                          if (i < p1.size())
                              if (auto x = w.insertBatch(1, 1, p1[i]); !x)
                                  return x;
                      }
                      return w.insertBatch(1, 1, big);
                  })
                .ok());

    auto rows0 = store->oldestBatches(1, 0, 0, 10);
    QVERIFY(rows0.ok());
    QCOMPARE(rows0->size(), std::size_t(3));
    QCOMPARE((*rows0)[0].baseOffset, int64_t(0));
    QCOMPARE((*rows0)[0].endOffset, int64_t(12));
    QCOMPARE((*rows0)[0].appendTimeUs, int64_t(111)); // the latest batch's
    QCOMPARE((*rows0)[1].baseOffset, int64_t(12));
    QCOMPARE((*rows0)[1].endOffset, int64_t(13));
    QCOMPARE((*rows0)[2].baseOffset, int64_t(13));
    QCOMPARE((*rows0)[2].endOffset, int64_t(16));
    auto rows1 = store->oldestBatches(1, 1, 0, 10);
    QVERIFY(rows1.ok());
    QCOMPARE(rows1->size(), std::size_t(3));
    QCOMPARE((*rows1)[0].endOffset, int64_t(3));
    QCOMPARE((*rows1)[1].baseOffset, int64_t(10));
    QCOMPARE((*rows1)[1].endOffset, int64_t(12));
    QCOMPARE((*rows1)[2].baseOffset, int64_t(12));
    QCOMPARE((*rows1)[2].bytes, int64_t(StoreWriter::kMergeBatchBytes + 1));

    // Every record comes back as it was produced, at its own offset.
    auto all = store->readRecords(1, 0, 0, 16, 100, kNoLimit);
    QVERIFY(all.ok());
    QCOMPARE(all->size(), std::size_t(16));
    for (std::size_t i = 0; i < all->size(); ++i) {
        const auto want = decoded(p0[i]);
        QCOMPARE(want.size(), std::size_t(1));
        QVERIFY2((*all)[i].first == want[0], qPrintable(QString("record %1").arg(i)));
    }
    // A fetch from inside the merged row starts there.
    auto mid = store->readRecords(1, 0, 5, 16, 3, kNoLimit);
    QVERIFY(mid.ok());
    QCOMPARE(mid->size(), std::size_t(3));
    QCOMPARE(mid->front().first.offset, int64_t(5));
    QVERIFY(mid->front().first == decoded(p0[5])[0]);

    // The producer's state is stored as for any batch; sizes add up.
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    const auto &part0 = loaded->topics[0].partitions[0];
    QCOMPARE(part0.endOffset, int64_t(16));
    int64_t bytes0 = 0;
    for (const auto &b : p0)
        bytes0 += static_cast<int64_t>(b.bytes);
    QCOMPARE(part0.bytes, bytes0);
    QCOMPARE(part0.producers.size(), std::size_t(1));
    QCOMPARE(part0.producers[0].producerId, int64_t(42));
    QCOMPARE(loaded->topics[0].partitions[1].endOffset, int64_t(13));

    // A run longer than the row limit is cut into several rows.
    const int n = int(StoreWriter::kMergeRowBytes / 1000) + 8;
    QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                      for (int i = 0; i < n; ++i)
                          if (auto x = w.insertBatch(1, 1, makeBatch(13 + i, filler(1, 990), 1));
                              !x)
                              return x;
                      return {};
                  })
                .ok());
    auto more = store->oldestBatches(1, 1, 13, 10);
    QVERIFY(more.ok());
    QCOMPARE(more->size(), std::size_t(2));
    QCOMPARE(more->back().endOffset, int64_t(13 + n));
    QCOMPARE(store->readRecords(1, 1, 13, 13 + n, 1000, kNoLimit)->size(), std::size_t(n));
}

void TestUnitStore::statementsSeeEarlierBatches()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    // Batches kept for merging are written before the next statement of the transaction: the
    // delete after them in the same transaction must see (and delete) them.
    QVERIFY(store->submitAndWait([&](StoreWriter &w) -> Result<void> {
                      if (auto x = w.insertTopic(1, spec("t", 1), 0); !x)
                          return x;
                      for (int i = 0; i < 10; ++i)
                          if (auto x = w.insertBatch(1, 0, makeBatch(i, filler(1, 10), 1)); !x)
                              return x;
                      if (auto x = w.setLogStart(1, 0, 10); !x)
                          return x;
                      if (auto x = w.deleteBatchesBelow(1, 0, 10); !x)
                          return x;
                      return w.insertBatch(1, 0, makeBatch(10, filler(2, 10), 1));
                  })
                .ok());
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    const auto &p = loaded->topics[0].partitions[0];
    QCOMPARE(p.logStart, int64_t(10));
    QCOMPARE(p.endOffset, int64_t(12));
    QCOMPARE(p.bytes, int64_t(20));
    auto rows = store->oldestBatches(1, 0, 0, 10);
    QCOMPARE(rows->size(), std::size_t(1));
    QCOMPARE(rows->front().baseOffset, int64_t(10));
}

void TestUnitStore::completionsDoNotHoldUpTheNextCommit()
{
    // A done that takes long (a reply to a slow client) runs on the completion thread: the
    // writer commits the next group meanwhile, and that group's done still runs after it.
    auto store = openStore(dbPath(), Durability::Durable);
    QVERIFY(store);
    struct State {
        std::promise<void> firstApplied, secondApplied, release;
        std::shared_future<void> released;
        std::mutex mutex;
        std::vector<int> doneOrder;
        std::promise<void> bothDone;
    };
    auto state = std::make_shared<State>();
    state->released = state->release.get_future().share();
    const auto finish = [state](int n) {
        std::lock_guard lock(state->mutex);
        state->doneOrder.push_back(n);
        if (state->doneOrder.size() == 2)
            state->bothDone.set_value();
    };
    store->submit({[state](StoreWriter &) {
                       state->firstApplied.set_value();
                       return Result<void>();
                   },
                   [state, finish](const Result<void> &) {
                       state->released.wait_for(std::chrono::seconds(10));
                       finish(1);
                   },
                   true});
    // Queued once the first group is being committed, so it makes a group of its own.
    QVERIFY(state->firstApplied.get_future().wait_for(std::chrono::seconds(5))
            == std::future_status::ready);
    store->submit({[state](StoreWriter &) {
                       state->secondApplied.set_value();
                       return Result<void>();
                   },
                   [finish](const Result<void> &) { finish(2); }, true});
    const bool overlapped = state->secondApplied.get_future().wait_for(std::chrono::seconds(5))
                            == std::future_status::ready;
    state->release.set_value();
    QVERIFY2(overlapped, "the second group waited for the first group's completion");
    QVERIFY(state->bothDone.get_future().wait_for(std::chrono::seconds(5))
            == std::future_status::ready);
    QCOMPARE(state->doneOrder, (std::vector<int>{1, 2}));
}

QTEST_GUILESS_MAIN(TestUnitStore)
#include "tst_unit_store.moc"
