#pragma once

#include "batch_codec.h"
#include "record.h"
#include "result.h"
#include "topic_config.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace eddy {

enum class Durability {
    // A produce is acknowledged only after the SQLite transaction holding it has been committed
    // with journal_mode=WAL and synchronous=FULL, i.e. after the WAL was fsync'ed.
    Durable,
    // Acknowledged on append; the writer commits at least every flushInterval with
    // synchronous=NORMAL. A process crash loses at most the unflushed interval; a power loss may
    // also lose WAL frames written since the last checkpoint sync.
    Fast,
};

// A persisted partition's state at open.
struct StoredProducer {
    int64_t producerId = -1;
    int32_t baseSequence = 0;
    int32_t count = 0;
    int64_t baseOffset = 0;
};

struct StoredPartition {
    int32_t partition = 0;
    int64_t logStart = 0;
    int64_t endOffset = 0; // one past the last stored offset
    int64_t bytes = 0;     // payload bytes of the records stored at or after logStart
    std::vector<StoredProducer> producers;
};

struct StoredTopic {
    int64_t id = 0;
    TopicSpec spec;
    int64_t createdMs = 0;
    std::vector<StoredPartition> partitions;
};

struct StoredOffset {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string metadata;
    int64_t commitMs = 0;
};

struct StoredGroup {
    std::string group;
    std::string assignor;
    int64_t createdMs = 0;
};

struct StoreContents {
    std::vector<StoredTopic> topics;
    std::vector<StoredOffset> offsets;
    std::vector<StoredGroup> groups;
    int64_t nextProducerId = 1;
    int64_t nextTopicId = 1;
};

// Oldest stored batches of a partition, for retention.
struct BatchSummary {
    int64_t baseOffset = 0;
    int64_t endOffset = 0;
    int64_t appendTimeUs = 0;
    int64_t bytes = 0;
};

// One metrics-history row. resolutionS is 1 for fine rows, 60 for downsampled ones.
struct HistoryRow {
    int64_t tsMs = 0;
    std::string entity;
    double recordsInPerSec = 0;
    double bytesInPerSec = 0;
    double recordsOutPerSec = 0;
    double bytesOutPerSec = 0;
    int64_t lag = 0;
    int64_t p50Us = 0;
    int64_t p99Us = 0;
};

class IoFaultVfs;
class StoreWriter;

// A unit of work for the writer thread. apply runs inside the current group-commit transaction;
// done runs after that transaction committed (ok) or rolled back (the error), with no store lock
// held, on the store's completion thread, in commit order: every done of a transaction runs
// after every done of the one before. If any op of a transaction fails, the whole transaction
// rolls back and every op in it gets the error: nothing of it was stored; the writer starts
// no further transaction until the dones of the failed one have run.
struct StoreOp {
    std::function<Result<void>(StoreWriter &)> apply;
    std::function<void(const Result<void> &)> done;
    bool urgent = false; // fast mode: commit now rather than at the next flush interval
    std::size_t bytes = 0; // payload bytes it carries, for backpressure
    // Kept alive as long as the op, so apply and done may reach what they work on through a
    // plain pointer: a std::function holding a shared_ptr allocates, one holding a pointer not.
    std::shared_ptr<void> owner = nullptr;
};

