// One partition's log. The lock covers offset assignment and the hand-off to the store queue so
// the store receives batches in offset order; everything slow (store I/O, waking readers,
// acknowledging producers) happens after the lock is released.
#include "partition_log.h"

#include <algorithm>

namespace eddy {

namespace {
constexpr std::size_t kProducerBatchesKept = 5; // as Kafka: retries of the last five batches dedupe
}

PartitionLog::PartitionLog(int32_t partition, int64_t logStart, int64_t endOffset,
                           int64_t storedBytes, bool durableVisibility, std::size_t cacheBytes)
    : m_partition(partition)
    , m_durableVisibility(durableVisibility)
    , m_cacheBytesLimit(cacheBytes)
    , m_logStart(logStart)
    , m_leo(endOffset)
    , m_persistedEnd(endOffset)
    , m_hw(endOffset)
    , m_bytes(storedBytes)
{
}

Result<AppendOutcome> PartitionLog::append(std::vector<Record> &&records, int64_t nowUs,
                                           ProducerStamp stamp, const EnqueueFn &enqueue)
{
    if (records.empty())
        return makeError(Errc::EmptyBatch, "a produce needs at least one record");
    const auto count = static_cast<int32_t>(records.size());
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

        auto batch = std::make_shared<RecordBatch>();
        batch->baseOffset = m_leo;
        batch->appendTimeUs = nowUs;
        batch->producerId = stamp.producerId;
        batch->baseSequence = stamp.baseSequence;
        const int64_t nowMs = nowUs / 1000;
        int64_t offset = m_leo;
        std::size_t bytes = 0;
        int64_t maxTs = 0;
        for (auto &r : records) {
            r.offset = offset++;
            if (r.timestamp <= 0)
                r.timestamp = nowMs;
            maxTs = std::max(maxTs, r.timestamp);
            bytes += recordPayloadBytes(r);
        }
        batch->maxTimestamp = maxTs;
        batch->bytes = bytes;
        batch->records = std::move(records);
        BatchPtr shared = std::move(batch);

        m_leo = offset;
        m_bytes += static_cast<int64_t>(bytes);
        m_cache.push_back(shared);
        m_cacheBytes += bytes;
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
        evictCacheLocked();
    }
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
        evictCacheLocked();
    }
    for (auto &w : ready)
        w->fire(false);
}

void PartitionLog::truncateToPersisted(uint64_t epoch)
{
    std::lock_guard lock(m_mutex);
    if (epoch != m_epoch)
        return;
    ++m_epoch;
    while (!m_cache.empty() && m_cache.back()->baseOffset >= m_persistedEnd) {
        m_bytes -= static_cast<int64_t>(m_cache.back()->bytes);
        m_cacheBytes -= m_cache.back()->bytes;
        m_cache.pop_back();
    }
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
    std::lock_guard lock(m_mutex);
    LogRead out;
    out.highWatermark = m_hw;
    out.logStartOffset = m_logStart;
    if (offset < 0)
        return makeError(Errc::InvalidOffset, "offset " + std::to_string(offset) + " is negative");
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
    for (; it != m_cache.end(); ++it) {
        const auto &batch = **it;
        for (std::size_t i = static_cast<std::size_t>(std::max<int64_t>(0, offset - batch.baseOffset));
             i < batch.records.size(); ++i) {
            const auto &r = batch.records[i];
            if (r.offset >= m_hw || out.records.size() >= maxRecords)
                return out;
            const std::size_t size = recordPayloadBytes(r);
            if (!out.records.empty() && out.bytes + size > maxBytes)
                return out;
            out.records.push_back(r);
            out.appendTimesUs.push_back(batch.appendTimeUs);
            out.bytes += size;
        }
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

void PartitionLog::evictCacheLocked()
{
    // Only persisted batches leave memory: an evicted batch must be readable from the store.
    while (!m_cache.empty()
           && (m_cache.front()->endOffset() <= m_logStart
               || (m_cacheBytes > m_cacheBytesLimit
                   && m_cache.front()->endOffset() <= m_persistedEnd))) {
        m_cacheBytes -= m_cache.front()->bytes;
        m_cache.pop_front();
    }
}

int64_t PartitionLog::advanceLogStart(int64_t newStart)
{
    std::lock_guard lock(m_mutex);
    // Never past what is stored: a storage failure may still roll the unstored tail back.
    newStart = std::min({newStart, m_hw, m_persistedEnd});
    if (newStart > m_logStart) {
        m_logStart = newStart;
        evictCacheLocked();
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
