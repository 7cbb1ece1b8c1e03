#pragma once

#include "broker.h"
#include "connection.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace eddy::client {

// A record as poll() returns it: where it came from and the record (with its offset).
struct ConsumerRecord {
    std::string topic;
    int32_t partition = 0;
    Record record;
};

// Called with the partitions the consumer may now read, whenever that set changes.
using AssignmentCallback = std::function<void(const std::vector<TopicPartition> &assigned)>;

// Consumer settings; the ConnectionOptions part says how to reach the broker.
struct ConsumerOptions : ConnectionOptions {
    std::string group;
    std::vector<std::string> topics;
    int sessionTimeoutMs = 10000;
    bool autoCommit = true;
    int autoCommitIntervalMs = 1000;
    std::string autoOffsetReset = "earliest"; // "earliest" or "latest": where a partition
                                              // without a committed offset starts
    std::size_t maxPollRecords = 500;
    std::size_t maxPollBytes = 1 << 20;
    std::string clientId;
    std::string assignor = "range";           // "range" or "roundrobin" (when creating the group)
    int requestTimeoutMs = 30000;
    AssignmentCallback onAssignmentChange;    // optional; runs on the polling or heartbeat thread
};

// A member of a consumer group. The broker assigns partitions and tracks read positions;
// poll() long-polls every assigned partition at once. A background thread heartbeats every
// heartbeat_interval_ms, acknowledges new generations at once (so partitions move between
// members quickly) and auto-commits. The consumer remembers the next offset of what poll()
// returned per partition, which commitSync() commits; offsets of partitions it lost are dropped
// (their new owner resumes from the last commit: delivery is at-least-once). When the session
// expired (UNKNOWN_MEMBER) the consumer joins again by itself. Thread-safe, though poll() is
// meant for one thread.
class Consumer
{
public:
    // Dials the broker and joins the group.
    static Result<std::unique_ptr<Consumer>> open(const ConsumerOptions &options);
    // Closes (committing when autoCommit, leaving the group) unless abandon() was called.
    ~Consumer();

    Consumer(const Consumer &) = delete;
    Consumer &operator=(const Consumer &) = delete;

    // Waits up to timeoutMs for records from the assigned partitions; an empty vector when none
    // came. Fails with the broker's error, or Timeout/ShuttingDown from the connection.
    Result<std::vector<ConsumerRecord>> poll(int timeoutMs);
    // Commits the next offsets of everything poll() returned (and seek() positions) that is
    // ahead of what this consumer committed. On STALE_GENERATION it heartbeats and retries once
    // with the partitions it still owns.
    Result<void> commitSync();
    // Commits explicit offsets (the next offset to read, as in Kafka) on owned partitions.
    Result<void> commit(const std::map<TopicPartition, int64_t> &offsets);
    // Moves this member's read position on one of its assigned partitions.
    Result<void> seek(const std::string &topic, int32_t partition, int64_t offset);

    // The partitions this member may read now (pending ones excluded).
    std::vector<TopicPartition> assignment() const;
    // The member id the broker gave this consumer (it keeps it across automatic rejoins).
    std::string memberId() const;
    // The group generation this consumer last heard of.
    int32_t generation() const;

    // Stops heartbeats, commits (when autoCommit), leaves the group and closes the connection.
    // Returns the first failure of the commit or the leave. Idempotent.
    Result<void> close();
    // Stops heartbeats and drops the connection without committing or leaving, as a crashed
    // process would; the broker evicts the member once its session times out. For tests and
    // fault drills.
    void abandon();
    // Freezes the member: no heartbeats (and no auto-commits) until resume(), as a stopped
    // process. A pause longer than the session timeout gets the member evicted; it rejoins on
    // its next poll after resume(). For fault drills.
    void pause();
    void resume();

private:
    using Clock = std::chrono::steady_clock;
    Consumer(ConsumerOptions options, std::shared_ptr<Connection> connection);
    // Joins (or re-joins under the same member id). With staleGeneration set, this is a rejoin
    // after a request at that generation found the member gone; it is skipped when another
    // thread already rejoined meanwhile (the generation moved on).
    Result<void> join(std::optional<int32_t> staleGeneration = std::nullopt);
    Result<void> heartbeatOnce();
    void heartbeatLoop();
    // Applies an assignment from join, heartbeat or poll (older generations are ignored) and
    // reports a changed assignment to the callback.
    void apply(MemberAssignment assignment, bool rejoined);
    Result<void> commitOffsets(std::map<TopicPartition, int64_t> offsets);
    Result<void> sendCommit(const std::map<TopicPartition, int64_t> &offsets,
                            const std::string &memberId, int32_t generation);
    static bool needsRejoin(Errc code);
    void stopHeartbeats();

    const ConsumerOptions m_options;
    std::shared_ptr<Connection> m_connection;

    mutable std::mutex m_mutex;
    std::string m_memberId;
    int32_t m_generation = 0;
    bool m_paused = false;
    int32_t m_heartbeatIntervalMs = 1000;
    std::vector<TopicPartition> m_assigned;
    std::vector<TopicPartition> m_pending;
    std::map<TopicPartition, int64_t> m_next;      // next offset after what poll() returned
    std::map<TopicPartition, int64_t> m_committed; // what this member committed
    bool m_ackNow = false;   // a new generation was seen: heartbeat at once to acknowledge it
    bool m_stop = false;
    bool m_closed = false;
    Clock::time_point m_lastCommit;
    std::condition_variable m_heartbeatCv;
    std::thread m_heartbeat;
    std::mutex m_joinMutex;  // one rejoin at a time
};

} // namespace eddy::client
