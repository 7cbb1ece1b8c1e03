#pragma once

#include "result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace eddy {

inline constexpr int32_t kMaxPartitions = 1024;
inline constexpr std::size_t kMaxTopicNameLength = 249;

// Retention limits of a topic; 0 means "unlimited" for each. Records are removed from the start of
// a partition once any limit is exceeded: by count exactly (the log-start offset moves past them),
// by bytes and age a whole stored batch at a time, as Kafka does per segment.
struct RetentionPolicy {
    int64_t maxRecords = 0; // per partition
    int64_t maxBytes = 0;   // per partition, payload bytes
    int64_t maxAgeMs = 0;   // by the broker's append time
    bool operator==(const RetentionPolicy &) const = default;
};

// What a topic is created with.
struct TopicSpec {
    std::string name;
    int32_t partitions = 1;
    RetentionPolicy retention;
};

// Checks Kafka's topic-name rule: 1-249 characters from [A-Za-z0-9._-], and neither "." nor "..".
Result<void> validateTopicName(std::string_view name);

// Checks a spec: its name, 1-1024 partitions, non-negative retention limits.
Result<void> validateTopicSpec(const TopicSpec &spec);

} // namespace eddy
