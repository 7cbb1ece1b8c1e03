#pragma once

#include "broker.h"
#include "connection.h"
#include "group_types.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy::client {

// A committed offset of a group as `committed`, `describe_group` and `reset_offsets` report it:
// the engine's own type, so client and broker never disagree on a field.
using GroupOffset = CommittedOffset;
// A member of a group as describe_group reports it (the engine's type).
using GroupMember = MemberDescription;

// A group as describe_group reports it: members, committed offsets (with lag) and state.
struct GroupInfo {
    std::string group;
    std::string state; // "empty", "stable", "rebalancing", "dead"
    std::string assignor;
    int32_t generation = 0;
    std::vector<GroupMember> members;
    std::vector<GroupOffset> offsets;
    int64_t totalLag = 0;
};

// One line of list_groups.
struct GroupSummary {
    std::string group;
    std::string state;
    int32_t generation = 0;
    int32_t members = 0;
};

// Where reset_offsets moves a group: the log start, the end, an offset or a timestamp.
struct ResetTarget {
    ResetKind kind = ResetKind::Earliest;
    int64_t value = 0; // the offset or timestamp (ms) for ToOffset / ToTimestamp
};

// Administrative operations on a broker: topics, groups and observability. Each call is one
// JSON request with the given timeout; broker errors come back with the broker's code and
// message. Thread-safe (the connection is).
class Admin
{
public:
    // Dials the broker.
    static Result<std::unique_ptr<Admin>> open(const ConnectionOptions &options,
                                               int requestTimeoutMs = 30000);
    static Result<std::unique_ptr<Admin>> open(const std::string &url,
                                               int requestTimeoutMs = 30000);
    // Uses an existing connection (shared with producers or consumers).
    explicit Admin(std::shared_ptr<Connection> connection, int requestTimeoutMs = 30000);

    Result<TopicInfo> createTopic(const std::string &name, int32_t partitions = 1,
                                  const RetentionPolicy &retention = {});
    Result<void> deleteTopic(const std::string &name);
    Result<std::vector<TopicInfo>> listTopics();
    Result<TopicInfo> describeTopic(const std::string &name);
    // Raises the partition count (the broker refuses to lower it).
    Result<TopicInfo> alterPartitions(const std::string &name, int32_t partitions);
    Result<TopicInfo> alterRetention(const std::string &name, const RetentionPolicy &retention);

    Result<std::vector<GroupSummary>> listGroups();
    Result<GroupInfo> describeGroup(const std::string &group);
    // Committed offsets of a group, of every topic or of one.
    Result<std::vector<GroupOffset>> committed(const std::string &group,
                                               const std::string &topic = {});
    // Moves the committed offsets of a group without active members; empty partitions means
    // every partition of the topic. Returns the offsets as set.
    Result<std::vector<GroupOffset>> resetOffsets(const std::string &group,
                                                  const std::string &topic, ResetTarget target,
                                                  const std::vector<int32_t> &partitions = {});
    Result<void> deleteGroup(const std::string &group);

    // The broker's latest metrics snapshot ("metrics" object of the reply).
    Result<Json> metrics();
    // Connected clients ("clients" array of the reply).
    Result<Json> clients();
    // The hello reply: protocol version, broker id, ops, limits, durability.
    Result<Json> hello();
    // Starts (active) or ends a fault on the broker: partition-offline (target "topic/p"),
    // broker-stall, disk-slow, disk-full, io-error, or latency / drop / disconnect on its
    // fault-injecting endpoint; params as in docs/protocol.md ("fault").
    Result<void> fault(const std::string &kind, const std::string &target, bool active,
                       const Json &params = Json::object());

    // The connection, to share it.
    const std::shared_ptr<Connection> &connection() const { return m_connection; }

private:
    Result<Json> call(Json request);

    std::shared_ptr<Connection> m_connection;
    int m_timeoutMs;
};

// Parses the JSON form of a group description / committed offset (as json_codec writes them).
Result<GroupInfo> groupInfoFromJson(const Json &j);
Result<GroupOffset> groupOffsetFromJson(const Json &j);
// The same JSON forms back, for tools that print them (field names as on the wire).
Json groupInfoToJson(const GroupInfo &g);
Json groupSummaryToJson(const GroupSummary &g);

} // namespace eddy::client
