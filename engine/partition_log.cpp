// One partition's log. The lock covers offset assignment and the hand-off to the store queue so
// the store receives batches in offset order; everything slow (encoding and decoding records,
// store I/O, waking readers, acknowledging producers, trimming the tail budget) happens outside
// the lock.
#include "partition_log.h"

#include "batch_codec.h"

#include <algorithm>

namespace eddy {

namespace {
constexpr std::size_t kProducerBatchesKept = 5; // as Kafka: retries of the last five batches dedupe
}

PartitionLog::PartitionLog(int32_t partition, int64_t logStart, int64_t endOffset,
                           int64_t storedBytes, bool durableVisibility,
                           std::shared_ptr<TailCache> tailCache)
    : m_partition(partition)
    , m_durableVisibility(durableVisibility)
    , m_tailCache(std::move(tailCache))
    , m_logStart(logStart)
    , m_leo(endOffset)
    , m_persistedEnd(endOffset)
    , m_hw(endOffset)
    , m_bytes(storedBytes)
{
}

PartitionLog::~PartitionLog()
{
    m_tailCache->released(m_cacheMemory, m_cache.size());
}

Result<AppendOutcome> PartitionLog::append(std::vector<Record> &&records, int64_t nowUs,
                                           ProducerStamp stamp, const EnqueueFn &enqueue)
{
    if (records.empty())
        return makeError(Errc::EmptyBatch, "a produce needs at least one record");
    const auto count = static_cast<int32_t>(records.size());
    // Encoded before taking the lock: offsets are deltas from the base offset, which is the only
    // thing assigned under it.
    auto batch = std::make_shared<RecordBatch>();
    batch->appendTimeUs = nowUs;
    batch->producerId = stamp.producerId;
    batch->baseSequence = stamp.baseSequence;
    batch->count = count;
    const int64_t nowMs = nowUs / 1000;
    int64_t maxTs = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        auto &r = records[i];
        r.offset = static_cast<int64_t>(i);
        if (r.timestamp <= 0)
            r.timestamp = nowMs;
        maxTs = std::max(maxTs, r.timestamp);
        batch->bytes += recordPayloadBytes(r);
    }
    batch->maxTimestamp = maxTs;
    batch->encoded = encodeBatchRecords(0, records);
    records = {}; // the decoded copy goes now, not when the caller's request does
    return appendBatch(std::move(batch), stamp, enqueue);
}

Result<AppendOutcome> PartitionLog::appendEncoded(RecordBatch &&prepared, int64_t nowUs,
                                                  ProducerStamp stamp, const EnqueueFn &enqueue)
{
    if (prepared.count <= 0)
        return makeError(Errc::EmptyBatch, "a produce needs at least one record");
    auto batch = std::make_shared<RecordBatch>(std::move(prepared));
    batch->appendTimeUs = nowUs;
    batch->producerId = stamp.producerId;
    batch->baseSequence = stamp.baseSequence;
    if (batch->maxTimestamp <= 0) {
        // Every record asked for the append time: their timestamp deltas are all 0, so setting
        // the base timestamp sets them all.
        batch->maxTimestamp = nowUs / 1000;
        batch->encoded = withBaseTimestamp(batch->encoded, batch->maxTimestamp);
    }
    return appendBatch(std::move(batch), stamp, enqueue);
}

