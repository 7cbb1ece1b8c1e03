#pragma once

#include "record.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace eddy {

class PartitionLog;

// The broker-wide memory budget of the partition logs' in-memory tails. Each log keeps its
// recent batches (encoded) so that fetches near the end never touch the store; this budget
// bounds their sum across all partitions, evicting the oldest batches broker-wide first, so
// that memory does not grow with the partition count. Only persisted batches are evicted (an
// evicted batch is read from the store); batches that wait for the store stay, bounded by the
// store queue's own limit (BrokerConfig::maxUnstoredBytes).
//
// Thread-safe. Lock order: a log's mutex may be held while calling added(), released() (the
// cache's own mutex is a leaf); trim() takes logs' mutexes and must be called with none held.
class TailCache
{
public:
    explicit TailCache(std::size_t limitBytes);

    std::size_t limitBytes() const { return m_limit; }
    // Memory held by cached batches now (RecordBatch::memoryBytes summed).
    std::size_t usedBytes() const { return m_used.load(std::memory_order_relaxed); }

    // log appended batch to its tail. Records it as the newest batch broker-wide.
    void added(const std::weak_ptr<PartitionLog> &log, const BatchPtr &batch);
    // A log dropped batches holding bytes of memory from its tail (eviction, retention,
    // truncation or the log's destruction).
    void released(std::size_t bytes, std::size_t batches);

    // Gives freed memory back to the system (tcmalloc's ReleaseFreeMemory when the program
    // allocates with tcmalloc, else glibc's malloc_trim) when at least minBytes of batches entered
    // or left the tails since the last call that did: both allocators keep freed memory (glibc in
    // its per-thread arenas, tcmalloc in its page heap), and evicted batches (and the produce
    // requests that made them) are freed in the middle of it. Called periodically (retention pass);
    // an idle broker does not trim.
    void returnFreedMemory(std::size_t minBytes);

    // Evicts the oldest persisted batches broker-wide until usedBytes() <= limitBytes() or the
    // oldest batch is not persisted yet. Returns at once if another thread is trimming.
    void trim();

private:
    struct Entry {
        std::weak_ptr<PartitionLog> log;
        std::weak_ptr<const RecordBatch> batch;
        int64_t endOffset = 0;
    };
    void compactLocked();

    const std::size_t m_limit;
    std::atomic<std::size_t> m_used{0};
    std::atomic<std::size_t> m_churnSinceTrim{0};
    std::mutex m_trimMutex; // one trimmer at a time: it alone pops m_entries
    std::mutex m_mutex;     // guards m_entries and m_batches
    std::deque<Entry> m_entries; // in append order, oldest first; may hold stale entries
    std::size_t m_batches = 0;   // batches cached now
};

} // namespace eddy
