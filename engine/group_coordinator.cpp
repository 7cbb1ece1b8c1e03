// Consumer-group state machine. Assignment is recomputed from scratch on every change (the
// assignors are deterministic), and the hand-over rule -- a partition is usable by its new owner
// only when no other member still owns it at its acknowledged generation -- is what keeps a
// rebalance free of double consumption.
#include "group_coordinator.h"

#include "assignor.h"

#include <algorithm>
#include <random>

namespace eddy {

std::string_view groupStateName(GroupState state)
{
    switch (state) {
    case GroupState::Empty: return "empty";
    case GroupState::Stable: return "stable";
    case GroupState::Rebalancing: return "rebalancing";
    case GroupState::Dead: return "dead";
    }
    return "dead";
}

std::string_view assignorName(AssignorKind kind)
{
    return kind == AssignorKind::Range ? "range" : "roundrobin";
}

Result<void> validateGroupId(const std::string &group)
{
    if (group.empty())
        return makeError(Errc::InvalidGroupId, "group id is empty");
    if (group.size() > 255)
        return makeError(Errc::InvalidGroupId, "group id is longer than 255 bytes");
    for (unsigned char c : group)
        if (c < 0x20 || c == 0x7f)
            return makeError(Errc::InvalidGroupId, "group id contains a control character");
    return {};
}

GroupCoordinator::GroupCoordinator(Hooks hooks, int32_t minSessionTimeoutMs,
                                   int32_t maxSessionTimeoutMs)
    : m_hooks(std::move(hooks))
    , m_minSessionMs(minSessionTimeoutMs)
    , m_maxSessionMs(maxSessionTimeoutMs)
{
}

void GroupCoordinator::restore(const std::vector<StoredGroup> &groups,
                               const std::vector<StoredOffset> &offsets)
{
    std::lock_guard lock(m_mutex);
    for (const auto &g : groups) {
        auto &group = m_groups[g.group];
        group.name = g.group;
        group.assignor = g.assignor == "roundrobin" ? AssignorKind::RoundRobin
                                                    : AssignorKind::Range;
        group.createdMs = g.createdMs;
    }
    for (const auto &o : offsets) {
        auto &group = m_groups[o.group];
        group.name = o.group;
        group.offsets[{o.topic, o.partition}] = {o.offset, o.metadata, o.commitMs};
    }
}

void GroupCoordinator::emit(const std::string &group, const std::string &what) const
{
    if (m_hooks.event)
        m_hooks.event(group, what);
}

GroupCoordinator::Group &GroupCoordinator::ensureGroupLocked(const std::string &name,
                                                             AssignorKind assignor, int64_t nowMs)
{
    auto it = m_groups.find(name);
    if (it != m_groups.end())
        return it->second;
    auto &group = m_groups[name];
    group.name = name;
    group.assignor = assignor;
    group.createdMs = nowMs;
    m_hooks.persist({[g = StoredGroup{name, std::string(assignorName(assignor)), nowMs}](
                         StoreWriter &w) { return w.upsertGroup(g); },
                     {}, false});
    emit(name, "group created");
    return group;
}

void GroupCoordinator::rebalanceLocked(Group &group, const std::string &reason)
{
    ++group.generation;
    std::vector<AssignorMember> members;
    std::vector<std::string> topics;
    for (const auto &[id, m] : group.members) {
        members.push_back({id, m.topics});
        topics.insert(topics.end(), m.topics.begin(), m.topics.end());
    }
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    group.subscribedCounts = m_hooks.partitionCounts(topics);
    auto assignment = assignPartitions(group.assignor, members, group.subscribedCounts);
    for (auto &[id, m] : group.members) {
        m.target = std::move(assignment[id]);
        // Positions survive only on partitions the member keeps. A named reference, as clang
        // before 16 cannot capture the structured binding m.
        const auto &target = m.target;
        std::erase_if(m.positions, [&target](const auto &p) {
            return std::find(target.begin(), target.end(), p.first) == target.end();
        });
    }
    emit(group.name, "rebalance to generation " + std::to_string(group.generation) + ": " + reason);
}

GroupState GroupCoordinator::stateLocked(const Group &group) const
{
    if (group.members.empty())
        return GroupState::Empty;
    for (const auto &[id, m] : group.members)
        if (m.ackedGeneration != group.generation)
            return GroupState::Rebalancing;
    return GroupState::Stable;
}

MemberAssignment GroupCoordinator::assignmentLocked(const Group &group, const Member &member) const
{
    MemberAssignment out;
    out.memberId = member.id;
    out.generation = group.generation;
    out.state = stateLocked(group);
    out.heartbeatIntervalMs = std::max(1, member.sessionTimeoutMs / 3);
    for (const auto &tp : member.target) {
        bool heldElsewhere = false;
        for (const auto &[id, other] : group.members) {
            if (id != member.id && other.owned.count(tp)) {
                heldElsewhere = true;
                break;
            }
        }
        (heldElsewhere ? out.pending : out.assigned).push_back(tp);
    }
    return out;
}

Result<MemberAssignment> GroupCoordinator::join(const JoinGroupRequest &request, int64_t nowMs)
{
    if (auto r = validateGroupId(request.group); !r)
        return r.error();
    if (request.sessionTimeoutMs < m_minSessionMs || request.sessionTimeoutMs > m_maxSessionMs)
        return makeError(Errc::InvalidSessionTimeout,
                         "session timeout " + std::to_string(request.sessionTimeoutMs)
                             + " ms is outside " + std::to_string(m_minSessionMs) + "-"
                             + std::to_string(m_maxSessionMs) + " ms");
    if (request.topics.empty())
        return makeError(Errc::InvalidRequest, "a member must subscribe to at least one topic");
    std::vector<std::string> topics = request.topics;
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    for (const auto &t : topics)
        if (auto r = validateTopicName(t); !r)
            return r.error();

    std::lock_guard lock(m_mutex);
    auto &group = ensureGroupLocked(request.group, request.assignor, nowMs);
    std::string memberId = request.memberId;
    if (memberId.empty()) {
        static thread_local std::mt19937_64 rng{std::random_device{}()};
        char buf[40];
        std::snprintf(buf, sizeof buf, "m-%llu-%08llx",
                      static_cast<unsigned long long>(++m_memberSeq),
                      static_cast<unsigned long long>(rng() & 0xffffffffu));
        memberId = buf;
    }
    auto it = group.members.find(memberId);
    const bool isNew = it == group.members.end();
    if (isNew) {
        Member m;
        m.id = memberId;
        it = group.members.emplace(memberId, std::move(m)).first;
    }
    Member &member = it->second;
    const bool changed = isNew || member.topics != topics;
    member.clientId = request.clientId;
    member.topics = topics;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.lastHeartbeatMs = nowMs;
    member.resetToLatest = request.resetToLatest;
    if (changed)
        rebalanceLocked(group, isNew ? "member " + memberId + " joined"
                                     : "member " + memberId + " changed its subscription");
    // A joining member owns nothing yet, so it has nothing to release: it is current at once.
    if (isNew)
        member.ackedGeneration = group.generation;
    return respondLocked(group, member, isNew);
}

MemberAssignment GroupCoordinator::respondLocked(const Group &group, Member &member,
                                                 bool current)
{
    auto out = assignmentLocked(group, member);
    // The member may consume what it is told is assigned as soon as it reads the response, so
    // that must count as owned right away, or a later generation could hand the same partition
    // to someone else before this member ever acknowledges. A member current with the group
    // consumes exactly its assigned partitions; one that is not yet current has released
    // nothing, so it keeps what it owned as well.
    if (!current)
        member.owned.insert(out.assigned.begin(), out.assigned.end());
    else
        member.owned = std::set<TopicPartition>(out.assigned.begin(), out.assigned.end());
    return out;
}

Result<MemberAssignment> GroupCoordinator::heartbeat(const std::string &groupId,
                                                     const std::string &memberId,
                                                     int32_t generation, int64_t nowMs)
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    auto &group = g->second;
    auto m = group.members.find(memberId);
    if (m == group.members.end())
        return makeError(Errc::UnknownMember, "member '" + memberId + "' is not in group '"
                                                  + groupId + "' (it left or its session expired)");
    if (generation > group.generation || generation < 0)
        return makeError(Errc::InvalidRequest,
                         "generation " + std::to_string(generation)
                             + " was never issued by group '" + groupId + "'");
    auto &member = m->second;
    member.lastHeartbeatMs = nowMs;
    // Acknowledging the generation means the member stopped consuming what it lost.
    const bool current = generation == group.generation;
    if (current)
        member.ackedGeneration = generation;
    return respondLocked(group, member, current);
}