// Write-side statements, usable only from StoreOp::apply on the writer thread. Small batches of
// one partition whose offsets follow each other are written as one row (insertBatch keeps them
// until another statement runs or the transaction ends), so a transaction's statements still
// take effect in the order they were made.
class StoreWriter
{
public:
    Result<void> insertTopic(int64_t id, const TopicSpec &spec, int64_t createdMs);
    Result<void> updateTopic(int64_t id, const TopicSpec &spec);
    Result<void> deleteTopic(int64_t id,
                             const std::string &name); // metadata + offsets; batches purged later
    // Stores batch (copied when kept for merging: it may go once this returns). An error of a
    // batch kept for merging comes from a later statement or from the end of the transaction,
    // and fails the transaction all the same.
    Result<void> insertBatch(int64_t topicId, int32_t partition, const RecordBatch &batch);
    Result<void> setLogStart(int64_t topicId, int32_t partition, int64_t logStart);
    // Deletes the records below offset: rows wholly below it go, and the row holding it is
    // rewritten to start at it.
    Result<void> deleteBatchesBelow(int64_t topicId, int32_t partition, int64_t offset);
    Result<void> upsertOffset(const StoredOffset &offset);
    Result<void> deleteOffsets(const std::string &group);
    Result<void> upsertGroup(const StoredGroup &group);
    Result<void> deleteGroup(const std::string &group);
    Result<void> setMeta(const std::string &key, int64_t value);
    Result<void> insertHistory(int resolutionS, const std::vector<HistoryRow> &rows);
    // Averages fine rows of [fromMs, toMs) into one coarse row per entity, then drops fine rows
    // older than fineKeepMs and coarse rows older than coarseKeepMs (relative to toMs).
    Result<void> downsampleHistory(int64_t fromMs, int64_t toMs, int64_t fineKeepMs,
                                   int64_t coarseKeepMs);
    // Deletes up to limit batch rows of topics that no longer exist; returns how many went.
    Result<int> purgeOrphanBatches(int limit);

    // Batches of at most this many encoded bytes are merged with their neighbours...
    static constexpr std::size_t kMergeBatchBytes = 16 << 10;
    // ...into rows of at most about this many (a fetch reads whole rows).
    static constexpr std::size_t kMergeRowBytes = 64 << 10;

private:
    friend class SqliteStore;
    explicit StoreWriter(sqlite3 *db) : m_db(db) {}
    sqlite3_stmt *stmt(const char *sql);
    Result<void> run(sqlite3_stmt *s);
    Result<void> writeBatch(int64_t topicId, int32_t partition, const RecordBatch &batch);
    // Writes every merged row still kept (before any other statement, and before COMMIT).
    Result<void> writePending();
    // The transaction is abandoned: what was kept for it goes too.
    void dropPending() { m_pending.clear(); }

    // A run of small batches of one partition, to be written as one row.
    struct PendingRow {
        int64_t topicId = 0;
        int32_t partition = 0;
        BatchMerger merger;
    };
    sqlite3 *m_db;
    std::map<const char *, sqlite3_stmt *> m_stmts;
    std::vector<PendingRow> m_pending; // one per partition written in this transaction
};

// The broker's SQLite store: topics, record batches, producer state, committed offsets, group
// definitions and metrics history. One writer thread owns the write connection and commits
// queued StoreOps in groups; reads use a separate connection (WAL lets them run alongside).
class SqliteStore
{
public:
    // The page size, in bytes, of a store this build creates; an existing store keeps the one
    // it was created with. Options::maxPageCount counts pages of this size.
    static constexpr int kPageSize = 16 * 1024;

    struct Options {
        std::string path;
        Durability durability = Durability::Fast;
        int flushIntervalMs = 50;
        int64_t maxPageCount = 0; // 0 = SQLite's default; tests set it to simulate a full disk
    };

    // Opens or creates the database, checks its integrity (PRAGMA quick_check) and starts the
    // writer. A database that fails the check or is not a database gives CorruptStore.
    static Result<std::unique_ptr<SqliteStore>> open(const Options &options);
    ~SqliteStore();

    SqliteStore(const SqliteStore &) = delete;
    SqliteStore &operator=(const SqliteStore &) = delete;

    // Everything needed to rebuild the broker's memory.
    Result<StoreContents> load();

    // Queues an op; FIFO order is commit order. After close() ops fail with ShuttingDown.
    void submit(StoreOp op);
    // Queues op and waits until its transaction finished.
    Result<void> submitAndWait(std::function<Result<void>(StoreWriter &)> apply);
    // Waits until everything queued before the call has been committed (or failed).
    void flush();
    // Blocks while more than limitBytes of queued ops await the writer (backpressure for
    // producers that outrun the disk). Returns at once on the writer and completion threads
    // and after close().
    void waitForRoom(std::size_t limitBytes);
    // Commits what is queued and stops the writer; further submits fail.
    void close();

