#pragma once

#include "group_types.h"
#include "metrics.h"
#include "partitioner.h"
#include "record.h"
#include "result.h"
#include "sqlite_store.h"
#include "topic_config.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy {

struct BrokerConfig {
    std::string dataDir;                  // holds eddy.db; created if missing
    Durability durability = Durability::Fast;
    int flushIntervalMs = 50;             // fast mode: the longest a produce stays unflushed
    std::size_t maxRecordBytes = 1 << 20; // key + value + headers of one record
    std::size_t maxKeyBytes = 64 << 10;
    std::size_t maxHeaders = 64;
    std::size_t maxBatchRecords = 100000;
    std::size_t maxBatchBytes = 64 << 20;
    // Memory for the partitions' in-memory tails (encoded batches), all partitions together:
    // fetches below it read the store. Batches not stored yet stay in memory regardless.
    std::size_t tailCacheBytes = 32 << 20;
    std::size_t maxUnstoredBytes = 128 << 20; // produce waits while more awaits the store
    int32_t minSessionTimeoutMs = 50;
    int32_t maxSessionTimeoutMs = 300000;
    int metricsIntervalMs = 100;
    int retentionIntervalMs = 1000;
    int64_t historyFineKeepMs = 2 * 3600 * 1000;       // 1 s rows
    int64_t historyCoarseKeepMs = 7 * 24 * 3600 * 1000LL; // 60 s rows
    int64_t maxPageCount = 0;             // SQLite max_page_count; 0 = default (tests: disk full)
};

enum class Acks {
    None,    // the caller does not wait (the callback still reports validation errors)
    Leader,  // acknowledged once appended to the log
    Durable, // acknowledged once the store committed it (fsync'ed in durable mode)
};

struct TopicInfo {
    std::string name;
    int32_t partitions = 0;
    RetentionPolicy retention;
    int64_t createdMs = 0;
    struct Partition {
        int32_t partition = 0;
        int64_t logStartOffset = 0;
        int64_t highWatermark = 0;
        int64_t sizeBytes = 0;
    };
    std::vector<Partition> partitionInfo;
};

struct ProduceRequest {
    std::string topic;
    std::optional<int32_t> partition; // unset: partitioner (murmur2 for keys, round-robin else)
    std::vector<Record> records;
    Acks acks = Acks::Leader;
    int64_t producerId = -1;          // >= 0 with baseSequence for idempotence (needs partition)
    int32_t baseSequence = -1;
    // When not empty: the records as one batch in the record-batch format (batch_codec.h)
    // instead of in records, for an explicit partition. The broker checks the batch against
    // the same limits and appends it without decoding it into Records (the binary protocol's
    // produce_batch op, which the client library's Producer sends).
    std::string encoded;
};

struct ProduceResult {
    // One entry per partition written, in the order the records were given per partition.
    struct Placement {
        int32_t partition = 0;
        int64_t baseOffset = 0;
        int32_t count = 0;
        bool duplicate = false;
    };
    std::vector<Placement> placements;
    // Partition and offset of each record, in request order.
    std::vector<std::pair<int32_t, int64_t>> offsets;
};

struct FetchRequest {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::size_t maxRecords = 500;
    std::size_t maxBytes = 1 << 20;
    int32_t waitMs = 0;    // long-poll: wait up to this long for at least one record
    std::string group;     // consumer group to attribute the read (and its latency) to, if any
};

struct FetchResult {
    std::vector<Record> records;
    int64_t highWatermark = 0;
    int64_t logStartOffset = 0;
};