Result<void> GroupCoordinator::leave(const std::string &groupId, const std::string &memberId)
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    if (!g->second.members.erase(memberId))
        return makeError(Errc::UnknownMember,
                         "member '" + memberId + "' is not in group '" + groupId + "'");
    rebalanceLocked(g->second, "member " + memberId + " left");
    return {};
}

Result<std::pair<MemberAssignment, std::vector<MemberPosition>>>
GroupCoordinator::pollPositions(const std::string &groupId, const std::string &memberId,
                                int32_t generation, int64_t nowMs)
{
    auto beat = heartbeat(groupId, memberId, generation, nowMs);
    if (!beat)
        return beat.error();
    std::vector<MemberPosition> out;
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    auto m = g->second.members.find(memberId);
    if (m == g->second.members.end())
        return makeError(Errc::UnknownMember, "member '" + memberId + "' left the group");
    auto &member = m->second;
    for (const auto &tp : beat->assigned) {
        auto pos = member.positions.find(tp);
        if (pos == member.positions.end()) {
            int64_t start = -1;
            auto committed = g->second.offsets.find(tp);
            if (committed != g->second.offsets.end())
                start = committed->second.offset;
            if (start < 0) {
                const auto wm = m_hooks.watermarks(tp.topic, tp.partition);
                start = wm ? (member.resetToLatest ? wm->second : wm->first) : 0;
            }
            pos = member.positions.emplace(tp, start).first;
        }
        out.push_back({tp, pos->second});
    }
    return std::make_pair(std::move(*beat), std::move(out));
}

