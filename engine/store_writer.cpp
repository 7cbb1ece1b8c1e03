// The store's write statements (StoreWriter): each runs inside the writer thread's current
// group-commit transaction, with statements prepared once and kept for the store's lifetime.
// Small batches of a partition that follow each other are merged into one row before they are
// written: an unbatched producer makes one batch per record, and SQLite's cost (a b-tree insert,
// an index entry, WAL pages) is per row, so the store writer spent more CPU per unbatched produce
// than the broker's request path did. Every other statement first writes what was kept, so
// statements still take effect in order (a retention delete after an append sees the append).
#include "sqlite_store.h"

#include "sqlite_error.h"
#include "sqlite_stmt.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>

namespace eddy {

sqlite3_stmt *StoreWriter::stmt(const char *sql)
{
    auto it = m_stmts.find(sql);
    if (it != m_stmts.end()) {
        sqlite3_reset(it->second);
        sqlite3_clear_bindings(it->second);
        return it->second;
    }
    sqlite3_stmt *s = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        return nullptr;
    m_stmts.emplace(sql, s);
    return s;
}

Result<void> StoreWriter::run(sqlite3_stmt *s)
{
    if (!s)
        return sqliteError(m_db, sqlite3_errcode(m_db), "prepare");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return sqliteError(m_db, rc, "write");
    return {};
}

Result<void> StoreWriter::insertTopic(int64_t id, const TopicSpec &spec, int64_t createdMs)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("INSERT INTO topics(id, name, partitions, ret_records, ret_bytes, ret_ms, "
                   "created_ms) VALUES(?,?,?,?,?,?,?)");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, spec.name.data(), static_cast<int>(spec.name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, spec.partitions);
    sqlite3_bind_int64(s, 4, spec.retention.maxRecords);
    sqlite3_bind_int64(s, 5, spec.retention.maxBytes);
    sqlite3_bind_int64(s, 6, spec.retention.maxAgeMs);
    sqlite3_bind_int64(s, 7, createdMs);
    if (auto r = run(s); !r)
        return r;
    for (int32_t p = 0; p < spec.partitions; ++p)
        if (auto r = setLogStart(id, p, 0); !r)
            return r;
    return {};
}

Result<void> StoreWriter::updateTopic(int64_t id, const TopicSpec &spec)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt(
        "UPDATE topics SET partitions=?, ret_records=?, ret_bytes=?, ret_ms=? WHERE id=?");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, spec.partitions);
    sqlite3_bind_int64(s, 2, spec.retention.maxRecords);
    sqlite3_bind_int64(s, 3, spec.retention.maxBytes);
    sqlite3_bind_int64(s, 4, spec.retention.maxAgeMs);
    sqlite3_bind_int64(s, 5, id);
    if (auto r = run(s); !r)
        return r;
    auto *p = stmt(
        "INSERT OR IGNORE INTO partitions(topic_id, partition, log_start) VALUES(?,?,0)");
    for (int32_t i = 0; i < spec.partitions; ++i) {
        if (!p)
            return run(p);
        sqlite3_reset(p);
        sqlite3_bind_int64(p, 1, id);
        sqlite3_bind_int64(p, 2, i);
        if (auto r = run(p); !r)
            return r;
    }
    return {};
}

Result<void> StoreWriter::deleteTopic(int64_t id, const std::string &name)
{
    if (auto r = writePending(); !r)
        return r;
    for (const char *sql :
         {"DELETE FROM topics WHERE id=?", "DELETE FROM partitions WHERE topic_id=?",
          "DELETE FROM producers WHERE topic_id=?"}) {
        auto *s = stmt(sql);
        if (!s)
            return run(s);
        sqlite3_bind_int64(s, 1, id);
        if (auto r = run(s); !r)
            return r;
    }
    auto *s = stmt("DELETE FROM offsets WHERE topic=?");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    return run(s);
}