    // Reads persisted records of [fromOffset, toOffset) up to the limits (at least one record).
    Result<std::vector<std::pair<Record, int64_t>>> readRecords(int64_t topicId, int32_t partition,
                                                                int64_t fromOffset,
                                                                int64_t toOffset,
                                                                std::size_t maxRecords,
                                                                std::size_t maxBytes);
    // The first offset in [fromOffset, toOffset) whose record timestamp is >= timestampMs, if any.
    Result<std::optional<int64_t>> offsetForTimestamp(int64_t topicId, int32_t partition,
                                                      int64_t fromOffset, int64_t toOffset,
                                                      int64_t timestampMs);
    // The payload bytes of each record of the stored row that starts at baseOffset, in offset
    // order (retention cuts inside a row record by record).
    Result<std::vector<int64_t>> recordSizes(int64_t topicId, int32_t partition,
                                             int64_t baseOffset);
    // The oldest stored batches at or after fromOffset, up to limit.
    Result<std::vector<BatchSummary>> oldestBatches(int64_t topicId, int32_t partition,
                                                    int64_t fromOffset, int limit);
    // History rows of an entity in [fromMs, toMs) at the given resolution.
    Result<std::vector<HistoryRow>> history(int resolutionS, const std::string &entity,
                                            int64_t fromMs, int64_t toMs);

    // Fault injection (simulator, studio). The writer waits ms before each commit, as a slow
    // fsync would (0: no delay); the wait ends early when the delay is lowered or on close().
    void setCommitDelay(int ms);
    // While set, every transaction fails with StorageFull without touching SQLite, as on a full
    // disk: every op of it gets the error and nothing of it is stored. Clearing it restores
    // service from the next transaction.
    void setFull(bool full);
    // While set, every write (writes) and every fsync (syncs) of the write connection's files
    // fails with an I/O error (SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC, through IoFaultVfs), as
    // on a disk answering EIO: a transaction that has to write or sync fails with StorageError,
    // is rolled back and nothing of it is acknowledged. Clearing both restores service from the
    // next transaction.
    void setIoError(bool writes, bool syncs);

    Durability durability() const { return m_options.durability; }
    const std::string &path() const { return m_options.path; }

private:
    explicit SqliteStore(Options options);
    Result<void> openConnections();
    void writerLoop();
    // Runs the dones of committed groups (handed over by complete()) in order.
    void completionLoop();
    // Hands a finished group to the completion thread; after a failed one, waits until its
    // dones ran (they roll the partition logs back before the next transaction is applied).
    void complete(std::vector<StoreOp> ops, Result<void> outcome);
    Result<void> commitGroup(std::vector<StoreOp> &ops);
    void abandonTransaction();
    Result<void> resetWal();

    Options m_options;
    std::unique_ptr<IoFaultVfs> m_ioFaults; // the write connection's VFS; outlives it
    sqlite3 *m_writeDb = nullptr;
    sqlite3 *m_readDb = nullptr;
    std::unique_ptr<StoreWriter> m_writer;
    // A transaction failed after it may have written frames to the write-ahead log: the log is
    // checkpointed and truncated (resetWal) before the next transaction. Writer thread only.
    bool m_walStale = false;
    std::mutex m_readMutex;

    std::mutex m_queueMutex;
    std::condition_variable m_queueCv;
    std::condition_variable m_idleCv;
    std::deque<StoreOp> m_queue;
    bool m_urgent = false;
    bool m_closing = false;
    bool m_closed = false;
    uint64_t m_submitted = 0;
    std::size_t m_queuedBytes = 0;
    std::condition_variable m_roomCv;
    uint64_t m_completed = 0;
    std::atomic<int> m_commitDelayMs{0};
    std::atomic<bool> m_full{false};
    std::thread m_thread;

    // Finished groups whose dones are still to run. The writer hands them over instead of
    // running them itself: a durable group's dones send ~20 replies through NNG (0.4-0.9 ms),
    // which the writer's next transaction no longer waits for.
    struct Finished {
        std::vector<StoreOp> ops;
        Result<void> outcome;
    };
    std::mutex m_doneMutex;
    std::condition_variable m_doneCv;     // completion thread: work or stop
    std::condition_variable m_drainedCv;  // writer: everything handed over has run
    std::deque<Finished> m_finished;
    bool m_doneBusy = false;
    bool m_doneStop = false;
    std::thread m_doneThread;
};

} // namespace eddy
