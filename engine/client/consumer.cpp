// The group consumer. Membership state (member id, generation, assignment) is shared between the
// caller's poll() and the heartbeat thread; both apply whatever assignment the broker returns,
// and a newer generation makes the heartbeat thread acknowledge it at once, which is what lets
// the broker hand this member's released partitions to others. Offsets to commit are kept here,
// client-side, because they must reflect what the application was given, not the broker's read
// position (which runs ahead by whatever poll() returned but the application has not handled).
#include "consumer.h"

#include "binary_codec.h"
#include "json_codec.h"

#include <algorithm>
#include <set>

namespace eddy::client {

namespace {

std::vector<TopicPartition> targetOf(const std::vector<TopicPartition> &assigned,
                                     const std::vector<TopicPartition> &pending)
{
    std::vector<TopicPartition> out = assigned;
    out.insert(out.end(), pending.begin(), pending.end());
    return out;
}

bool contains(const std::vector<TopicPartition> &list, const TopicPartition &tp)
{
    return std::find(list.begin(), list.end(), tp) != list.end();
}

} // namespace

Result<std::unique_ptr<Consumer>> Consumer::open(const ConsumerOptions &options)
{
    if (options.group.empty())
        return makeError(Errc::InvalidGroupId, "a consumer needs a group");
    if (options.topics.empty())
        return makeError(Errc::InvalidRequest, "a consumer needs at least one topic");
    if (options.autoOffsetReset != "earliest" && options.autoOffsetReset != "latest")
        return makeError(Errc::InvalidRequest, "autoOffsetReset must be earliest or latest");
    auto connection = Connection::open(options);
    if (!connection)
        return connection.error();
    std::unique_ptr<Consumer> c(new Consumer(options, std::move(*connection)));
    if (auto r = c->join(); !r)
        return r.error();
    c->m_lastCommit = Clock::now();
    c->m_heartbeat = std::thread([raw = c.get()] { raw->heartbeatLoop(); });
    return c;
}

Consumer::Consumer(ConsumerOptions options, std::shared_ptr<Connection> connection)
    : m_options(std::move(options))
    , m_connection(std::move(connection))
{
}

Consumer::~Consumer()
{
    (void)close();
}

bool Consumer::needsRejoin(Errc code)
{
    return code == Errc::UnknownMember || code == Errc::UnknownGroup;
}

Result<void> Consumer::join(std::optional<int32_t> staleGeneration)
{
    std::lock_guard joinLock(m_joinMutex);
    std::string memberId;
    {
        std::lock_guard lock(m_mutex);
        // The poll and the heartbeat thread can both find the member gone; one rejoin is enough.
        if (staleGeneration && m_generation != *staleGeneration)
            return {};
        memberId = m_memberId;
    }
    Json req{{"op", "join_group"},
             {"group", m_options.group},
             {"member_id", memberId},
             {"topics", m_options.topics},
             {"session_timeout_ms", m_options.sessionTimeoutMs},
             {"assignor", m_options.assignor},
             {"auto_offset_reset", m_options.autoOffsetReset}};
    if (!m_options.clientId.empty())
        req["client_id"] = m_options.clientId;
    auto r = m_connection->call(req, m_options.requestTimeoutMs);
    if (!r)
        return r.error();
    auto a = net::assignmentFromJson(*r);
    if (!a)
        return a.error();
    apply(std::move(*a), true);
    return {};
}

void Consumer::apply(MemberAssignment a, bool rejoined)
{
    std::vector<TopicPartition> changed;
    bool notify = false;
    {
        std::lock_guard lock(m_mutex);
        // Replies can overtake each other (poll and heartbeat run at once); an older
        // generation than the one held says nothing new.
        if (!rejoined && a.generation < m_generation)
            return;
        if (rejoined) {
            m_memberId = a.memberId;
            m_next.clear();
            m_committed.clear();
        }
        if (a.generation > m_generation && !rejoined) {
            m_ackNow = true;
            m_heartbeatCv.notify_all();
        }
        m_generation = a.generation;
        if (a.heartbeatIntervalMs > 0)
            m_heartbeatIntervalMs = a.heartbeatIntervalMs;
        notify = rejoined || a.assigned != m_assigned;
        m_assigned = std::move(a.assigned);
        m_pending = std::move(a.pending);
        const auto target = targetOf(m_assigned, m_pending);
        // What was given out on a lost partition can no longer be committed by this member.
        std::erase_if(m_next, [&](const auto &e) { return !contains(target, e.first); });
        std::erase_if(m_committed, [&](const auto &e) { return !contains(target, e.first); });
        changed = m_assigned;
    }
    if (notify && m_options.onAssignmentChange)
        m_options.onAssignmentChange(changed);
}

Result<void> Consumer::heartbeatOnce()
{
    std::string memberId;
    int32_t generation;
    {
        std::lock_guard lock(m_mutex);
        memberId = m_memberId;
        generation = m_generation;
        m_ackNow = false;
    }
    // A heartbeat that takes longer than the session is pointless: the member is gone by then.
    auto r = m_connection->call({{"op", "heartbeat"},
                                 {"group", m_options.group},
                                 {"member_id", memberId},
                                 {"generation", generation}},
                                std::min(m_options.requestTimeoutMs, m_options.sessionTimeoutMs));
    if (!r) {
        if (needsRejoin(r.code()))
            return join(generation);
        return r.error();
    }
    auto a = net::assignmentFromJson(*r);
    if (!a)
        return a.error();
    apply(std::move(*a), false);
    return {};
}

void Consumer::heartbeatLoop()
{
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
        const auto interval = std::chrono::milliseconds(m_heartbeatIntervalMs);
        m_heartbeatCv.wait_for(lock, interval,
                               [this] { return m_stop || (m_ackNow && !m_paused); });
        if (m_stop)
            return;
        if (m_paused)
            continue;
        lock.unlock();
        (void)heartbeatOnce(); // failures are retried on the next beat
        if (m_options.autoCommit
            && Clock::now() - m_lastCommit
                   >= std::chrono::milliseconds(m_options.autoCommitIntervalMs)) {
            (void)commitSync();
            m_lastCommit = Clock::now();
        }
        lock.lock();
    }
}

