// The broker-wide tail budget. Entries are appended in the order batches reach the logs' tails,
// so the front is (close to) the oldest cached batch broker-wide; evicting from the front is
// "oldest batches first" across partitions. An entry outlives its batch when the log dropped
// the batch for another reason (retention, truncation, deleted topic): trimming skips such
// entries, and compaction removes them when they outnumber the cached batches.
#include "tail_cache.h"

#include "partition_log.h"

#include <algorithm>

#include <dlfcn.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace eddy {

TailCache::TailCache(std::size_t limitBytes)
    : m_limit(limitBytes)
{
}

void TailCache::added(const std::weak_ptr<PartitionLog> &log, const BatchPtr &batch)
{
    m_used.fetch_add(batch->memoryBytes(), std::memory_order_relaxed);
    m_churnSinceTrim.fetch_add(batch->memoryBytes(), std::memory_order_relaxed);
    std::lock_guard lock(m_mutex);
    m_entries.push_back({log, batch, batch->endOffset()});
    ++m_batches;
}

void TailCache::released(std::size_t bytes, std::size_t batches)
{
    m_used.fetch_sub(bytes, std::memory_order_relaxed);
    m_churnSinceTrim.fetch_add(bytes, std::memory_order_relaxed);
    std::lock_guard lock(m_mutex);
    m_batches -= std::min(m_batches, batches);
}

void TailCache::returnFreedMemory(std::size_t minBytes)
{
    if (m_churnSinceTrim.load(std::memory_order_relaxed) < minBytes)
        return;
    m_churnSinceTrim.store(0, std::memory_order_relaxed);
    // eddy and eddy-studio allocate with tcmalloc (CMakeLists.txt), which keeps freed spans in
    // its page heap and returns them to the system only slowly; its C API hands them all back.
    // Looked up rather than linked: the engine works with whatever allocator its program has.
    using ReleaseFreeMemory = void (*)();
    static const auto tcmallocRelease = reinterpret_cast<ReleaseFreeMemory>(
        dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"));
    if (tcmallocRelease) {
        tcmallocRelease();
        return;
    }
#if defined(__GLIBC__)
    // Returns the free pages of every arena (not only the top of the heap): without it an
    // `eddy broker` kept about 65 MiB of freed batches and request buffers resident after a
    // burst of 100 MB (docs/performance.md, memory).
    malloc_trim(0);
#endif
}

void TailCache::trim()
{
    std::unique_lock trimming(m_trimMutex, std::try_to_lock);
    if (!trimming.owns_lock())
        return;
    while (usedBytes() > m_limit) {
        Entry e;
        {
            std::lock_guard lock(m_mutex);
            if (m_entries.empty())
                break;
            e = m_entries.front();
        }
        // A stale entry (batch or log gone) is dropped; a live one evicts its log's tail up to
        // the batch, unless that is not persisted yet: then nothing newer is evictable either
        // (the store writes in append order), so stop until the next persist calls trim again.
        auto log = e.log.lock();
        if (log && !e.batch.expired()
            && log->evictThrough(e.endOffset) == PartitionLog::Eviction::NotPersisted)
            break;
        std::lock_guard lock(m_mutex);
        m_entries.pop_front();
    }
    std::lock_guard lock(m_mutex);
    compactLocked();
}

void TailCache::compactLocked()
{
    // Stale entries pile up behind a live one when logs drop batches under the budget (short
    // retention); remove them once they dominate, which keeps the cost amortised O(1).
    if (m_entries.size() <= 2 * m_batches + 1024)
        return;
    std::erase_if(m_entries, [](const Entry &e) { return e.batch.expired() || e.log.expired(); });
}

} // namespace eddy
