// The broker facade: wires partition logs, the SQLite store, the group coordinator, the
// scheduler and the metrics collector together, and owns the rules that span them (validation
// limits, partitioning, acknowledgement, long-poll parking, retention, snapshots).
//
// Locking: m_topicsMutex (shared) guards the topic map and each topic's partition vector and is
// only held to copy shared_ptrs out; partition logs have their own locks; the coordinator is
// called with neither held. Store callbacks and waiter actions run without any broker lock.
#include "broker.h"

#include "group_coordinator.h"
#include "metrics_collector.h"
#include "partition_log.h"
#include "scheduler.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <shared_mutex>

namespace eddy {

namespace {

struct Topic {
    int64_t id = 0;
    std::string name;
    RetentionPolicy retention;
    int64_t createdMs = 0;
    std::vector<std::shared_ptr<PartitionLog>> partitions;
    std::set<int32_t> offline; // partitions held offline by fault injection
};

// Shared by the partitions of one produce request until every one has met its acks.
struct PendingProduce {
    std::mutex mutex;
    int outstanding = 0;
    std::optional<Error> error;
    ProduceResult result;
    ProduceCallback done;
};

template<typename T, typename Fn>
Result<T> waitFor(Fn &&start)
{
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start([promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future.get();
}

} // namespace

class BrokerImpl
{
public:
    explicit BrokerImpl(BrokerConfig config) : m_config(std::move(config)) {}
    ~BrokerImpl()
    {
        // The store and threads go first (members below), then the lock is released.
        m_store.reset();
        if (m_lockFd >= 0)
            ::close(m_lockFd);
    }

    int m_lockFd = -1;
    BrokerConfig m_config;
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
                                              m_config.cacheBytesPerPartition);
    }

    Result<void> validateRecords(const std::vector<Record> &records) const
    {
        if (records.empty())
            return makeError(Errc::EmptyBatch, "a produce needs at least one record");
        if (records.size() > m_config.maxBatchRecords)
            return makeError(Errc::BatchTooLarge, std::to_string(records.size())
                                                      + " records in one produce; the limit is "
                                                      + std::to_string(m_config.maxBatchRecords));
        std::size_t total = 0;
        for (std::size_t i = 0; i < records.size(); ++i) {
            const auto &r = records[i];
            const std::string which = "record " + std::to_string(i);
            if (r.key && r.key->size() > m_config.maxKeyBytes)
                return makeError(Errc::RecordTooLarge,
                                 which + " has a " + std::to_string(r.key->size())
                                     + "-byte key; the limit is "
                                     + std::to_string(m_config.maxKeyBytes));
            if (r.headers.size() > m_config.maxHeaders)
                return makeError(Errc::RecordTooLarge,
                                 which + " has " + std::to_string(r.headers.size())
                                     + " headers; the limit is "
                                     + std::to_string(m_config.maxHeaders));
            if (r.timestamp < 0)
                return makeError(Errc::InvalidRequest, which + " has a negative timestamp");
            const std::size_t size = recordPayloadBytes(r);
            if (size > m_config.maxRecordBytes)
                return makeError(Errc::RecordTooLarge,
                                 which + " is " + std::to_string(size)
                                     + " bytes; the limit is "
                                     + std::to_string(m_config.maxRecordBytes));
            total += size;
        }
        if (total > m_config.maxBatchBytes)
            return makeError(Errc::BatchTooLarge, "produce of " + std::to_string(total)
                                                      + " bytes; the limit is "
                                                      + std::to_string(m_config.maxBatchBytes));
        return {};
    }

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
                m_collector.recordConsume(topic.name, req.group, out.records.size(), bytes, appendUs);
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

// ---- open / close ---------------------------------------------------------------------------

Broker::Broker(std::unique_ptr<BrokerImpl> impl) : m_impl(std::move(impl)) {}

Broker::~Broker()
{
    close();
}

const BrokerConfig &Broker::config() const
{
    return m_impl->m_config;
}

Result<std::unique_ptr<Broker>> Broker::open(BrokerConfig config)
{
    if (config.dataDir.empty())
        return makeError(Errc::InvalidConfig, "the broker needs a data directory");
    std::error_code ec;
    std::filesystem::create_directories(config.dataDir, ec);
    if (ec)
        return makeError(Errc::StorageError,
                         "cannot create data directory " + config.dataDir + ": " + ec.message());
    auto impl = std::make_unique<BrokerImpl>(std::move(config));
    BrokerImpl *d = impl.get();

    // One broker per data directory: a second one would interleave its writes with ours.
    const auto lockPath = (std::filesystem::path(d->m_config.dataDir) / "eddy.lock").string();
    d->m_lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->m_lockFd < 0)
        return makeError(Errc::StorageError, "cannot open " + lockPath + ": " + std::strerror(errno));
    if (::flock(d->m_lockFd, LOCK_EX | LOCK_NB) != 0)
        return makeError(Errc::StorageError, "data directory " + d->m_config.dataDir
                                                 + " is in use by another broker");

