// Metrics and retention on the broker facade. The scheduler's metrics tick expires group sessions,
// builds the immutable snapshot (rates, sizes, lag, latency per broker, topic, partition and
// group) and persists one history row per entity each second, downsampled each minute; the
// retention pass advances each partition's log start by count, age and size and deletes the
// stored batches below it. Internals: broker_impl.h.
#include "broker.h"
#include "broker_impl.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

namespace eddy {

// ---- metrics and retention ------------------------------------------------------------------

MetricsSnapshotPtr Broker::metrics() const
{
    std::lock_guard lock(m_impl->m_snapshotMutex);
    return m_impl->m_snapshot;
}

void BrokerImpl::metricsTick()
{
    const int64_t nowMs = wallClockMs();
    m_groups->expireSessions(nowMs);

    auto snap = std::make_shared<MetricsSnapshot>();
    snap->timestampMs = nowMs;
    std::vector<std::shared_ptr<Topic>> topics;
    {
        std::shared_lock lock(m_topicsMutex);
        for (const auto &[name, t] : m_topics)
            topics.push_back(t);
    }
    uint64_t bri = 0, brb = 0, bro = 0, brob = 0;
    std::vector<HistoryRow> rows;
    const auto row = [&](const std::string &entity, const Rates &r, int64_t lag,
                         const LatencySummary &l) {
        rows.push_back({nowMs - nowMs % 1000, entity, r.recordsInPerSec, r.bytesInPerSec,
                        r.recordsOutPerSec, r.bytesOutPerSec, lag, l.p50Us, l.p99Us});
    };
    for (const auto &t : topics) {
        TopicMetrics tm;
        tm.name = t->name;
        uint64_t ti = 0, tb = 0, to = 0, tob = 0;
        std::vector<std::shared_ptr<PartitionLog>> parts;
        {
            std::shared_lock lock(m_topicsMutex);
            parts = t->partitions;
        }
        if (t->partitionRates.size() < parts.size())
            t->partitionRates.resize(parts.size());
        for (const auto &log : parts) {
            PartitionMetrics pm;
            pm.partition = log->partition();
            pm.logStartOffset = log->logStartOffset();
            pm.highWatermark = log->highWatermark();
            pm.sizeBytes = log->sizeBytes();
            const auto &c = log->counters();
            const uint64_t ri = c.recordsIn.load(), bi = c.bytesIn.load(), ro = c.recordsOut.load(),
                           bo = c.bytesOut.load();
            pm.rates = MetricsCollector::rates(
                t->partitionRates[static_cast<std::size_t>(pm.partition)], ri, bi, ro, bo, nowMs);
            ti += ri, tb += bi, to += ro, tob += bo;
            tm.sizeBytes += pm.sizeBytes;
            tm.records += pm.highWatermark - pm.logStartOffset;
            tm.partitions.push_back(pm);
        }
        tm.rates = m_collector.rates("topic/" + t->name, ti, tb, to, tob, nowMs);
        tm.latency = m_collector.latency("topic/" + t->name);
        bri += ti, brb += tb, bro += to, brob += tob;
        snap->topics.push_back(std::move(tm));
    }
    snap->broker = m_collector.rates("broker", bri, brb, bro, brob, nowMs);
    snap->latency = m_collector.latency("broker");
    for (const auto &listing : m_groups->list()) {
        GroupMetrics gm;
        gm.name = listing.group;
        gm.state = listing.state;
        gm.generation = listing.generation;
        gm.members = listing.members;
        if (auto offsets = m_groups->committed(listing.group, {})) {
            for (const auto &o : *offsets) {
                gm.partitions.push_back({o.topic, o.partition, o.offset, o.highWatermark, o.lag});
                gm.totalLag += o.lag;
            }
        }
        const auto [recs, bytes] = m_collector.groupTotals(listing.group);
        gm.rates = m_collector.rates("group/" + listing.group, 0, 0, recs, bytes, nowMs);
        gm.latency = m_collector.latency("group/" + listing.group);
        snap->groups.push_back(std::move(gm));
    }
    m_collector.advance();

    {
        std::lock_guard lock(m_snapshotMutex);
        snap->sequence = m_snapshot ? m_snapshot->sequence + 1 : 1;
        m_snapshot = snap;
    }

    // Persist history once per second, and downsample once per minute.
    const int ticksPerSecond = std::max(1, 1000 / std::max(1, m_config.metricsIntervalMs));
    if (m_scheduler && ++m_tick % static_cast<uint64_t>(ticksPerSecond) == 0) {
        row("broker", snap->broker, 0, snap->latency);
        for (const auto &tm : snap->topics) {
            row("topic/" + tm.name, tm.rates, 0, tm.latency);
            for (const auto &pm : tm.partitions)
                row("topic/" + tm.name + "/" + std::to_string(pm.partition), pm.rates, 0, {});
        }
        for (const auto &gm : snap->groups)
            row("group/" + gm.name, gm.rates, gm.totalLag, gm.latency);
        m_store->submit(
            {[rows = std::move(rows)](StoreWriter &w) { return w.insertHistory(1, rows); },
             {},
             false});
        const int64_t minute = nowMs - nowMs % 60000;
        if (m_lastDownsampleMs == 0)
            m_lastDownsampleMs = minute;
        if (minute > m_lastDownsampleMs) {
            m_store->submit({[from = m_lastDownsampleMs, minute, fine = m_config.historyFineKeepMs,
                              coarse = m_config.historyCoarseKeepMs](StoreWriter &w) {
                                 return w.downsampleHistory(from, minute, fine, coarse);
                             },
                             {}, false});
            m_lastDownsampleMs = minute;
        }
    }
}

Result<std::vector<HistoryPoint>> Broker::metricsHistory(const std::string &entity, int64_t fromMs,
                                                         int64_t toMs) const
{
    auto *d = m_impl.get();
    if (fromMs > toMs)
        return makeError(Errc::InvalidRequest, "history range ends before it starts");
    const bool fine = wallClockMs() - fromMs <= d->m_config.historyFineKeepMs;
    auto rows = d->m_store->history(fine ? 1 : 60, entity, fromMs, toMs);
    if (!rows)
        return rows.error();
    std::vector<HistoryPoint> out;
    out.reserve(rows->size());
    for (const auto &r : *rows)
        out.push_back({r.tsMs, r.recordsInPerSec, r.bytesInPerSec, r.recordsOutPerSec,
                       r.bytesOutPerSec, r.lag, r.p50Us, r.p99Us});
    return out;
}

void Broker::runRetention()
{
    // A pass only looks at persisted batches; commit what is queued first so that "now" covers
    // everything appended before the call (in fast mode the newest batches may still be queued).
    // The periodic pass does not wait like this: it must not stall the scheduler thread.
    if (!m_impl->m_closed)
        m_impl->m_store->flush();
    m_impl->retentionPass();
}

void BrokerImpl::retentionPass()
{
    if (m_closed)
        return;
    // Once a second while records flow keeps RSS near what is live.
    m_tailCache->returnFreedMemory(1 << 20);
    std::vector<std::shared_ptr<Topic>> topics;
    {
        std::shared_lock lock(m_topicsMutex);
        for (const auto &[name, t] : m_topics)
            topics.push_back(t);
    }
    const int64_t nowUs = wallClockUs();
    for (const auto &t : topics) {
        RetentionPolicy policy;
        std::vector<std::shared_ptr<PartitionLog>> parts;
        {
            std::shared_lock lock(m_topicsMutex);
            policy = t->retention;
            parts = t->partitions;
        }
        if (policy == RetentionPolicy{})
            continue;
        for (const auto &log : parts) {
            const int64_t start = log->logStartOffset();
            // Sizes and append times come from the stored batches, and only stored bytes are
            // subtracted from the partition size: never cut past the persisted end (in fast mode
            // the newest batches may not have reached the store yet), or the bytes of unstored
            // batches below the new start would be counted in sizeBytes forever.
            const int64_t hw = std::min(log->highWatermark(), log->persistedEnd());
            int64_t newStart = start;
            if (policy.maxRecords > 0 && hw - start > policy.maxRecords)
                newStart = hw - policy.maxRecords;
            // Age drops whole stored rows, oldest first; the record count and size cut record
            // by record (a row merges many small batches, so its bytes may straddle the limit).
            int64_t remaining = log->sizeBytes();
            auto batches = m_store->oldestBatches(t->id, log->partition(), start, 4096);
            if (!batches)
                continue;
            int64_t cut = start;
            for (const auto &b : *batches) {
                std::optional<std::vector<int64_t>> sizes; // read only for a row cut inside
                bool unreadable = false;
                // The payload bytes of this row's records in [from, to).
                const auto bytesOf = [&](int64_t from, int64_t to) -> int64_t {
                    if (from <= b.baseOffset && to >= b.endOffset)
                        return b.bytes;
                    if (!sizes) {
                        auto read = m_store->recordSizes(t->id, log->partition(), b.baseOffset);
                        if (!read || read->size() != std::size_t(b.endOffset - b.baseOffset)) {
                            unreadable = true;
                            return 0;
                        }
                        sizes = std::move(*read);
                    }
                    int64_t n = 0;
                    for (int64_t o = std::max(from, b.baseOffset); o < std::min(to, b.endOffset);
                         ++o)
                        n += (*sizes)[std::size_t(o - b.baseOffset)];
                    return n;
                };
                int64_t from = std::max(cut, b.baseOffset);
                const bool old = policy.maxAgeMs > 0
                                 && b.appendTimeUs < nowUs - policy.maxAgeMs * 1000;
                int64_t to = old ? b.endOffset : std::clamp(newStart, from, b.endOffset);
                const int64_t dropped = bytesOf(from, to);
                if (unreadable)
                    break; // cut no further than what is known
                remaining -= dropped;
                cut = to;
                from = to;
                if (policy.maxBytes > 0 && remaining > policy.maxBytes && from < b.endOffset) {
                    const int64_t rest = bytesOf(from, b.endOffset);
                    if (unreadable)
                        break;
                    if (remaining - rest > policy.maxBytes) {
                        remaining -= rest;
                        cut = b.endOffset;
                    } else {
                        // The limit falls inside this row: drop just enough records.
                        while (remaining > policy.maxBytes && cut < b.endOffset) {
                            remaining -= bytesOf(cut, cut + 1);
                            ++cut;
                        }
                    }
                }
                if (cut < b.endOffset)
                    break; // this row stays, at least in part
            }
            const int64_t freed = log->sizeBytes() - remaining;
            newStart = cut;
            if (newStart <= start)
                continue;
            newStart = log->advanceLogStart(newStart);
            log->subtractStoredBytes(freed);
            m_store->submit({[id = t->id, p = log->partition(), newStart](StoreWriter &w)
                                 -> Result<void> {
                                 if (auto r = w.setLogStart(id, p, newStart); !r)
                                     return r;
                                 return w.deleteBatchesBelow(id, p, newStart);
                             },
                             {}, false});
        }
    }
    m_store->submit({[](StoreWriter &w) -> Result<void> {
                         auto r = w.purgeOrphanBatches(5000);
                         if (!r)
                             return r.error();
                         return {};
                     },
                     {}, false});
}

} // namespace eddy