Result<void> StoreWriter::insertBatch(int64_t topicId, int32_t partition, const RecordBatch &batch)
{
    auto it = std::find_if(m_pending.begin(), m_pending.end(), [&](const PendingRow &row) {
        return row.topicId == topicId && row.partition == partition;
    });
    const bool small = batch.producerId < 0 && batch.encoded.size() <= kMergeBatchBytes;
    if (it != m_pending.end()) {
        if (small && it->merger.size() + batch.encoded.size() <= kMergeRowBytes
            && it->merger.append(batch))
            return {};
        // Not a continuation (or the row is full): the run so far is written first, in order.
        const RecordBatch row = it->merger.take();
        m_pending.erase(it);
        if (auto r = writeBatch(topicId, partition, row); !r)
            return r;
    }
    if (small) {
        PendingRow row{topicId, partition, {}};
        if (row.merger.append(batch)) {
            m_pending.push_back(std::move(row));
            return {};
        }
    }
    return writeBatch(topicId, partition, batch);
}

Result<void> StoreWriter::writePending()
{
    // Taken out first: a failed write leaves nothing behind for the abandoned transaction.
    std::vector<PendingRow> rows;
    rows.swap(m_pending);
    for (auto &row : rows)
        if (auto r = writeBatch(row.topicId, row.partition, row.merger.take()); !r)
            return r;
    return {};
}

Result<void> StoreWriter::writeBatch(int64_t topicId, int32_t partition, const RecordBatch &batch)
{
    auto *s = stmt("INSERT INTO batches(topic_id, partition, base_offset, end_offset, append_us, "
                   "max_ts, bytes, payload) VALUES(?,?,?,?,?,?,?,?)");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, topicId);
    sqlite3_bind_int64(s, 2, partition);
    sqlite3_bind_int64(s, 3, batch.baseOffset);
    sqlite3_bind_int64(s, 4, batch.endOffset());
    sqlite3_bind_int64(s, 5, batch.appendTimeUs);
    sqlite3_bind_int64(s, 6, batch.maxTimestamp);
    sqlite3_bind_int64(s, 7, static_cast<int64_t>(batch.bytes));
    // The batch is kept encoded in the store's format: written as it is.
    sqlite3_bind_blob(s, 8, batch.encoded.data(), static_cast<int>(batch.encoded.size()),
                      SQLITE_STATIC);
    if (auto r = run(s); !r)
        return r;
    if (batch.producerId < 0)
        return {};
    auto *p = stmt("INSERT INTO producers(topic_id, partition, producer_id, base_seq, count, "
                   "base_offset) VALUES(?,?,?,?,?,?) ON CONFLICT(topic_id, partition, producer_id) "
                   "DO UPDATE SET base_seq=excluded.base_seq, count=excluded.count, "
                   "base_offset=excluded.base_offset");
    if (!p)
        return run(p);
    sqlite3_bind_int64(p, 1, topicId);
    sqlite3_bind_int64(p, 2, partition);
    sqlite3_bind_int64(p, 3, batch.producerId);
    sqlite3_bind_int64(p, 4, batch.baseSequence);
    sqlite3_bind_int64(p, 5, batch.count);
    sqlite3_bind_int64(p, 6, batch.baseOffset);
    return run(p);
}

Result<void> StoreWriter::setLogStart(int64_t topicId, int32_t partition, int64_t logStart)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("INSERT INTO partitions(topic_id, partition, log_start) VALUES(?,?,?) "
                   "ON CONFLICT(topic_id, partition) DO UPDATE SET log_start=excluded.log_start");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, topicId);
    sqlite3_bind_int64(s, 2, partition);
    sqlite3_bind_int64(s, 3, logStart);
    return run(s);
}