void GroupCoordinator::advancePosition(const std::string &groupId, const std::string &memberId,
                                       const TopicPartition &partition, int64_t offset)
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return;
    auto m = g->second.members.find(memberId);
    if (m == g->second.members.end())
        return;
    auto pos = m->second.positions.find(partition);
    if (pos != m->second.positions.end())
        pos->second = offset;
}

Result<void> GroupCoordinator::seek(const std::string &groupId, const std::string &memberId,
                                    const TopicPartition &partition, int64_t offset)
{
    if (offset < 0)
        return makeError(Errc::InvalidOffset,
                         "seek offset " + std::to_string(offset) + " is negative");
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    auto m = g->second.members.find(memberId);
    if (m == g->second.members.end())
        return makeError(Errc::UnknownMember,
                         "member '" + memberId + "' is not in group '" + groupId + "'");
    auto &target = m->second.target;
    if (std::find(target.begin(), target.end(), partition) == target.end())
        return makeError(Errc::NotAssigned, "member '" + memberId + "' is not assigned "
                                                + partition.topic + "/"
                                                + std::to_string(partition.partition));
    m->second.positions[partition] = offset;
    return {};
}

int GroupCoordinator::expireSessions(int64_t nowMs)
{
    std::lock_guard lock(m_mutex);
    int evicted = 0;
    for (auto &[name, group] : m_groups) {
        std::vector<std::string> expired;
        for (const auto &[id, m] : group.members)
            if (nowMs - m.lastHeartbeatMs > m.sessionTimeoutMs)
                expired.push_back(id);
        for (const auto &id : expired)
            group.members.erase(id);
        if (!expired.empty()) {
            evicted += static_cast<int>(expired.size());
            std::string who;
            for (const auto &id : expired)
                who += (who.empty() ? "" : ", ") + id;
            rebalanceLocked(group, "session expired for " + who);
        }
    }
    return evicted;
}

void GroupCoordinator::topicsChanged()
{
    std::lock_guard lock(m_mutex);
    for (auto &[name, group] : m_groups) {
        if (group.members.empty())
            continue;
        std::vector<std::string> topics;
        for (const auto &[id, m] : group.members)
            topics.insert(topics.end(), m.topics.begin(), m.topics.end());
        std::sort(topics.begin(), topics.end());
        topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
        if (m_hooks.partitionCounts(topics) != group.subscribedCounts)
            rebalanceLocked(group, "subscribed topics changed");
    }
}

void GroupCoordinator::topicDeleted(const std::string &topic)
{
    std::lock_guard lock(m_mutex);
    for (auto &[name, group] : m_groups)
        std::erase_if(group.offsets, [&](const auto &e) { return e.first.topic == topic; });
}