struct PollRequest {
    std::string group;
    std::string memberId;
    int32_t generation = 0;    // also acknowledged, as by a heartbeat
    std::size_t maxRecords = 500;
    std::size_t maxBytes = 1 << 20;
    int32_t waitMs = 0;        // long-poll across every assigned partition
    // The member's own next offsets for partitions it has read (client-side positions, as a
    // Kafka consumer keeps them). Those partitions are read from here, and the broker's record
    // of the member's positions is set to them: that record moves past whatever a poll
    // returned, also when the reply never reached the member (its request timed out), so a
    // member that sends what it really received is redelivered a lost reply's records instead
    // of skipping them. Partitions not listed, or not assigned, are read from the broker's
    // record. Offsets must be >= 0.
    std::vector<std::pair<TopicPartition, int64_t>> positions;
};

struct PolledRecord {
    std::string topic;
    int32_t partition = 0;
    Record record;
};

struct PollResult {
    std::vector<PolledRecord> records;
    MemberAssignment assignment; // as after the implied heartbeat
};

// Something that happened in the broker, for the event log and the live stream.
struct BrokerEvent {
    int64_t timestampMs = 0;
    std::string kind;    // "topic_created", "topic_deleted", "partitions_added", "group",
                         // "fault_started", "fault_ended", "slow_client" (publishEvent)
    std::string subject; // the topic or group name (a slow client: its address)
    std::string detail;  // a sentence

    // Field-wise: two events are the same when all four fields match (how the studio finds where
    // a newer list of recent events continues the one it already shows).
    bool operator==(const BrokerEvent &) const = default;
};

// Called with each batch when it becomes visible to readers (on append in fast mode, on commit
// in durable mode), on the thread that made it visible. Must not block or call back.
using RecordListener =
    std::function<void(const std::string &topic, int32_t partition, const BatchPtr &batch)>;
using EventListener = std::function<void(const BrokerEvent &event)>;

using ProduceCallback = std::function<void(Result<ProduceResult>)>;
using FetchCallback = std::function<void(Result<FetchResult>)>;
using PollCallback = std::function<void(Result<PollResult>)>;
using DoneCallback = std::function<void(const Result<void> &)>;

class BrokerImpl;

// The broker engine: topics of partition logs persisted in SQLite, idempotent produce,
// long-poll fetch, consumer groups with committed offsets, retention and metrics. Every method is
// thread-safe. Callbacks run on whichever engine thread completes the operation (the caller's,
// the store writer's or the scheduler's) and must not block.
class Broker
{
public:
    // Opens (or creates) the store in config.dataDir and restores every topic, record and
    // committed offset. Fails with CorruptStore when the store fails its integrity check.
    static Result<std::unique_ptr<Broker>> open(BrokerConfig config);
    ~Broker();

    Broker(const Broker &) = delete;
    Broker &operator=(const Broker &) = delete;

    // Stops accepting work, completes parked reads with ShuttingDown, flushes the store and
    // stops the engine threads. Idempotent; the destructor calls it.
    void close();
    const BrokerConfig &config() const;

    // ---- topics (persisted before they return) ----
    Result<TopicInfo> createTopic(const TopicSpec &spec);
    Result<void> deleteTopic(const std::string &name);
    Result<TopicInfo> describeTopic(const std::string &name) const;
    std::vector<TopicInfo> listTopics() const;
    // Raises the partition count (never lowers it, as in Kafka).
    Result<TopicInfo> alterPartitions(const std::string &name, int32_t partitions);
    Result<TopicInfo> alterRetention(const std::string &name, const RetentionPolicy &retention);

    // ---- produce ----
    // Validates, partitions and appends; done receives the offsets when the request's acks are
    // met, or the error. Nothing of a failed request is acknowledged.
    void produce(ProduceRequest request, ProduceCallback done);
    Result<ProduceResult> produceSync(ProduceRequest request);
    // A new producer id for idempotent produce (persisted, never reused).
    Result<int64_t> initProducerId();

    // ---- fetch ----
    // Reads from an offset; with waitMs > 0 and nothing to read, parks until a record arrives
    // or the wait ends (then an empty result).
    void fetch(FetchRequest request, FetchCallback done);
    Result<FetchResult> fetchSync(FetchRequest request);
    // First offset whose timestamp is >= timestampMs, or the high watermark if none is.
    Result<int64_t> offsetForTimestamp(const std::string &topic, int32_t partition,
                                       int64_t timestampMs);

