#pragma once

#include "group_types.h"

#include <map>
#include <string>
#include <vector>

namespace eddy {

// A member as the assignor sees it.
struct AssignorMember {
    std::string memberId;
    std::vector<std::string> topics;
};

// Computes a complete assignment. partitionCounts holds every subscribed topic that exists.
// Deterministic: members are ordered by id. Range gives each member a contiguous run of each
// topic's partitions (the first count % members get one extra); round-robin deals all
// (topic, partition) pairs in order to the members subscribed to that topic.
std::map<std::string, std::vector<TopicPartition>>
assignPartitions(AssignorKind kind, const std::vector<AssignorMember> &members,
                 const std::map<std::string, int32_t> &partitionCounts);

} // namespace eddy
