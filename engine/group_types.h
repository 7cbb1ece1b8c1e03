#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eddy {

struct TopicPartition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const TopicPartition &) const = default;
};

enum class GroupState { Empty, Stable, Rebalancing, Dead };
std::string_view groupStateName(GroupState state); // "empty", "stable", "rebalancing", "dead"

// How the broker splits partitions among a group's members.
enum class AssignorKind { Range, RoundRobin };
std::string_view assignorName(AssignorKind kind); // "range", "roundrobin"

// A member's view after join or heartbeat. assigned holds only partitions the member may consume
// now; pending holds partitions assigned to it that a previous owner has not yet released
// (it releases them by heartbeating with the new generation, or by leaving or expiring).
struct MemberAssignment {
    std::string memberId;
    int32_t generation = 0;
    GroupState state = GroupState::Empty;
    int32_t heartbeatIntervalMs = 0;
    std::vector<TopicPartition> assigned;
    std::vector<TopicPartition> pending;
};

struct JoinGroupRequest {
    std::string group;
    std::string memberId;   // empty: the broker generates one
    std::string clientId;   // free text shown in tools
    std::vector<std::string> topics;
    int32_t sessionTimeoutMs = 10000;
    AssignorKind assignor = AssignorKind::Range; // used when the join creates the group
    bool resetToLatest = false; // where poll starts on a partition with no committed offset
};

// A group member's read position on one of its partitions.
struct MemberPosition {
    TopicPartition partition;
    int64_t offset = 0;
};

struct CommittedOffset {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;     // -1: nothing committed
    std::string metadata;
    int64_t commitMs = 0;
    int64_t highWatermark = 0;
    int64_t logStartOffset = 0;
    int64_t lag = 0;         // HW - committed (HW - log start when nothing is committed)
};

struct CommitRequest {
    std::string group;
    std::string memberId;     // empty for a commit outside membership (group must be empty)
    int32_t generation = -1;  // checked when memberId is set
    struct Entry {
        std::string topic;
        int32_t partition = 0;
        int64_t offset = 0;   // the next offset to consume, as in Kafka
        std::string metadata;
    };
    std::vector<Entry> offsets;
};

struct MemberDescription {
    std::string memberId;
    std::string clientId;
    std::vector<std::string> topics;
    int32_t sessionTimeoutMs = 0;
    int32_t ackedGeneration = 0;
    int64_t lastHeartbeatMs = 0;
    std::vector<TopicPartition> assigned;
    std::vector<TopicPartition> pending;
};

struct GroupDescription {
    std::string group;
    GroupState state = GroupState::Empty;
    AssignorKind assignor = AssignorKind::Range;
    int32_t generation = 0;
    std::vector<MemberDescription> members;
    std::vector<CommittedOffset> offsets; // every partition of subscribed or committed topics
    int64_t totalLag = 0;
};

struct GroupListing {
    std::string group;
    GroupState state = GroupState::Empty;
    int32_t generation = 0;
    int32_t members = 0;
};

enum class ResetKind { Earliest, Latest, ToOffset, ToTimestamp };

struct ResetOffsetsRequest {
    std::string group;
    std::string topic;
    std::vector<int32_t> partitions; // empty: every partition of the topic
    ResetKind kind = ResetKind::Earliest;
    int64_t value = 0;               // the offset or timestamp (ms) for ToOffset / ToTimestamp
};

} // namespace eddy