Result<AppendOutcome> PartitionLog::appendBatch(std::shared_ptr<RecordBatch> batch,
                                                ProducerStamp stamp, const EnqueueFn &enqueue)
{
    const int32_t count = batch->count;
    std::vector<WaiterPtr> ready;
    AppendOutcome out;
    {
        std::lock_guard lock(m_mutex);
        if (stamp.producerId >= 0) {
            if (stamp.baseSequence < 0)
                return makeError(Errc::InvalidRequest, "idempotent produce needs a sequence >= 0");
            auto it = m_producers.find(stamp.producerId);
            if (it != m_producers.end() && !it->second.empty()) {
                for (const auto &meta : it->second) {
                    if (meta.baseSequence == stamp.baseSequence) {
                        if (meta.count != count)
                            return makeError(Errc::InvalidRequest,
                                             "retried batch has a different record count than "
                                             "the stored one with the same sequence");
                        out.baseOffset = meta.baseOffset;
                        out.count = meta.count;
                        out.duplicate = true;
                        return out;
                    }
                }
                const auto &last = it->second.back();
                int64_t expected = int64_t(last.baseSequence) + last.count;
                // Sequences wrap to 0 after INT32_MAX, as Kafka's do.
                if (expected > INT32_MAX)
                    expected -= int64_t(INT32_MAX) + 1;
                if (stamp.baseSequence > expected)
                    return makeError(Errc::OutOfOrderSequence,
                                     "producer " + std::to_string(stamp.producerId)
                                         + " sent sequence " + std::to_string(stamp.baseSequence)
                                         + " but " + std::to_string(expected) + " was expected");
                if (stamp.baseSequence < expected)
                    return makeError(Errc::DuplicateSequence,
                                     "sequence " + std::to_string(stamp.baseSequence)
                                         + " is older than the batches kept for retries");
            }
        }

        batch->baseOffset = m_leo;
        BatchPtr shared = std::move(batch);

        m_leo = shared->endOffset();
        m_bytes += static_cast<int64_t>(shared->bytes);
        m_cache.push_back(shared);
        m_cacheMemory += shared->memoryBytes();
        m_tailCache->added(weak_from_this(), shared);
        if (stamp.producerId >= 0) {
            auto &metas = m_producers[stamp.producerId];
            metas.push_back({stamp.baseSequence, count, shared->baseOffset});
            while (metas.size() > kProducerBatchesKept)
                metas.pop_front();
        }
        enqueue(shared, m_epoch);
        if (!m_durableVisibility) {
            m_hw = m_leo;
            ready = takeReadyWaitersLocked();
        }
        out.baseOffset = shared->baseOffset;
        out.count = count;
        out.batch = shared;
        out.epoch = m_epoch;
    }
    m_tailCache->trim();
    m_counters.recordsIn.fetch_add(static_cast<uint64_t>(count), std::memory_order_relaxed);
    m_counters.bytesIn.fetch_add(out.batch->bytes, std::memory_order_relaxed);
    for (auto &w : ready)
        w->fire(false);
    return out;
}

void PartitionLog::markPersisted(uint64_t epoch, int64_t endOffset)
{
    std::vector<WaiterPtr> ready;
    {
        std::lock_guard lock(m_mutex);
        if (epoch != m_epoch || endOffset <= m_persistedEnd)
            return;
        m_persistedEnd = std::min(endOffset, m_leo);
        if (m_durableVisibility && m_persistedEnd > m_hw) {
            m_hw = m_persistedEnd;
            ready = takeReadyWaitersLocked();
        }
    }
    // Newly persisted batches may be evicted now if the tails are over budget.
    m_tailCache->trim();
    for (auto &w : ready)
        w->fire(false);
}

void PartitionLog::truncateToPersisted(uint64_t epoch)
{
    std::lock_guard lock(m_mutex);
    if (epoch != m_epoch)
        return;
    ++m_epoch;
    std::size_t dropped = 0;
    std::size_t droppedBatches = 0;
    while (!m_cache.empty() && m_cache.back()->baseOffset >= m_persistedEnd) {
        m_bytes -= static_cast<int64_t>(m_cache.back()->bytes);
        dropped += m_cache.back()->memoryBytes();
        ++droppedBatches;
        m_cache.pop_back();
    }
    m_cacheMemory -= dropped;
    m_tailCache->released(dropped, droppedBatches);
    m_leo = m_persistedEnd;
    m_hw = std::min(m_hw, m_leo);
    m_logStart = std::min(m_logStart, m_leo);
    // Forget idempotence entries of dropped batches; a producer with none left is treated as new.
    for (auto it = m_producers.begin(); it != m_producers.end();) {
        auto &metas = it->second;
        while (!metas.empty() && metas.back().baseOffset >= m_persistedEnd)
            metas.pop_back();
        it = metas.empty() ? m_producers.erase(it) : std::next(it);
    }
}

uint64_t PartitionLog::epoch() const
{
    std::lock_guard lock(m_mutex);
    return m_epoch;
}

Result<LogRead> PartitionLog::read(int64_t offset, std::size_t maxRecords,
                                   std::size_t maxBytes) const
{
    LogRead out;
    std::vector<BatchPtr> batches;
    int64_t hw = 0;
    {
        std::lock_guard lock(m_mutex);
        out.highWatermark = hw = m_hw;
        out.logStartOffset = m_logStart;
        if (offset < 0)
            return makeError(Errc::InvalidOffset,
                             "offset " + std::to_string(offset) + " is negative");
        if (offset < m_logStart || offset > m_hw)
            return makeError(Errc::OffsetOutOfRange,
                             "offset " + std::to_string(offset) + " is outside ["
                                 + std::to_string(m_logStart) + ", " + std::to_string(m_hw) + "]");
        if (offset == m_hw || maxRecords == 0)
            return out;
        const int64_t cacheStart = m_cache.empty() ? m_leo : m_cache.front()->baseOffset;
        if (offset < cacheStart) {
            out.needsStore = true;
            out.storeTo = std::min(cacheStart, m_hw);
            return out;
        }
        auto it = std::upper_bound(m_cache.begin(), m_cache.end(), offset,
                                   [](int64_t o, const BatchPtr &b) { return o < b->baseOffset; });
        --it; // offset >= cacheStart, so some batch starts at or before it
        // Take (shared) the batches the read can reach; decoding happens after the unlock.
        std::size_t records = 0;
        std::size_t bytes = 0;
        for (; it != m_cache.end() && (*it)->baseOffset < m_hw; ++it) {
            batches.push_back(*it);
            const int64_t from = std::max(offset, (*it)->baseOffset);
            records += static_cast<std::size_t>((*it)->endOffset() - from);
            bytes += (*it)->bytes;
            if (records >= maxRecords || bytes > maxBytes)
                break;
        }
    }
    for (const auto &batch : batches) {
        BatchCursor cursor(batch->encoded, batch->baseOffset);
        RecordView view;
        while (cursor.next(view)) {
            if (view.offset < offset)
                continue;
            if (view.offset >= hw || out.records.size() >= maxRecords)
                return out;
            if (!out.records.empty() && out.bytes + view.payloadBytes > maxBytes)
                return out;
            out.records.push_back(view.toRecord());
            out.appendTimesUs.push_back(batch->appendTimeUs);
            out.bytes += view.payloadBytes;
        }
        if (auto e = cursor.error())
            return *e;
    }
    return out;
}

