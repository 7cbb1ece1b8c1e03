// Unit tests of a deleted topic's stored batches in SqliteStore (engine/sqlite_store.h), on
// real database files in a QTemporaryDir: deleteTopic takes the topic, its partitions and its
// committed offsets but leaves its batches, so its id is not handed out again until
// purgeOrphanBatches removed them; the purge finds deleted topics between and after live ones,
// takes at most its limit of rows per call across them, and never a row of a live topic.
#include "sqlite_store_fixture.h"

#include <QtTest>

#include <memory>
#include <vector>

using namespace eddy;
using namespace eddy::test;

namespace {

// One purgeOrphanBatches(limit) on the writer thread: how many rows it deleted, -1 on error.
int purgeOrphans(SqliteStore &store, int limit)
{
    auto purged = std::make_shared<int>(-1);
    const bool ok = store.submitAndWait([purged, limit](StoreWriter &w) -> Result<void> {
                             auto n = w.purgeOrphanBatches(limit);
                             if (!n)
                                 return n.error();
                             *purged = *n;
                             return {};
                         })
                        .ok();
    return ok ? *purged : -1;
}

} // namespace

class TestUnitStorePurge : public QObject, SqliteStoreFixture
{
    Q_OBJECT

private slots:
    void init() { makeDir(); }
    void deletedTopicIdsNotReused();
    void orphanPurgeSparesLiveTopics();
};

void TestUnitStorePurge::deletedTopicIdsNotReused()
{
    auto store = openStore(dbPath());
    QVERIFY(store);
    QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                      if (auto x = w.insertTopic(1, spec("a", 1), 0); !x)
                          return x;
                      if (auto x = w.insertTopic(2, spec("b", 1), 0); !x)
                          return x;
                      if (auto x = w.insertBatch(2, 0, makeBatch(0, filler(2, 2), 1)); !x)
                          return x;
                      return w.upsertOffset({"g", "b", 0, 1, "", 0});
                  })
                .ok());
    QVERIFY(store->submitAndWait([](StoreWriter &w) { return w.deleteTopic(2, "b"); }).ok());
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    QCOMPARE(loaded->topics.size(), std::size_t(1));
    QVERIFY(loaded->offsets.empty()); // the deleted topic's committed offsets went with it
    // Its batches are still there, so id 2 must not be handed out again.
    QCOMPARE(loaded->nextTopicId, int64_t(3));

    QCOMPARE(purgeOrphans(*store, 100), 1);
    QCOMPARE(store->load()->nextTopicId, int64_t(2));
}

void TestUnitStorePurge::orphanPurgeSparesLiveTopics()
{
    // Deleted topics between and after live ones: the purge finds them by their ids, takes at
    // most its limit of rows per call across them, and never a row of a live topic.
    auto store = openStore(dbPath());
    QVERIFY(store);
    QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                      for (int64_t t = 1; t <= 4; ++t) {
                          if (auto x = w.insertTopic(t, spec("t" + std::to_string(t), 2), 0); !x)
                              return x;
                          // Producer batches are never merged: one row each, 2 per partition.
                          for (int32_t p = 0; p < 2; ++p)
                              for (int i = 0; i < 2; ++i)
                                  if (auto x = w.insertBatch(
                                          t, p, makeBatch(i, filler(1, 10), 1, 10 * t + p, i));
                                      !x)
                                      return x;
                      }
                      return {};
                  })
                .ok());
    QVERIFY(store->submitAndWait([](StoreWriter &w) -> Result<void> {
                      if (auto x = w.deleteTopic(2, "t2"); !x)
                          return x;
                      return w.deleteTopic(4, "t4");
                  })
                .ok());
    std::vector<int> purged;
    for (int call = 0; call < 4; ++call)
        purged.push_back(purgeOrphans(*store, 3));
    QCOMPARE(purged, (std::vector<int>{3, 3, 2, 0})); // 8 orphan rows, 3 at most per call
    for (int64_t t : {1, 3})
        for (int32_t p = 0; p < 2; ++p) {
            auto rows = store->oldestBatches(t, p, 0, 10);
            QVERIFY(rows.ok());
            QCOMPARE(rows->size(), std::size_t(2));
        }
    for (int64_t t : {2, 4}) {
        auto rows = store->oldestBatches(t, 0, 0, 10);
        QVERIFY(rows.ok());
        QVERIFY(rows->empty());
    }
    auto loaded = store->load();
    QVERIFY(loaded.ok());
    QCOMPARE(loaded->topics.size(), std::size_t(2));
    QCOMPARE(loaded->topics[1].partitions[1].endOffset, int64_t(2));
}

QTEST_GUILESS_MAIN(TestUnitStorePurge)
#include "tst_unit_store_purge.moc"