Result<std::vector<ConsumerRecord>> Consumer::poll(int timeoutMs)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeoutMs));
    for (;;) {
        PollRequest req;
        {
            std::lock_guard lock(m_mutex);
            if (m_closed)
                return makeError(Errc::ShuttingDown, "the consumer is closed");
            req.group = m_options.group;
            req.memberId = m_memberId;
            req.generation = m_generation;
            // What this member really received: a poll whose reply was lost (timed out) moved
            // the broker's positions past records that never arrived; these move them back.
            req.positions.assign(m_next.begin(), m_next.end());
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - Clock::now())
                              .count();
        req.maxRecords = m_options.maxPollRecords;
        req.maxBytes = m_options.maxPollBytes;
        req.waitMs = static_cast<int32_t>(std::clamp<int64_t>(left, 0, 600000));
        auto reply = m_connection->request(net::encodePollRequest(req),
                                           req.waitMs + m_options.requestTimeoutMs);
        if (!reply)
            return reply.error();
        auto result = net::decodePollReply(*reply);
        if (!result) {
            if (!needsRejoin(result.code()))
                return result.error();
            if (auto j = join(req.generation); !j)
                return j.error();
        } else {
            result->assignment.memberId = req.memberId;
            apply(std::move(result->assignment), false);
            if (!result->records.empty()) {
                std::vector<ConsumerRecord> out;
                out.reserve(result->records.size());
                std::lock_guard lock(m_mutex);
                for (auto &pr : result->records) {
                    auto &next = m_next[TopicPartition{pr.topic, pr.partition}];
                    next = std::max(next, pr.record.offset + 1);
                    out.push_back({std::move(pr.topic), pr.partition, std::move(pr.record)});
                }
                return out;
            }
            // With nothing to park on (no partition assigned yet, or only deleted ones) the
            // broker answers an empty poll at once; pace the retries.
            if (Clock::now() < deadline) {
                std::unique_lock lock(m_mutex);
                const auto pause = Clock::now() + std::chrono::milliseconds(20);
                m_heartbeatCv.wait_until(lock, std::min(deadline, pause));
            }
        }
        if (Clock::now() >= deadline)
            return std::vector<ConsumerRecord>{};
    }
}

