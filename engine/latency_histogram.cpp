// Log-linear bucketing: below 16 us one bucket per microsecond; above, each power of two is split
// into 16 equal buckets, so the bucket index is (exponent, top four mantissa bits).
#include "latency_histogram.h"

#include <algorithm>
#include <bit>

namespace eddy {

int LatencyHistogram::bucketOf(int64_t us)
{
    if (us < kSub)
        return static_cast<int>(std::max<int64_t>(us, 0));
    const auto v = static_cast<uint64_t>(us);
    const int exponent = 63 - std::countl_zero(v); // >= kSubBits
    const int sub = static_cast<int>((v >> (exponent - kSubBits)) & (kSub - 1));
    const int index = (exponent - kSubBits + 1) * kSub + sub;
    return std::min(index, kBuckets - 1);
}

int64_t LatencyHistogram::bucketUpperBound(int index)
{
    if (index < kSub)
        return index;
    const int exponent = index / kSub - 1 + kSubBits;
    const int sub = index % kSub;
    const int64_t base = int64_t(1) << exponent;
    const int64_t step = int64_t(1) << (exponent - kSubBits);
    return base + (sub + 1) * step - 1;
}

void LatencyHistogram::record(int64_t us)
{
    us = std::max<int64_t>(us, 0);
    m_counts[static_cast<std::size_t>(bucketOf(us))].fetch_add(1, std::memory_order_relaxed);
    int64_t prev = m_max.load(std::memory_order_relaxed);
    while (us > prev && !m_max.compare_exchange_weak(prev, us, std::memory_order_relaxed)) {
    }
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    for (std::size_t i = 0; i < m_counts.size(); ++i) {
        const auto n = other.m_counts[i].load(std::memory_order_relaxed);
        if (n)
            m_counts[i].fetch_add(n, std::memory_order_relaxed);
    }
    const int64_t om = other.m_max.load(std::memory_order_relaxed);
    int64_t prev = m_max.load(std::memory_order_relaxed);
    while (om > prev && !m_max.compare_exchange_weak(prev, om, std::memory_order_relaxed)) {
    }
}

void LatencyHistogram::reset()
{
    for (auto &c : m_counts)
        c.store(0, std::memory_order_relaxed);
    m_max.store(0, std::memory_order_relaxed);
}

LatencySummary LatencyHistogram::summary() const
{
    LatencySummary s;
    std::array<uint64_t, kBuckets> counts{};
    for (std::size_t i = 0; i < counts.size(); ++i) {
        counts[i] = m_counts[i].load(std::memory_order_relaxed);
        s.count += counts[i];
    }
    if (s.count == 0)
        return s;
    s.maxUs = m_max.load(std::memory_order_relaxed);
    const auto percentile = [&](double q) {
        const auto rank = static_cast<uint64_t>(q * static_cast<double>(s.count - 1)) + 1;
        uint64_t seen = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            seen += counts[i];
            if (seen >= rank)
                return std::min(bucketUpperBound(static_cast<int>(i)), s.maxUs);
        }
        return s.maxUs;
    };
    s.p50Us = percentile(0.50);
    s.p90Us = percentile(0.90);
    s.p99Us = percentile(0.99);
    return s;
}

} // namespace eddy
