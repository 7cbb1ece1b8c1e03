#pragma once

#include "record.h"
#include "result.h"
#include "tail_cache.h"
#include "waiter.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace eddy {

// Identity of an idempotent producer's batch. producerId < 0 means "not idempotent".
struct ProducerStamp {
    int64_t producerId = -1;
    int32_t baseSequence = -1;
};

// What the log remembers of an idempotent producer's recent batch, to answer retries.
struct ProducerBatchMeta {
    int32_t baseSequence = 0;
    int32_t count = 0;
    int64_t baseOffset = 0;
};

struct AppendOutcome {
    int64_t baseOffset = 0;
    int32_t count = 0;
    bool duplicate
        = false; // a retry of a stored batch: nothing was appended, offsets are the original
    BatchPtr batch;         // the appended batch (null for a duplicate)
    uint64_t epoch = 0;     // log epoch the batch was appended in (see truncateToPersisted)
};

// A bounded slice read from memory: records (decoded from the cached batches) plus the watermarks
// seen at read time.
struct LogRead {
    std::vector<Record> records;
    std::vector<int64_t> appendTimesUs; // per record, for produce->consume latency
    std::size_t bytes = 0;
    int64_t highWatermark = 0;
    int64_t logStartOffset = 0;
    // Set when the offset lies below the in-memory cache: the caller reads [storeFrom, storeTo)
    // from the store instead (those batches are persisted, so the store has them).
    bool needsStore = false;
    int64_t storeTo = 0;
};

// Monotonic counters of one partition; metrics turn them into rates.
struct PartitionCounters {
    std::atomic<uint64_t> recordsIn{0};
    std::atomic<uint64_t> bytesIn{0};
    std::atomic<uint64_t> recordsOut{0};
    std::atomic<uint64_t> bytesOut{0};
};

// The log of one partition: offset assignment, idempotence, the in-memory tail, watermarks and
// long-poll waiters. Thread-safe; its mutex is never held while a callback or waiter runs.
// The tail is the newest batches, kept encoded, within a broker-wide budget (TailCache): a log
// must be owned by a std::shared_ptr for the budget to evict from it.
//
// Offsets: the log-end offset (LEO) is the next offset to assign. The persisted end is what the
// store has committed. The high watermark (HW) -- the end visible to readers -- is the LEO in
// fast mode and the persisted end in durable mode, so no reader ever sees a record that a crash
// could take back.
class PartitionLog : public std::enable_shared_from_this<PartitionLog>
{
public:
    // Called under the log's lock with each appended batch so the store sees batches in offset
    // order. Must only enqueue.
    using EnqueueFn = std::function<void(const BatchPtr &, uint64_t epoch)>;

    // tailCache is the budget shared by the broker's logs (not null).
    PartitionLog(int32_t partition, int64_t logStart, int64_t endOffset, int64_t storedBytes,
                 bool durableVisibility, std::shared_ptr<TailCache> tailCache);
    ~PartitionLog();
    PartitionLog(const PartitionLog &) = delete;
    PartitionLog &operator=(const PartitionLog &) = delete;

    int32_t partition() const { return m_partition; }

    // Assigns contiguous offsets to records (timestamps of 0 become nowMs), encodes them into a
    // batch, caches the batch and hands it to enqueue. An idempotent retry of one of the last
    // five batches returns the original offsets with duplicate=true; a sequence gap fails with
    // OutOfOrderSequence.
    Result<AppendOutcome> append(std::vector<Record> &&records, int64_t nowUs, ProducerStamp stamp,
                                 const EnqueueFn &enqueue);
    // The same for records that arrived encoded: prepared holds them (encoded, count, bytes and
    // maxTimestamp set, already checked); a maxTimestamp of 0 means every record's timestamp is
    // 0, and they all become nowMs (the batch's base timestamp is set, the records stay as they
    // are). Its offsets, append time and producer fields are set here.
    Result<AppendOutcome> appendEncoded(RecordBatch &&prepared, int64_t nowUs, ProducerStamp stamp,
                                        const EnqueueFn &enqueue);

    // The store committed every batch below endOffset appended in epoch. Advances the persisted
    // end (and, in durable mode, the HW) and fires waiters.
    void markPersisted(uint64_t epoch, int64_t endOffset);

    // The store failed to persist: drops every batch above the persisted end, rolls the LEO back
    // to it and starts a new epoch so queued batches of the old epoch are refused. Ignored when
    // epoch is no longer current (an earlier failure of the same group already truncated).
    void truncateToPersisted(uint64_t epoch);
    uint64_t epoch() const;

    // Reads up to maxRecords / maxBytes from offset (at least one record if any is available).
    // offset == HW gives an empty read; offset outside [logStart, HW] fails with OffsetOutOfRange.
    // Records are decoded from the cached batches outside the log's lock.
    Result<LogRead> read(int64_t offset, std::size_t maxRecords, std::size_t maxBytes) const;

    // Registers a waiter fired when the HW moves past offset, or at once if it already has.
    void addWaiter(int64_t offset, const WaiterPtr &waiter);

    // Moves the log-start offset forward (retention, delete-records). Never past the HW.
    int64_t advanceLogStart(int64_t newStart);
    // Accounts for stored bytes removed by retention.
    void subtractStoredBytes(int64_t bytes);

    int64_t logStartOffset() const;
    int64_t highWatermark() const;
    int64_t logEndOffset() const;
    int64_t persistedEnd() const;
    int64_t sizeBytes() const; // payload bytes between log start and LEO

    enum class Eviction { Done, NotPersisted };
    // Drops the tail's oldest batches ending at or before endOffset (the tail budget's
    // eviction). NotPersisted when one of them is not persisted yet: it and later ones stay.
    Eviction evictThrough(int64_t endOffset);
    // Memory held by this log's tail (RecordBatch::memoryBytes summed).
    std::size_t cachedMemoryBytes() const;

    // Offsets of the known idempotent producers' last batches (for persistence).
    std::map<int64_t, ProducerBatchMeta> producerSnapshot() const;
    void restoreProducer(int64_t producerId, ProducerBatchMeta meta);

    PartitionCounters &counters() { return m_counters; }
    const PartitionCounters &counters() const { return m_counters; }

private:
    // The part of an append under the lock: idempotence, offsets, the tail, enqueue, waiters.
    Result<AppendOutcome> appendBatch(std::shared_ptr<RecordBatch> batch, ProducerStamp stamp,
                                      const EnqueueFn &enqueue);
    std::vector<WaiterPtr> takeReadyWaitersLocked();
    void evictBelowLogStartLocked();
    void popFrontLocked();

    const int32_t m_partition;
    const bool m_durableVisibility;
    const std::shared_ptr<TailCache> m_tailCache;

    mutable std::mutex m_mutex;
    int64_t m_logStart;
    int64_t m_leo;
    int64_t m_persistedEnd;
    int64_t m_hw;
    int64_t m_bytes;
    uint64_t m_epoch = 0;
    std::deque<BatchPtr> m_cache;
    std::size_t m_cacheMemory = 0; // memoryBytes of the batches in m_cache
    std::map<int64_t, std::deque<ProducerBatchMeta>> m_producers;
    std::vector<std::pair<int64_t, WaiterPtr>> m_waiters;
    PartitionCounters m_counters;
};

} // namespace eddy
