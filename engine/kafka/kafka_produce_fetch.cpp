// Kafka's Produce and Fetch on the engine's asynchronous produce and fetch. A request names
// several partitions; each is a call of its own into the broker, and the response is sent when
// the last of them completed (a shared count, since the completions come on engine threads).
// Produce acks map to the engine's: 0 to None (and no response, as in Kafka), 1 to Leader, -1
// ("all in-sync replicas", of which this single node is the only one) to Durable, so a client
// asking for its strongest guarantee gets the store's commit. Fetch long-polls the way Kafka's
// max_wait_ms does: when nothing is readable on any partition asked for, it parks a read on
// each and answers as soon as one of them has records or the wait ends.
#include "kafka_handler.h"

#include "kafka_codec.h"
#include "kafka_records.h"

#include <atomic>
#include <mutex>

namespace eddy::kafka {

namespace {

// Fetch sizes: records per partition read at most (the byte limits bound it first in practice)
// and the most a client may make one fetch wait.
constexpr std::size_t kFetchMaxRecords = 10000;
constexpr int32_t kMaxFetchWaitMs = 30000;
// KIP-227's "no session": full fetch requests and responses.
constexpr int16_t kFetchSessionIdNotFound = 70;

struct ProducePart {
    int32_t index = 0;
    KafkaError error = KafkaError::None;
    std::string message;
    int64_t baseOffset = -1;
};

struct ProduceTopic {
    std::string name;
    std::vector<ProducePart> parts;
};

// The response being gathered: one slot per partition, filled by its completion.
struct ProduceState {
    int16_t version = 0;
    int32_t correlationId = 0;
    std::vector<ProduceTopic> topics;
    std::atomic<int> pending{1}; // one for the issuing loop, released when it ends
    KafkaRespond respond;
    std::string begun; // the response's size and correlation id, written before the loop
};

void finishProduce(const std::shared_ptr<ProduceState> &s)
{
    std::string begun = std::move(s->begun);
    KafkaWriter w(begun);
    w.arrayLength(static_cast<int32_t>(s->topics.size()));
    for (const auto &t : s->topics) {
        w.string(t.name);
        w.arrayLength(static_cast<int32_t>(t.parts.size()));
        for (const auto &p : t.parts) {
            w.i32(p.index);
            w.i16(static_cast<int16_t>(p.error));
            w.i64(p.error == KafkaError::None ? p.baseOffset : -1);
            w.i64(-1); // log_append_time_ms: timestamps are the producer's (CreateTime)
            if (s->version >= 5)
                w.i64(-1); // log_start_offset: not looked up per produce
            if (s->version >= 8) {
                w.arrayLength(0); // record_errors
                w.nullableString(p.error == KafkaError::None
                                     ? std::nullopt
                                     : std::optional<std::string_view>(p.message));
            }
        }
    }
    w.i32(0); // throttle_time_ms
    KafkaWriter(begun).patchI32(0, static_cast<int32_t>(begun.size() - 4));
    KafkaOutcome o;
    o.bytes = std::move(begun);
    s->respond(std::move(o));
}

} // namespace

void KafkaHandler::produce(const Header &h, KafkaReader &r, KafkaRespond &respond)
{
    r.nullableString(); // transactional_id: transactional batches are refused per partition
    const int16_t acks = r.i16();
    r.i32(); // timeout_ms: the engine acknowledges or fails every produce on its own
    auto s = std::make_shared<ProduceState>();
    s->version = h.version;
    s->correlationId = h.correlationId;
    std::vector<std::vector<std::optional<std::string_view>>> sets;
    const int32_t count = r.arrayLength(6);
    for (int32_t t = 0; t < count && r.ok(); ++t) {
        ProduceTopic topic;
        topic.name = std::string(r.string());
        auto &topicSets = sets.emplace_back();
        const int32_t n = r.arrayLength(8);
        for (int32_t p = 0; p < n && r.ok(); ++p) {
            ProducePart part;
            part.index = r.i32();
            topicSets.push_back(r.nullableBytes());
            topic.parts.push_back(part);
        }
        s->topics.push_back(std::move(topic));
    }
    if (!parsedWhole("Produce", r, respond))
        return;
    Acks engineAcks = Acks::Leader;
    const bool validAcks = acks == 0 || acks == 1 || acks == -1;
    if (acks == 0)
        engineAcks = Acks::None;
    else if (acks == -1)
        engineAcks = Acks::Durable;
    const bool noResponse = acks == 0;
    if (!noResponse)
        s->respond = std::move(respond);
    s->begun = beginResponse(h);
    for (std::size_t t = 0; t < s->topics.size(); ++t) {
        auto &topic = s->topics[t];
        for (std::size_t p = 0; p < topic.parts.size(); ++p) {
            ProducePart &part = topic.parts[p];
            if (!validAcks) {
                part.error = KafkaError::InvalidRequiredAcks;
                part.message = "acks must be 0, 1 or -1";
                continue;
            }
            ProduceRequest req;
            req.topic = topic.name;
            req.partition = part.index;
            req.acks = engineAcks;
            const auto &set = sets[t][p];
            const auto decoded = set ? decodeRecordSet(*set, req.records)
                                     : RecordSetError{KafkaError::CorruptMessage, "null records"};
            if (decoded.code != KafkaError::None) {
                part.error = decoded.code;
                part.message = decoded.message;
                continue;
            }
            s->pending.fetch_add(1);
            // part stays where it is: s->topics is not resized once the loop started.
            m_broker.produce(std::move(req), [s, &part, noResponse](
                                                 Result<ProduceResult> result) {
                if (noResponse)
                    return;
                if (!result) {
                    part.error = toKafkaError(result.code());
                    part.message = result.error().message;
                } else if (!result->placements.empty()) {
                    part.baseOffset = result->placements.front().baseOffset;
                }
                if (s->pending.fetch_sub(1) == 1)
                    finishProduce(s);
            });
        }
    }
    if (noResponse) {
        KafkaOutcome o;
        o.kind = KafkaOutcome::Kind::NoResponse;
        return respond(std::move(o));
    }
    if (s->pending.fetch_sub(1) == 1)
        finishProduce(s);
}

namespace {

struct FetchPart {
    int32_t index = 0;
    int64_t offset = 0;
    int32_t maxBytes = 0;
    KafkaError error = KafkaError::None;
    int64_t highWatermark = -1;
    int64_t logStartOffset = -1;
    std::vector<Record> records;
};

struct FetchTopic {
    std::string name;
    std::vector<FetchPart> parts;
};

struct FetchState {
    int16_t version = 0;
    int32_t correlationId = 0;
    int32_t maxWaitMs = 0;
    int32_t minBytes = 0;
    int32_t maxBytes = 0;
    int16_t topError = 0;
    std::vector<FetchTopic> topics;
    std::mutex mutex; // guards the parts' results and the flags below
    int pending = 0;
    bool parked = false;    // the second, long-polling round is out
    bool answered = false;  // the response went out: later completions are dropped
    KafkaRespond respond;
};

void applyResult(FetchPart &part, Result<FetchResult> &result)
{
    if (!result) {
        part.error = toKafkaError(result.code());
        part.records.clear();
        return;
    }
    part.error = KafkaError::None;
    part.highWatermark = result->highWatermark;
    part.logStartOffset = result->logStartOffset;
    part.records = std::move(result->records);
}

void sendFetch(FetchState &s)
{
    std::string out;
    KafkaWriter w(out);
    w.i32(0);
    w.i32(s.correlationId);
    w.i32(0); // throttle_time_ms
    if (s.version >= 7) {
        w.i16(s.topError);
        w.i32(0); // session_id: no fetch sessions (KIP-227 lets a broker decline them)
    }
    w.arrayLength(static_cast<int32_t>(s.topics.size()));
    for (const auto &t : s.topics) {
        w.string(t.name);
        w.arrayLength(static_cast<int32_t>(t.parts.size()));
        for (const auto &p : t.parts) {
            w.i32(p.index);
            w.i16(static_cast<int16_t>(p.error));
            w.i64(p.highWatermark);
            w.i64(p.highWatermark); // last_stable_offset: no transactions
            if (s.version >= 5)
                w.i64(p.logStartOffset);
            w.arrayLength(0); // aborted_transactions
            if (s.version >= 11)
                w.i32(-1); // preferred_read_replica
            const std::size_t at = w.position();
            w.i32(0);
            appendRecordBatch(out, p.records, 0, p.records.size());
            w.patchI32(at, static_cast<int32_t>(out.size() - at - 4));
        }
    }
    w.patchI32(0, static_cast<int32_t>(out.size() - 4));
    KafkaOutcome o;
    o.bytes = std::move(out);
    s.respond(std::move(o));
}

// Whether the first round found nothing to return and nothing wrong, and the client asked to
// wait for records (s->mutex held).
bool shouldPark(const FetchState &s)
{
    if (s.parked || s.maxWaitMs <= 0 || s.minBytes <= 0)
        return false;
    for (const auto &t : s.topics)
        for (const auto &p : t.parts)
            if (!p.records.empty() || p.error != KafkaError::None)
                return false;
    return true;
}

void startRound(Broker &broker, const std::shared_ptr<FetchState> &s, int32_t waitMs);

// One partition's read completed (s->mutex not held).
void onPartFetched(Broker &broker, const std::shared_ptr<FetchState> &s, FetchPart &part,
                   bool longPoll, Result<FetchResult> result)
{
    std::unique_lock lock(s->mutex);
    if (s->answered)
        return;
    // A parked read that returned nothing leaves the first round's answer in place.
    if (!longPoll || !result || !result->records.empty())
        applyResult(part, result);
    const bool last = --s->pending == 0;
    const bool hasRecords = longPoll && result && !result->records.empty();
    if (!last && !hasRecords)
        return;
    if (!longPoll && last && shouldPark(*s)) {
        s->parked = true;
        lock.unlock();
        return startRound(broker, s, std::min(s->maxWaitMs, kMaxFetchWaitMs));
    }
    s->answered = true;
    lock.unlock();
    sendFetch(*s);
}

// Reads every partition without an error (waitMs 0: the first round).
void startRound(Broker &broker, const std::shared_ptr<FetchState> &s, int32_t waitMs)
{
    // The partitions to read, with their topic names, taken before any read is issued.
    std::vector<std::pair<const std::string *, FetchPart *>> parts;
    {
        std::lock_guard lock(s->mutex);
        for (auto &t : s->topics)
            for (auto &p : t.parts)
                if (p.error == KafkaError::None)
                    parts.emplace_back(&t.name, &p);
        s->pending = static_cast<int>(parts.size()) + 1; // + this loop
    }
    int32_t budget = s->maxBytes;
    // A plain pair, not a structured binding: clang before 16 cannot capture one in a lambda.
    for (const auto &entry : parts) {
        FetchPart *p = entry.second;
        FetchRequest req;
        req.topic = *entry.first;
        req.partition = p->index;
        req.offset = p->offset;
        req.maxRecords = kFetchMaxRecords;
        req.maxBytes = static_cast<std::size_t>(std::max(1, std::min(p->maxBytes, budget)));
        req.waitMs = waitMs;
        budget = std::max(1, budget - p->maxBytes);
        broker.fetch(std::move(req), [&broker, s, p, waitMs](Result<FetchResult> result) {
            onPartFetched(broker, s, *p, waitMs > 0, std::move(result));
        });
    }
    // The loop's own count: a round whose reads all completed inline ends here.
    std::unique_lock lock(s->mutex);
    if (s->answered || --s->pending > 0)
        return;
    if (waitMs == 0 && shouldPark(*s)) {
        s->parked = true;
        lock.unlock();
        return startRound(broker, s, std::min(s->maxWaitMs, kMaxFetchWaitMs));
    }
    s->answered = true;
    lock.unlock();
    sendFetch(*s);
}

} // namespace

void KafkaHandler::fetch(const Header &h, KafkaReader &r, KafkaRespond &respond)
{
    auto s = std::make_shared<FetchState>();
    s->version = h.version;
    s->correlationId = h.correlationId;
    r.i32(); // replica_id: consumers only
    s->maxWaitMs = std::max(0, r.i32());
    s->minBytes = r.i32();
    s->maxBytes = r.i32();
    r.i8(); // isolation_level: without transactions both levels read the same
    int32_t sessionId = 0;
    if (h.version >= 7) {
        sessionId = r.i32();
        r.i32(); // session_epoch
    }
    const int32_t count = r.arrayLength(6);
    for (int32_t t = 0; t < count && r.ok(); ++t) {
        FetchTopic topic;
        topic.name = std::string(r.string());
        const int32_t n = r.arrayLength(16);
        for (int32_t p = 0; p < n && r.ok(); ++p) {
            FetchPart part;
            part.index = r.i32();
            if (h.version >= 9)
                r.i32(); // current_leader_epoch
            part.offset = r.i64();
            if (h.version >= 5)
                r.i64(); // log_start_offset: followers only
            part.maxBytes = r.i32();
            topic.parts.push_back(std::move(part));
        }
        s->topics.push_back(std::move(topic));
    }
    if (h.version >= 7) {
        const int32_t forgotten = r.arrayLength(6);
        for (int32_t f = 0; f < forgotten && r.ok(); ++f) {
            r.string();
            const int32_t n = r.arrayLength(4);
            for (int32_t p = 0; p < n && r.ok(); ++p)
                r.i32();
        }
    }
    if (h.version >= 11)
        r.string(); // rack_id
    if (!parsedWhole("Fetch", r, respond))
        return;
    s->respond = std::move(respond);
    if (s->maxBytes <= 0)
        s->maxBytes = INT32_MAX;
    for (auto &t : s->topics)
        for (auto &p : t.parts)
            if (p.maxBytes <= 0)
                p.maxBytes = 1; // Kafka still returns the first record batch (KIP-74)
    if (sessionId != 0) {
        // A session this broker never created (it creates none): the client starts over with
        // full fetches.
        s->topError = kFetchSessionIdNotFound;
        s->topics.clear();
        s->answered = true;
        return sendFetch(*s);
    }
    startRound(m_broker, s, 0);
}

} // namespace eddy::kafka
