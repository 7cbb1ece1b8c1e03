// The batching producer. send() only partitions, encodes the record into its partition's open
// batch and queues it; one sender thread sends batches (when full, lingered, flushed or closing),
// handing them to the connection asynchronously; replies arrive on NNG threads, which complete
// the records or schedule a retry for the sender. A partition has at most one batch outstanding,
// which keeps records in order and makes its sequence bookkeeping trivial: the next batch's
// sequence is assigned only once the previous one is settled.
#include "producer.h"

#include "binary_codec.h"
#include "json_codec.h"
#include "partitioner.h"

#include <algorithm>

namespace eddy::client {

namespace {

// A partition whose producer id must be replaced before its next batch: its last batch failed
// after ambiguous errors, so the broker may or may not have its sequence.
constexpr int64_t kNeedsProducerId = -2;

} // namespace

Result<std::unique_ptr<Producer>> Producer::open(const ProducerOptions &options)
{
    auto connection = Connection::open(options);
    if (!connection)
        return connection.error();
    std::unique_ptr<Producer> p(new Producer(options, std::move(*connection), -1));
    if (p->m_options.idempotent && p->m_options.acks != Acks::None) {
        auto id = p->initProducerId();
        if (!id)
            return id.error();
        p->m_producerId = *id;
    }
    p->m_sender = std::thread([raw = p.get()] { raw->senderLoop(); });
    return p;
}

Producer::Producer(ProducerOptions options, std::shared_ptr<Connection> connection,
                   int64_t producerId)
    : m_options(std::move(options))
    , m_connection(std::move(connection))
    , m_producerId(producerId)
    , m_dropReplies(m_options.testDropReplies)
{
}

Producer::~Producer()
{
    close();
}

Result<int64_t> Producer::initProducerId()
{
    Json req{{"op", "init_producer"}};
    if (!m_options.clientId.empty())
        req["client_id"] = m_options.clientId; // the broker labels this connection with it
    auto r = m_connection->call(req, m_options.requestTimeoutMs);
    if (!r)
        return r.error();
    auto id = r->find("producer_id");
    if (id == r->end() || !id->is_number_integer())
        return makeError(Errc::MalformedRequest, "init_producer reply has no producer_id");
    return id->get<int64_t>();
}

Result<int32_t> Producer::choosePartition(const std::string &topic, const Record &record)
{
    std::unique_lock lock(m_metaMutex);
    auto it = m_meta.find(topic);
    const auto now = Clock::now();
    if (it == m_meta.end()
        || now - it->second.readAt > std::chrono::milliseconds(m_options.metadataMaxAgeMs)) {
        // Not holding the lock across the network: concurrent first sends may both ask.
        lock.unlock();
        auto r = m_connection->call({{"op", "describe_topic"}, {"topic", topic}},
                                    m_options.requestTimeoutMs);
        if (!r)
            return r.error();
        int32_t partitions = 0;
        try {
            partitions = net::integerAt<int32_t>(r->at("topic"), "partitions");
        } catch (const Json::exception &) {
            return makeError(Errc::MalformedRequest, "describe_topic reply has no partition count");
        }
        if (partitions < 1)
            return makeError(Errc::MalformedRequest, "topic '" + topic + "' has no partitions");
        lock.lock();
        auto &meta = m_meta[topic];
        meta.partitions = partitions;
        meta.readAt = now;
        it = m_meta.find(topic);
    }
    auto &meta = it->second;
    if (record.key)
        return keyPartition(*record.key, meta.partitions);
    return static_cast<int32_t>(meta.nextRoundRobin++ % static_cast<uint32_t>(meta.partitions));
}

std::future<Result<DeliveryReport>> Producer::send(const std::string &topic, Record record,
                                                   std::optional<int32_t> partition)
{
    auto promise = std::make_shared<std::promise<Result<DeliveryReport>>>();
    auto future = promise->get_future();
    send(topic, std::move(record), partition,
         [promise](const Result<DeliveryReport> &r) { promise->set_value(r); });
    return future;
}

void Producer::send(const std::string &topic, Record record, std::optional<int32_t> partition,
                    DeliveryCallback done)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_closing)
            return done(makeError(Errc::ShuttingDown, "the producer is closed"));
    }
    if (!partition) {
        auto chosen = choosePartition(topic, record);
        if (!chosen)
            return done(chosen.error());
        partition = *chosen;
    }
    const std::size_t bytes = recordPayloadBytes(record);
    std::unique_lock lock(m_mutex);
    if (m_closing) {
        lock.unlock(); // the callback may call back into the producer
        return done(makeError(Errc::ShuttingDown, "the producer is closed"));
    }
    auto it = m_partitions.find(PartitionOrder::Ref{topic, *partition});
    if (it == m_partitions.end())
        it = m_partitions.emplace(TopicPartition{topic, *partition}, PartitionState{}).first;
    auto &state = it->second;
    const bool wasEmpty = state.queue.empty();
    if (wasEmpty || !fits(state.queue.back(), bytes)) {
        // Sized like the partition's last batch: a batch grows to the same size again, without
        // reallocating (and copying) its encoded records as it grows.
        state.queue.emplace_back();
        state.queue.back().firstAt = Clock::now();
        state.queue.back().records.reserve(state.lastBatchBytes);
        state.queue.back().done.reserve(state.lastBatchRecords);
    }
    auto &open = state.queue.back();
    open.records.add(record);
    open.done.push_back(std::move(done));
    ++m_outstanding;
    // The sender sleeps until the earliest linger deadline; it needs waking only for a new
    // deadline or a batch that is full now, and not while the partition's batch is in flight:
    // its completion sends or schedules what queued meanwhile.
    if (!state.busy && (wasEmpty || sendAt(state) == Clock::time_point::min()))
        m_wake.notify_one();
}

