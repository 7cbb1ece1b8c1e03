#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace eddy {

// Percentiles of a latency distribution, in microseconds.
struct LatencySummary {
    uint64_t count = 0;
    int64_t p50Us = 0;
    int64_t p90Us = 0;
    int64_t p99Us = 0;
    int64_t maxUs = 0;
};

// A log-linear histogram of microsecond values (HdrHistogram's layout with 16 linear
// sub-buckets per power of two): values up to 2^40 us with at most 1/16 (6.25 %) relative error.
// record() is lock-free and may be called from any thread.
class LatencyHistogram
{
public:
    static constexpr int kSubBits = 4;
    static constexpr int kSub = 1 << kSubBits;
    static constexpr int kBuckets = (41 - kSubBits) * kSub + kSub;

    void record(int64_t us);
    // Adds other's counts to this one.
    void merge(const LatencyHistogram &other);
    void reset();
    LatencySummary summary() const;

    // Index of the bucket holding us, and the highest value that bucket holds.
    static int bucketOf(int64_t us);
    static int64_t bucketUpperBound(int index);

private:
    std::array<std::atomic<uint64_t>, kBuckets> m_counts{};
    std::atomic<int64_t> m_max{0};
};

} // namespace eddy
