#pragma once

#include "group_types.h"
#include "result.h"
#include "sqlite_store.h"

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace eddy {

// Consumer groups with broker-side assignment, modelled on Kafka's KIP-848 protocol: members
// join with subscriptions, the broker computes the assignment, every membership or topic change
// bumps the generation, and a partition moves to its new owner only once the previous owner has
// acknowledged the new generation (or left, or expired), so no two members ever consume the same
// partition at once. Also owns committed offsets. Thread-safe.
class GroupCoordinator
{
public:
    struct Hooks {
        // Partition counts of those of the named topics that exist.
        std::function<std::map<std::string, int32_t>(const std::vector<std::string> &)>
            partitionCounts;
        // (log-start offset, high watermark) of a partition, if it exists.
        std::function<std::optional<std::pair<int64_t, int64_t>>(const std::string &, int32_t)>
            watermarks;
        // Hands a write to the store.
        std::function<void(StoreOp)> persist;
        // Reports a membership change (for the event log and metrics); may be empty.
        std::function<void(const std::string &group, const std::string &what)> event;
    };

    GroupCoordinator(Hooks hooks, int32_t minSessionTimeoutMs, int32_t maxSessionTimeoutMs);

    // Restores groups and committed offsets read from the store. Called once, before serving.
    void restore(const std::vector<StoredGroup> &groups, const std::vector<StoredOffset> &offsets);

    // Joins (or re-joins with new subscriptions) and returns the member's assignment.
    Result<MemberAssignment> join(const JoinGroupRequest &request, int64_t nowMs);
    // Keeps the session alive and acknowledges generation; returns the current assignment.
    Result<MemberAssignment> heartbeat(const std::string &group, const std::string &memberId,
                                       int32_t generation, int64_t nowMs);
    // Leaves at once: the member's partitions are reassigned without waiting for its session.
    Result<void> leave(const std::string &group, const std::string &memberId);

    // Validates and applies a commit in memory, then persists it; done runs once it is durable
    // (or failed). Validation errors are reported through done without touching anything.
    void commit(const CommitRequest &request, int64_t nowMs,
                std::function<void(const Result<void> &)> done);
    // Sets offsets unconditionally (offset reset); the group must have no active members.
    void resetTo(const std::string &group, const std::vector<CommitRequest::Entry> &offsets,
                 int64_t nowMs, std::function<void(const Result<void> &)> done);
    // True when the group is unknown or has no members.
    bool inactive(const std::string &group) const;

    // Committed offsets (with lag) of a group, optionally for one topic.
    Result<std::vector<CommittedOffset>> committed(const std::string &group,
                                                   const std::string &topic) const;
    Result<GroupDescription> describe(const std::string &group) const;
    std::vector<GroupListing> list() const;
    // Deletes a group that has no active members, with its committed offsets.
    Result<void> remove(const std::string &group);

    // A poll by a member: heartbeats (acknowledging generation), then returns the member's
    // assignment and its read position on each usable partition -- the position it reached,
    // else the committed offset, else the log start (or end, for resetToLatest members).
    Result<std::pair<MemberAssignment, std::vector<MemberPosition>>>
    pollPositions(const std::string &group, const std::string &memberId, int32_t generation,
                  int64_t nowMs);
    // Moves a member's position after records were handed to it; ignored when the partition
    // is no longer the member's.
    void advancePosition(const std::string &group, const std::string &memberId,
                         const TopicPartition &partition, int64_t offset);
    // Sets a member's position on one of its assigned partitions.
    Result<void> seek(const std::string &group, const std::string &memberId,
                      const TopicPartition &partition, int64_t offset);

    // Evicts members whose session timed out; returns how many were evicted.
    int expireSessions(int64_t nowMs);
    // Topic metadata changed (created, deleted, partitions added): rebalance affected groups.
    void topicsChanged();
    // A topic was deleted: forget its committed offsets (the store drops them with the topic).
    void topicDeleted(const std::string &topic);

private:
    struct Member {
        std::string id;
        std::string clientId;
        std::vector<std::string> topics;
        int32_t sessionTimeoutMs = 0;
        int64_t lastHeartbeatMs = 0;
        int32_t ackedGeneration = 0;
        std::vector<TopicPartition> target; // assignment of the current generation
        std::set<TopicPartition> owned;     // what the member may be consuming (see respondLocked)
        bool resetToLatest = false;
        std::map<TopicPartition, int64_t> positions; // read positions on assigned partitions
    };
    struct OffsetEntry {
        int64_t offset = -1;
        std::string metadata;
        int64_t commitMs = 0;
    };
    struct Group {
        std::string name;
        AssignorKind assignor = AssignorKind::Range;
        int64_t createdMs = 0;
        int32_t generation = 0;
        std::map<std::string, Member> members;
        std::map<TopicPartition, OffsetEntry> offsets;
        std::map<std::string, int32_t> subscribedCounts; // what the last assignment saw
    };

    Group &ensureGroupLocked(const std::string &name, AssignorKind assignor, int64_t nowMs);
    void rebalanceLocked(Group &group, const std::string &reason);
    GroupState stateLocked(const Group &group) const;
    MemberAssignment assignmentLocked(const Group &group, const Member &member) const;
    // The assignment sent to member, recording what it may now consume in its owned set;
    // current: the member is at the group's generation (it joined or acknowledged it).
    MemberAssignment respondLocked(const Group &group, Member &member, bool current);
    std::vector<CommittedOffset> offsetsLocked(const Group &group, const std::string &topic) const;
    void emit(const std::string &group, const std::string &what) const;

    Hooks m_hooks;
    const int32_t m_minSessionMs;
    const int32_t m_maxSessionMs;
    mutable std::mutex m_mutex;
    std::map<std::string, Group> m_groups;
    uint64_t m_memberSeq = 0;
};

// Checks a group id: 1-255 bytes, no control characters.
Result<void> validateGroupId(const std::string &group);

} // namespace eddy