bool Producer::fits(const Open &open, std::size_t bytes) const
{
    if (open.records.count() == 0)
        return true; // a record larger than batchBytes goes alone (the broker judges its size)
    return open.records.count() < m_options.batchRecords
           && open.records.payloadBytes() + bytes <= m_options.batchBytes;
}

std::shared_ptr<Producer::Batch> Producer::takeBatch(const TopicPartition &tp,
                                                     PartitionState &state)
{
    auto batch = std::make_shared<Batch>();
    batch->tp = tp;
    Open open = std::move(state.queue.front());
    state.queue.pop_front();
    // What stays queued has lingered at least as long: it goes out next, when due.
    if (!state.queue.empty())
        state.queue.front().firstAt = std::min(state.queue.front().firstAt, open.firstAt);
    ProduceRequest req;
    req.topic = tp.topic;
    req.partition = tp.partition;
    req.acks = m_options.acks;
    const auto count = static_cast<int32_t>(open.records.count());
    req.encoded = open.records.take();
    state.lastBatchBytes = req.encoded.size();
    state.lastBatchRecords = static_cast<std::size_t>(count);
    batch->done = std::move(open.done);
    if (m_producerId >= 0) {
        if (state.producerId == -1)
            state.producerId = m_producerId;
        batch->producerId = state.producerId;
        batch->baseSequence = state.nextSequence;
        state.nextSequence += count;
        req.producerId = batch->producerId;
        req.baseSequence = batch->baseSequence;
    }
    state.busy = true;
    batch->request = std::move(req); // encoded by dispatch(), off the lock
    return batch;
}

Producer::Clock::time_point Producer::sendAt(const PartitionState &state) const
{
    const bool urgent = m_closing || m_flushWaiters > 0;
    const Open &front = state.queue.front();
    const bool full = state.queue.size() > 1 || front.records.count() >= m_options.batchRecords
                      || front.records.payloadBytes() >= m_options.batchBytes;
    if (urgent || full)
        return Clock::time_point::min();
    return front.firstAt + std::chrono::milliseconds(m_options.lingerMs);
}

void Producer::senderLoop()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        const auto now = Clock::now();
        auto next = now + std::chrono::hours(1);
        std::vector<std::shared_ptr<Batch>> ready;
        for (auto &[tp, state] : m_partitions) {
            if (state.busy) {
                if (state.retry && state.retryAt <= now)
                    ready.push_back(std::move(state.retry));
                else if (state.retry)
                    next = std::min(next, state.retryAt);
                continue;
            }
            if (state.queue.empty())
                continue;
            const auto at = sendAt(state);
            if (at <= now)
                ready.push_back(takeBatch(tp, state));
            else
                next = std::min(next, at);
        }
        if (ready.empty()) {
            if (m_closing && m_outstanding == 0)
                return;
            m_wake.wait_until(lock, next);
            continue;
        }
        lock.unlock();
        for (const auto &b : ready)
            dispatch(b);
        lock.lock();
    }
}