    SqliteStore::Options options;
    options.path = (std::filesystem::path(d->m_config.dataDir) / "eddy.db").string();
    options.durability = d->m_config.durability;
    options.flushIntervalMs = d->m_config.flushIntervalMs;
    options.maxPageCount = d->m_config.maxPageCount;
    auto store = SqliteStore::open(options);
    if (!store)
        return store.error();
    d->m_store = std::move(*store);
    auto contents = d->m_store->load();
    if (!contents)
        return contents.error();

    for (const auto &st : contents->topics) {
        auto topic = std::make_shared<Topic>();
        topic->id = st.id;
        topic->name = st.spec.name;
        topic->retention = st.spec.retention;
        topic->createdMs = st.createdMs;
        for (const auto &sp : st.partitions) {
            auto log = d->makeLog(sp.partition, sp.logStart, sp.endOffset, sp.bytes);
            for (const auto &pr : sp.producers)
                log->restoreProducer(pr.producerId, {pr.baseSequence, pr.count, pr.baseOffset});
            topic->partitions.push_back(std::move(log));
        }
        d->m_topics[topic->name] = std::move(topic);
    }
    d->m_nextTopicId = contents->nextTopicId;
    d->m_nextProducerId = contents->nextProducerId;

    GroupCoordinator::Hooks hooks;
    hooks.partitionCounts = [d](const std::vector<std::string> &topics) {
        std::map<std::string, int32_t> out;
        std::shared_lock lock(d->m_topicsMutex);
        for (const auto &t : topics) {
            auto it = d->m_topics.find(t);
            if (it != d->m_topics.end())
                out[t] = static_cast<int32_t>(it->second->partitions.size());
        }
        return out;
    };
    hooks.watermarks = [d](const std::string &topic, int32_t partition)
        -> std::optional<std::pair<int64_t, int64_t>> {
        auto found = d->findPartition(topic, partition);
        if (!found)
            return std::nullopt;
        return std::make_pair(found->second->logStartOffset(), found->second->highWatermark());
    };
    hooks.persist = [d](StoreOp op) { d->m_store->submit(std::move(op)); };
    hooks.event = [d](const std::string &group, const std::string &what) {
        d->emitEvent("group", group, what);
    };
    d->m_groups = std::make_unique<GroupCoordinator>(std::move(hooks), d->m_config.minSessionTimeoutMs,
                                                     d->m_config.maxSessionTimeoutMs);
    d->m_groups->restore(contents->groups, contents->offsets);

