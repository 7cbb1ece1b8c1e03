// The JSON ops, one function each: it validates its fields (naming the offending one), calls the
// broker and answers through the reply callback, from an engine thread when the broker answers
// later (a parked fetch or poll, a durable produce). opTable() maps op names to them; the
// ProtocolHandler runs them for JSON requests and for the JSON tunnelled in binary frames.
#include "json_ops.h"

#include "scheduler.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eddy::net {

namespace {

// Unwraps a Result into the reply on error; yields the value otherwise.
#define EDDY_TRY(var, expr)                         \
    auto var = (expr);                              \
    if (!var)                                       \
        return reply(errorReply(var.error()));

Result<std::vector<std::string>> stringList(const Json &j, const char *name)
{
    auto it = j.find(name);
    if (it == j.end() || !it->is_array())
        return makeError(Errc::InvalidRequest, std::string("field '") + name
                                                   + "' must be an array of strings");
    std::vector<std::string> out;
    for (const auto &e : *it) {
        if (!e.is_string())
            return makeError(Errc::InvalidRequest, std::string("field '") + name
                                                       + "' must be an array of strings");
        out.push_back(e.get<std::string>());
    }
    return out;
}

Result<int32_t> int32Field(const Json &j, const char *name, std::optional<int32_t> fallback)
{
    auto v = fallback ? optionalInt(j, name, *fallback) : intField(j, name);
    if (!v)
        return v.error();
    if (*v < INT32_MIN || *v > INT32_MAX)
        return makeError(Errc::InvalidRequest, std::string("field '") + name + "' is out of range");
    return static_cast<int32_t>(*v);
}

Result<RetentionPolicy> retentionField(const Json &j, RetentionPolicy policy)
{
    auto it = j.find("retention");
    if (it == j.end() || it->is_null())
        return policy;
    if (!it->is_object())
        return makeError(Errc::InvalidRequest, "field 'retention' must be an object");
    auto records = optionalInt(*it, "records", policy.maxRecords);
    auto bytes = optionalInt(*it, "bytes", policy.maxBytes);
    auto ms = optionalInt(*it, "ms", policy.maxAgeMs);
    if (!records || !bytes || !ms)
        return makeError(Errc::InvalidRequest,
                         "retention fields records, bytes and ms must be integers");
    return RetentionPolicy{*records, *bytes, *ms};
}

Json recordsToJson(const std::vector<Record> &records)
{
    Json out = Json::array();
    for (const auto &r : records)
        out.push_back(recordToJson(r));
    return out;
}

void opCreateTopic(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(name, stringField(j, "topic"));
    EDDY_TRY(partitions, int32Field(j, "partitions", 1));
    EDDY_TRY(retention, retentionField(j, {}));
    EDDY_TRY(info, b.createTopic({*name, *partitions, *retention}));
    auto out = okReply();
    out["topic"] = topicInfoToJson(*info);
    reply(std::move(out));
}

void opDeleteTopic(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(name, stringField(j, "topic"));
    auto r = b.deleteTopic(*name);
    reply(r ? okReply() : errorReply(r.error()));
}

void opListTopics(Broker &b, const Json &, Reply reply)
{
    auto out = okReply();
    out["topics"] = Json::array();
    for (const auto &t : b.listTopics())
        out["topics"].push_back(topicInfoToJson(t));
    reply(std::move(out));
}

void opDescribeTopic(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(name, stringField(j, "topic"));
    EDDY_TRY(info, b.describeTopic(*name));
    auto out = okReply();
    out["topic"] = topicInfoToJson(*info);
    reply(std::move(out));
}

void opAlterTopic(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(name, stringField(j, "topic"));
    EDDY_TRY(current, b.describeTopic(*name));
    if (j.contains("partitions")) {
        EDDY_TRY(partitions, int32Field(j, "partitions", std::nullopt));
        EDDY_TRY(altered, b.alterPartitions(*name, *partitions));
    }
    if (j.contains("retention")) {
        EDDY_TRY(retention, retentionField(j, current->retention));
        EDDY_TRY(altered, b.alterRetention(*name, *retention));
    }
    EDDY_TRY(info, b.describeTopic(*name));
    auto out = okReply();
    out["topic"] = topicInfoToJson(*info);
    reply(std::move(out));
}

void opProduce(Broker &b, const Json &j, Reply reply)
{
    ProduceRequest req;
    EDDY_TRY(topic, stringField(j, "topic"));
    req.topic = *topic;
    if (j.contains("partition") && !j["partition"].is_null()) {
        EDDY_TRY(partition, int32Field(j, "partition", std::nullopt));
        req.partition = *partition;
    }
    EDDY_TRY(acksText, optionalString(j, "acks", "leader"));
    EDDY_TRY(acks, parseAcks(*acksText));
    req.acks = *acks;
    EDDY_TRY(pid, optionalInt(j, "producer_id", -1));
    EDDY_TRY(seq, int32Field(j, "sequence", -1));
    req.producerId = *pid;
    req.baseSequence = *seq;
    const bool batch = j.contains("records");
    if (batch) {
        const auto &records = j["records"];
        if (!records.is_array())
            return reply(errorReply(makeError(Errc::InvalidRequest,
                                              "field 'records' must be an array of records")));
        req.records.reserve(records.size());
        for (const auto &r : records) {
            EDDY_TRY(rec, recordFromJson(r));
            req.records.push_back(std::move(*rec));
        }
    } else {
        EDDY_TRY(rec, recordFromJson(j));
        req.records.push_back(std::move(*rec));
    }
    const bool fireAndForget = req.acks == Acks::None;
    if (fireAndForget)
        reply(okReply());
    b.produce(std::move(req), [reply, batch, fireAndForget](Result<ProduceResult> r) {
        if (fireAndForget)
            return;
        if (!r)
            return reply(errorReply(r.error()));
        auto out = okReply();
        if (!batch) {
            out["partition"] = r->offsets.front().first;
            out["offset"] = r->offsets.front().second;
            out["duplicate"] = !r->placements.empty() && r->placements.front().duplicate;
        } else {
            Json offsets = Json::array();
            for (const auto &[p, o] : r->offsets)
                offsets.push_back({{"partition", p}, {"offset", o}});
            out["offsets"] = std::move(offsets);
            bool duplicate = false;
            for (const auto &pl : r->placements)
                duplicate = duplicate || pl.duplicate;
            out["duplicate"] = duplicate;
        }
        reply(std::move(out));
    });
}

void opInitProducer(Broker &b, const Json &, Reply reply)
{
    EDDY_TRY(id, b.initProducerId());
    auto out = okReply();
    out["producer_id"] = *id;
    reply(std::move(out));
}

Result<FetchRequest> fetchFromJson(const Json &j)
{
    FetchRequest req;
    auto topic = stringField(j, "topic");
    if (!topic)
        return topic.error();
    req.topic = *topic;
    auto partition = int32Field(j, "partition", 0);
    auto offset = intField(j, "offset");
    auto maxRecords = optionalInt(j, "max_records", 500);
    auto maxBytes = optionalInt(j, "max_bytes", 1 << 20);
    auto waitMs = optionalInt(j, "wait_ms", 0);
    auto group = optionalString(j, "group", "");
    for (const Error *e :
         {partition ? nullptr : &partition.error(), offset ? nullptr : &offset.error(),
          maxRecords ? nullptr : &maxRecords.error(), maxBytes ? nullptr : &maxBytes.error(),
          waitMs ? nullptr : &waitMs.error(), group ? nullptr : &group.error()})
        if (e)
            return *e;
    if (*maxRecords < 1 || *maxBytes < 1 || *waitMs < 0 || *waitMs > 600000)
        return makeError(Errc::InvalidRequest,
                         "max_records and max_bytes must be >= 1 and wait_ms within 0-600000");
    req.partition = *partition;
    req.offset = *offset;
    req.maxRecords = static_cast<std::size_t>(*maxRecords);
    req.maxBytes = static_cast<std::size_t>(*maxBytes);
    req.waitMs = static_cast<int32_t>(*waitMs);
    req.group = *group;
    return req;
}

void opFetch(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(req, fetchFromJson(j));
    b.fetch(std::move(*req), [reply](Result<FetchResult> r) {
        if (!r)
            return reply(errorReply(r.error()));
        auto out = okReply();
        out["high_watermark"] = r->highWatermark;
        out["log_start_offset"] = r->logStartOffset;
        out["records"] = recordsToJson(r->records);
        reply(std::move(out));
    });
}

void opListOffsets(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(topic, stringField(j, "topic"));
    EDDY_TRY(info, b.describeTopic(*topic));
    auto out = okReply();
    out["partitions"] = Json::array();
    const bool byTime = j.contains("timestamp");
    for (const auto &p : info->partitionInfo) {
        Json e{{"partition", p.partition},
               {"log_start_offset", p.logStartOffset},
               {"high_watermark", p.highWatermark}};
        if (byTime) {
            EDDY_TRY(ts, intField(j, "timestamp"));
            EDDY_TRY(offset, b.offsetForTimestamp(*topic, p.partition, *ts));
            e["offset"] = *offset;
        }
        out["partitions"].push_back(std::move(e));
    }
    reply(std::move(out));
}

void opJoinGroup(Broker &b, const Json &j, Reply reply)
{
    JoinGroupRequest req;
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, optionalString(j, "member_id", ""));
    EDDY_TRY(clientId, optionalString(j, "client_id", ""));
    EDDY_TRY(topics, stringList(j, "topics"));
    EDDY_TRY(session, int32Field(j, "session_timeout_ms", 10000));
    EDDY_TRY(assignor, optionalString(j, "assignor", "range"));
    EDDY_TRY(reset, optionalString(j, "auto_offset_reset", "earliest"));
    if (*assignor != "range" && *assignor != "roundrobin")
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'assignor' must be range or roundrobin")));
    if (*reset != "earliest" && *reset != "latest")
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'auto_offset_reset' must be earliest or latest")));
    req.group = *group;
    req.memberId = *member;
    req.clientId = *clientId;
    req.topics = *topics;
    req.sessionTimeoutMs = *session;
    req.assignor = *assignor == "roundrobin" ? AssignorKind::RoundRobin : AssignorKind::Range;
    req.resetToLatest = *reset == "latest";
    EDDY_TRY(a, b.joinGroup(req));
    auto out = assignmentToJson(*a);
    out["ok"] = true;
    reply(std::move(out));
}