void GroupCoordinator::commit(const CommitRequest &request, int64_t nowMs,
                              std::function<void(const Result<void> &)> done)
{
    const auto fail = [&](Error e) { done(Result<void>(std::move(e))); };
    if (auto r = validateGroupId(request.group); !r)
        return fail(r.error());
    if (request.offsets.empty())
        return fail(makeError(Errc::InvalidRequest, "commit names no offsets"));
    // Bounds are checked before taking the lock: watermarks take partition locks.
    for (const auto &e : request.offsets) {
        if (auto r = validateTopicName(e.topic); !r)
            return fail(r.error());
        if (e.offset < 0)
            return fail(makeError(Errc::InvalidOffset, "commit offset " + std::to_string(e.offset)
                                                           + " is negative"));
        const auto wm = m_hooks.watermarks(e.topic, e.partition);
        if (!wm) {
            const bool topicExists = !m_hooks.partitionCounts({e.topic}).empty();
            return fail(topicExists ? makeError(Errc::UnknownPartition,
                                                "topic '" + e.topic + "' has no partition "
                                                    + std::to_string(e.partition))
                                    : makeError(Errc::UnknownTopic,
                                                "topic '" + e.topic + "' does not exist"));
        }
        if (e.offset > wm->second)
            return fail(makeError(Errc::OffsetOutOfRange,
                                  "commit offset " + std::to_string(e.offset)
                                      + " is past the high watermark "
                                      + std::to_string(wm->second) + " of " + e.topic + "/"
                                      + std::to_string(e.partition)));
    }
    std::vector<StoredOffset> rows;
    {
        std::lock_guard lock(m_mutex);
        auto g = m_groups.find(request.group);
        if (!request.memberId.empty()) {
            if (g == m_groups.end())
                return fail(
                    makeError(Errc::UnknownGroup, "group '" + request.group + "' does not exist"));
            auto m = g->second.members.find(request.memberId);
            if (m == g->second.members.end())
                return fail(makeError(Errc::UnknownMember, "member '" + request.memberId
                                                               + "' is not in group '"
                                                               + request.group + "'"));
            // A member may commit at the group's generation (its new assignment) or at the
            // generation it last acknowledged (partitions it still owns while it hands them
            // over), as KIP-848 accepts commits at the member's own epoch.
            const bool current = request.generation == g->second.generation;
            const bool acked = request.generation == m->second.ackedGeneration;
            if (!current && !acked)
                return fail(makeError(Errc::StaleGeneration,
                                      "commit for generation " + std::to_string(request.generation)
                                          + " but the group is at generation "
                                          + std::to_string(g->second.generation)));
            for (const auto &e : request.offsets) {
                const TopicPartition tp{e.topic, e.partition};
                const auto &target = m->second.target;
                const bool inTarget = current
                                      && std::find(target.begin(), target.end(), tp)
                                             != target.end();
                const bool inOwned = acked && m->second.owned.count(tp);
                if (!inTarget && !inOwned)
                    return fail(makeError(Errc::NotAssigned,
                                          "member '" + request.memberId + "' is not assigned "
                                              + e.topic + "/" + std::to_string(e.partition)));
            }
        } else if (g != m_groups.end() && !g->second.members.empty()) {
            return fail(makeError(Errc::GroupNotEmpty,
                                  "group '" + request.group
                                      + "' has active members: commit as one of them"));
        }
        auto &group = ensureGroupLocked(request.group, AssignorKind::Range, nowMs);
        for (const auto &e : request.offsets) {
            auto it = group.offsets.find({e.topic, e.partition});
            if (it != group.offsets.end() && e.offset < it->second.offset)
                return fail(makeError(Errc::OffsetRegression,
                                      "commit of " + std::to_string(e.offset) + " for " + e.topic
                                          + "/" + std::to_string(e.partition)
                                          + " is below the committed "
                                          + std::to_string(it->second.offset)
                                          + "; reset offsets to move back"));
        }
        for (const auto &e : request.offsets) {
            group.offsets[{e.topic, e.partition}] = {e.offset, e.metadata, nowMs};
            rows.push_back({request.group, e.topic, e.partition, e.offset, e.metadata, nowMs});
        }
    }
    m_hooks.persist({[rows = std::move(rows)](StoreWriter &w) -> Result<void> {
                         for (const auto &row : rows)
                             if (auto r = w.upsertOffset(row); !r)
                                 return r;
                         return {};
                     },
                     std::move(done), true});
}

bool GroupCoordinator::inactive(const std::string &group) const
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(group);
    return g == m_groups.end() || g->second.members.empty();
}

