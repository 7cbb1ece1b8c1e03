// JSON forms of the engine's types, shared by the JSON protocol, the live stream, the client
// library and the CLI's --json output, so every surface spells a field the same way.
#include "json_codec.h"

#include "base64.h"

namespace eddy::net {

namespace {

Error fieldError(const char *name, const char *what)
{
    return makeError(Errc::InvalidRequest, std::string("field '") + name + "' " + what);
}

int nestingDepth(std::string_view text)
{
    int depth = 0, maxDepth = 0;
    bool inString = false, escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"')
            inString = true;
        else if (c == '{' || c == '[')
            maxDepth = std::max(maxDepth, ++depth);
        else if (c == '}' || c == ']')
            --depth;
    }
    return maxDepth;
}

} // namespace

Result<Json> parseRequest(std::string_view text)
{
    if (nestingDepth(text) > kMaxJsonDepth)
        return makeError(Errc::MalformedRequest, "JSON nested deeper than "
                                                     + std::to_string(kMaxJsonDepth) + " levels");
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded())
        return makeError(Errc::MalformedRequest, "the request is not valid JSON");
    if (!j.is_object())
        return makeError(Errc::MalformedRequest, "the request must be a JSON object");
    return j;
}

Result<std::string> stringField(const Json &j, const char *name)
{
    auto it = j.find(name);
    if (it == j.end())
        return fieldError(name, "is required");
    if (!it->is_string())
        return fieldError(name, "must be a string");
    return it->get<std::string>();
}

Result<std::string> optionalString(const Json &j, const char *name, std::string fallback)
{
    auto it = j.find(name);
    if (it == j.end() || it->is_null())
        return fallback;
    if (!it->is_string())
        return fieldError(name, "must be a string");
    return it->get<std::string>();
}

