#pragma once

#include "batch_codec.h"
#include "broker.h"
#include "connection.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <thread>

namespace eddy::client {

// Where a produced record landed. offset is -1 when acks is None (the broker does not say).
struct DeliveryReport {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;
    bool duplicate = false; // the broker had this batch already (an idempotent retry)
};

using DeliveryCallback = std::function<void(const Result<DeliveryReport> &)>;

// Producer settings; the ConnectionOptions part says how to reach the broker.
struct ProducerOptions : ConnectionOptions {
    Acks acks = Acks::Leader;
    int lingerMs = 5;                    // how long a partition's first record waits for more
    std::size_t batchRecords = 1000;     // a batch is sent once it holds this many records
    std::size_t batchBytes = 1 << 20;    // ... or this many payload bytes
    bool idempotent = true;              // producer id + sequences (needs acks other than None)
    int retries = 5;                     // resends of a batch after a retriable error or timeout
    int retryBackoffMs = 50;
    int requestTimeoutMs = 30000;        // per attempt
    int metadataMaxAgeMs = 30000;        // partition counts are re-read after this long
    std::string clientId;                // shown by the broker's `clients` op
    int testDropReplies = 0;             // test hook: treat the first N produce replies as lost
};

// Sends records to the broker in batches. send() queues a record for its partition (explicit,
// by key with Kafka's murmur2 partitioner, or round-robin for records without a key, using
// partition counts read with describe_topic and cached); a sender thread sends a partition's
// batch once it is full or has waited lingerMs, one batch in flight per partition so order is
// kept. With idempotence, every batch carries the producer id and a per-partition sequence and a
// retry resends the very same frame, so a batch that was written but whose reply was lost is not
// written twice. Only retriable errors and timeouts are retried. Thread-safe; completion
// callbacks run on a client I/O thread and must not block.
class Producer
{
public:
    // Dials the broker and, when idempotent, obtains a producer id (init_producer).
    static Result<std::unique_ptr<Producer>> open(const ProducerOptions &options);
    // Closes (flushing everything pending).
    ~Producer();

    Producer(const Producer &) = delete;
    Producer &operator=(const Producer &) = delete;

    // Queues one record; the future completes when the broker acknowledged it or it failed.
    std::future<Result<DeliveryReport>> send(const std::string &topic, Record record,
                                             std::optional<int32_t> partition = {});
    // The same with a callback instead of a future (called exactly once).
    void send(const std::string &topic, Record record, std::optional<int32_t> partition,
              DeliveryCallback done);

    // Sends everything queued now (ignoring linger) and waits until every send so far completed.
    void flush();
    // Flushes, then stops the sender and closes the connection. Later sends fail with
    // ShuttingDown. Idempotent.
    void close();

    // The producer id used for idempotence (-1 when not idempotent).
    int64_t producerId() const { return m_producerId; }
    // Produce requests sent so far, retries included (records per request = how well it batched).
    int64_t requestsSent() const { return m_requestsSent; }

private:
    using Clock = std::chrono::steady_clock;
    // Records queued for one batch, encoded as send() takes them (the request carries them as
    // one encoded batch, which the broker appends without decoding).
    struct Open {
        BatchBuilder records;
        std::vector<DeliveryCallback> done;
        Clock::time_point firstAt; // when its first record was queued
    };
    struct Batch {
        TopicPartition tp;
        std::vector<DeliveryCallback> done;
        ProduceRequest request; // its encoded batch, until the frame is encoded
        std::string frame;      // encoded once, so a retry is byte-for-byte the same request
        int64_t producerId = -1;
        int32_t baseSequence = -1;
        int attempts = 0;
    };
    struct PartitionState {
        std::deque<Open> queue; // the front goes out first; all but the last one are full
        bool busy = false;              // a batch is in flight or waiting for its retry
        std::size_t lastBatchBytes = 0;   // encoded size and record count of the last batch:
        std::size_t lastBatchRecords = 0; // a new one reserves as much
        std::shared_ptr<Batch> retry;   // the batch to resend at retryAt
        Clock::time_point retryAt;
        int64_t producerId = -1;
        int32_t nextSequence = 0;
    };
    struct TopicMeta {
        int32_t partitions = 0;
        Clock::time_point readAt;
        uint32_t nextRoundRobin = 0;
    };

    Producer(ProducerOptions options, std::shared_ptr<Connection> connection, int64_t producerId);
    Result<int32_t> choosePartition(const std::string &topic, const Record &record);
    Result<int64_t> initProducerId();
    // Whether record (of payload bytes) still fits in open under the batch limits.
    bool fits(const Open &open, std::size_t bytes) const;
    // When a partition's queued records are due to go out (m_mutex held): now when closing,
    // flushing or the batch is full, else once the first of them has lingered lingerMs.
    Clock::time_point sendAt(const PartitionState &state) const;
    void senderLoop();
    std::shared_ptr<Batch> takeBatch(const TopicPartition &tp, PartitionState &state);
    void dispatch(const std::shared_ptr<Batch> &batch);
    void onReply(const std::shared_ptr<Batch> &batch, Result<std::string> reply);
    // Ends a batch: the partition is free again. With sendNext (a successful reply), the
    // partition's next batch is dispatched from here when it is due; otherwise the sender is
    // woken for it.
    void complete(const std::shared_ptr<Batch> &batch, bool sendNext = false);

    const ProducerOptions m_options;
    std::shared_ptr<Connection> m_connection;
    std::atomic<int64_t> m_producerId;
    std::atomic<int> m_dropReplies;
    std::atomic<int64_t> m_requestsSent = 0;

    std::mutex m_metaMutex;
    std::map<std::string, TopicMeta> m_meta;

    std::mutex m_mutex;
    std::condition_variable m_wake; // the sender: new work, retry due, completion
    std::condition_variable m_idle; // flush(): outstanding reached zero
    // Orders partitions by topic, then partition, and finds one by a topic name it does not
    // own: send() looks its partition up without copying the topic name.
    struct PartitionOrder {
        using is_transparent = void;
        using Ref = std::pair<std::string_view, int32_t>;
        static Ref ref(const TopicPartition &tp) { return {tp.topic, tp.partition}; }
        static Ref ref(const Ref &r) { return r; }
        template<typename A, typename B>
        bool operator()(const A &a, const B &b) const { return ref(a) < ref(b); }
    };
    std::map<TopicPartition, PartitionState, PartitionOrder> m_partitions;
    std::size_t m_outstanding = 0;  // records sent to send() and not completed yet
    int m_flushWaiters = 0;
    bool m_closing = false;
    bool m_closed = false;
    std::thread m_sender;
};

} // namespace eddy::client