void opHeartbeat(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, stringField(j, "member_id"));
    EDDY_TRY(generation, int32Field(j, "generation", std::nullopt));
    EDDY_TRY(a, b.heartbeat(*group, *member, *generation));
    auto out = assignmentToJson(*a);
    out["ok"] = true;
    reply(std::move(out));
}

void opLeaveGroup(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, stringField(j, "member_id"));
    auto r = b.leaveGroup(*group, *member);
    reply(r ? okReply() : errorReply(r.error()));
}

void opPoll(Broker &b, const Json &j, Reply reply)
{
    PollRequest req;
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, stringField(j, "member_id"));
    EDDY_TRY(generation, int32Field(j, "generation", std::nullopt));
    EDDY_TRY(maxRecords, optionalInt(j, "max_records", 500));
    EDDY_TRY(maxBytes, optionalInt(j, "max_bytes", 1 << 20));
    EDDY_TRY(waitMs, int32Field(j, "wait_ms", 0));
    if (*maxRecords < 1 || *maxBytes < 1 || *waitMs < 0 || *waitMs > 600000)
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "max_records and max_bytes must be >= 1 and wait_ms "
                                          "within 0-600000")));
    req.group = *group;
    req.memberId = *member;
    req.generation = *generation;
    req.maxRecords = static_cast<std::size_t>(*maxRecords);
    req.maxBytes = static_cast<std::size_t>(*maxBytes);
    req.waitMs = *waitMs;
    if (auto it = j.find("positions"); it != j.end()) {
        if (!it->is_array())
            return reply(errorReply(makeError(Errc::InvalidRequest,
                                              "field 'positions' must be an array of "
                                              "{topic, partition, offset}")));
        for (const auto &e : *it) {
            if (!e.is_object())
                return reply(errorReply(makeError(
                    Errc::InvalidRequest, "each entry of 'positions' must be an object")));
            EDDY_TRY(topic, stringField(e, "topic"));
            EDDY_TRY(partition, int32Field(e, "partition", std::nullopt));
            EDDY_TRY(offset, intField(e, "offset"));
            if (*partition < 0)
                return reply(errorReply(makeError(
                    Errc::UnknownPartition, "position partition " + std::to_string(*partition)
                                                + " is negative")));
            if (*offset < 0)
                return reply(errorReply(makeError(
                    Errc::InvalidOffset, "position offset " + std::to_string(*offset)
                                             + " is negative")));
            req.positions.push_back({TopicPartition{*topic, *partition}, *offset});
        }
    }
    b.poll(std::move(req), [reply](Result<PollResult> r) {
        if (!r)
            return reply(errorReply(r.error()));
        auto out = assignmentToJson(r->assignment);
        out["ok"] = true;
        Json records = Json::array();
        for (const auto &pr : r->records) {
            auto rj = recordToJson(pr.record);
            rj["topic"] = pr.topic;
            rj["partition"] = pr.partition;
            records.push_back(std::move(rj));
        }
        out["records"] = std::move(records);
        reply(std::move(out));
    });
}