    // ---- groups and offsets ----
    Result<MemberAssignment> joinGroup(const JoinGroupRequest &request);
    Result<MemberAssignment> heartbeat(const std::string &group, const std::string &memberId,
                                       int32_t generation);
    Result<void> leaveGroup(const std::string &group, const std::string &memberId);
    // The next records for a group member from its assigned partitions, starting at its
    // positions (committed offsets at first); positions move past what is returned.
    void poll(PollRequest request, PollCallback done);
    Result<PollResult> pollSync(PollRequest request);
    // Moves a member's read position on one of its assigned partitions.
    Result<void> seek(const std::string &group, const std::string &memberId,
                      const std::string &topic, int32_t partition, int64_t offset);
    void commitOffsets(const CommitRequest &request, DoneCallback done);
    Result<void> commitOffsetsSync(const CommitRequest &request);
    Result<std::vector<CommittedOffset>> committedOffsets(const std::string &group,
                                                          const std::string &topic = {}) const;
    Result<GroupDescription> describeGroup(const std::string &group) const;
    std::vector<GroupListing> listGroups() const;
    // Moves a group's committed offsets (the group must have no active members); returns the
    // offsets as set.
    Result<std::vector<CommittedOffset>> resetOffsets(const ResetOffsetsRequest &request);
    Result<void> deleteGroup(const std::string &group);

    // ---- metrics ----
    // The latest snapshot (never null once open returned).
    MetricsSnapshotPtr metrics() const;
    // Persisted history of an entity ("broker", "topic/NAME", "topic/NAME/P", "group/NAME"):
    // 1 s points when the span fits in the fine retention, 60 s points otherwise.
    Result<std::vector<HistoryPoint>> metricsHistory(const std::string &entity, int64_t fromMs,
                                                     int64_t toMs) const;
    // Runs a retention pass now (it also runs every retentionIntervalMs).
    void runRetention();

    // ---- listeners (set before serving; one of each) ----
    void setRecordListener(RecordListener listener);
    void setEventListener(EventListener listener);
    // The last 1,000 events, oldest first.
    std::vector<BrokerEvent> recentEvents() const;
    // Records an event of the caller's (the fault runner announces "fault_started" and
    // "fault_ended") in the event log and hands it to the event listener, like the broker's own.
    void publishEvent(std::string kind, std::string subject, std::string detail);

    // ---- fault injection (simulator, studio; every setting takes effect at once) ----
    // Takes a partition offline or back online. While offline, produce to it, fetch from it and
    // poll of it fail with the retriable PartitionOffline and nothing is appended; a poll skips
    // it and returns records of the member's other partitions (PartitionOffline only when every
    // partition it reads is offline). Fails with UnknownTopic / UnknownPartition. Deleting the
    // topic forgets the setting.
    Result<void> setPartitionOffline(const std::string &topic, int32_t partition, bool offline);
    // Disk faults of the store: every commit waits commitDelayMs first (a slow fsync; 0: none),
    // and while full every store transaction fails with StorageFull (nothing of it acknowledged).
    void setDiskFault(int commitDelayMs, bool full);
    // An I/O-error fault of the store's disk: while set, every write and fsync of the store
    // fails as with EIO, so each store transaction that has to write fails with StorageError;
    // nothing of it is acknowledged or, in durable mode, visible. Reads keep working. Cleared,
    // the store writes again from its next transaction.
    void setIoErrorFault(bool failing);
    // The same, for writes and fsyncs separately: with failSyncs alone a transaction's pages
    // reach the write-ahead log and only its commit's fsync fails.
    void setIoErrorFault(bool failWrites, bool failSyncs);

private:
    explicit Broker(std::unique_ptr<BrokerImpl> impl);
    std::unique_ptr<BrokerImpl> m_impl;
};

} // namespace eddy