void Producer::dispatch(const std::shared_ptr<Batch> &batch)
{
    if (batch->producerId == kNeedsProducerId) {
        auto id = initProducerId();
        if (!id) {
            for (auto &done : batch->done)
                done(id.error());
            return complete(batch);
        }
        {
            std::lock_guard lock(m_mutex);
            m_partitions[batch->tp].producerId = *id;
        }
        batch->producerId = *id;
        batch->request.producerId = *id;
    }
    if (batch->frame.empty()) { // first attempt; a retry resends the frame as it was
        batch->frame = net::encodeProduceRequest(batch->request);
        batch->request.encoded.clear();
        batch->request.encoded.shrink_to_fit();
    }
    ++m_requestsSent;
    auto self = this;
    m_connection->requestAsync(batch->frame, m_options.requestTimeoutMs,
                               [self, batch](Result<std::string> reply) {
                                   self->onReply(batch, std::move(reply));
                               });
}

void Producer::onReply(const std::shared_ptr<Batch> &batch, Result<std::string> reply)
{
    Result<ProduceResult> result = makeError(Errc::Internal, "no reply");
    if (reply && m_dropReplies.load() > 0 && m_dropReplies.fetch_sub(1) > 0)
        result = makeError(Errc::Timeout, "reply dropped by the test hook");
    else if (reply)
        result = net::decodeProduceReply(*reply);
    else
        result = reply.error();

    if (result) {
        const auto &offsets = result->offsets;
        bool duplicate = false;
        for (const auto &p : result->placements)
            duplicate = duplicate || p.duplicate;
        // One report, its offset set per record: not a copy of the topic name per record.
        DeliveryReport report{batch->tp.topic, batch->tp.partition, -1, duplicate};
        for (std::size_t i = 0; i < batch->done.size(); ++i) {
            report.offset = i < offsets.size() ? offsets[i].second : -1;
            batch->done[i](report);
        }
        // A reply came over the network, so this is not inside the requestAsync() that sent
        // the batch: sending the next one from here cannot recurse.
        return complete(batch, true);
    }

    const Error &error = result.error();
    if (errcRetriable(error.code) && batch->attempts < m_options.retries) {
        ++batch->attempts;
        std::lock_guard lock(m_mutex);
        auto &state = m_partitions[batch->tp];
        state.retry = batch;
        state.retryAt = Clock::now() + std::chrono::milliseconds(m_options.retryBackoffMs);
        m_wake.notify_one();
        return;
    }
    for (auto &done : batch->done)
        done(error);
    {
        std::lock_guard lock(m_mutex);
        auto &state = m_partitions[batch->tp];
        if (batch->producerId >= 0 && state.producerId == batch->producerId) {
            if (errcRetriable(error.code)) {
                // Out of retries on an ambiguous error: the broker may hold the batch, so its
                // sequence can be neither reused nor skipped. A fresh producer id starts clean.
                state.producerId = kNeedsProducerId;
                state.nextSequence = 0;
            } else {
                // A definite refusal wrote nothing: the next batch takes this one's sequence.
                state.nextSequence = batch->baseSequence;
            }
        }
    }
    complete(batch);
}

void Producer::complete(const std::shared_ptr<Batch> &batch, bool sendNext)
{
    std::shared_ptr<Batch> next;
    {
        std::lock_guard lock(m_mutex);
        auto &state = m_partitions[batch->tp];
        state.busy = false;
        m_outstanding -= batch->done.size();
        if (!state.queue.empty()) {
            // What queued while the batch was in flight goes out from here when it is due, which
            // saves waking the sender thread for each batch of a busy partition. Not a batch that
            // first needs a producer id: asking for one blocks, which an I/O thread must not.
            if (sendNext && sendAt(state) <= Clock::now()
                && state.producerId != kNeedsProducerId)
                next = takeBatch(batch->tp, state);
            else
                m_wake.notify_one();
        } else if (m_closing && m_outstanding == 0) {
            m_wake.notify_one(); // the sender exits once nothing is outstanding
        }
        if (m_outstanding == 0)
            m_idle.notify_all();
    }
    if (next)
        dispatch(next);
}

void Producer::flush()
{
    std::unique_lock lock(m_mutex);
    if (!m_sender.joinable())
        return;
    ++m_flushWaiters;
    m_wake.notify_one();
    m_idle.wait(lock, [this] { return m_outstanding == 0; });
    --m_flushWaiters;
}

void Producer::close()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_closed)
            return;
        m_closed = true;
        m_closing = true;
        m_wake.notify_one();
    }
    if (m_sender.joinable())
        m_sender.join();
    m_connection->close();
}

} // namespace eddy::client