void opSeek(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, stringField(j, "member_id"));
    EDDY_TRY(topic, stringField(j, "topic"));
    EDDY_TRY(partition, int32Field(j, "partition", std::nullopt));
    EDDY_TRY(offset, intField(j, "offset"));
    auto r = b.seek(*group, *member, *topic, *partition, *offset);
    reply(r ? okReply() : errorReply(r.error()));
}

void opCommit(Broker &b, const Json &j, Reply reply)
{
    CommitRequest req;
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(member, optionalString(j, "member_id", ""));
    EDDY_TRY(generation, int32Field(j, "generation", -1));
    req.group = *group;
    req.memberId = *member;
    req.generation = *generation;
    auto it = j.find("offsets");
    if (it == j.end() || !it->is_array())
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'offsets' must be an array of "
                                          "{topic, partition, offset}")));
    for (const auto &e : *it) {
        if (!e.is_object())
            return reply(errorReply(makeError(Errc::InvalidRequest,
                                              "each entry of 'offsets' must be an object")));
        EDDY_TRY(topic, stringField(e, "topic"));
        EDDY_TRY(partition, int32Field(e, "partition", std::nullopt));
        EDDY_TRY(offset, intField(e, "offset"));
        EDDY_TRY(metadata, optionalString(e, "metadata", ""));
        req.offsets.push_back({*topic, *partition, *offset, *metadata});
    }
    b.commitOffsets(req, [reply](const Result<void> &r) {
        reply(r ? okReply() : errorReply(r.error()));
    });
}