Result<int64_t> intField(const Json &j, const char *name)
{
    auto it = j.find(name);
    if (it == j.end())
        return fieldError(name, "is required");
    if (!it->is_number_integer())
        return fieldError(name, "must be an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX))
        return fieldError(name, "is out of range");
    return it->get<int64_t>();
}

Result<int64_t> optionalInt(const Json &j, const char *name, int64_t fallback)
{
    auto it = j.find(name);
    if (it == j.end() || it->is_null())
        return fallback;
    return intField(j, name);
}

Result<bool> optionalBool(const Json &j, const char *name, bool fallback)
{
    auto it = j.find(name);
    if (it == j.end() || it->is_null())
        return fallback;
    if (!it->is_boolean())
        return fieldError(name, "must be true or false");
    return it->get<bool>();
}

Json errorReply(const Error &error)
{
    return Json{{"ok", false},
                {"error",
                 {{"code", std::string(errcName(error.code))}, {"message", error.message}}}};
}

Json okReply()
{
    return Json{{"ok", true}};
}

void putBytes(Json &j, const char *name, std::string_view bytes)
{
    if (isValidUtf8(bytes))
        j[name] = std::string(bytes);
    else
        j[std::string(name) + "_base64"] = base64Encode(bytes);
}

Result<std::optional<std::string>> getBytes(const Json &j, const char *name)
{
    auto it = j.find(name);
    if (it != j.end() && !it->is_null()) {
        if (!it->is_string())
            return makeError(Errc::InvalidRequest, std::string("field '") + name
                                                       + "' must be a string (use " + name
                                                       + "_base64 for binary)");
        return std::optional<std::string>(it->get<std::string>());
    }
    const std::string b64 = std::string(name) + "_base64";
    it = j.find(b64);
    if (it != j.end() && !it->is_null()) {
        if (!it->is_string())
            return makeError(Errc::InvalidRequest, "field '" + b64 + "' must be a string");
        auto decoded = base64Decode(it->get<std::string>());
        if (!decoded)
            return makeError(Errc::InvalidRequest, "field '" + b64 + "' is not valid base64");
        return std::optional<std::string>(std::move(*decoded));
    }
    return std::optional<std::string>();
}

Json recordToJson(const Record &r)
{
    Json j{{"offset", r.offset}, {"timestamp", r.timestamp}};
    if (r.key)
        putBytes(j, "key", *r.key);
    else
        j["key"] = nullptr;
    Json headers = Json::array();
    for (const auto &h : r.headers) {
        Json hj{{"key", h.key}};
        if (!isValidUtf8(h.key)) {
            hj.erase("key");
            hj["key_base64"] = base64Encode(h.key);
        }
        putBytes(hj, "value", h.value);
        headers.push_back(std::move(hj));
    }
    j["headers"] = std::move(headers);
    putBytes(j, "value", r.value);
    return j;
}

Result<Record> recordFromJson(const Json &j)
{
    if (!j.is_object())
        return makeError(Errc::InvalidRequest, "a record must be a JSON object");
    Record r;
    auto key = getBytes(j, "key");
    if (!key)
        return key.error();
    r.key = std::move(*key);
    auto value = getBytes(j, "value");
    if (!value)
        return value.error();
    if (!*value)
        return makeError(Errc::InvalidRequest, "field 'value' (or 'value_base64') is required");
    r.value = std::move(**value);
    auto ts = optionalInt(j, "timestamp", 0);
    if (!ts)
        return ts.error();
    if (*ts < 0)
        return makeError(Errc::InvalidRequest, "field 'timestamp' must be >= 0");
    r.timestamp = *ts;
    auto it = j.find("headers");
    if (it != j.end() && !it->is_null()) {
        if (it->is_object()) {
            for (const auto &[k, v] : it->items()) {
                if (!v.is_string())
                    return makeError(Errc::InvalidRequest, "header '" + k + "' must be a string");
                r.headers.push_back({k, v.get<std::string>()});
            }
        } else if (it->is_array()) {
            for (const auto &h : *it) {
                if (!h.is_object())
                    return makeError(Errc::InvalidRequest,
                                     "each header must be an object with key and value");
                auto hk = getBytes(h, "key");
                if (!hk)
                    return hk.error();
                auto hv = getBytes(h, "value");
                if (!hv)
                    return hv.error();
                if (!*hk)
                    return makeError(Errc::InvalidRequest, "a header has no key");
                r.headers.push_back({std::move(**hk), hv->value_or("")});
            }
        } else {
            return makeError(Errc::InvalidRequest,
                             "field 'headers' must be an array of {key, value} or an object");
        }
    }
    return r;
}

Json topicInfoToJson(const TopicInfo &info)
{
    Json parts = Json::array();
    for (const auto &p : info.partitionInfo)
        parts.push_back({{"partition", p.partition},
                         {"log_start_offset", p.logStartOffset},
                         {"high_watermark", p.highWatermark},
                         {"size_bytes", p.sizeBytes}});
    return Json{{"name", info.name},
                {"partitions", info.partitions},
                {"created_ms", info.createdMs},
                {"retention",
                 {{"records", info.retention.maxRecords},
                  {"bytes", info.retention.maxBytes},
                  {"ms", info.retention.maxAgeMs}}},
                {"partition_info", std::move(parts)}};
}

Result<TopicInfo> topicInfoFromJson(const Json &j)
{
    TopicInfo info;
    try {
        info.name = j.at("name").get<std::string>();
        info.partitions = integerAt<int32_t>(j, "partitions");
        info.createdMs = integerOr<int64_t>(j, "created_ms", 0);
        if (auto r = j.find("retention"); r != j.end()) {
            info.retention.maxRecords = integerOr<int64_t>(*r, "records", 0);
            info.retention.maxBytes = integerOr<int64_t>(*r, "bytes", 0);
            info.retention.maxAgeMs = integerOr<int64_t>(*r, "ms", 0);
        }
        for (const auto &p : j.value("partition_info", Json::array()))
            info.partitionInfo.push_back({integerAt<int32_t>(p, "partition"),
                                          integerAt<int64_t>(p, "log_start_offset"),
                                          integerAt<int64_t>(p, "high_watermark"),
                                          integerOr<int64_t>(p, "size_bytes", 0)});
    } catch (const Json::exception &e) {
        return makeError(Errc::MalformedRequest, std::string("bad topic description: ") + e.what());
    }
    return info;
}

namespace {

Json partitionsToJson(const std::vector<TopicPartition> &tps)
{
    Json out = Json::array();
    for (const auto &tp : tps)
        out.push_back({{"topic", tp.topic}, {"partition", tp.partition}});
    return out;
}

std::vector<TopicPartition> partitionsFromJson(const Json &j)
{
    std::vector<TopicPartition> out;
    for (const auto &e : j)
        out.push_back({e.at("topic").get<std::string>(), integerAt<int32_t>(e, "partition")});
    return out;
}

} // namespace

Json assignmentToJson(const MemberAssignment &a)
{
    return Json{{"member_id", a.memberId},
                {"generation", a.generation},
                {"state", std::string(groupStateName(a.state))},
                {"heartbeat_interval_ms", a.heartbeatIntervalMs},
                {"assignment", partitionsToJson(a.assigned)},
                {"pending", partitionsToJson(a.pending)}};
}

Result<MemberAssignment> assignmentFromJson(const Json &j)
{
    MemberAssignment a;
    try {
        a.memberId = j.at("member_id").get<std::string>();
        a.generation = integerAt<int32_t>(j, "generation");
        const auto state = j.value("state", std::string("stable"));
        a.state = state == "empty"         ? GroupState::Empty
                  : state == "rebalancing" ? GroupState::Rebalancing
                  : state == "dead"        ? GroupState::Dead
                                           : GroupState::Stable;
        a.heartbeatIntervalMs = integerOr<int>(j, "heartbeat_interval_ms", 1000);
        a.assigned = partitionsFromJson(j.value("assignment", Json::array()));
        a.pending = partitionsFromJson(j.value("pending", Json::array()));
    } catch (const Json::exception &e) {
        return makeError(Errc::MalformedRequest, std::string("bad assignment: ") + e.what());
    }
    return a;
}

Json committedToJson(const CommittedOffset &c)
{
    Json j{{"topic", c.topic},
           {"partition", c.partition},
           {"offset", c.offset},
           {"high_watermark", c.highWatermark},
           {"log_start_offset", c.logStartOffset},
           {"lag", c.lag}};
    if (!c.metadata.empty())
        j["metadata"] = c.metadata;
    if (c.commitMs)
        j["commit_ms"] = c.commitMs;
    return j;
}

Json groupDescriptionToJson(const GroupDescription &d)
{
    Json members = Json::array();
    for (const auto &m : d.members)
        members.push_back({{"member_id", m.memberId},
                           {"client_id", m.clientId},
                           {"topics", m.topics},
                           {"session_timeout_ms", m.sessionTimeoutMs},
                           {"acked_generation", m.ackedGeneration},
                           {"last_heartbeat_ms", m.lastHeartbeatMs},
                           {"assignment", partitionsToJson(m.assigned)},
                           {"pending", partitionsToJson(m.pending)}});
    Json offsets = Json::array();
    for (const auto &o : d.offsets)
        offsets.push_back(committedToJson(o));
    return Json{{"group", d.group},
                {"state", std::string(groupStateName(d.state))},
                {"assignor", std::string(assignorName(d.assignor))},
                {"generation", d.generation},
                {"members", std::move(members)},
                {"offsets", std::move(offsets)},
                {"total_lag", d.totalLag}};
}

Json groupListingToJson(const GroupListing &g)
{
    return Json{{"group", g.group},
                {"state", std::string(groupStateName(g.state))},
                {"generation", g.generation},
                {"members", g.members}};
}

Json latencyToJson(const LatencySummary &l)
{
    return Json{{"count", l.count}, {"p50_us", l.p50Us}, {"p90_us", l.p90Us},
                {"p99_us", l.p99Us}, {"max_us", l.maxUs}};
}

Json ratesToJson(const Rates &r)
{
    return Json{{"records_in_per_s", r.recordsInPerSec},   {"bytes_in_per_s", r.bytesInPerSec},
                {"records_out_per_s", r.recordsOutPerSec}, {"bytes_out_per_s", r.bytesOutPerSec},
                {"records_in_total", r.recordsInTotal},    {"bytes_in_total", r.bytesInTotal},
                {"records_out_total", r.recordsOutTotal},  {"bytes_out_total", r.bytesOutTotal}};
}

Json metricsToJson(const MetricsSnapshot &s)
{
    Json topics = Json::array();
    for (const auto &t : s.topics) {
        Json parts = Json::array();
        for (const auto &p : t.partitions)
            parts.push_back({{"partition", p.partition},
                             {"log_start_offset", p.logStartOffset},
                             {"high_watermark", p.highWatermark},
                             {"size_bytes", p.sizeBytes},
                             {"rates", ratesToJson(p.rates)}});
        topics.push_back({{"name", t.name},
                          {"records", t.records},
                          {"size_bytes", t.sizeBytes},
                          {"rates", ratesToJson(t.rates)},
                          {"latency", latencyToJson(t.latency)},
                          {"partitions", std::move(parts)}});
    }
    Json groups = Json::array();
    for (const auto &g : s.groups) {
        Json parts = Json::array();
        for (const auto &p : g.partitions)
            parts.push_back({{"topic", p.topic},
                             {"partition", p.partition},
                             {"committed", p.committed},
                             {"high_watermark", p.highWatermark},
                             {"lag", p.lag}});
        groups.push_back({{"name", g.name},
                          {"state", std::string(groupStateName(g.state))},
                          {"generation", g.generation},
                          {"members", g.members},
                          {"total_lag", g.totalLag},
                          {"rates", ratesToJson(g.rates)},
                          {"latency", latencyToJson(g.latency)},
                          {"partitions", std::move(parts)}});
    }
    return Json{{"sequence", s.sequence},
                {"timestamp_ms", s.timestampMs},
                {"broker", ratesToJson(s.broker)},
                {"latency", latencyToJson(s.latency)},
                {"topics", std::move(topics)},
                {"groups", std::move(groups)}};
}

namespace {

LatencySummary latencyFromJson(const Json &j)
{
    LatencySummary l;
    if (!j.is_object())
        return l;
    l.count = j.value("count", uint64_t{0});
    l.p50Us = j.value("p50_us", int64_t{0});
    l.p90Us = j.value("p90_us", int64_t{0});
    l.p99Us = j.value("p99_us", int64_t{0});
    l.maxUs = j.value("max_us", int64_t{0});
    return l;
}

Rates ratesFromJson(const Json &j)
{
    Rates r;
    if (!j.is_object())
        return r;
    r.recordsInPerSec = j.value("records_in_per_s", 0.0);
    r.bytesInPerSec = j.value("bytes_in_per_s", 0.0);
    r.recordsOutPerSec = j.value("records_out_per_s", 0.0);
    r.bytesOutPerSec = j.value("bytes_out_per_s", 0.0);
    r.recordsInTotal = j.value("records_in_total", uint64_t{0});
    r.bytesInTotal = j.value("bytes_in_total", uint64_t{0});
    r.recordsOutTotal = j.value("records_out_total", uint64_t{0});
    r.bytesOutTotal = j.value("bytes_out_total", uint64_t{0});
    return r;
}

GroupState groupStateFromName(const std::string &name)
{
    for (auto s : {GroupState::Empty, GroupState::Stable, GroupState::Rebalancing,
                   GroupState::Dead})
        if (groupStateName(s) == name)
            return s;
    return GroupState::Empty;
}

} // namespace

Result<MetricsSnapshot> metricsFromJson(const Json &j)
{
    if (!j.is_object() || !j.contains("topics") || !j["topics"].is_array())
        return makeError(Errc::MalformedRequest, "metrics: not a snapshot object");
    // nlohmann throws on a wrong type inside value(); a malformed reply must stay a value.
    try {
        MetricsSnapshot s;
        s.sequence = j.value("sequence", uint64_t{0});
        s.timestampMs = j.value("timestamp_ms", int64_t{0});
        s.broker = ratesFromJson(j.value("broker", Json::object()));
        s.latency = latencyFromJson(j.value("latency", Json::object()));
        for (const auto &t : j["topics"]) {
            TopicMetrics tm;
            tm.name = t.value("name", std::string());
            tm.records = t.value("records", int64_t{0});
            tm.sizeBytes = t.value("size_bytes", int64_t{0});
            tm.rates = ratesFromJson(t.value("rates", Json::object()));
            tm.latency = latencyFromJson(t.value("latency", Json::object()));
            for (const auto &p : t.value("partitions", Json::array())) {
                PartitionMetrics pm;
                pm.partition = p.value("partition", 0);
                pm.logStartOffset = p.value("log_start_offset", int64_t{0});
                pm.highWatermark = p.value("high_watermark", int64_t{0});
                pm.sizeBytes = p.value("size_bytes", int64_t{0});
                pm.rates = ratesFromJson(p.value("rates", Json::object()));
                tm.partitions.push_back(pm);
            }
            s.topics.push_back(std::move(tm));
        }
        for (const auto &g : j.value("groups", Json::array())) {
            GroupMetrics gm;
            gm.name = g.value("name", std::string());
            gm.state = groupStateFromName(g.value("state", std::string()));
            gm.generation = g.value("generation", 0);
            gm.members = g.value("members", 0);
            gm.totalLag = g.value("total_lag", int64_t{0});
            gm.rates = ratesFromJson(g.value("rates", Json::object()));
            gm.latency = latencyFromJson(g.value("latency", Json::object()));
            for (const auto &p : g.value("partitions", Json::array()))
                gm.partitions.push_back({p.value("topic", std::string()),
                                         p.value("partition", 0), p.value("committed", int64_t{-1}),
                                         p.value("high_watermark", int64_t{0}),
                                         p.value("lag", int64_t{0})});
            s.groups.push_back(std::move(gm));
        }
        return s;
    } catch (const Json::exception &e) {
        return makeError(Errc::MalformedRequest, std::string("metrics: ") + e.what());
    }
}

Json clientInfoToJson(const ClientInfo &ci)
{
    return Json{{"id", ci.id},
                {"address", ci.address},
                {"role", ci.role},
                {"client_id", ci.clientId},
                {"connected_ms", ci.connectedMs},
                {"requests", ci.requests},
                {"requests_per_s", ci.requestsPerSec},
                {"last_op", ci.lastOp},
                {"principal", ci.principal.empty() ? Json(nullptr) : Json(ci.principal)},
                {"records_in", ci.recordsIn},
                {"records_out", ci.recordsOut},
                {"records_in_per_s", ci.recordsInPerSec},
                {"records_out_per_s", ci.recordsOutPerSec},
                {"produced_topics", ci.producedTopics},
                {"consumed_topics", ci.consumedTopics}};
}

Result<ClientInfo> clientInfoFromJson(const Json &j)
{
    if (!j.is_object())
        return makeError(Errc::MalformedRequest, "client: not an object");
    // Strings and names: absent or null is empty, anything else but a string is an error.
    const auto text = [&](const char *name) {
        const auto it = j.find(name);
        return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
    };
    const auto rate = [&](const char *name) {
        const auto it = j.find(name);
        if (it == j.end() || it->is_null())
            return 0.0;
        if (!it->is_number())
            throw Json::type_error::create(302, std::string(name) + " must be a number", &*it);
        return it->get<double>();
    };
    const auto names = [&](const char *name) {
        std::vector<std::string> out;
        const auto it = j.find(name);
        if (it == j.end() || it->is_null())
            return out;
        for (const auto &n : it->get_ref<const Json::array_t &>())
            out.push_back(n.get<std::string>());
        return out;
    };
    try {
        ClientInfo ci;
        ci.id = integerOr<uint32_t>(j, "id", 0);
        ci.address = text("address");
        ci.role = text("role");
        ci.clientId = text("client_id");
        ci.connectedMs = integerOr<int64_t>(j, "connected_ms", 0);
        ci.requests = integerOr<uint64_t>(j, "requests", 0);
        ci.requestsPerSec = rate("requests_per_s");
        ci.lastOp = text("last_op");
        ci.principal = text("principal");
        ci.recordsIn = integerOr<uint64_t>(j, "records_in", 0);
        ci.recordsOut = integerOr<uint64_t>(j, "records_out", 0);
        ci.recordsInPerSec = rate("records_in_per_s");
        ci.recordsOutPerSec = rate("records_out_per_s");
        ci.producedTopics = names("produced_topics");
        ci.consumedTopics = names("consumed_topics");
        return ci;
    } catch (const Json::exception &e) {
        return makeError(Errc::MalformedRequest, std::string("client: ") + e.what());
    }
}

Json eventToJson(const BrokerEvent &e)
{
    return Json{{"timestamp_ms", e.timestampMs},
                {"kind", e.kind},
                {"subject", e.subject},
                {"detail", e.detail}};
}

std::string_view acksName(Acks acks)
{
    switch (acks) {
    case Acks::None: return "none";
    case Acks::Leader: return "leader";
    case Acks::Durable: return "durable";
    }
    return "leader";
}

Result<Acks> parseAcks(std::string_view text)
{
    if (text == "none")
        return Acks::None;
    if (text == "leader")
        return Acks::Leader;
    if (text == "durable")
        return Acks::Durable;
    return makeError(Errc::InvalidRequest, "field 'acks' must be none, leader or durable");
}

} // namespace eddy::net
