// The SQLite store. Record batches are blobs (see batch_codec.cpp). One writer thread owns the
// write connection and commits every queued op in one transaction per wake-up: while one
// transaction syncs, the next group accumulates, which is the group commit that lets durable
// producers share an fsync. The ops' completions (replies, high watermarks) run on a second
// thread in commit order, so the next transaction does not wait for them. Reads go through a
// second connection so they never wait behind the writer.
#include "sqlite_store.h"

#include "batch_codec.h"
#include "io_fault_vfs.h"
#include "sqlite_error.h"
#include "sqlite_stmt.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>

namespace eddy {

namespace {

constexpr int kSchemaVersion = 1;

const char *const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics(
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, partitions INTEGER NOT NULL,
    ret_records INTEGER NOT NULL, ret_bytes INTEGER NOT NULL, ret_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS partitions(
    topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, log_start INTEGER NOT NULL,
    PRIMARY KEY(topic_id, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches(
    topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, base_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL, append_us INTEGER NOT NULL, max_ts INTEGER NOT NULL,
    bytes INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY(topic_id, partition, base_offset));
CREATE TABLE IF NOT EXISTS producers(
    topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, producer_id INTEGER NOT NULL,
    base_seq INTEGER NOT NULL, count INTEGER NOT NULL, base_offset INTEGER NOT NULL,
    PRIMARY KEY(topic_id, partition, producer_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets(
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    committed INTEGER NOT NULL, metadata TEXT NOT NULL, commit_ms INTEGER NOT NULL,
    PRIMARY KEY(group_id, topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups(
    group_id TEXT PRIMARY KEY, assignor TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history(
    resolution INTEGER NOT NULL, entity TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    rin REAL NOT NULL, bin REAL NOT NULL, rout REAL NOT NULL, bout REAL NOT NULL,
    lag INTEGER NOT NULL, p50 INTEGER NOT NULL, p99 INTEGER NOT NULL,
    PRIMARY KEY(resolution, entity, ts_ms)) WITHOUT ROWID;
)sql";

Result<void> exec(sqlite3 *db, const std::string &sql)
{
    char *err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK)
        return sqliteError(db, rc, sql.substr(0, 60));
    return {};
}

// SQLite's WAL checksum (https://www.sqlite.org/fileformat2.html#walformat): over 32-bit
// words in the byte order the WAL header's magic names, continuing from (s0, s1).
void walChecksum(const unsigned char *data, std::size_t size, bool bigEndian, uint32_t &s0,
                 uint32_t &s1)
{
    const auto word = [&](std::size_t i) {
        const unsigned char *b = data + i;
        return bigEndian
                   ? (uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3])
                   : (uint32_t(b[3]) << 24 | uint32_t(b[2]) << 16 | uint32_t(b[1]) << 8 | b[0]);
    };
    for (std::size_t i = 0; i + 8 <= size; i += 8) {
        s0 += word(i) + s1;
        s1 += word(i + 4) + s0;
    }
}

uint32_t bigEndian32(const unsigned char *b)
{
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

// SQLite reads a WAL up to its first frame that fails its checksum and silently ignores the
// rest: right for the torn tail a crash leaves (the transaction being written was never
// acknowledged), but corruption in the middle would drop every later commit without a word.
// With synchronous=FULL a transaction is only written after the previous one was fsynced, so
// a crash can tear only the last one. This finds the first bad frame and looks past it: frames
// that still chain to their predecessor's stored checksum and carry the WAL's salts, holding a
// commit followed by further frames, are committed transactions SQLite would drop. Those make
// the store refuse to open.
Result<void> checkWal(const std::string &walPath)
{
    std::ifstream in(walPath, std::ios::binary);
    if (!in)
        return {}; // no WAL: nothing beyond the database file
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const auto *data = reinterpret_cast<const unsigned char *>(bytes.data());
    constexpr std::size_t kHeader = 32;
    constexpr std::size_t kFrameHeader = 24;
    if (bytes.size() < kHeader)
        return {};
    const uint32_t magic = bigEndian32(data);
    const uint32_t pageSize = bigEndian32(data + 8);
    const bool headerMagic = (magic & 0xfffffffe) == 0x377f0682;
    const bool big = (magic & 1) != 0;
    const bool validPageSize = pageSize >= 512 && pageSize <= 65536
                               && (pageSize & (pageSize - 1)) == 0;
    if (!validPageSize)
        return {}; // not even a header; quick_check judges the database
    const std::size_t frameSize = kFrameHeader + pageSize;
    const std::size_t frames = (bytes.size() - kHeader) / frameSize;
    const auto frameAt = [&](std::size_t i) { return data + kHeader + i * frameSize; };

    uint32_t s0 = 0;
    uint32_t s1 = 0;
    walChecksum(data, 24, big, s0, s1);
    const bool headerOk =
        headerMagic && s0 == bigEndian32(data + 24) && s1 == bigEndian32(data + 28);
    // The salts every frame of the current WAL generation carries.
    const unsigned char *salts = headerOk ? data + 16 : (frames ? frameAt(0) + 8 : nullptr);
    if (!salts)
        return {};
    const auto storedSums = [&](std::size_t i) { // frame i's running checksum; -1: the header
        const unsigned char *p = i == std::size_t(-1) ? data + 24 : frameAt(i) + 16;
        return std::pair(bigEndian32(p), bigEndian32(p + 4));
    };
    // Does frame i carry the salts and extend the checksum its predecessor stored?
    const auto chains = [&](std::size_t i) {
        const unsigned char *f = frameAt(i);
        if (std::memcmp(f + 8, salts, 8) != 0)
            return false;
        auto [a, b] = storedSums(i - 1);
        walChecksum(f, 8, big, a, b);
        walChecksum(f + kFrameHeader, pageSize, big, a, b);
        const auto [x, y] = storedSums(i);
        return a == x && b == y;
    };
    std::size_t firstBad = headerOk ? frames : 0;
    for (std::size_t i = 0; headerOk && i < frames; ++i) {
        if (!chains(i)) {
            firstBad = i;
            break;
        }
    }
    if (firstBad == frames)
        return {};
    // Past the first bad frame: count commits (a non-zero database size) in frames that chain,
    // and whether anything chained follows the first of them.
    std::size_t commitsAfter = 0;
    bool framesAfterCommit = false;
    for (std::size_t i = firstBad + 1; i < frames; ++i) {
        if (!chains(i))
            continue;
        if (commitsAfter > 0)
            framesAfterCommit = true;
        if (bigEndian32(frameAt(i) + 4) != 0)
            ++commitsAfter;
    }
    if (commitsAfter > 0 && framesAfterCommit)
        return makeError(Errc::CorruptStore,
                         "write-ahead log " + walPath + " is damaged: "
                             + (headerOk ? "frame " + std::to_string(firstBad + 1) + " of "
                                               + std::to_string(frames)
                                         : std::string("its header"))
                             + " fails its checksum, and committed transactions follow it that "
                               "opening would silently drop; restore the data directory from a "
                               "backup, or move the log aside to accept losing them");
    return {};
}

} // namespace

Error sqliteError(sqlite3 *db, int rc, const std::string &what)
{
    const int primary = rc & 0xff;
    const std::string detail = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (primary == SQLITE_FULL)
        return makeError(Errc::StorageFull, "store is full (" + detail + ")");
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        return makeError(Errc::CorruptStore, "store is corrupt (" + detail + ")");
    return makeError(Errc::StorageError, detail);
}


// ---- SqliteStore ----------------------------------------------------------------------------

SqliteStore::SqliteStore(Options options) : m_options(std::move(options)) {}

SqliteStore::~SqliteStore()
{
    close();
    if (m_writer) {
        for (auto &[sql, s] : m_writer->m_stmts)
            sqlite3_finalize(s);
    }
    // The last connection to close checkpoints the WAL into the database file and deletes it,
    // but only a read-write connection can: closing the read-only reader last would leave every
    // commit in eddy.db-wal, so eddy.db alone would not be a complete copy of the store.
    sqlite3_close_v2(m_readDb);
    sqlite3_close_v2(m_writeDb);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const Options &options)
{
    std::unique_ptr<SqliteStore> store(new SqliteStore(options));
    if (auto r = store->openConnections(); !r)
        return r.error();
    store->m_doneThread = std::thread([s = store.get()] { s->completionLoop(); });
    store->m_thread = std::thread([s = store.get()] { s->writerLoop(); });
    return store;
}

Result<void> SqliteStore::openConnections()
{
    // Before SQLite opens (and, on the first write, resets) the log. Only durable mode promises
    // that everything before the last transaction in the log was fsynced; after a power loss in
    // fast mode, later frames may legitimately be on disk when earlier ones are not.
    if (m_options.durability == Durability::Durable)
        if (auto r = checkWal(m_options.path + "-wal"); !r)
            return r;
    // Only the write connection goes through the I/O-fault VFS: an injected EIO hits the
    // writes and fsyncs of commits, as a failing disk would, and never the readers.
    auto vfs = IoFaultVfs::create();
    if (!vfs)
        return vfs.error();
    m_ioFaults = std::move(*vfs);
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(m_options.path.c_str(), &m_writeDb, flags, m_ioFaults->name());
    if (rc != SQLITE_OK)
        return sqliteError(m_writeDb, rc, "open " + m_options.path);
    sqlite3_busy_timeout(m_writeDb, 5000);
    sqlite3_extended_result_codes(m_writeDb, 1);

    // The integrity check comes first: a damaged file must never be "repaired" by writing to it.
    {
        Stmt check(m_writeDb, "PRAGMA quick_check");
        if (!check.prepared())
            return check.error("integrity check of " + m_options.path);
        int step = sqlite3_step(check.get());
        if (step != SQLITE_ROW)
            return sqliteError(m_writeDb, step, "integrity check of " + m_options.path);
        const std::string verdict = columnText(check.get(), 0);
        if (verdict != "ok")
            return makeError(Errc::CorruptStore, "store " + m_options.path
                                                     + " failed its integrity check: " + verdict);
    }
    const bool durable = m_options.durability == Durability::Durable;
    // WAL + synchronous=FULL fsyncs the WAL at every commit: a committed transaction survives
    // power loss. WAL + NORMAL syncs only at checkpoints: safe against a process crash once
    // committed, but the last commits can roll back on power loss.
    // 16 KiB pages (SQLite's default is 4 KiB): record batches are blobs of up to ~64 KiB, and
    // SQLite writes a WAL frame with two pwrite calls and checkpoints it with a pread and a
    // pwrite per page, so fast-mode batched produce spent most of its time in those syscalls
    // (docs/performance.md, item 14). Only takes effect on a new store: set before WAL mode and
    // the schema; an existing store keeps the page size it was made with.
    std::string pragmas = "PRAGMA page_size=" + std::to_string(SqliteStore::kPageSize) + ";";
    pragmas += "PRAGMA journal_mode=WAL; PRAGMA synchronous=";
    pragmas += durable ? "FULL;" : "NORMAL;";
    // The writer's page cache: 16 MiB. It only needs the b-tree paths of the tables it appends
    // to; 64 MiB filled up with the overflow pages of just-written batches, which nobody reads
    // through this connection, and stayed resident (docs/performance.md, memory).
    pragmas += "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;";
    if (m_options.maxPageCount > 0)
        pragmas += "PRAGMA max_page_count=" + std::to_string(m_options.maxPageCount) + ";";
    if (auto r = exec(m_writeDb, pragmas); !r)
        return r;
    if (auto r = exec(m_writeDb, kSchema); !r)
        return r;
    {
        Stmt v(m_writeDb, "SELECT value FROM meta WHERE key='schema_version'");
        if (v.prepared() && sqlite3_step(v.get()) == SQLITE_ROW
            && sqlite3_column_int64(v.get(), 0) != kSchemaVersion)
            return makeError(Errc::CorruptStore, "store " + m_options.path
                                                     + " has an unknown schema version");
    }
    if (auto r = exec(m_writeDb, "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', "
                                     + std::to_string(kSchemaVersion) + ")");
        !r)
        return r;
    m_writer.reset(new StoreWriter(m_writeDb));

    rc = sqlite3_open_v2(m_options.path.c_str(), &m_readDb,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                         nullptr);
    if (rc != SQLITE_OK)
        return sqliteError(m_readDb, rc, "open for reading " + m_options.path);
    sqlite3_busy_timeout(m_readDb, 5000);
    return {};
}

Result<StoreContents> SqliteStore::load()
{
    std::lock_guard lock(m_readMutex);
    StoreContents out;
    sqlite3 *db = m_readDb;
    {
        Stmt s(db, "SELECT key, value FROM meta");
        if (!s.prepared())
            return s.error("load meta");
        while (sqlite3_step(s.get()) == SQLITE_ROW) {
            const auto key = columnText(s.get(), 0);
            if (key == "next_producer_id")
                out.nextProducerId = sqlite3_column_int64(s.get(), 1);
        }
    }
    {
        Stmt s(db, "SELECT id, name, partitions, ret_records, ret_bytes, ret_ms, created_ms "
                   "FROM topics ORDER BY id");
        if (!s.prepared())
            return s.error("load topics");
        while (sqlite3_step(s.get()) == SQLITE_ROW) {
            StoredTopic t;
            t.id = sqlite3_column_int64(s.get(), 0);
            t.spec.name = columnText(s.get(), 1);
            t.spec.partitions = sqlite3_column_int(s.get(), 2);
            t.spec.retention.maxRecords = sqlite3_column_int64(s.get(), 3);
            t.spec.retention.maxBytes = sqlite3_column_int64(s.get(), 4);
            t.spec.retention.maxAgeMs = sqlite3_column_int64(s.get(), 5);
            t.createdMs = sqlite3_column_int64(s.get(), 6);
            out.nextTopicId = std::max<int64_t>(out.nextTopicId, t.id + 1);
            out.topics.push_back(std::move(t));
        }
    }
    // Topic ids of deleted topics are never reused, even before their batches are purged.
    {
        Stmt s(db, "SELECT MAX(topic_id) FROM batches");
        if (s.prepared() && sqlite3_step(s.get()) == SQLITE_ROW)
            out.nextTopicId =
                std::max<int64_t>(out.nextTopicId, sqlite3_column_int64(s.get(), 0) + 1);
    }
    Stmt part(db, "SELECT log_start FROM partitions WHERE topic_id=? AND partition=?");
    Stmt ends(db, "SELECT MAX(end_offset), SUM(bytes) FROM batches WHERE topic_id=? AND "
                  "partition=? AND end_offset > ?");
    Stmt prods(db, "SELECT producer_id, base_seq, count, base_offset FROM producers WHERE "
                   "topic_id=? AND partition=?");
    if (!part.prepared() || !ends.prepared() || !prods.prepared())
        return part.error("load partitions");
    for (auto &t : out.topics) {
        for (int32_t p = 0; p < t.spec.partitions; ++p) {
            StoredPartition sp;
            sp.partition = p;
            sqlite3_reset(part.get());
            part.bind(1, t.id);
            part.bind(2, p);
            if (sqlite3_step(part.get()) == SQLITE_ROW)
                sp.logStart = sqlite3_column_int64(part.get(), 0);
            sqlite3_reset(ends.get());
            ends.bind(1, t.id);
            ends.bind(2, p);
            ends.bind(3, sp.logStart);
            if (sqlite3_step(ends.get()) == SQLITE_ROW) {
                sp.endOffset = std::max<int64_t>(sp.logStart, sqlite3_column_int64(ends.get(), 0));
                sp.bytes = sqlite3_column_int64(ends.get(), 1);
            }
            sp.endOffset = std::max(sp.endOffset, sp.logStart);
            sqlite3_reset(prods.get());
            prods.bind(1, t.id);
            prods.bind(2, p);
            while (sqlite3_step(prods.get()) == SQLITE_ROW) {
                StoredProducer pr;
                pr.producerId = sqlite3_column_int64(prods.get(), 0);
                pr.baseSequence = sqlite3_column_int(prods.get(), 1);
                pr.count = sqlite3_column_int(prods.get(), 2);
                pr.baseOffset = sqlite3_column_int64(prods.get(), 3);
                sp.producers.push_back(pr);
            }
            t.partitions.push_back(std::move(sp));
        }
    }
    {
        Stmt s(db,
               "SELECT group_id, topic, partition, committed, metadata, commit_ms FROM offsets");
        if (!s.prepared())
            return s.error("load offsets");
        while (sqlite3_step(s.get()) == SQLITE_ROW) {
            StoredOffset o;
            o.group = columnText(s.get(), 0);
            o.topic = columnText(s.get(), 1);
            o.partition = sqlite3_column_int(s.get(), 2);
            o.offset = sqlite3_column_int64(s.get(), 3);
            o.metadata = columnText(s.get(), 4);
            o.commitMs = sqlite3_column_int64(s.get(), 5);
            out.offsets.push_back(std::move(o));
        }
    }
    {
        Stmt s(db, "SELECT group_id, assignor, created_ms FROM groups");
        if (!s.prepared())
            return s.error("load groups");
        while (sqlite3_step(s.get()) == SQLITE_ROW)
            out.groups.push_back({columnText(s.get(), 0), columnText(s.get(), 1),
                                  sqlite3_column_int64(s.get(), 2)});
    }
    return out;
}

void SqliteStore::submit(StoreOp op)
{
    {
        std::unique_lock lock(m_queueMutex);
        if (!m_closing) {
            // The writer waits for a first op (queue empty) or, in fast mode, out the flush
            // interval for an urgent one: any other op would wake it only to sleep again, a
            // context switch per produce that showed in profiles of unbatched produce.
            const bool wake = op.urgent || m_queue.empty();
            if (op.urgent)
                m_urgent = true;
            m_queuedBytes += op.bytes;
            m_queue.push_back(std::move(op));
            ++m_submitted;
            lock.unlock();
            if (wake)
                m_queueCv.notify_one();
            return;
        }
    }
    if (op.done)
        op.done(makeError(Errc::ShuttingDown, "the store is closed"));
}

Result<void> SqliteStore::submitAndWait(std::function<Result<void>(StoreWriter &)> apply)
{
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    submit({std::move(apply), [promise](const Result<void> &r) { promise->set_value(r); }, true});
    return future.get();
}

void SqliteStore::flush()
{
    std::unique_lock lock(m_queueMutex);
    const uint64_t target = m_submitted;
    m_urgent = true;
    m_queueCv.notify_one();
    m_idleCv.wait(lock, [&] { return m_completed >= target || m_closed; });
}

void SqliteStore::waitForRoom(std::size_t limitBytes)
{
    const auto self = std::this_thread::get_id();
    if (self == m_thread.get_id() || self == m_doneThread.get_id())
        return;
    std::unique_lock lock(m_queueMutex);
    if (m_queuedBytes <= limitBytes)
        return;
    // Ask for a commit now rather than waiting out the flush interval.
    m_urgent = true;
    m_queueCv.notify_one();
    m_roomCv.wait(lock, [&] { return m_queuedBytes <= limitBytes || m_closing; });
}

void SqliteStore::close()
{
    {
        std::lock_guard lock(m_queueMutex);
        if (m_closing)
            return;
        m_closing = true;
    }
    m_queueCv.notify_one();
    m_roomCv.notify_all();
    if (m_thread.joinable())
        m_thread.join();
}

void SqliteStore::writerLoop()
{
    const bool durable = m_options.durability == Durability::Durable;
    const auto interval = std::chrono::milliseconds(m_options.flushIntervalMs);
    for (;;) {
        std::vector<StoreOp> ops;
        {
            std::unique_lock lock(m_queueMutex);
            m_queueCv.wait(lock, [&] { return !m_queue.empty() || m_closing; });
            if (m_queue.empty() && m_closing)
                break;
            if (!durable && !m_urgent && !m_closing) {
                // Fast mode: let a flush interval's worth of work accumulate into one commit.
                m_queueCv.wait_until(lock, std::chrono::steady_clock::now() + interval,
                                     [&] { return m_urgent || m_closing; });
            }
            // Durable mode takes what is queued, at once: the commit under way is the only
            // wait. The producers one commit answers send their next requests while the commit
            // after it runs, and make up the group after that: two groups alternate and the
            // disk never idles. Holding
            // the writer back until as many ops as last time were queued (the rule before item
            // 19 in docs/performance.md) merged them into one group and left the writer idle
            // while its answers went out and the next requests came in: 0.6 of a 1.45 ms cycle.
            m_urgent = false;
            ops.reserve(m_queue.size());
            for (auto &op : m_queue)
                ops.push_back(std::move(op));
            m_queue.clear();
        }
        const Result<void> outcome = commitGroup(ops);
        complete(std::move(ops), outcome);
    }
    {
        std::lock_guard lock(m_doneMutex);
        m_doneStop = true;
    }
    m_doneCv.notify_one();
    // The completion thread runs what it was handed before it stops: every op gets its done.
    m_doneThread.join();
    std::lock_guard lock(m_queueMutex);
    m_closed = true;
    m_idleCv.notify_all();
    m_roomCv.notify_all();
}

void SqliteStore::complete(std::vector<StoreOp> ops, Result<void> outcome)
{
    const bool failed = !outcome;
    std::unique_lock lock(m_doneMutex);
    m_finished.push_back({std::move(ops), std::move(outcome)});
    m_doneCv.notify_one();
    // A failed group's dones truncate the partition logs to what was persisted and move them to
    // a new epoch; the next transaction's ops check that epoch when applied, so it must not
    // start before they ran.
    if (failed)
        m_drainedCv.wait(lock, [&] { return m_finished.empty() && !m_doneBusy; });
}

void SqliteStore::completionLoop()
{
    std::unique_lock lock(m_doneMutex);
    for (;;) {
        m_doneCv.wait(lock, [&] { return !m_finished.empty() || m_doneStop; });
        if (m_finished.empty())
            return; // stopping, and everything handed over has run
        Finished group = std::move(m_finished.front());
        m_finished.pop_front();
        m_doneBusy = true;
        lock.unlock();
        for (auto &op : group.ops)
            if (op.done)
                op.done(group.outcome);
        {
            std::lock_guard queueLock(m_queueMutex);
            m_completed += group.ops.size();
            for (const auto &op : group.ops)
                m_queuedBytes -= op.bytes;
        }
        m_idleCv.notify_all();
        m_roomCv.notify_all();
        // The ops (and what their owners keep alive) go before the writer may be released.
        group.ops.clear();
        lock.lock();
        m_doneBusy = false;
        if (m_finished.empty())
            m_drainedCv.notify_all();
    }
}

void SqliteStore::setCommitDelay(int ms)
{
    m_commitDelayMs.store(std::max(0, ms));
    // Wakes a writer sleeping out a longer delay (it re-checks against the new value).
    std::lock_guard lock(m_queueMutex);
    m_queueCv.notify_all();
}

void SqliteStore::setFull(bool full)
{
    m_full.store(full);
}

void SqliteStore::setIoError(bool writes, bool syncs)
{
    m_ioFaults->setFailing(writes, syncs);
}

void SqliteStore::abandonTransaction()
{
    // After an I/O error SQLite may have rolled the transaction back by itself or left it open
    // ("the transaction may or may not be rolled back automatically", sqlite.org/lang_transaction
    // .html); either way the connection must be back in autocommit before the next BEGIN. A
    // WAL-mode rollback writes nothing, so it succeeds even while the disk still fails, and the
    // pager discards its cache once the transaction is gone, so the next transaction reads
    // what is really on disk.
    m_writer->dropPending();
    if (!sqlite3_get_autocommit(m_writeDb))
        (void)exec(m_writeDb, "ROLLBACK");
}

Result<void> SqliteStore::resetWal()
{
    // A commit whose fsync (or a later write) failed has left its frames in the log past the
    // last commit SQLite counts, whole and with valid checksums. The next transaction writes
    // over them from the same place, but a smaller one leaves their tail behind it, and after
    // two failed commits that tail can hold a commit followed by more chained frames: exactly
    // what checkWal takes for committed transactions behind damage, so a crash then made the
    // store refuse to open (engine_tst_io_errors failedFsyncResurrectsNothing). A TRUNCATE
    // checkpoint copies what was committed (never the failed frames, which the log's index does
    // not count) into the database and empties the log, so the next transaction starts a new
    // one. Until it succeeds no transaction runs: each one fails as the reset did.
    const int rc = sqlite3_wal_checkpoint_v2(m_writeDb, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK)
        return sqliteError(m_writeDb, rc, "reset the write-ahead log after a failed commit");
    m_walStale = false;
    return {};
}

Result<void> SqliteStore::commitGroup(std::vector<StoreOp> &ops)
{
    // Injected full disk: fail before BEGIN so SQLite and its file stay exactly as they were.
    if (m_full.load())
        return makeError(Errc::StorageFull, "store is full (injected disk-full fault)");
    if (m_walStale)
        if (auto r = resetWal(); !r)
            return r;
    if (auto r = exec(m_writeDb, "BEGIN IMMEDIATE"); !r)
        return r;
    for (auto &op : ops) {
        if (!op.apply)
            continue;
        if (auto r = op.apply(*m_writer); !r) {
            // Pages spilled from SQLite's cache may already be in the log (without a commit
            // marker): after an I/O error, reset it as after a failed commit.
            if (r.code() == Errc::StorageError || r.code() == Errc::StorageFull)
                m_walStale = true;
            abandonTransaction();
            return r;
        }
    }
    // The merged rows of small batches the ops left behind (see store_writer.cpp).
    if (auto r = m_writer->writePending(); !r) {
        if (r.code() == Errc::StorageError || r.code() == Errc::StorageFull)
            m_walStale = true;
        abandonTransaction();
        return r;
    }
    // Injected slow disk: the wait sits where the fsync does, on the writer thread, so queued
    // ops pile up into the next group as they would behind a slow disk. close() and a lowered
    // delay cut it short (the writer is the only waiter on m_queueCv).
    if (const int delayMs = m_commitDelayMs.load(); delayMs > 0) {
        std::unique_lock lock(m_queueMutex);
        m_queueCv.wait_for(lock, std::chrono::milliseconds(delayMs),
                           [&] { return m_closing || m_commitDelayMs.load() < delayMs; });
    }
    if (auto r = exec(m_writeDb, "COMMIT"); !r) {
        m_walStale = true;
        abandonTransaction();
        return r;
    }
    return {};
}

} // namespace eddy