void opCommitted(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(topic, optionalString(j, "topic", ""));
    EDDY_TRY(offsets, b.committedOffsets(*group, *topic));
    auto out = okReply();
    out["offsets"] = Json::array();
    for (const auto &o : *offsets)
        out["offsets"].push_back(committedToJson(o));
    reply(std::move(out));
}

void opListGroups(Broker &b, const Json &, Reply reply)
{
    auto out = okReply();
    out["groups"] = Json::array();
    for (const auto &g : b.listGroups())
        out["groups"].push_back(groupListingToJson(g));
    reply(std::move(out));
}

void opDescribeGroup(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(d, b.describeGroup(*group));
    auto out = okReply();
    out["group"] = groupDescriptionToJson(*d);
    reply(std::move(out));
}

void opResetOffsets(Broker &b, const Json &j, Reply reply)
{
    ResetOffsetsRequest req;
    EDDY_TRY(group, stringField(j, "group"));
    EDDY_TRY(topic, stringField(j, "topic"));
    req.group = *group;
    req.topic = *topic;
    if (auto it = j.find("partitions"); it != j.end() && !it->is_null()) {
        if (!it->is_array())
            return reply(errorReply(makeError(Errc::InvalidRequest,
                                              "field 'partitions' must be an array of integers")));
        for (const auto &p : *it) {
            if (!p.is_number_integer())
                return reply(
                    errorReply(makeError(Errc::InvalidRequest,
                                         "field 'partitions' must be an array of integers")));
            req.partitions.push_back(p.get<int32_t>());
        }
    }
    auto to = j.find("to");
    if (to == j.end())
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'to' is required: \"earliest\", \"latest\", "
                                          "{\"offset\": N} or {\"timestamp\": MS}")));
    if (to->is_string() && *to == "earliest") {
        req.kind = ResetKind::Earliest;
    } else if (to->is_string() && *to == "latest") {
        req.kind = ResetKind::Latest;
    } else if (to->is_object() && to->contains("offset")) {
        EDDY_TRY(v, intField(*to, "offset"));
        req.kind = ResetKind::ToOffset;
        req.value = *v;
    } else if (to->is_object() && to->contains("timestamp")) {
        EDDY_TRY(v, intField(*to, "timestamp"));
        req.kind = ResetKind::ToTimestamp;
        req.value = *v;
    } else {
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'to' must be \"earliest\", \"latest\", "
                                          "{\"offset\": N} or {\"timestamp\": MS}")));
    }
    EDDY_TRY(offsets, b.resetOffsets(req));
    auto out = okReply();
    out["offsets"] = Json::array();
    for (const auto &o : *offsets)
        out["offsets"].push_back(committedToJson(o));
    reply(std::move(out));
}

