// Shared helpers of the PartitionLog unit tests (tst_unit_partition_log.cpp: append, read,
// waiters and the tail cache; tst_unit_partition_log_idempotence.cpp: idempotent producers and
// truncation): readable error codes, a fixed append time, record builders, a tail budget no test
// reaches and a sink standing in for the store.
#pragma once

#include "partition_log.h"
#include "errc_string.h"

#include <QtTest>

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace eddy::test {

// prefix followed by n in decimal. (Spelled out rather than `"lit" + std::to_string(n)`, which
// trips a GCC 12 -Wrestrict false positive at -O2 and above.)
inline std::string tagged(const std::string &prefix, long long n)
{
    std::string out = prefix;
    out += std::to_string(n);
    return out;
}

inline constexpr int64_t kNowUs = 1'700'000'000'123'456;
inline constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

// A tail budget no test reaches.
inline std::shared_ptr<TailCache> bigCache()
{
    return std::make_shared<TailCache>(std::size_t(1) << 30);
}

// n records with values "<tag>-<i>" padded to valueSize bytes and no key.
inline std::vector<Record> records(int n, const std::string &tag = "r",
                                   std::size_t valueSize = 0, int64_t timestamp = 0)
{
    std::vector<Record> out;
    for (int i = 0; i < n; ++i) {
        Record r;
        r.timestamp = timestamp;
        r.value = tagged(tag + "-", i);
        if (r.value.size() < valueSize)
            r.value.resize(valueSize, '.');
        out.push_back(std::move(r));
    }
    return out;
}

// Records what the log hands to the store.
struct Sink {
    std::mutex mutex;
    std::vector<std::pair<BatchPtr, uint64_t>> batches;
    PartitionLog::EnqueueFn fn()
    {
        return [this](const BatchPtr &b, uint64_t epoch) {
            std::lock_guard lock(mutex);
            batches.emplace_back(b, epoch);
        };
    }
};

inline Result<AppendOutcome> appendPlain(PartitionLog &log, std::vector<Record> recs,
                                         Sink &sink, int64_t nowUs = kNowUs)
{
    return log.append(std::move(recs), nowUs, ProducerStamp{}, sink.fn());
}

} // namespace eddy::test
