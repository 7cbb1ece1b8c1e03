#pragma once

// Private to the engine: the broker's internals, shared by broker.cpp, broker_produce.cpp,
// broker_groups.cpp and broker_metrics.cpp. Not installed and not part of the API; everything
// else includes broker.h.
//
// Locking: m_topicsMutex (shared) guards the topic map and each topic's partition vector and is
// only held to copy shared_ptrs out; partition logs have their own locks; the coordinator is
// called with neither held. Store callbacks and waiter actions run without any broker lock.

#include "broker.h"
#include "group_coordinator.h"
#include "metrics_collector.h"
#include "partition_log.h"
#include "scheduler.h"
#include "waiter.h"

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace eddy {

struct Topic {
    int64_t id = 0;
    std::string name;
    RetentionPolicy retention;
    int64_t createdMs = 0;
    std::vector<std::shared_ptr<PartitionLog>> partitions;
    std::set<int32_t> offline; // partitions held offline by fault injection
    std::vector<RateWindow> partitionRates; // per partition; touched by the metrics tick only
};

// Shared by the partitions of one produce request until every one has met its acks.
struct PendingProduce {
    std::mutex mutex;
    int outstanding = 0;
    std::optional<Error> error;
    ProduceResult result;
    ProduceCallback done;
};

// Completes one partition's part of a durable produce; the last one answers the request.
void finishPending(const std::shared_ptr<PendingProduce> &p, const Result<void> &r);

class BrokerImpl;
class StoreWriter;

// One appended batch on its way to the store: what the store op of a produce needs on the
// writer thread, in one allocation per batch.
struct BatchWrite {
    BrokerImpl *broker = nullptr;
    int64_t topicId = 0;
    int32_t partition = 0;
    uint64_t epoch = 0;
    bool skipped = false; // set by apply: the epoch was truncated, so the batch was not written
    BatchPtr batch;
    std::shared_ptr<PartitionLog> log;
    std::shared_ptr<PendingProduce> pending; // acks=durable only
    std::string topicName; // durable mode only: records become visible at commit

    // StoreOp::apply: writes the batch unless its epoch was truncated by a storage failure.
    Result<void> apply(StoreWriter &writer);
    // StoreOp::done: marks it persisted (or truncates the log after a failed commit) and
    // completes the acks=durable request it belongs to.
    void done(const Result<void> &r);
};

template<typename T, typename Fn>
Result<T> waitFor(Fn &&start)
{
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start([promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future.get();
}

class BrokerImpl
{
public:
    explicit BrokerImpl(BrokerConfig config)
        : m_config(std::move(config))
        , m_tailCache(std::make_shared<TailCache>(m_config.tailCacheBytes))
    {
    }
    ~BrokerImpl()
    {
        // The store and threads go first (members below), then the lock is released.
        m_store.reset();
        if (m_lockFd >= 0)
            ::close(m_lockFd);
    }

    int m_lockFd = -1;
    BrokerConfig m_config;
    std::shared_ptr<TailCache> m_tailCache; // shared with every partition log
    std::unique_ptr<SqliteStore> m_store;
    std::unique_ptr<GroupCoordinator> m_groups;
    std::unique_ptr<Scheduler> m_scheduler;
    MetricsCollector m_collector;
    Partitioner m_partitioner;
    std::atomic<std::size_t> m_pollRotation{0};

    mutable std::shared_mutex m_topicsMutex;
    std::map<std::string, std::shared_ptr<Topic>> m_topics;
    std::mutex m_adminMutex;
    int64_t m_nextTopicId = 1;
    std::atomic<int64_t> m_nextProducerId{1};
    std::atomic<bool> m_closed{false};
    // Partitions held offline across all topics (guarded, like Topic::offline, by
    // m_topicsMutex): while 0, the data paths skip the offline check and its lock.
    std::atomic<int> m_offlineCount{0};

    mutable std::mutex m_snapshotMutex;
    MetricsSnapshotPtr m_snapshot;
    uint64_t m_tick = 0;
    int64_t m_lastDownsampleMs = 0;

    // Parked long-polls, weakly: the partition logs own them. close() completes the live ones.
    std::mutex m_parkedMutex;
    std::set<std::weak_ptr<Waiter>, std::owner_less<std::weak_ptr<Waiter>>> m_parked;

    mutable std::mutex m_listenerMutex;
    RecordListener m_recordListener;
    EventListener m_eventListener;
    std::deque<BrokerEvent> m_events;

    void emitEvent(std::string kind, std::string subject, std::string detail)
    {
        BrokerEvent e{wallClockMs(), std::move(kind), std::move(subject), std::move(detail)};
        EventListener listener;
        {
            std::lock_guard lock(m_listenerMutex);
            m_events.push_back(e);
            if (m_events.size() > 1000)
                m_events.pop_front();
            listener = m_eventListener;
        }
        if (listener)
            listener(e);
    }

    void emitVisible(const std::string &topic, int32_t partition, const BatchPtr &batch)
    {
        RecordListener listener;
        {
            std::lock_guard lock(m_listenerMutex);
            listener = m_recordListener;
        }
        if (listener)
            listener(topic, partition, batch);
    }

    // Parks waiter until data arrives on any of logs past its offset, or waitMs passes.
    void park(const WaiterPtr &waiter, std::shared_ptr<std::atomic<Scheduler::TaskId>> timer,
              int32_t waitMs,
              const std::vector<std::pair<std::shared_ptr<PartitionLog>, int64_t>> &logs);

    std::shared_ptr<Topic> findTopic(const std::string &name) const
    {
        std::shared_lock lock(m_topicsMutex);
        auto it = m_topics.find(name);
        return it == m_topics.end() ? nullptr : it->second;
    }

    Result<std::pair<std::shared_ptr<Topic>, std::shared_ptr<PartitionLog>>>
    findPartition(const std::string &topic, int32_t partition) const
    {
        std::shared_lock lock(m_topicsMutex);
        auto it = m_topics.find(topic);
        if (it == m_topics.end()) {
            if (auto r = validateTopicName(topic); !r)
                return r.error();
            return makeError(Errc::UnknownTopic, "topic '" + topic + "' does not exist");
        }
        const auto &parts = it->second->partitions;
        if (partition < 0 || partition >= static_cast<int32_t>(parts.size()))
            return makeError(Errc::UnknownPartition,
                             "topic '" + topic + "' has no partition " + std::to_string(partition)
                                 + " (it has " + std::to_string(parts.size()) + ")");
        return std::make_pair(it->second, parts[static_cast<std::size_t>(partition)]);
    }

    // True while fault injection holds the partition offline (Broker::setPartitionOffline).
    bool isOffline(const Topic &topic, int32_t partition) const
    {
        if (m_offlineCount.load(std::memory_order_relaxed) == 0)
            return false;
        std::shared_lock lock(m_topicsMutex);
        return topic.offline.count(partition) != 0;
    }

    static Error offlineError(const std::string &topic, int32_t partition)
    {
        return makeError(Errc::PartitionOffline, "partition " + std::to_string(partition)
                                                     + " of topic '" + topic
                                                     + "' is offline; retry later");
    }

    TopicInfo infoOf(const Topic &t) const
    {
        TopicInfo info;
        info.name = t.name;
        info.partitions = static_cast<int32_t>(t.partitions.size());
        info.retention = t.retention;
        info.createdMs = t.createdMs;
        for (const auto &log : t.partitions)
            info.partitionInfo.push_back({log->partition(), log->logStartOffset(),
                                          log->highWatermark(), log->sizeBytes()});
        return info;
    }

    std::shared_ptr<PartitionLog> makeLog(int32_t partition, int64_t logStart, int64_t end,
                                          int64_t bytes) const
    {
        return std::make_shared<PartitionLog>(partition, logStart, end, bytes,
                                              m_config.durability == Durability::Durable,
                                              m_tailCache);
    }

    // The limits of one record (the i-th of its produce, for the message): key size, header
    // count, no negative timestamp, payload size.
    Result<void> checkRecord(std::size_t i, std::size_t keyBytes, std::size_t headers,
                             int64_t timestamp, std::size_t payloadBytes) const
    {
        // Built only for an error: this runs for every record of every produce.
        const auto which = [i] { return "record " + std::to_string(i); };
        if (keyBytes > m_config.maxKeyBytes)
            return makeError(Errc::RecordTooLarge,
                             which() + " has a " + std::to_string(keyBytes)
                                 + "-byte key; the limit is "
                                 + std::to_string(m_config.maxKeyBytes));
        if (headers > m_config.maxHeaders)
            return makeError(Errc::RecordTooLarge,
                             which() + " has " + std::to_string(headers)
                                 + " headers; the limit is " + std::to_string(m_config.maxHeaders));
        if (timestamp < 0)
            return makeError(Errc::InvalidRequest, which() + " has a negative timestamp");
        if (payloadBytes > m_config.maxRecordBytes)
            return makeError(Errc::RecordTooLarge,
                             which() + " is " + std::to_string(payloadBytes)
                                 + " bytes; the limit is "
                                 + std::to_string(m_config.maxRecordBytes));
        return {};
    }

    // The limits of a whole produce: at least one record, at most maxBatchRecords, at most
    // maxBatchBytes of payload.
    Result<void> checkBatch(std::size_t count, std::size_t payloadBytes) const
    {
        if (count == 0)
            return makeError(Errc::EmptyBatch, "a produce needs at least one record");
        if (count > m_config.maxBatchRecords)
            return makeError(Errc::BatchTooLarge, std::to_string(count)
                                                      + " records in one produce; the limit is "
                                                      + std::to_string(m_config.maxBatchRecords));
        if (payloadBytes > m_config.maxBatchBytes)
            return makeError(Errc::BatchTooLarge, "produce of " + std::to_string(payloadBytes)
                                                      + " bytes; the limit is "
                                                      + std::to_string(m_config.maxBatchBytes));
        return {};
    }

    Result<void> validateRecords(const std::vector<Record> &records) const
    {
        // The count first: a produce of too many records is refused before they are walked.
        if (auto r = checkBatch(records.size(), 0); !r)
            return r;
        std::size_t total = 0;
        for (std::size_t i = 0; i < records.size(); ++i) {
            const auto &r = records[i];
            const std::size_t size = recordPayloadBytes(r);
            if (auto ok = checkRecord(i, r.key ? r.key->size() : 0, r.headers.size(), r.timestamp,
                                      size);
                !ok)
                return ok;
            total += size;
        }
        return checkBatch(records.size(), total);
    }

    // A produce whose records arrived encoded (ProduceRequest::encoded), checked record by
    // record against the limits above without decoding it. A batch that is not well formed is
    // a MalformedRequest. Sets count, bytes and maxTimestamp of the batch to append; the latter
    // is 0 when every record asked for the append time, and mixed is set when only some did.
    Result<RecordBatch> checkEncodedRecords(std::string encoded, bool &mixed) const;

    // Reads what is available now: from memory, or from the store below the cache.
    Result<FetchResult> readNow(const Topic &topic, PartitionLog &log, const FetchRequest &req)
    {
        auto read = log.read(req.offset, req.maxRecords, req.maxBytes);
        if (!read)
            return read.error();
        FetchResult out;
        out.highWatermark = read->highWatermark;
        out.logStartOffset = read->logStartOffset;
        std::vector<int64_t> appendUs;
        std::size_t bytes = 0;
        if (read->needsStore) {
            auto stored = m_store->readRecords(topic.id, log.partition(), req.offset,
                                               read->storeTo, req.maxRecords, req.maxBytes);
            if (!stored)
                return stored.error();
            out.records.reserve(stored->size());
            for (auto &[rec, us] : *stored) {
                bytes += recordPayloadBytes(rec);
                appendUs.push_back(us);
                out.records.push_back(std::move(rec));
            }
        } else {
            out.records = std::move(read->records);
            appendUs = std::move(read->appendTimesUs);
            bytes = read->bytes;
        }
        if (!out.records.empty()) {
            auto &c = log.counters();
            c.recordsOut.fetch_add(out.records.size(), std::memory_order_relaxed);
            c.bytesOut.fetch_add(bytes, std::memory_order_relaxed);
            if (!req.group.empty()) {
                const int64_t now = wallClockUs();
                for (auto &us : appendUs)
                    us = now - us;
                m_collector.recordConsume(topic.name, req.group, out.records.size(), bytes,
                                          appendUs);
            }
        }
        return out;
    }

    void produce(ProduceRequest req, ProduceCallback done);
    void fetch(FetchRequest req, FetchCallback done);
    void poll(PollRequest req, PollCallback done, bool mayPark);
    void metricsTick();
    void retentionPass();
    Result<std::optional<int64_t>> findTimestamp(const Topic &topic, PartitionLog &log,
                                                 int64_t timestampMs);
};

} // namespace eddy