    d->metricsTick();
    d->m_scheduler = std::make_unique<Scheduler>();
    d->m_scheduler->every(std::chrono::milliseconds(d->m_config.metricsIntervalMs),
                          [d] { d->metricsTick(); });
    d->m_scheduler->every(std::chrono::milliseconds(d->m_config.retentionIntervalMs),
                          [d] { d->retentionPass(); });
    return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

void Broker::close()
{
    auto *d = m_impl.get();
    if (!d || d->m_closed.exchange(true))
        return;
    // Answer parked reads before the scheduler stops: a parked poll with no partition to wait
    // on lives only in its deadline task, and stopping the scheduler would drop it unanswered.
    std::set<std::weak_ptr<Waiter>, std::owner_less<std::weak_ptr<Waiter>>> parked;
    {
        std::lock_guard lock(d->m_parkedMutex);
        parked.swap(d->m_parked);
    }
    for (const auto &weak : parked)
        if (auto w = weak.lock())
            w->fire(true);
    d->m_scheduler->stop();
    d->m_store->flush();
    d->m_store->close();
}

// ---- topics ---------------------------------------------------------------------------------

Result<TopicInfo> Broker::createTopic(const TopicSpec &spec)
{
    auto *d = m_impl.get();
    if (d->m_closed)
        return makeError(Errc::ShuttingDown, "the broker is closing");
    if (auto r = validateTopicSpec(spec); !r)
        return r.error();
    std::lock_guard admin(d->m_adminMutex);
    if (d->findTopic(spec.name))
        return makeError(Errc::TopicAlreadyExists, "topic '" + spec.name + "' already exists");
    auto topic = std::make_shared<Topic>();
    topic->id = d->m_nextTopicId++;
    topic->name = spec.name;
    topic->retention = spec.retention;
    topic->createdMs = wallClockMs();
    if (auto r = d->m_store->submitAndWait([id = topic->id, spec, created = topic->createdMs](
                                               StoreWriter &w) { return w.insertTopic(id, spec, created); });
        !r)
        return r.error();
    for (int32_t p = 0; p < spec.partitions; ++p)
        topic->partitions.push_back(d->makeLog(p, 0, 0, 0));
    {
        std::unique_lock lock(d->m_topicsMutex);
        d->m_topics[spec.name] = topic;
    }
    d->m_groups->topicsChanged();
    d->emitEvent("topic_created", spec.name,
                 "topic " + spec.name + " created with " + std::to_string(spec.partitions)
                     + " partitions");
    return d->infoOf(*topic);
}

Result<void> Broker::deleteTopic(const std::string &name)
{
    auto *d = m_impl.get();
    if (d->m_closed)
        return makeError(Errc::ShuttingDown, "the broker is closing");
    std::lock_guard admin(d->m_adminMutex);
    auto topic = d->findTopic(name);
    if (!topic) {
        if (auto r = validateTopicName(name); !r)
            return r;
        return makeError(Errc::UnknownTopic, "topic '" + name + "' does not exist");
    }
    if (auto r = d->m_store->submitAndWait(
            [id = topic->id, name](StoreWriter &w) { return w.deleteTopic(id, name); });
        !r)
        return r;
    {
        std::unique_lock lock(d->m_topicsMutex);
        d->m_offlineCount.fetch_sub(static_cast<int>(topic->offline.size()));
        topic->offline.clear();
        d->m_topics.erase(name);
    }
    d->m_groups->topicDeleted(name);
    d->m_groups->topicsChanged();
    d->emitEvent("topic_deleted", name, "topic " + name + " deleted");
    return {};
}

Result<TopicInfo> Broker::describeTopic(const std::string &name) const
{
    auto topic = m_impl->findTopic(name);
    if (!topic) {
        if (auto r = validateTopicName(name); !r)
            return r.error();
        return makeError(Errc::UnknownTopic, "topic '" + name + "' does not exist");
    }
    std::shared_lock lock(m_impl->m_topicsMutex);
    return m_impl->infoOf(*topic);
}

std::vector<TopicInfo> Broker::listTopics() const
{
    std::shared_lock lock(m_impl->m_topicsMutex);
    std::vector<TopicInfo> out;
    for (const auto &[name, topic] : m_impl->m_topics)
        out.push_back(m_impl->infoOf(*topic));
    return out;
}

Result<TopicInfo> Broker::alterPartitions(const std::string &name, int32_t partitions)
{
    auto *d = m_impl.get();
    std::lock_guard admin(d->m_adminMutex);
    auto topic = d->findTopic(name);
    if (!topic)
        return makeError(Errc::UnknownTopic, "topic '" + name + "' does not exist");
    const auto current = static_cast<int32_t>(topic->partitions.size());
    if (partitions <= current || partitions > kMaxPartitions)
        return makeError(Errc::InvalidPartitions,
                         "topic '" + name + "' has " + std::to_string(current)
                             + " partitions; the new count must be larger and at most 1024");
    TopicSpec spec{name, partitions, topic->retention};
    if (auto r = d->m_store->submitAndWait(
            [id = topic->id, spec](StoreWriter &w) { return w.updateTopic(id, spec); });
        !r)
        return r.error();
    {
        std::unique_lock lock(d->m_topicsMutex);
        for (int32_t p = current; p < partitions; ++p)
            topic->partitions.push_back(d->makeLog(p, 0, 0, 0));
    }
    d->m_groups->topicsChanged();
    d->emitEvent("partitions_added", name,
                 "topic " + name + " now has " + std::to_string(partitions) + " partitions");
    std::shared_lock lock(d->m_topicsMutex);
    return d->infoOf(*topic);
}

Result<TopicInfo> Broker::alterRetention(const std::string &name, const RetentionPolicy &retention)
{
    auto *d = m_impl.get();
    std::lock_guard admin(d->m_adminMutex);
    auto topic = d->findTopic(name);
    if (!topic)
        return makeError(Errc::UnknownTopic, "topic '" + name + "' does not exist");
    TopicSpec spec{name, static_cast<int32_t>(topic->partitions.size()), retention};
    if (auto r = validateTopicSpec(spec); !r)
        return r.error();
    if (auto r = d->m_store->submitAndWait(
            [id = topic->id, spec](StoreWriter &w) { return w.updateTopic(id, spec); });
        !r)
        return r.error();
    std::unique_lock lock(d->m_topicsMutex);
    topic->retention = retention;
    return d->infoOf(*topic);
}

// ---- produce --------------------------------------------------------------------------------

void Broker::produce(ProduceRequest request, ProduceCallback done)
{
    m_impl->produce(std::move(request), std::move(done));
}

void BrokerImpl::produce(ProduceRequest req, ProduceCallback done)
{
    if (m_closed)
        return done(makeError(Errc::ShuttingDown, "the broker is closing"));
    if (auto r = validateRecords(req.records); !r)
        return done(r.error());
    const bool idempotent = req.producerId >= 0;
    if (req.producerId < -1 || (idempotent && req.producerId >= m_nextProducerId.load()))
        return done(makeError(Errc::InvalidProducerId,
                              "producer id " + std::to_string(req.producerId)
                                  + " was not issued by this broker (use initProducerId)"));
    if (idempotent && (!req.partition || req.baseSequence < 0))
        return done(makeError(Errc::InvalidRequest,
                              "idempotent produce needs an explicit partition and a sequence >= 0"));

    std::shared_ptr<Topic> topic;
    std::vector<std::shared_ptr<PartitionLog>> logs;
    std::set<int32_t> offline;
    {
        std::shared_lock lock(m_topicsMutex);
        auto it = m_topics.find(req.topic);
        if (it != m_topics.end()) {
            topic = it->second;
            logs = topic->partitions;
            offline = topic->offline;
        }
    }
    if (!topic) {
        if (auto r = validateTopicName(req.topic); !r)
            return done(r.error());
        return done(makeError(Errc::UnknownTopic, "topic '" + req.topic + "' does not exist"));
    }
    const auto count = static_cast<int32_t>(logs.size());
    if (req.partition && (*req.partition < 0 || *req.partition >= count))
        return done(makeError(Errc::UnknownPartition,
                              "topic '" + req.topic + "' has no partition "
                                  + std::to_string(*req.partition) + " (it has "
                                  + std::to_string(count) + ")"));

    // Split by partition, keeping each partition's records in request order.
    std::map<int32_t, std::vector<std::size_t>> byPartition;
    for (std::size_t i = 0; i < req.records.size(); ++i)
        byPartition[m_partitioner.choose(req.partition, req.records[i].key, count)].push_back(i);
    // Checked before anything is appended, so a request touching an offline partition leaves
    // no record behind in the others either.
    for (const auto &[partition, indexes] : byPartition)
        if (offline.count(partition))
            return done(offlineError(req.topic, partition));

    auto pending = std::make_shared<PendingProduce>();
    pending->done = std::move(done);
    pending->result.offsets.resize(req.records.size());
    const bool waitDurable = req.acks == Acks::Durable;
    const bool urgent = waitDurable && m_config.durability == Durability::Fast;
    // One more than the partitions so no completion fires before every append was attempted.
    pending->outstanding = waitDurable ? static_cast<int>(byPartition.size()) + 1 : 0;

    const auto finish = [](const std::shared_ptr<PendingProduce> &p, const Result<void> &r) {
        ProduceCallback cb;
        {
            std::lock_guard lock(p->mutex);
            if (!r && !p->error)
                p->error = r.error();
            if (--p->outstanding != 0)
                return;
            cb = std::move(p->done);
        }
        if (p->error)
            cb(*p->error);
        else
            cb(std::move(p->result));
    };

    // Backpressure: a producer faster than the disk waits here, outside every lock, instead of
    // growing the store queue and the memory tail without bound.
    m_store->waitForRoom(m_config.maxUnstoredBytes);
    const int64_t nowUs = wallClockUs();
    for (auto &[partition, indexes] : byPartition) {
        std::vector<Record> records;
        records.reserve(indexes.size());
        for (auto i : indexes)
            records.push_back(std::move(req.records[i]));
        auto log = logs[static_cast<std::size_t>(partition)];
        const int64_t topicId = topic->id;
        const int32_t p = partition;
        auto enqueue = [&, topicId, p, log](const BatchPtr &batch, uint64_t epoch) {
            StoreOp op;
            auto skipped = std::make_shared<bool>(false);
            op.apply = [topicId, p, batch, epoch, log, skipped](StoreWriter &w) -> Result<void> {
                // A batch of an epoch that a storage failure already truncated is never written.
                if (log->epoch() != epoch) {
                    *skipped = true;
                    return {};
                }
                return w.insertBatch(topicId, p, *batch);
            };
            op.done = [this, log, epoch, batch, end = batch->endOffset(), skipped, pending,
                       waitDurable, finish, topicName = req.topic, p](const Result<void> &r) {
                if (r && !*skipped) {
                    log->markPersisted(epoch, end);
                    if (m_config.durability == Durability::Durable)
                        emitVisible(topicName, p, batch);
                }
                else if (!r)
                    log->truncateToPersisted(epoch);
                if (waitDurable) {
                    if (*skipped)
                        finish(pending, makeError(Errc::StorageError,
                                                  "an earlier write to this partition failed; "
                                                  "the batch was not stored"));
                    else
                        finish(pending, r);
                }
            };
            op.urgent = urgent;
            op.bytes = batch->bytes;
            m_store->submit(std::move(op));
        };
        auto appended = log->append(std::move(records), nowUs, {req.producerId, req.baseSequence},
                                    enqueue);
        if (!appended) {
            if (waitDurable)
                finish(pending, appended.error());
            else
                return pending->done(appended.error());
            continue;
        }
        if (appended->batch && m_config.durability == Durability::Fast)
            emitVisible(req.topic, partition, appended->batch);
        {
            std::lock_guard lock(pending->mutex);
            pending->result.placements.push_back(
                {partition, appended->baseOffset, appended->count, appended->duplicate});
            for (std::size_t k = 0; k < indexes.size(); ++k)
                pending->result.offsets[indexes[k]] = {partition,
                                                       appended->baseOffset + static_cast<int64_t>(k)};
        }
        if (appended->duplicate && waitDurable) {
            // The original may still be in flight: acknowledge once everything queued before
            // this point has been committed.
            m_store->submit({{}, [pending, finish](const Result<void> &r) { finish(pending, r); },
                             urgent});
        }
    }
    if (waitDurable)
        finish(pending, {});
    else
        pending->done(std::move(pending->result));
}

Result<ProduceResult> Broker::produceSync(ProduceRequest request)
{
    return waitFor<ProduceResult>(
        [&](auto cb) { produce(std::move(request), std::move(cb)); });
}

Result<int64_t> Broker::initProducerId()
{
    auto *d = m_impl.get();
    const int64_t id = d->m_nextProducerId.fetch_add(1);
    if (auto r = d->m_store->submitAndWait(
            [next = id + 1](StoreWriter &w) { return w.setMeta("next_producer_id", next); });
        !r)
        return r.error();
    return id;
}

// ---- fetch ----------------------------------------------------------------------------------

void Broker::fetch(FetchRequest request, FetchCallback done)
{
    m_impl->fetch(std::move(request), std::move(done));
}

void BrokerImpl::fetch(FetchRequest req, FetchCallback done)
{
    if (m_closed)
        return done(makeError(Errc::ShuttingDown, "the broker is closing"));
    if (req.maxRecords == 0)
        return done(makeError(Errc::InvalidRequest, "max_records must be at least 1"));
    if (req.waitMs < 0)
        return done(makeError(Errc::InvalidRequest, "wait_ms must be >= 0"));
    auto found = findPartition(req.topic, req.partition);
    if (!found)
        return done(found.error());
    auto [topic, log] = *found;
    if (isOffline(*topic, req.partition))
        return done(offlineError(req.topic, req.partition));
    auto first = readNow(*topic, *log, req);
    if (!first || !first->records.empty() || req.waitMs == 0)
        return done(std::move(first));

    // Nothing yet: park until the high watermark passes the offset or the wait ends.
    auto timer = std::make_shared<std::atomic<Scheduler::TaskId>>(0);
    auto self = this;
    auto waiter = std::make_shared<Waiter>(
        [self, topic, log, req, done, timer](bool timedOut) mutable {
            if (!timedOut) {
                if (auto id = timer->load())
                    self->m_scheduler->cancel(id);
            }
            if (self->m_closed)
                return done(makeError(Errc::ShuttingDown, "the broker is closing"));
            // Taken offline while parked: answer as a fetch arriving now would be.
            if (self->isOffline(*topic, req.partition))
                return done(offlineError(req.topic, req.partition));
            done(self->readNow(*topic, *log, req));
        });
    park(waiter, timer, req.waitMs, {{log, req.offset}});
}

void BrokerImpl::park(const WaiterPtr &waiter,
                      std::shared_ptr<std::atomic<Scheduler::TaskId>> timer, int32_t waitMs,
                      const std::vector<std::pair<std::shared_ptr<PartitionLog>, int64_t>> &logs)
{
    bool closing = false;
    {
        std::lock_guard lock(m_parkedMutex);
        // close() sets m_closed before it takes this lock to collect the parked waiters, so a
        // waiter arriving after that would wait on a stopped scheduler forever: complete it now
        // (its action reports ShuttingDown).
        if (m_closed) {
            closing = true;
        } else {
            if (m_parked.size() >= 256)
                std::erase_if(m_parked, [](const auto &w) { return w.expired(); });
            m_parked.insert(waiter);
        }
    }
    if (closing)
        return waiter->fire(true);
    // The deadline task holds the waiter strongly: when it waits on no partition (a poll whose
    // partitions are all still pending hand-over) nothing else keeps it alive, and a waiter
    // destroyed unfired never answers. Firing on data cancels the task, which drops it.
    timer->store(m_scheduler->after(std::chrono::milliseconds(waitMs),
                                    [waiter] { waiter->fire(true); }));
    for (const auto &[log, offset] : logs)
        log->addWaiter(offset, waiter);
}

Result<FetchResult> Broker::fetchSync(FetchRequest request)
{
    return waitFor<FetchResult>([&](auto cb) { fetch(std::move(request), std::move(cb)); });
}

Result<std::optional<int64_t>> BrokerImpl::findTimestamp(const Topic &topic, PartitionLog &log,
                                                         int64_t timestampMs)
{
    const int64_t start = log.logStartOffset();
    const int64_t persisted = std::min(log.persistedEnd(), log.highWatermark());
    auto stored = m_store->offsetForTimestamp(topic.id, log.partition(), start, persisted, timestampMs);
    if (!stored || stored->has_value())
        return stored;
    // The unflushed tail lives only in memory (fast mode).
    int64_t offset = std::max(start, persisted);
    while (true) {
        auto read = log.read(offset, 1000, 16 << 20);
        if (!read)
            return read.error();
        if (read->records.empty())
            return std::optional<int64_t>();
        for (const auto &r : read->records)
            if (r.timestamp >= timestampMs)
                return std::optional<int64_t>(r.offset);
        offset = read->records.back().offset + 1;
    }
}

Result<int64_t> Broker::offsetForTimestamp(const std::string &topic, int32_t partition,
                                           int64_t timestampMs)
{
    auto found = m_impl->findPartition(topic, partition);
    if (!found)
        return found.error();
    auto r = m_impl->findTimestamp(*found->first, *found->second, timestampMs);
    if (!r)
        return r.error();
    return r->value_or(found->second->highWatermark());
}

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
    PollResult out;
    std::vector<std::pair<std::shared_ptr<PartitionLog>, int64_t>> parkOn;
    std::size_t bytes = 0;
    std::size_t offlineCount = 0;
    // Rotate the starting partition so one busy partition cannot starve the others.
    const std::size_t n = positions.size();
    const std::size_t first = n ? m_pollRotation.fetch_add(1, std::memory_order_relaxed) % n : 0;
    for (std::size_t k = 0; k < n; ++k) {
        const auto &pos = positions[(first + k) % n];
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
                               ? std::min(req.waitMs, std::max(1, out.assignment.heartbeatIntervalMs))
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

// ---- metrics and retention ------------------------------------------------------------------

MetricsSnapshotPtr Broker::metrics() const
{
    std::lock_guard lock(m_impl->m_snapshotMutex);
    return m_impl->m_snapshot;
}

void BrokerImpl::metricsTick()
{
    const int64_t nowMs = wallClockMs();
    m_groups->expireSessions(nowMs);

    auto snap = std::make_shared<MetricsSnapshot>();
    snap->timestampMs = nowMs;
    std::vector<std::shared_ptr<Topic>> topics;
    {
        std::shared_lock lock(m_topicsMutex);
        for (const auto &[name, t] : m_topics)
            topics.push_back(t);
    }
    uint64_t bri = 0, brb = 0, bro = 0, brob = 0;
    std::vector<HistoryRow> rows;
    const auto row = [&](const std::string &entity, const Rates &r, int64_t lag,
                         const LatencySummary &l) {
        rows.push_back({nowMs - nowMs % 1000, entity, r.recordsInPerSec, r.bytesInPerSec,
                        r.recordsOutPerSec, r.bytesOutPerSec, lag, l.p50Us, l.p99Us});
    };
    for (const auto &t : topics) {
        TopicMetrics tm;
        tm.name = t->name;
        uint64_t ti = 0, tb = 0, to = 0, tob = 0;
        std::vector<std::shared_ptr<PartitionLog>> parts;
        {
            std::shared_lock lock(m_topicsMutex);
            parts = t->partitions;
        }
        for (const auto &log : parts) {
            PartitionMetrics pm;
            pm.partition = log->partition();
            pm.logStartOffset = log->logStartOffset();
            pm.highWatermark = log->highWatermark();
            pm.sizeBytes = log->sizeBytes();
            const auto &c = log->counters();
            const uint64_t ri = c.recordsIn.load(), bi = c.bytesIn.load(), ro = c.recordsOut.load(),
                           bo = c.bytesOut.load();
            pm.rates = m_collector.rates("topic/" + t->name + "/" + std::to_string(pm.partition),
                                         ri, bi, ro, bo, nowMs);
            ti += ri, tb += bi, to += ro, tob += bo;
            tm.sizeBytes += pm.sizeBytes;
            tm.records += pm.highWatermark - pm.logStartOffset;
            tm.partitions.push_back(pm);
        }
        tm.rates = m_collector.rates("topic/" + t->name, ti, tb, to, tob, nowMs);
        tm.latency = m_collector.latency("topic/" + t->name);
        bri += ti, brb += tb, bro += to, brob += tob;
        snap->topics.push_back(std::move(tm));
    }
    snap->broker = m_collector.rates("broker", bri, brb, bro, brob, nowMs);
    snap->latency = m_collector.latency("broker");
    for (const auto &listing : m_groups->list()) {
        GroupMetrics gm;
        gm.name = listing.group;
        gm.state = listing.state;
        gm.generation = listing.generation;
        gm.members = listing.members;
        if (auto offsets = m_groups->committed(listing.group, {})) {
            for (const auto &o : *offsets) {
                gm.partitions.push_back({o.topic, o.partition, o.offset, o.highWatermark, o.lag});
                gm.totalLag += o.lag;
            }
        }
        const auto [recs, bytes] = m_collector.groupTotals(listing.group);
        gm.rates = m_collector.rates("group/" + listing.group, 0, 0, recs, bytes, nowMs);
        gm.latency = m_collector.latency("group/" + listing.group);
        snap->groups.push_back(std::move(gm));
    }
    m_collector.advance();

    {
        std::lock_guard lock(m_snapshotMutex);
        snap->sequence = m_snapshot ? m_snapshot->sequence + 1 : 1;
        m_snapshot = snap;
    }

    // Persist history once per second, and downsample once per minute.
    const int ticksPerSecond = std::max(1, 1000 / std::max(1, m_config.metricsIntervalMs));
    if (m_scheduler && ++m_tick % static_cast<uint64_t>(ticksPerSecond) == 0) {
        row("broker", snap->broker, 0, snap->latency);
        for (const auto &tm : snap->topics) {
            row("topic/" + tm.name, tm.rates, 0, tm.latency);
            for (const auto &pm : tm.partitions)
                row("topic/" + tm.name + "/" + std::to_string(pm.partition), pm.rates, 0, {});
        }
        for (const auto &gm : snap->groups)
            row("group/" + gm.name, gm.rates, gm.totalLag, gm.latency);
        m_store->submit({[rows = std::move(rows)](StoreWriter &w) { return w.insertHistory(1, rows); },
                         {}, false});
        const int64_t minute = nowMs - nowMs % 60000;
        if (m_lastDownsampleMs == 0)
            m_lastDownsampleMs = minute;
        if (minute > m_lastDownsampleMs) {
            m_store->submit({[from = m_lastDownsampleMs, minute, fine = m_config.historyFineKeepMs,
                              coarse = m_config.historyCoarseKeepMs](StoreWriter &w) {
                                 return w.downsampleHistory(from, minute, fine, coarse);
                             },
                             {}, false});
            m_lastDownsampleMs = minute;
        }
    }
}

Result<std::vector<HistoryPoint>> Broker::metricsHistory(const std::string &entity, int64_t fromMs,
                                                         int64_t toMs) const
{
    auto *d = m_impl.get();
    if (fromMs > toMs)
        return makeError(Errc::InvalidRequest, "history range ends before it starts");
    const bool fine = wallClockMs() - fromMs <= d->m_config.historyFineKeepMs;
    auto rows = d->m_store->history(fine ? 1 : 60, entity, fromMs, toMs);
    if (!rows)
        return rows.error();
    std::vector<HistoryPoint> out;
    out.reserve(rows->size());
    for (const auto &r : *rows)
        out.push_back({r.tsMs, r.recordsInPerSec, r.bytesInPerSec, r.recordsOutPerSec,
                       r.bytesOutPerSec, r.lag, r.p50Us, r.p99Us});
    return out;
}

void Broker::runRetention()
{
    // A pass only looks at persisted batches; commit what is queued first so that "now" covers
    // everything appended before the call (in fast mode the newest batches may still be queued).
    // The periodic pass does not wait like this: it must not stall the scheduler thread.
    if (!m_impl->m_closed)
        m_impl->m_store->flush();
    m_impl->retentionPass();
}

void Broker::setRecordListener(RecordListener listener)
{
    std::lock_guard lock(m_impl->m_listenerMutex);
    m_impl->m_recordListener = std::move(listener);
}

void Broker::setEventListener(EventListener listener)
{
    std::lock_guard lock(m_impl->m_listenerMutex);
    m_impl->m_eventListener = std::move(listener);
}

std::vector<BrokerEvent> Broker::recentEvents() const
{
    std::lock_guard lock(m_impl->m_listenerMutex);
    return {m_impl->m_events.begin(), m_impl->m_events.end()};
}

void Broker::publishEvent(std::string kind, std::string subject, std::string detail)
{
    m_impl->emitEvent(std::move(kind), std::move(subject), std::move(detail));
}

// ---- fault injection ------------------------------------------------------------------------

Result<void> Broker::setPartitionOffline(const std::string &topic, int32_t partition,
                                         bool offline)
{
    auto *d = m_impl.get();
    auto found = d->findPartition(topic, partition);
    if (!found)
        return found.error();
    auto &t = *found->first;
    {
        std::unique_lock lock(d->m_topicsMutex);
        // Deleted (or replaced) since the lookup: its count must not leak into m_offlineCount.
        auto it = d->m_topics.find(topic);
        if (it == d->m_topics.end() || it->second.get() != &t)
            return makeError(Errc::UnknownTopic, "topic '" + topic + "' does not exist");
        const bool was = t.offline.count(partition) != 0;
        if (offline && !was) {
            t.offline.insert(partition);
            d->m_offlineCount.fetch_add(1);
        } else if (!offline && was) {
            t.offline.erase(partition);
            d->m_offlineCount.fetch_sub(1);
        }
    }
    return {};
}

void Broker::setDiskFault(int commitDelayMs, bool full)
{
    m_impl->m_store->setCommitDelay(commitDelayMs);
    m_impl->m_store->setFull(full);
}

void BrokerImpl::retentionPass()
{
    if (m_closed)
        return;
    std::vector<std::shared_ptr<Topic>> topics;
    {
        std::shared_lock lock(m_topicsMutex);
        for (const auto &[name, t] : m_topics)
            topics.push_back(t);
    }
    const int64_t nowUs = wallClockUs();
    for (const auto &t : topics) {
        RetentionPolicy policy;
        std::vector<std::shared_ptr<PartitionLog>> parts;
        {
            std::shared_lock lock(m_topicsMutex);
            policy = t->retention;
            parts = t->partitions;
        }
        if (policy == RetentionPolicy{})
            continue;
        for (const auto &log : parts) {
            const int64_t start = log->logStartOffset();
            // Sizes and append times come from the stored batches, and only stored bytes are
            // subtracted from the partition size: never cut past the persisted end (in fast mode
            // the newest batches may not have reached the store yet), or the bytes of unstored
            // batches below the new start would be counted in sizeBytes forever.
            const int64_t hw = std::min(log->highWatermark(), log->persistedEnd());
            int64_t newStart = start;
            if (policy.maxRecords > 0 && hw - start > policy.maxRecords)
                newStart = hw - policy.maxRecords;
            // Age and size drop whole stored batches, oldest first.
            int64_t remaining = log->sizeBytes();
            int64_t freed = 0;
            auto batches = m_store->oldestBatches(t->id, log->partition(), start, 4096);
            if (!batches)
                continue;
            for (const auto &b : *batches) {
                const bool old = policy.maxAgeMs > 0 && b.appendTimeUs < nowUs - policy.maxAgeMs * 1000;
                const bool over = policy.maxBytes > 0 && remaining > policy.maxBytes;
                if (!old && !over && b.endOffset > newStart)
                    break;
                if (old || over)
                    newStart = std::max(newStart, b.endOffset);
                if (b.endOffset <= newStart) {
                    remaining -= b.bytes;
                    freed += b.bytes;
                }
            }
            if (newStart <= start)
                continue;
            newStart = log->advanceLogStart(newStart);
            log->subtractStoredBytes(freed);
            m_store->submit({[id = t->id, p = log->partition(), newStart](StoreWriter &w)
                                 -> Result<void> {
                                 if (auto r = w.setLogStart(id, p, newStart); !r)
                                     return r;
                                 return w.deleteBatchesBelow(id, p, newStart);
                             },
                             {}, false});
        }
    }
    m_store->submit({[](StoreWriter &w) -> Result<void> {
                         auto r = w.purgeOrphanBatches(5000);
                         if (!r)
                             return r.error();
                         return {};
                     },
                     {}, false});
}

} // namespace eddy
