// Consumer groups on the broker facade. Join, heartbeat, leave, seek, commit and describe go to
// the group coordinator; poll reads the member's assigned partitions from its positions (rotating
// the first one, restarting past retention) and parks like a fetch when nothing is there; an
// offset reset resolves its target per partition (earliest, latest, offset or timestamp) and
// only runs while the group has no active member. Internals: broker_impl.h.
#include "broker.h"
#include "broker_impl.h"

#include <map>

#include <algorithm>
#include <memory>
#include <vector>

namespace eddy {

// ---- groups ---------------------------------------------------------------------------------

Result<MemberAssignment> Broker::joinGroup(const JoinGroupRequest &request)
{
    if (m_impl->m_closed)
        return makeError(Errc::ShuttingDown, "the broker is closing");
    return m_impl->m_groups->join(request, wallClockMs());
}

Result<MemberAssignment> Broker::heartbeat(const std::string &group, const std::string &memberId,
                                           int32_t generation)
{
    return m_impl->m_groups->heartbeat(group, memberId, generation, wallClockMs());
}

Result<void> Broker::leaveGroup(const std::string &group, const std::string &memberId)
{
    return m_impl->m_groups->leave(group, memberId);
}

void Broker::poll(PollRequest request, PollCallback done)
{
    m_impl->poll(std::move(request), std::move(done), true);
}

void BrokerImpl::poll(PollRequest req, PollCallback done, bool mayPark)
{
    if (m_closed)
        return done(makeError(Errc::ShuttingDown, "the broker is closing"));
    if (req.maxRecords == 0 || req.waitMs < 0)
        return done(makeError(Errc::InvalidRequest, "max_records must be >= 1 and wait_ms >= 0"));
    auto start = m_groups->pollPositions(req.group, req.memberId, req.generation, wallClockMs());
    if (!start)
        return done(start.error());
    auto &[assignment, positions] = *start;
    const std::map<TopicPartition, int64_t> clientPositions(req.positions.begin(),
                                                            req.positions.end());
    PollResult out;
    std::vector<std::pair<std::shared_ptr<PartitionLog>, int64_t>> parkOn;
    std::size_t bytes = 0;
    std::size_t offlineCount = 0;
    // Rotate the starting partition so one busy partition cannot starve the others.
    const std::size_t n = positions.size();
    const std::size_t first = n ? m_pollRotation.fetch_add(1, std::memory_order_relaxed) % n : 0;
    for (std::size_t k = 0; k < n; ++k) {
        auto &pos = positions[(first + k) % n];
        if (const auto it = clientPositions.find(pos.partition);
            it != clientPositions.end() && it->second != pos.offset) {
            pos.offset = it->second;
            m_groups->advancePosition(req.group, req.memberId, pos.partition, pos.offset);
        }
        auto found = findPartition(pos.partition.topic, pos.partition.partition);
        if (!found)
            continue; // deleted meanwhile: the next rebalance drops it
        auto &[topic, log] = *found;
        if (isOffline(*topic, pos.partition.partition)) {
            ++offlineCount; // skipped, not parked on: it cannot receive records while offline
            continue;
        }
        if (out.records.size() >= req.maxRecords || bytes >= req.maxBytes) {
            continue;
        }
        FetchRequest fr{pos.partition.topic, pos.partition.partition, pos.offset,
                        req.maxRecords - out.records.size(),
                        req.maxBytes > bytes ? req.maxBytes - bytes : 1, 0, req.group};
        auto read = readNow(*topic, *log, fr);
        if (!read && read.code() == Errc::OffsetOutOfRange) {
            // Retention moved past the position (or it is beyond the end): restart at the
            // nearest valid offset, as Kafka's auto.offset.reset does.
            const int64_t start = log->logStartOffset();
            fr.offset = pos.offset < start ? start : log->highWatermark();
            m_groups->advancePosition(req.group, req.memberId, pos.partition, fr.offset);
            read = readNow(*topic, *log, fr);
        }
        if (!read)
            continue;
        if (read->records.empty()) {
            parkOn.emplace_back(log, fr.offset);
            continue;
        }
        m_groups->advancePosition(req.group, req.memberId, pos.partition,
                                  read->records.back().offset + 1);
        for (auto &r : read->records) {
            bytes += recordPayloadBytes(r);
            out.records.push_back({pos.partition.topic, pos.partition.partition, std::move(r)});
        }
    }
    if (n > 0 && offlineCount == n)
        return done(makeError(Errc::PartitionOffline,
                              "every partition member " + req.memberId + " reads is offline; "
                              "retry later"));
    out.assignment = std::move(assignment);
    if (!out.records.empty() || !mayPark || req.waitMs == 0)
        return done(std::move(out));
    // With nothing usable yet (partitions still pending hand-over), wait out a heartbeat
    // interval for the assignment to settle rather than answering at once.
    const int32_t waitMs = parkOn.empty()
                               ? std::min(req.waitMs,
                                          std::max(1, out.assignment.heartbeatIntervalMs))
                               : req.waitMs;

    auto timer = std::make_shared<std::atomic<Scheduler::TaskId>>(0);
    auto self = this;
    auto waiter = std::make_shared<Waiter>([self, req, done, timer](bool timedOut) mutable {
        if (!timedOut) {
            if (auto id = timer->load())
                self->m_scheduler->cancel(id);
        }
        if (self->m_closed)
            return done(makeError(Errc::ShuttingDown, "the broker is closing"));
        self->poll(req, std::move(done), false);
    });
    park(waiter, timer, waitMs, parkOn);
}

Result<PollResult> Broker::pollSync(PollRequest request)
{
    return waitFor<PollResult>([&](auto cb) { poll(std::move(request), std::move(cb)); });
}

Result<void> Broker::seek(const std::string &group, const std::string &memberId,
                          const std::string &topic, int32_t partition, int64_t offset)
{
    return m_impl->m_groups->seek(group, memberId, {topic, partition}, offset);
}

void Broker::commitOffsets(const CommitRequest &request, DoneCallback done)
{
    if (m_impl->m_closed)
        return done(makeError(Errc::ShuttingDown, "the broker is closing"));
    m_impl->m_groups->commit(request, wallClockMs(), std::move(done));
}

Result<void> Broker::commitOffsetsSync(const CommitRequest &request)
{
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    commitOffsets(request, [promise](const Result<void> &r) { promise->set_value(r); });
    return future.get();
}

Result<std::vector<CommittedOffset>> Broker::committedOffsets(const std::string &group,
                                                              const std::string &topic) const
{
    return m_impl->m_groups->committed(group, topic);
}

Result<GroupDescription> Broker::describeGroup(const std::string &group) const
{
    return m_impl->m_groups->describe(group);
}

std::vector<GroupListing> Broker::listGroups() const
{
    return m_impl->m_groups->list();
}

Result<void> Broker::deleteGroup(const std::string &group)
{
    return m_impl->m_groups->remove(group);
}

Result<std::vector<CommittedOffset>> Broker::resetOffsets(const ResetOffsetsRequest &request)
{
    auto *d = m_impl.get();
    if (auto r = validateGroupId(request.group); !r)
        return r.error();
    auto topic = d->findTopic(request.topic);
    if (!topic)
        return makeError(Errc::UnknownTopic, "topic '" + request.topic + "' does not exist");
    if (!d->m_groups->inactive(request.group))
        return makeError(Errc::GroupNotEmpty, "group '" + request.group
                                                  + "' has active members; stop them first");
    if (request.kind == ResetKind::ToOffset && request.value < 0)
        return makeError(Errc::InvalidOffset, "reset offset " + std::to_string(request.value)
                                                  + " is negative");
    std::vector<int32_t> partitions = request.partitions;
    if (partitions.empty())
        for (int32_t p = 0; p < static_cast<int32_t>(topic->partitions.size()); ++p)
            partitions.push_back(p);
    std::vector<CommitRequest::Entry> entries;
    for (int32_t p : partitions) {
        auto found = d->findPartition(request.topic, p);
        if (!found)
            return found.error();
        auto &log = *found->second;
        const int64_t start = log.logStartOffset();
        const int64_t hw = log.highWatermark();
        int64_t target = start;
        switch (request.kind) {
        case ResetKind::Earliest: target = start; break;
        case ResetKind::Latest: target = hw; break;
        case ResetKind::ToOffset: target = std::clamp(request.value, start, hw); break;
        case ResetKind::ToTimestamp: {
            auto ts = d->findTimestamp(*topic, log, request.value);
            if (!ts)
                return ts.error();
            target = ts->value_or(hw);
            break;
        }
        }
        entries.push_back({request.topic, p, target, {}});
    }
    auto done = waitFor<bool>([&](auto cb) {
        d->m_groups->resetTo(request.group, entries, wallClockMs(),
                             [cb](const Result<void> &r) {
                                 cb(r ? Result<bool>(true) : Result<bool>(r.error()));
                             });
    });
    if (!done)
        return done.error();
    auto all = d->m_groups->committed(request.group, request.topic);
    if (!all)
        return all.error();
    std::vector<CommittedOffset> out;
    for (auto &c : *all)
        if (std::find(partitions.begin(), partitions.end(), c.partition) != partitions.end())
            out.push_back(std::move(c));
    return out;
}

} // namespace eddy
