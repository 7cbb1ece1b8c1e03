#pragma once

#include "group_types.h"
#include "latency_histogram.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace eddy {

// Rates over the last second, plus running totals since the broker started.
struct Rates {
    double recordsInPerSec = 0;
    double bytesInPerSec = 0;
    double recordsOutPerSec = 0;
    double bytesOutPerSec = 0;
    uint64_t recordsInTotal = 0;
    uint64_t bytesInTotal = 0;
    uint64_t recordsOutTotal = 0;
    uint64_t bytesOutTotal = 0;
};

struct PartitionMetrics {
    int32_t partition = 0;
    int64_t logStartOffset = 0;
    int64_t highWatermark = 0;
    int64_t sizeBytes = 0;
    Rates rates;
};

struct TopicMetrics {
    std::string name;
    Rates rates;
    int64_t sizeBytes = 0;
    int64_t records = 0; // HW - log start, summed over partitions
    LatencySummary latency; // produce->consume over the last second, all groups
    std::vector<PartitionMetrics> partitions;
};

struct PartitionLag {
    std::string topic;
    int32_t partition = 0;
    int64_t committed = -1;
    int64_t highWatermark = 0;
    int64_t lag = 0;
};

struct GroupMetrics {
    std::string name;
    GroupState state = GroupState::Empty;
    int32_t generation = 0;
    int32_t members = 0;
    int64_t totalLag = 0;
    Rates rates; // out: what members of the group consumed
    LatencySummary latency;
    std::vector<PartitionLag> partitions;
};

// An immutable view of the broker taken every metrics interval (100 ms by default). Shared by
// pointer: readers keep the one they hold for as long as they like.
struct MetricsSnapshot {
    uint64_t sequence = 0;
    int64_t timestampMs = 0;
    Rates broker;
    LatencySummary latency;
    std::vector<TopicMetrics> topics;
    std::vector<GroupMetrics> groups;
};

using MetricsSnapshotPtr = std::shared_ptr<const MetricsSnapshot>;

// A point of persisted history. Entities are "broker", "topic/NAME", "topic/NAME/P" and
// "group/NAME".
struct HistoryPoint {
    int64_t timestampMs = 0;
    double recordsInPerSec = 0;
    double bytesInPerSec = 0;
    double recordsOutPerSec = 0;
    double bytesOutPerSec = 0;
    int64_t lag = 0;
    int64_t p50Us = 0;
    int64_t p99Us = 0;
};

} // namespace eddy
