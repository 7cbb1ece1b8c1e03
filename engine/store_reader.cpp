// The store's reads (SqliteStore::readRecords and the other queries behind fetch, retention,
// timestamps and history): each runs on the read connection, under the read mutex, alongside the
// writer thread's transactions (WAL lets readers see the last commit while a new one is built).
#include "sqlite_store.h"

#include "batch_codec.h"
#include "sqlite_stmt.h"

#include <sqlite3.h>

#include <algorithm>

namespace eddy {

Result<std::vector<std::pair<Record, int64_t>>>
SqliteStore::readRecords(int64_t topicId, int32_t partition, int64_t fromOffset, int64_t toOffset,
                         std::size_t maxRecords, std::size_t maxBytes)
{
    std::lock_guard lock(m_readMutex);
    std::vector<std::pair<Record, int64_t>> out;
    Stmt s(m_readDb, "SELECT base_offset, append_us, payload FROM batches WHERE topic_id=?1 AND "
                     "partition=?2 AND base_offset >= IFNULL((SELECT MAX(base_offset) FROM batches "
                     "WHERE topic_id=?1 AND partition=?2 AND base_offset <= ?3), 0) AND "
                     "base_offset < ?4 ORDER BY base_offset");
    if (!s.prepared())
        return s.error("read records");
    s.bind(1, topicId);
    s.bind(2, partition);
    s.bind(3, fromOffset);
    s.bind(4, toOffset);
    std::size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        const int64_t appendUs = sqlite3_column_int64(s.get(), 1);
        // Only the records returned are materialised; those before fromOffset are skipped in
        // place.
        BatchCursor cursor(columnBlob(s.get(), 2), sqlite3_column_int64(s.get(), 0));
        RecordView rec;
        while (cursor.next(rec)) {
            if (rec.offset < fromOffset)
                continue;
            if (rec.offset >= toOffset || out.size() >= maxRecords)
                return out;
            if (!out.empty() && bytes + rec.payloadBytes > maxBytes)
                return out;
            bytes += rec.payloadBytes;
            out.emplace_back(rec.toRecord(), appendUs);
        }
        if (auto e = cursor.error())
            return *e;
    }
    if (rc != SQLITE_DONE)
        return sqliteError(m_readDb, rc, "read records");
    return out;
}

Result<std::optional<int64_t>> SqliteStore::offsetForTimestamp(int64_t topicId, int32_t partition,
                                                               int64_t fromOffset, int64_t toOffset,
                                                               int64_t timestampMs)
{
    std::lock_guard lock(m_readMutex);
    Stmt s(m_readDb, "SELECT base_offset, payload FROM batches WHERE topic_id=?1 AND partition=?2 "
                     "AND end_offset > ?3 AND base_offset < ?4 AND max_ts >= ?5 "
                     "ORDER BY base_offset");
    if (!s.prepared())
        return s.error("offset for timestamp");
    s.bind(1, topicId);
    s.bind(2, partition);
    s.bind(3, fromOffset);
    s.bind(4, toOffset);
    s.bind(5, timestampMs);
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        BatchCursor cursor(columnBlob(s.get(), 1), sqlite3_column_int64(s.get(), 0));
        RecordView rec;
        while (cursor.next(rec))
            if (rec.offset >= fromOffset && rec.offset < toOffset && rec.timestamp >= timestampMs)
                return std::optional<int64_t>(rec.offset);
        if (auto e = cursor.error())
            return *e;
    }
    if (rc != SQLITE_DONE)
        return sqliteError(m_readDb, rc, "offset for timestamp");
    return std::optional<int64_t>();
}

Result<std::vector<int64_t>> SqliteStore::recordSizes(int64_t topicId, int32_t partition,
                                                      int64_t baseOffset)
{
    std::lock_guard lock(m_readMutex);
    Stmt s(m_readDb, "SELECT payload FROM batches WHERE topic_id=? AND partition=? AND "
                     "base_offset=?");
    if (!s.prepared())
        return s.error("record sizes");
    s.bind(1, topicId);
    s.bind(2, partition);
    s.bind(3, baseOffset);
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE)
        return makeError(Errc::OffsetOutOfRange, "no stored batch starts at offset "
                                                     + std::to_string(baseOffset));
    if (rc != SQLITE_ROW)
        return sqliteError(m_readDb, rc, "record sizes");
    BatchCursor cursor(columnBlob(s.get(), 0), baseOffset);
    std::vector<int64_t> out;
    out.reserve(static_cast<std::size_t>(cursor.count()));
    RecordView view;
    while (cursor.next(view))
        out.push_back(static_cast<int64_t>(view.payloadBytes));
    if (auto e = cursor.error())
        return *e;
    return out;
}

Result<std::vector<BatchSummary>> SqliteStore::oldestBatches(int64_t topicId, int32_t partition,
                                                             int64_t fromOffset, int limit)
{
    std::lock_guard lock(m_readMutex);
    std::vector<BatchSummary> out;
    Stmt s(m_readDb, "SELECT base_offset, end_offset, append_us, bytes FROM batches WHERE "
                     "topic_id=? AND partition=? AND end_offset > ? ORDER BY base_offset LIMIT ?");
    if (!s.prepared())
        return s.error("oldest batches");
    s.bind(1, topicId);
    s.bind(2, partition);
    s.bind(3, fromOffset);
    s.bind(4, limit);
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
        out.push_back({sqlite3_column_int64(s.get(), 0), sqlite3_column_int64(s.get(), 1),
                       sqlite3_column_int64(s.get(), 2), sqlite3_column_int64(s.get(), 3)});
    if (rc != SQLITE_DONE)
        return sqliteError(m_readDb, rc, "oldest batches");
    return out;
}

Result<std::vector<HistoryRow>> SqliteStore::history(int resolutionS, const std::string &entity,
                                                     int64_t fromMs, int64_t toMs)
{
    std::lock_guard lock(m_readMutex);
    std::vector<HistoryRow> out;
    Stmt s(m_readDb, "SELECT ts_ms, rin, bin, rout, bout, lag, p50, p99 FROM history WHERE "
                     "resolution=? AND entity=? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms");
    if (!s.prepared())
        return s.error("history");
    s.bind(1, resolutionS);
    sqlite3_bind_text(s.get(), 2, entity.data(), static_cast<int>(entity.size()), SQLITE_TRANSIENT);
    s.bind(3, fromMs);
    s.bind(4, toMs);
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        HistoryRow row;
        row.tsMs = sqlite3_column_int64(s.get(), 0);
        row.entity = entity;
        row.recordsInPerSec = sqlite3_column_double(s.get(), 1);
        row.bytesInPerSec = sqlite3_column_double(s.get(), 2);
        row.recordsOutPerSec = sqlite3_column_double(s.get(), 3);
        row.bytesOutPerSec = sqlite3_column_double(s.get(), 4);
        row.lag = sqlite3_column_int64(s.get(), 5);
        row.p50Us = sqlite3_column_int64(s.get(), 6);
        row.p99Us = sqlite3_column_int64(s.get(), 7);
        out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE)
        return sqliteError(m_readDb, rc, "history");
    return out;
}

} // namespace eddy