Result<void> StoreWriter::deleteBatchesBelow(int64_t topicId, int32_t partition, int64_t offset)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("DELETE FROM batches WHERE topic_id=? AND partition=? AND base_offset < ? "
                   "AND end_offset <= ?");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, topicId);
    sqlite3_bind_int64(s, 2, partition);
    sqlite3_bind_int64(s, 3, offset);
    sqlite3_bind_int64(s, 4, offset);
    if (auto r = run(s); !r)
        return r;
    // The row holding offset (rows merge many batches, so the new log start often falls inside
    // one) keeps only its records from offset on: the stored bytes stay exactly those of the
    // records a fetch can still see, as the broker counts them.
    auto *q = stmt("SELECT base_offset, max_ts, append_us, payload FROM batches WHERE topic_id=? "
                   "AND partition=? AND base_offset < ? AND end_offset > ?");
    if (!q)
        return run(q);
    sqlite3_bind_int64(q, 1, topicId);
    sqlite3_bind_int64(q, 2, partition);
    sqlite3_bind_int64(q, 3, offset);
    sqlite3_bind_int64(q, 4, offset);
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return {};
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return sqliteError(m_db, rc, "read the batch at the new log start");
    }
    const int64_t base = sqlite3_column_int64(q, 0);
    BatchMerger tail;
    auto taken = tail.takeTail(columnBlob(q, 3), base, offset, sqlite3_column_int64(q, 1),
                               sqlite3_column_int64(q, 2));
    sqlite3_reset(q);
    if (!taken)
        return taken.error();
    const RecordBatch kept = tail.take();
    auto *u = stmt("UPDATE batches SET base_offset=?, bytes=?, payload=? WHERE topic_id=? AND "
                   "partition=? AND base_offset=?");
    if (!u)
        return run(u);
    sqlite3_bind_int64(u, 1, kept.baseOffset);
    sqlite3_bind_int64(u, 2, static_cast<int64_t>(kept.bytes));
    sqlite3_bind_blob(u, 3, kept.encoded.data(), static_cast<int>(kept.encoded.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(u, 4, topicId);
    sqlite3_bind_int64(u, 5, partition);
    sqlite3_bind_int64(u, 6, base);
    return run(u);
}

Result<void> StoreWriter::upsertOffset(const StoredOffset &o)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt(
        "INSERT INTO offsets(group_id, topic, partition, committed, metadata, commit_ms) "
        "VALUES(?,?,?,?,?,?) ON CONFLICT(group_id, topic, partition) DO UPDATE SET "
        "committed=excluded.committed, metadata=excluded.metadata, "
        "commit_ms=excluded.commit_ms");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, o.group.data(), static_cast<int>(o.group.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, o.topic.data(), static_cast<int>(o.topic.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, o.partition);
    sqlite3_bind_int64(s, 4, o.offset);
    sqlite3_bind_text(s, 5, o.metadata.data(), static_cast<int>(o.metadata.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, o.commitMs);
    return run(s);
}

Result<void> StoreWriter::deleteOffsets(const std::string &group)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("DELETE FROM offsets WHERE group_id=?");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, group.data(), static_cast<int>(group.size()), SQLITE_TRANSIENT);
    return run(s);
}

Result<void> StoreWriter::upsertGroup(const StoredGroup &g)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("INSERT INTO groups(group_id, assignor, created_ms) VALUES(?,?,?) "
                   "ON CONFLICT(group_id) DO UPDATE SET assignor=excluded.assignor");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, g.group.data(), static_cast<int>(g.group.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, g.assignor.data(), static_cast<int>(g.assignor.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, g.createdMs);
    return run(s);
}

Result<void> StoreWriter::deleteGroup(const std::string &group)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("DELETE FROM groups WHERE group_id=?");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, group.data(), static_cast<int>(group.size()), SQLITE_TRANSIENT);
    if (auto r = run(s); !r)
        return r;
    return deleteOffsets(group);
}

Result<void> StoreWriter::setMeta(const std::string &key, int64_t value)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt("INSERT INTO meta(key, value) VALUES(?,?) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (!s)
        return run(s);
    sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, value);
    return run(s);
}