void PartitionLog::addWaiter(int64_t offset, const WaiterPtr &waiter)
{
    bool now = false;
    {
        std::lock_guard lock(m_mutex);
        if (offset < m_hw) {
            now = true;
        } else {
            // Timed-out waiters stay until the next append; prune them before the list grows.
            if (m_waiters.size() >= 64)
                std::erase_if(m_waiters, [](const auto &p) { return p.second->fired(); });
            m_waiters.emplace_back(offset, waiter);
        }
    }
    if (now)
        waiter->fire(false);
}

std::vector<WaiterPtr> PartitionLog::takeReadyWaitersLocked()
{
    std::vector<WaiterPtr> ready;
    for (auto it = m_waiters.begin(); it != m_waiters.end();) {
        if (it->first < m_hw || it->second->fired()) {
            if (!it->second->fired())
                ready.push_back(std::move(it->second));
            it = m_waiters.erase(it);
        } else {
            ++it;
        }
    }
    return ready;
}

void PartitionLog::popFrontLocked()
{
    const std::size_t memory = m_cache.front()->memoryBytes();
    m_cacheMemory -= memory;
    m_cache.pop_front();
    m_tailCache->released(memory, 1);
}

void PartitionLog::evictBelowLogStartLocked()
{
    while (!m_cache.empty() && m_cache.front()->endOffset() <= m_logStart)
        popFrontLocked();
}

PartitionLog::Eviction PartitionLog::evictThrough(int64_t endOffset)
{
    std::lock_guard lock(m_mutex);
    while (!m_cache.empty() && m_cache.front()->endOffset() <= endOffset) {
        // Only persisted batches leave memory: an evicted batch must be readable from the store.
        if (m_cache.front()->endOffset() > m_persistedEnd)
            return Eviction::NotPersisted;
        popFrontLocked();
    }
    return Eviction::Done;
}

std::size_t PartitionLog::cachedMemoryBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_cacheMemory;
}

int64_t PartitionLog::advanceLogStart(int64_t newStart)
{
    std::lock_guard lock(m_mutex);
    // Never past what is stored: a storage failure may still roll the unstored tail back.
    newStart = std::min({newStart, m_hw, m_persistedEnd});
    if (newStart > m_logStart) {
        m_logStart = newStart;
        evictBelowLogStartLocked();
    }
    return m_logStart;
}

void PartitionLog::subtractStoredBytes(int64_t bytes)
{
    std::lock_guard lock(m_mutex);
    m_bytes = std::max<int64_t>(0, m_bytes - bytes);
}

int64_t PartitionLog::logStartOffset() const
{
    std::lock_guard lock(m_mutex);
    return m_logStart;
}

int64_t PartitionLog::highWatermark() const
{
    std::lock_guard lock(m_mutex);
    return m_hw;
}

int64_t PartitionLog::logEndOffset() const
{
    std::lock_guard lock(m_mutex);
    return m_leo;
}

int64_t PartitionLog::persistedEnd() const
{
    std::lock_guard lock(m_mutex);
    return m_persistedEnd;
}

int64_t PartitionLog::sizeBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_bytes;
}

std::map<int64_t, ProducerBatchMeta> PartitionLog::producerSnapshot() const
{
    std::lock_guard lock(m_mutex);
    std::map<int64_t, ProducerBatchMeta> out;
    for (const auto &[pid, metas] : m_producers)
        if (!metas.empty())
            out[pid] = metas.back();
    return out;
}

void PartitionLog::restoreProducer(int64_t producerId, ProducerBatchMeta meta)
{
    std::lock_guard lock(m_mutex);
    m_producers[producerId] = {meta};
}

} // namespace eddy