void opDeleteGroup(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(group, stringField(j, "group"));
    auto r = b.deleteGroup(*group);
    reply(r ? okReply() : errorReply(r.error()));
}

void opMetrics(Broker &b, const Json &, Reply reply)
{
    auto out = okReply();
    out["metrics"] = metricsToJson(*b.metrics());
    reply(std::move(out));
}

void opHistory(Broker &b, const Json &j, Reply reply)
{
    EDDY_TRY(entity, stringField(j, "entity"));
    const int64_t now = wallClockMs();
    EDDY_TRY(from, optionalInt(j, "from_ms", now - 60000));
    EDDY_TRY(to, optionalInt(j, "to_ms", now + 1));
    EDDY_TRY(points, b.metricsHistory(*entity, *from, *to));
    auto out = okReply();
    out["points"] = Json::array();
    for (const auto &p : *points)
        out["points"].push_back({{"timestamp_ms", p.timestampMs},
                                 {"records_in_per_s", p.recordsInPerSec},
                                 {"bytes_in_per_s", p.bytesInPerSec},
                                 {"records_out_per_s", p.recordsOutPerSec},
                                 {"bytes_out_per_s", p.bytesOutPerSec},
                                 {"lag", p.lag},
                                 {"p50_us", p.p50Us},
                                 {"p99_us", p.p99Us}});
    reply(std::move(out));
}

void opEvents(Broker &b, const Json &, Reply reply)
{
    auto out = okReply();
    out["events"] = Json::array();
    for (const auto &e : b.recentEvents())
        out["events"].push_back(eventToJson(e));
    reply(std::move(out));
}

#undef EDDY_TRY

} // namespace

const std::unordered_map<std::string, OpFn> &opTable()
{
    static const std::unordered_map<std::string, OpFn> table{
        {"create_topic", opCreateTopic},   {"delete_topic", opDeleteTopic},
        {"list_topics", opListTopics},     {"describe_topic", opDescribeTopic},
        {"alter_topic", opAlterTopic},     {"produce", opProduce},
        {"init_producer", opInitProducer}, {"fetch", opFetch},
        {"list_offsets", opListOffsets},   {"join_group", opJoinGroup},
        {"heartbeat", opHeartbeat},        {"leave_group", opLeaveGroup},
        {"poll", opPoll},                  {"seek", opSeek},
        {"commit", opCommit},              {"committed", opCommitted},
        {"list_groups", opListGroups},     {"describe_group", opDescribeGroup},
        {"reset_offsets", opResetOffsets}, {"delete_group", opDeleteGroup},
        {"metrics", opMetrics},            {"history", opHistory},
        {"events", opEvents},
    };
    return table;
}

bool isProduceOp(std::string_view op)
{
    return op == "produce";
}

bool isConsumeOp(std::string_view op)
{
    return op == "fetch" || op == "poll" || op == "commit" || op == "join_group"
           || op == "heartbeat";
}

} // namespace eddy::net