Result<void> StoreWriter::insertHistory(int resolutionS, const std::vector<HistoryRow> &rows)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt(
        "INSERT OR REPLACE INTO history(resolution, entity, ts_ms, rin, bin, rout, bout, "
        "lag, p50, p99) VALUES(?,?,?,?,?,?,?,?,?,?)");
    for (const auto &row : rows) {
        if (!s)
            return run(s);
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, resolutionS);
        sqlite3_bind_text(s, 2, row.entity.data(), static_cast<int>(row.entity.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, row.tsMs);
        sqlite3_bind_double(s, 4, row.recordsInPerSec);
        sqlite3_bind_double(s, 5, row.bytesInPerSec);
        sqlite3_bind_double(s, 6, row.recordsOutPerSec);
        sqlite3_bind_double(s, 7, row.bytesOutPerSec);
        sqlite3_bind_int64(s, 8, row.lag);
        sqlite3_bind_int64(s, 9, row.p50Us);
        sqlite3_bind_int64(s, 10, row.p99Us);
        if (auto r = run(s); !r)
            return r;
    }
    return {};
}

Result<void> StoreWriter::downsampleHistory(int64_t fromMs, int64_t toMs, int64_t fineKeepMs,
                                            int64_t coarseKeepMs)
{
    if (auto r = writePending(); !r)
        return r;
    auto *s = stmt(
        "INSERT OR REPLACE INTO history(resolution, entity, ts_ms, rin, bin, rout, bout, "
        "lag, p50, p99) SELECT 60, entity, ?1, AVG(rin), AVG(bin), AVG(rout), AVG(bout), "
        "MAX(lag), CAST(AVG(p50) AS INTEGER), MAX(p99) FROM history "
        "WHERE resolution=1 AND ts_ms >= ?1 AND ts_ms < ?2 GROUP BY entity");
    if (!s)
        return run(s);
    sqlite3_bind_int64(s, 1, fromMs);
    sqlite3_bind_int64(s, 2, toMs);
    if (auto r = run(s); !r)
        return r;
    auto *d = stmt("DELETE FROM history WHERE (resolution=1 AND ts_ms < ?) OR "
                   "(resolution=60 AND ts_ms < ?)");
    if (!d)
        return run(d);
    sqlite3_bind_int64(d, 1, toMs - fineKeepMs);
    sqlite3_bind_int64(d, 2, toMs - coarseKeepMs);
    return run(d);
}

Result<int> StoreWriter::purgeOrphanBatches(int limit)
{
    if (auto r = writePending(); !r)
        return r.error();
    // The topic ids that have batches, walked with one primary-key seek each rather than by
    // testing every row against the topics: this runs on the writer thread every retention pass,
    // and that scan of a store of a million rows held the commit under way for 35 ms
    // (docs/performance.md, item 16). What is found is checked against the topics table in the
    // same transaction, so a live topic's batches are never taken for orphans.
    int purged = 0;
    int64_t after = std::numeric_limits<int64_t>::min();
    while (purged < limit) {
        auto *next = stmt("SELECT topic_id FROM batches WHERE topic_id > ? ORDER BY topic_id "
                          "LIMIT 1");
        if (!next)
            return run(next).error();
        sqlite3_bind_int64(next, 1, after);
        const int rc = sqlite3_step(next);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            sqlite3_reset(next);
            return sqliteError(m_db, rc, "find the topics of stored batches");
        }
        after = sqlite3_column_int64(next, 0);
        sqlite3_reset(next);

        auto *live = stmt("SELECT 1 FROM topics WHERE id=?");
        if (!live)
            return run(live).error();
        sqlite3_bind_int64(live, 1, after);
        const int found = sqlite3_step(live);
        sqlite3_reset(live);
        if (found == SQLITE_ROW)
            continue;
        if (found != SQLITE_DONE)
            return sqliteError(m_db, found, "look up a topic of stored batches");

        auto *s = stmt("DELETE FROM batches WHERE rowid IN (SELECT rowid FROM batches WHERE "
                       "topic_id=? LIMIT ?)");
        if (!s)
            return run(s).error();
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int64(s, 2, limit - purged);
        if (auto r = run(s); !r)
            return r.error();
        purged += sqlite3_changes(m_db);
    }
    return purged;
}

} // namespace eddy
