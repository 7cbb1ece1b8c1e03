// Rate and latency windows for the metric snapshots. One-second windows keep the 100 ms
// snapshots smooth enough to chart while still reacting within a second to a fault.
#include "metrics_collector.h"

namespace eddy {

MetricsCollector::LatencyRing &MetricsCollector::ringLocked(const std::string &entity)
{
    auto &ring = m_latency[entity];
    if (!ring)
        ring = std::make_unique<LatencyRing>();
    return *ring;
}

void MetricsCollector::recordConsume(const std::string &topic, const std::string &group,
                                     uint64_t records, uint64_t bytes,
                                     const std::vector<int64_t> &latenciesUs)
{
    if (group.empty() || records == 0)
        return;
    std::lock_guard lock(m_mutex);
    auto &counter = m_groups[group];
    if (!counter)
        counter = std::make_unique<GroupCounter>();
    counter->records.fetch_add(records, std::memory_order_relaxed);
    counter->bytes.fetch_add(bytes, std::memory_order_relaxed);
    const auto slot = static_cast<std::size_t>(m_slot.load(std::memory_order_acquire));
    auto &t = ringLocked("topic/" + topic).slots[slot];
    auto &g = ringLocked("group/" + group).slots[slot];
    auto &b = ringLocked("broker").slots[slot];
    for (int64_t us : latenciesUs) {
        t.record(us);
        g.record(us);
        b.record(us);
    }
}

Rates MetricsCollector::rates(const std::string &entity, uint64_t recordsIn, uint64_t bytesIn,
                              uint64_t recordsOut, uint64_t bytesOut, int64_t nowMs)
{
    std::lock_guard lock(m_mutex);
    return rates(m_samples[entity], recordsIn, bytesIn, recordsOut, bytesOut, nowMs);
}

Rates MetricsCollector::rates(RateWindow &samples, uint64_t recordsIn, uint64_t bytesIn,
                              uint64_t recordsOut, uint64_t bytesOut, int64_t nowMs)
{
    if (samples.empty()) {
        // An entity seen for the first time started counting from zero since the previous tick,
        // so everything it counted happened within the last second: without this baseline a
        // burst before its first sample would never show as a rate.
        samples.push_back({nowMs - 1000, 0, 0, 0, 0});
    } else {
        // Totals go down when a topic is deleted (the broker's sum) or deleted and created again
        // under the same name (its counters restart): the older samples would make the
        // differences below wrap around, so start the window afresh.
        const auto &last = samples.back();
        if (recordsIn < last.rin || bytesIn < last.bin || recordsOut < last.rout
            || bytesOut < last.bout)
            samples.clear();
    }
    samples.push_back({nowMs, recordsIn, bytesIn, recordsOut, bytesOut});
    while (samples.size() > kWindowTicks + 1
           || (samples.size() > 1 && nowMs - samples.front().ms > 1500))
        samples.pop_front();
    Rates r;
    r.recordsInTotal = recordsIn;
    r.bytesInTotal = bytesIn;
    r.recordsOutTotal = recordsOut;
    r.bytesOutTotal = bytesOut;
    const auto &first = samples.front();
    const double dt = static_cast<double>(nowMs - first.ms) / 1000.0;
    if (dt > 0) {
        r.recordsInPerSec = static_cast<double>(recordsIn - first.rin) / dt;
        r.bytesInPerSec = static_cast<double>(bytesIn - first.bin) / dt;
        r.recordsOutPerSec = static_cast<double>(recordsOut - first.rout) / dt;
        r.bytesOutPerSec = static_cast<double>(bytesOut - first.bout) / dt;
    }
    return r;
}

LatencySummary MetricsCollector::latency(const std::string &entity)
{
    std::lock_guard lock(m_mutex);
    auto it = m_latency.find(entity);
    if (it == m_latency.end())
        return {};
    LatencyHistogram merged;
    for (const auto &h : it->second->slots)
        merged.merge(h);
    return merged.summary();
}

std::pair<uint64_t, uint64_t> MetricsCollector::groupTotals(const std::string &group)
{
    std::lock_guard lock(m_mutex);
    auto it = m_groups.find(group);
    if (it == m_groups.end())
        return {0, 0};
    return {it->second->records.load(), it->second->bytes.load()};
}

void MetricsCollector::advance()
{
    std::lock_guard lock(m_mutex);
    const int next = (m_slot.load(std::memory_order_relaxed) + 1) % kWindowTicks;
    // Clear the slot before recorders can pick it, so it holds only the coming tick.
    for (auto &[entity, ring] : m_latency)
        ring->slots[static_cast<std::size_t>(next)].reset();
    m_slot.store(next, std::memory_order_release);
}

} // namespace eddy
