// The broker-side assignors (KIP-848 moves assignment from the client leader to the broker). Both
// reproduce the placements of Kafka's RangeAssignor and RoundRobinAssignor for the same member
// order, so users can reason about them the way they already do.
#include "assignor.h"

#include <algorithm>
#include <set>

namespace eddy {

namespace {

std::vector<AssignorMember> sortedMembers(const std::vector<AssignorMember> &members)
{
    auto out = members;
    std::sort(out.begin(), out.end(),
              [](const auto &a, const auto &b) { return a.memberId < b.memberId; });
    return out;
}

bool subscribes(const AssignorMember &m, const std::string &topic)
{
    return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

} // namespace

std::map<std::string, std::vector<TopicPartition>>
assignPartitions(AssignorKind kind, const std::vector<AssignorMember> &members,
                 const std::map<std::string, int32_t> &partitionCounts)
{
    std::map<std::string, std::vector<TopicPartition>> out;
    const auto ordered = sortedMembers(members);
    for (const auto &m : ordered)
        out[m.memberId];

    if (kind == AssignorKind::Range) {
        for (const auto &[topic, count] : partitionCounts) {
            std::vector<const AssignorMember *> subs;
            for (const auto &m : ordered)
                if (subscribes(m, topic))
                    subs.push_back(&m);
            if (subs.empty())
                continue;
            const int32_t n = static_cast<int32_t>(subs.size());
            const int32_t per = count / n;
            const int32_t extra = count % n;
            int32_t next = 0;
            for (int32_t i = 0; i < n; ++i) {
                const int32_t take = per + (i < extra ? 1 : 0);
                for (int32_t k = 0; k < take; ++k)
                    out[subs[static_cast<std::size_t>(i)]->memberId].push_back({topic, next++});
            }
        }
        return out;
    }

    // Round-robin over every partition of every subscribed topic, skipping members that do not
    // subscribe to the partition's topic.
    std::size_t cursor = 0;
    for (const auto &[topic, count] : partitionCounts) {
        for (int32_t p = 0; p < count; ++p) {
            for (std::size_t tries = 0; tries < ordered.size(); ++tries) {
                const auto &m = ordered[cursor % ordered.size()];
                ++cursor;
                if (subscribes(m, topic)) {
                    out[m.memberId].push_back({topic, p});
                    break;
                }
            }
        }
    }
    return out;
}

} // namespace eddy
