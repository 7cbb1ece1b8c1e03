// Produce on the broker facade. A request is validated, its records split by partition (in
// partition order, each partition's records in request order) and appended to each partition's
// log, after waiting outside every lock for room in the store queue (backpressure). Each appended
// batch becomes one store op (BatchWrite) that writes it and then marks it persisted, or
// truncates the log to what is persisted when the write failed. Acks none or leader are answered
// once every append was made; acks durable once every partition's commit completed
// (PendingProduce, finishPending). Also the producer ids of idempotent produce. Internals:
// broker_impl.h.
#include "broker.h"
#include "broker_impl.h"

#include "batch_codec.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy {

// ---- produce --------------------------------------------------------------------------------

void Broker::produce(ProduceRequest request, ProduceCallback done)
{
    m_impl->produce(std::move(request), std::move(done));
}

void BrokerImpl::produce(ProduceRequest req, ProduceCallback done)
{
    if (m_closed)
        return done(makeError(Errc::ShuttingDown, "the broker is closing"));
    // Records that arrived as one encoded batch are appended as they are, unless only some of
    // them asked for the append time: those are decoded and take the way of records.
    std::optional<RecordBatch> encoded;
    if (!req.encoded.empty()) {
        if (!req.partition)
            return done(makeError(Errc::InvalidRequest,
                                  "a produce of an encoded batch needs an explicit partition"));
        bool mixed = false;
        auto checked = checkEncodedRecords(std::move(req.encoded), mixed);
        req.encoded.clear();
        if (!checked)
            return done(checked.error());
        if (mixed)
            (void)decodeBatchRecords(checked->encoded, 0, req.records); // checked: cannot fail
        else
            encoded = std::move(*checked);
    }
    if (!encoded)
        if (auto r = validateRecords(req.records); !r)
            return done(r.error());
    const std::size_t recordCount = encoded ? static_cast<std::size_t>(encoded->count)
                                            : req.records.size();
    const bool idempotent = req.producerId >= 0;
    if (req.producerId < -1 || (idempotent && req.producerId >= m_nextProducerId.load()))
        return done(makeError(Errc::InvalidProducerId,
                              "producer id " + std::to_string(req.producerId)
                                  + " was not issued by this broker (use initProducerId)"));
    if (idempotent && (!req.partition || req.baseSequence < 0))
        return done(
            makeError(Errc::InvalidRequest,
                      "idempotent produce needs an explicit partition and a sequence >= 0"));

    // Only the logs this request appends to are taken from the topic, under its lock: copying
    // the whole partition list per produce cost O(partitions) atomic reference counts, which
    // showed at 10 % of the profile of unbatched produce to 1,000-partition topics.
    std::shared_ptr<Topic> topic;
    int32_t count = 0;
    // The request's records split by partition, in partition order, each partition's records in
    // request order. Most requests go to one partition (an explicit one, or a single record):
    // that is one group holding every record, with no index list and no map.
    struct Group {
        int32_t partition = 0;
        std::vector<std::size_t> indexes; // empty: every record of the request, in order
        std::shared_ptr<PartitionLog> log;
    };
    std::vector<Group> groups;
    std::optional<int32_t> offlinePartition;
    {
        std::shared_lock lock(m_topicsMutex);
        auto it = m_topics.find(req.topic);
        if (it != m_topics.end()) {
            topic = it->second;
            count = static_cast<int32_t>(topic->partitions.size());
            if (!req.partition || (*req.partition >= 0 && *req.partition < count)) {
                if (encoded) {
                    groups.push_back({*req.partition, {}, nullptr});
                } else if (req.partition || req.records.size() == 1) {
                    groups.push_back({m_partitioner.choose(req.partition, req.records[0].key,
                                                           count),
                                      {}, nullptr});
                } else {
                    std::map<int32_t, std::vector<std::size_t>> byPartition;
                    for (std::size_t i = 0; i < req.records.size(); ++i)
                        byPartition[m_partitioner.choose(req.partition, req.records[i].key,
                                                         count)]
                            .push_back(i);
                    groups.reserve(byPartition.size());
                    for (auto &[partition, indexes] : byPartition)
                        groups.push_back({partition, std::move(indexes), nullptr});
                }
                for (auto &g : groups) {
                    // Checked before anything is appended, so a request touching an offline
                    // partition leaves no record behind in the others either.
                    if (topic->offline.count(g.partition)) {
                        offlinePartition = g.partition;
                        break;
                    }
                    g.log = topic->partitions[static_cast<std::size_t>(g.partition)];
                }
            }
        }
    }
    if (!topic) {
        if (auto r = validateTopicName(req.topic); !r)
            return done(r.error());
        return done(makeError(Errc::UnknownTopic, "topic '" + req.topic + "' does not exist"));
    }
    if (req.partition && (*req.partition < 0 || *req.partition >= count))
        return done(makeError(Errc::UnknownPartition,
                              "topic '" + req.topic + "' has no partition "
                                  + std::to_string(*req.partition) + " (it has "
                                  + std::to_string(count) + ")"));
    if (offlinePartition)
        return done(offlineError(req.topic, *offlinePartition));

    const bool waitDurable = req.acks == Acks::Durable;
    const bool urgent = waitDurable && m_config.durability == Durability::Fast;
    const bool durableStore = m_config.durability == Durability::Durable;
    // Acks none or leader: answered from here once every append was made, so the result is
    // built on the stack. Acks durable: the partitions' commits complete it from the writer
    // thread, so it is shared, with one outstanding completion more than the partitions so
    // none fires before every append was attempted.
    ProduceResult local;
    std::shared_ptr<PendingProduce> pending;
    if (waitDurable) {
        pending = std::make_shared<PendingProduce>();
        pending->done = std::move(done);
        pending->result.offsets.resize(recordCount);
        pending->outstanding = static_cast<int>(groups.size()) + 1;
    } else {
        local.offsets.resize(recordCount);
    }

    // Backpressure: a producer faster than the disk waits here, outside every lock, instead of
    // growing the store queue and the memory tail without bound.
    m_store->waitForRoom(m_config.maxUnstoredBytes);
    const int64_t nowUs = wallClockUs();
    for (auto &g : groups) {
        std::vector<Record> records;
        if (g.indexes.empty()) {
            records = std::move(req.records);
        } else {
            records.reserve(g.indexes.size());
            for (auto i : g.indexes)
                records.push_back(std::move(req.records[i]));
        }
        const int32_t p = g.partition;
        // The enqueue callback captures one pointer, so its std::function needs no allocation.
        const struct {
            BrokerImpl *broker;
            const Group &group;
            const std::shared_ptr<PendingProduce> &pending;
            int64_t topicId;
            const std::string *topicName; // durable mode only
            bool urgent;
        } ctx{this, g, pending, topic->id, durableStore ? &req.topic : nullptr, urgent};
        auto enqueue = [c = &ctx](const BatchPtr &batch, uint64_t epoch) {
            // One allocation for what the store op needs: apply and done reach it through a
            // plain pointer (stored inside each std::function, no allocation of their own),
            // kept alive by the op's owner.
            auto write = std::make_shared<BatchWrite>();
            write->broker = c->broker;
            write->topicId = c->topicId;
            write->partition = c->group.partition;
            write->epoch = epoch;
            write->batch = batch;
            write->log = c->group.log;
            write->pending = c->pending;
            if (c->topicName)
                write->topicName = *c->topicName; // for the records-visible notification
            StoreOp op;
            op.apply = [w = write.get()](StoreWriter &writer) { return w->apply(writer); };
            op.done = [w = write.get()](const Result<void> &r) { w->done(r); };
            op.owner = std::move(write);
            op.urgent = c->urgent;
            op.bytes = batch->bytes;
            c->broker->m_store->submit(std::move(op));
        };
        const ProducerStamp stamp{req.producerId, req.baseSequence};
        auto appended = encoded
                            ? g.log->appendEncoded(std::move(*encoded), nowUs, stamp, enqueue)
                            : g.log->append(std::move(records), nowUs, stamp, enqueue);
        if (!appended) {
            if (!waitDurable)
                return done(appended.error());
            finishPending(pending, appended.error());
            continue;
        }
        if (appended->batch && !durableStore)
            emitVisible(req.topic, p, appended->batch);
        const auto place = [&](ProduceResult &result) {
            result.placements.push_back({p, appended->baseOffset, appended->count,
                                         appended->duplicate});
            const std::size_t n = g.indexes.empty() ? result.offsets.size() : g.indexes.size();
            for (std::size_t k = 0; k < n; ++k)
                result.offsets[g.indexes.empty() ? k : g.indexes[k]]
                    = {p, appended->baseOffset + static_cast<int64_t>(k)};
        };
        if (!waitDurable) {
            place(local);
            continue;
        }
        {
            std::lock_guard lock(pending->mutex);
            place(pending->result);
        }
        if (appended->duplicate) {
            // The original may still be in flight: acknowledge once everything queued before
            // this point has been committed.
            m_store->submit(
                {{}, [pending](const Result<void> &r) { finishPending(pending, r); }, urgent});
        }
    }
    if (waitDurable)
        finishPending(pending, {});
    else
        done(std::move(local));
}