void GroupCoordinator::resetTo(const std::string &groupId,
                               const std::vector<CommitRequest::Entry> &offsets, int64_t nowMs,
                               std::function<void(const Result<void> &)> done)
{
    std::vector<StoredOffset> rows;
    {
        std::lock_guard lock(m_mutex);
        auto g = m_groups.find(groupId);
        if (g != m_groups.end() && !g->second.members.empty())
            return done(makeError(Errc::GroupNotEmpty,
                                  "group '" + groupId + "' has "
                                      + std::to_string(g->second.members.size())
                                      + " active members; stop them before resetting offsets"));
        auto &group = ensureGroupLocked(groupId, AssignorKind::Range, nowMs);
        for (const auto &e : offsets) {
            group.offsets[{e.topic, e.partition}] = {e.offset, e.metadata, nowMs};
            rows.push_back({groupId, e.topic, e.partition, e.offset, e.metadata, nowMs});
        }
    }
    emit(groupId, "offsets reset");
    m_hooks.persist({[rows = std::move(rows)](StoreWriter &w) -> Result<void> {
                         for (const auto &row : rows)
                             if (auto r = w.upsertOffset(row); !r)
                                 return r;
                         return {};
                     },
                     std::move(done), true});
}

std::vector<CommittedOffset> GroupCoordinator::offsetsLocked(const Group &group,
                                                             const std::string &topic) const
{
    // Every partition of every topic the group subscribes to or has committed on.
    std::vector<std::string> topics;
    for (const auto &[id, m] : group.members)
        topics.insert(topics.end(), m.topics.begin(), m.topics.end());
    for (const auto &[tp, e] : group.offsets)
        topics.push_back(tp.topic);
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    if (!topic.empty())
        topics = {topic};
    std::vector<CommittedOffset> out;
    for (const auto &[name, count] : m_hooks.partitionCounts(topics)) {
        for (int32_t p = 0; p < count; ++p) {
            CommittedOffset c;
            c.topic = name;
            c.partition = p;
            if (auto wm = m_hooks.watermarks(name, p)) {
                c.logStartOffset = wm->first;
                c.highWatermark = wm->second;
            }
            auto it = group.offsets.find({name, p});
            if (it != group.offsets.end()) {
                c.offset = it->second.offset;
                c.metadata = it->second.metadata;
                c.commitMs = it->second.commitMs;
            }
            const int64_t from = c.offset >= 0 ? std::max(c.offset, c.logStartOffset)
                                               : c.logStartOffset;
            c.lag = std::max<int64_t>(0, c.highWatermark - from);
            out.push_back(std::move(c));
        }
    }
    return out;
}

Result<std::vector<CommittedOffset>> GroupCoordinator::committed(const std::string &groupId,
                                                                 const std::string &topic) const
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    return offsetsLocked(g->second, topic);
}

Result<GroupDescription> GroupCoordinator::describe(const std::string &groupId) const
{
    std::lock_guard lock(m_mutex);
    auto g = m_groups.find(groupId);
    if (g == m_groups.end())
        return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
    const auto &group = g->second;
    GroupDescription d;
    d.group = group.name;
    d.state = stateLocked(group);
    d.assignor = group.assignor;
    d.generation = group.generation;
    for (const auto &[id, m] : group.members) {
        const auto a = assignmentLocked(group, m);
        d.members.push_back({id, m.clientId, m.topics, m.sessionTimeoutMs, m.ackedGeneration,
                             m.lastHeartbeatMs, a.assigned, a.pending});
    }
    d.offsets = offsetsLocked(group, {});
    for (const auto &o : d.offsets)
        d.totalLag += o.lag;
    return d;
}

std::vector<GroupListing> GroupCoordinator::list() const
{
    std::lock_guard lock(m_mutex);
    std::vector<GroupListing> out;
    for (const auto &[name, group] : m_groups)
        out.push_back({name, stateLocked(group), group.generation,
                       static_cast<int32_t>(group.members.size())});
    return out;
}

Result<void> GroupCoordinator::remove(const std::string &groupId)
{
    {
        std::lock_guard lock(m_mutex);
        auto g = m_groups.find(groupId);
        if (g == m_groups.end())
            return makeError(Errc::UnknownGroup, "group '" + groupId + "' does not exist");
        if (!g->second.members.empty())
            return makeError(Errc::GroupNotEmpty, "group '" + groupId + "' has active members");
        m_groups.erase(g);
    }
    emit(groupId, "group deleted");
    m_hooks.persist({[groupId](StoreWriter &w) { return w.deleteGroup(groupId); }, {}, true});
    return {};
}

} // namespace eddy