Result<void> Consumer::sendCommit(const std::map<TopicPartition, int64_t> &offsets,
                                  const std::string &memberId, int32_t generation)
{
    Json entries = Json::array();
    for (const auto &[tp, offset] : offsets)
        entries.push_back({{"topic", tp.topic}, {"partition", tp.partition}, {"offset", offset}});
    auto r = m_connection->call({{"op", "commit"},
                                 {"group", m_options.group},
                                 {"member_id", memberId},
                                 {"generation", generation},
                                 {"offsets", std::move(entries)}},
                                m_options.requestTimeoutMs);
    if (!r)
        return r.error();
    return {};
}

Result<void> Consumer::commitOffsets(std::map<TopicPartition, int64_t> offsets)
{
    for (int attempt = 0;; ++attempt) {
        if (offsets.empty())
            return {};
        std::string memberId;
        int32_t generation;
        {
            std::lock_guard lock(m_mutex);
            memberId = m_memberId;
            generation = m_generation;
        }
        auto r = sendCommit(offsets, memberId, generation);
        if (r) {
            std::lock_guard lock(m_mutex);
            for (const auto &[tp, offset] : offsets) {
                auto &c = m_committed[tp];
                c = std::max(c, offset);
            }
            return {};
        }
        if (r.code() != Errc::StaleGeneration || attempt > 0)
            return r;
        // The group moved on: learn the new generation, keep what this member still owns.
        if (auto h = heartbeatOnce(); !h)
            return h;
        std::lock_guard lock(m_mutex);
        const auto target = targetOf(m_assigned, m_pending);
        std::erase_if(offsets, [&](const auto &e) { return !contains(target, e.first); });
    }
}

Result<void> Consumer::commitSync()
{
    std::map<TopicPartition, int64_t> offsets;
    {
        std::lock_guard lock(m_mutex);
        for (const auto &[tp, next] : m_next) {
            auto c = m_committed.find(tp);
            if (c == m_committed.end() || next > c->second)
                offsets[tp] = next;
        }
    }
    return commitOffsets(std::move(offsets));
}

Result<void> Consumer::commit(const std::map<TopicPartition, int64_t> &offsets)
{
    return commitOffsets(offsets);
}

Result<void> Consumer::seek(const std::string &topic, int32_t partition, int64_t offset)
{
    std::string memberId;
    {
        std::lock_guard lock(m_mutex);
        memberId = m_memberId;
    }
    auto r = m_connection->call({{"op", "seek"},
                                 {"group", m_options.group},
                                 {"member_id", memberId},
                                 {"topic", topic},
                                 {"partition", partition},
                                 {"offset", offset}},
                                m_options.requestTimeoutMs);
    if (!r)
        return r.error();
    std::lock_guard lock(m_mutex);
    // A forward seek skips records: commitSync commits the new position. A backward one is
    // not committed until consumption passes what was committed (commits never regress).
    m_next[TopicPartition{topic, partition}] = offset;
    return {};
}

std::vector<TopicPartition> Consumer::assignment() const
{
    std::lock_guard lock(m_mutex);
    return m_assigned;
}

std::string Consumer::memberId() const
{
    std::lock_guard lock(m_mutex);
    return m_memberId;
}

int32_t Consumer::generation() const
{
    std::lock_guard lock(m_mutex);
    return m_generation;
}

void Consumer::stopHeartbeats()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        m_heartbeatCv.notify_all();
    }
    if (m_heartbeat.joinable())
        m_heartbeat.join();
}

Result<void> Consumer::close()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_closed)
            return {};
    }
    stopHeartbeats();
    Result<void> result;
    if (m_options.autoCommit)
        result = commitSync();
    std::string memberId;
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
        memberId = m_memberId;
    }
    if (!memberId.empty()) { // empty: the join in open() failed, there is nothing to leave
        auto left = m_connection->call(
            {{"op", "leave_group"}, {"group", m_options.group}, {"member_id", memberId}},
            m_options.requestTimeoutMs);
        if (result && !left)
            result = left.error();
    }
    m_connection->close();
    return result;
}

void Consumer::pause()
{
    std::lock_guard lock(m_mutex);
    m_paused = true;
}

void Consumer::resume()
{
    std::lock_guard lock(m_mutex);
    m_paused = false;
    m_ackNow = true; // heartbeat at once: the session may be about to expire
    m_heartbeatCv.notify_all();
}

void Consumer::abandon()
{
    stopHeartbeats();
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    m_connection->close();
}

} // namespace eddy::client