Result<RecordBatch> BrokerImpl::checkEncodedRecords(std::string encoded, bool &mixed) const
{
    BatchCursor cursor(encoded, 0);
    if (auto r = checkBatch(static_cast<std::size_t>(cursor.count()), 0);
        !r && r.code() != Errc::EmptyBatch)
        return r.error();
    RecordBatch batch;
    std::size_t zeros = 0;
    RecordView view;
    std::size_t i = 0;
    for (; cursor.next(view); ++i) {
        if (auto r = checkRecord(i, view.key ? view.key->size() : 0,
                                 static_cast<std::size_t>(view.headerCount), view.timestamp,
                                 view.payloadBytes);
            !r)
            return r.error();
        batch.bytes += view.payloadBytes;
        batch.maxTimestamp = std::max(batch.maxTimestamp, view.timestamp);
        zeros += view.timestamp == 0 ? 1 : 0;
    }
    if (cursor.failure())
        return makeError(Errc::MalformedRequest,
                         std::string("produced batch, record ") + std::to_string(i) + ": "
                             + cursor.failure());
    if (auto r = checkBatch(i, batch.bytes); !r)
        return r.error();
    batch.count = static_cast<int32_t>(i);
    mixed = zeros > 0 && zeros < i;
    batch.encoded = std::move(encoded);
    return batch;
}

Result<void> BatchWrite::apply(StoreWriter &writer)
{
    // A batch of an epoch that a storage failure already truncated is never written.
    if (log->epoch() != epoch) {
        skipped = true;
        return {};
    }
    return writer.insertBatch(topicId, partition, *batch);
}

void BatchWrite::done(const Result<void> &r)
{
    if (r && !skipped) {
        log->markPersisted(epoch, batch->endOffset());
        if (!topicName.empty())
            broker->emitVisible(topicName, partition, batch);
    } else if (!r) {
        log->truncateToPersisted(epoch);
    }
    if (!pending)
        return;
    if (skipped)
        finishPending(pending, makeError(Errc::StorageError,
                                         "an earlier write to this partition failed; the batch "
                                         "was not stored"));
    else
        finishPending(pending, r);
}

void finishPending(const std::shared_ptr<PendingProduce> &p, const Result<void> &r)
{
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

} // namespace eddy
