// The broker facade: wires partition logs, the SQLite store, the group coordinator, the
// scheduler and the metrics collector together, and owns the rules that span them (validation
// limits, partitioning, acknowledgement, long-poll parking, retention, snapshots).
//
// This file holds open/close, topics, fetch, the listeners and fault injection; produce is in
// broker_produce.cpp, groups and polling in broker_groups.cpp, metrics and retention in
// broker_metrics.cpp. The internals they share (BrokerImpl, Topic) and the locking rules are in
// broker_impl.h.
#include "broker.h"
#include "broker_impl.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <filesystem>
#include <map>
#include <set>
#include <shared_mutex>

namespace eddy {

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
        return makeError(Errc::StorageError,
                         "cannot open " + lockPath + ": " + std::strerror(errno));
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
    d->m_groups = std::make_unique<GroupCoordinator>(std::move(hooks),
                                                     d->m_config.minSessionTimeoutMs,
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
    if (auto r = d->m_store->submitAndWait(
            [id = topic->id, spec, created = topic->createdMs](StoreWriter &w) {
                return w.insertTopic(id, spec, created);
            });
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
                     + (spec.partitions == 1 ? " partition" : " partitions"));
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
    // Init-captures: clang before 16 cannot capture structured bindings by name.
    auto waiter = std::make_shared<Waiter>(
        [self, topic = topic, log = log, req, done, timer](bool timedOut) mutable {
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
    auto stored = m_store->offsetForTimestamp(topic.id, log.partition(), start, persisted,
                                              timestampMs);
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

// ---- listeners ------------------------------------------------------------------------------

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

void Broker::setIoErrorFault(bool failing)
{
    m_impl->m_store->setIoError(failing, failing);
}

void Broker::setIoErrorFault(bool failWrites, bool failSyncs)
{
    m_impl->m_store->setIoError(failWrites, failSyncs);
}

} // namespace eddy
