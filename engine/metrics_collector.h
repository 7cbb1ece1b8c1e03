#pragma once

#include "latency_histogram.h"
#include "metrics.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace eddy {

// One sample of an entity's monotonic totals, at a time in ms.
struct RateSample {
    int64_t ms;
    uint64_t rin, bin, rout, bout;
};

// The samples behind one entity's rates over the last second. The metrics tick keeps one per
// partition beside the partition (no lookup by name per partition per tick); MetricsCollector
// keeps those of the entities it names.
using RateWindow = std::deque<RateSample>;

// Turns monotonic counters into rates over the last second and keeps produce->consume latency
// in a ring of per-tick histograms so percentiles cover the last second too. Entities are
// strings ("broker", "topic/NAME", "group/NAME"). recordConsume may be called from any thread;
// rates() and advance() are called by the metrics tick.
class MetricsCollector
{
public:
    static constexpr int kWindowTicks = 10;

    // A consumer (or group member, when group is non-empty) received records whose append
    // times lie latenciesUs ago.
    void recordConsume(const std::string &topic, const std::string &group, uint64_t records,
                       uint64_t bytes, const std::vector<int64_t> &latenciesUs);

    // Rates of entity given its current totals: the difference to the oldest sample within the
    // window, divided by the time between them.
    Rates rates(const std::string &entity, uint64_t recordsIn, uint64_t bytesIn,
                uint64_t recordsOut, uint64_t bytesOut, int64_t nowMs);
    // The same over a window the caller owns and touches from one thread only.
    static Rates rates(RateWindow &window, uint64_t recordsIn, uint64_t bytesIn,
                       uint64_t recordsOut, uint64_t bytesOut, int64_t nowMs);
    LatencySummary latency(const std::string &entity);
    // Records and bytes consumed by a group since start.
    std::pair<uint64_t, uint64_t> groupTotals(const std::string &group);
    // Moves the latency window one tick on.
    void advance();

private:
    struct LatencyRing {
        std::array<LatencyHistogram, kWindowTicks> slots;
    };
    struct GroupCounter {
        std::atomic<uint64_t> records{0};
        std::atomic<uint64_t> bytes{0};
    };
    LatencyRing &ringLocked(const std::string &entity);

    std::mutex m_mutex;
    std::atomic<int> m_slot{0};
    std::map<std::string, std::unique_ptr<LatencyRing>> m_latency;
    std::map<std::string, RateWindow> m_samples;
    std::map<std::string, std::unique_ptr<GroupCounter>> m_groups;
};

} // namespace eddy
