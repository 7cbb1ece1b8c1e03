// The Kafka protocol's request dispatch and its metadata-side APIs: ApiVersions, Metadata,
// ListOffsets and CreateTopics (Produce and Fetch are in kafka_produce_fetch.cpp). Each request
// is parsed whole and checked before anything is done for it; one that does not parse closes
// its connection, which is all Kafka's protocol offers for a frame it cannot answer, and the
// reason goes to the broker's event log.
#include "kafka_handler.h"

#include "kafka_codec.h"
#include "kafka_records.h"

#include <optional>

namespace eddy::kafka {

namespace {

constexpr int32_t kNodeId = 0;

KafkaOutcome closeWith(std::string reason)
{
    KafkaOutcome o;
    o.kind = KafkaOutcome::Kind::Close;
    o.reason = std::move(reason);
    return o;
}

const char *apiName(ApiKey key)
{
    switch (key) {
    case ApiKey::Produce: return "Produce";
    case ApiKey::Fetch: return "Fetch";
    case ApiKey::ListOffsets: return "ListOffsets";
    case ApiKey::Metadata: return "Metadata";
    case ApiKey::ApiVersions: return "ApiVersions";
    case ApiKey::CreateTopics: return "CreateTopics";
    }
    return "?";
}

std::optional<ApiRange> rangeOf(int16_t key)
{
    for (const auto &r : supportedApis())
        if (static_cast<int16_t>(r.key) == key)
            return r;
    return std::nullopt;
}

// Whether a request of this API and version uses the flexible (v2) header.
bool flexibleHeader(ApiKey key, int16_t version)
{
    return key == ApiKey::ApiVersions && version >= 3;
}

} // namespace

const std::vector<ApiRange> &supportedApis()
{
    static const std::vector<ApiRange> apis{
        {ApiKey::Produce, 3, 8},     // record batches v2; v9 is flexible
        {ApiKey::Fetch, 4, 11},      // v12 is flexible
        {ApiKey::ListOffsets, 1, 5}, // v6 is flexible
        {ApiKey::Metadata, 0, 8},    // v9 is flexible
        {ApiKey::ApiVersions, 0, 3},
        {ApiKey::CreateTopics, 0, 4}, // v5 is flexible
    };
    return apis;
}

KafkaHandler::KafkaHandler(Broker &broker, std::string clusterId)
    : m_broker(broker)
    , m_clusterId(std::move(clusterId))
{
}

std::string KafkaHandler::beginResponse(const Header &h)
{
    std::string out;
    out.reserve(256);
    KafkaWriter w(out);
    w.i32(0); // size, patched by finishResponse
    w.i32(h.correlationId);
    return out;
}

KafkaOutcome KafkaHandler::finishResponse(std::string bytes)
{
    KafkaWriter w(bytes);
    w.patchI32(0, static_cast<int32_t>(bytes.size() - 4));
    KafkaOutcome o;
    o.bytes = std::move(bytes);
    return o;
}

void KafkaHandler::handle(std::string_view frame, const Advertised &self, KafkaRespond respond)
{
    KafkaReader r(frame);
    const int16_t key = r.i16();
    Header h;
    h.version = r.i16();
    h.correlationId = r.i32();
    const auto clientId = r.nullableString();
    if (!r.ok())
        return respond(closeWith(std::string("malformed request header: ") + r.failure()));
    h.clientId = clientId ? std::string(*clientId) : std::string();
    const auto range = rangeOf(key);
    if (!range)
        return respond(closeWith("unsupported API key " + std::to_string(key)));
    h.key = range->key;
    if (h.key == ApiKey::ApiVersions && h.version > range->maxVersion) {
        // KIP-511: a newer ApiVersions than ours is answered in v0 with UNSUPPORTED_VERSION and
        // our ranges, and the client retries with a version we speak. Its body is not parsed.
        Header v0 = h;
        v0.version = 0;
        std::string out = beginResponse(v0);
        KafkaWriter w(out);
        w.i16(static_cast<int16_t>(KafkaError::UnsupportedVersion));
        w.arrayLength(static_cast<int32_t>(supportedApis().size()));
        for (const auto &a : supportedApis()) {
            w.i16(static_cast<int16_t>(a.key));
            w.i16(a.minVersion);
            w.i16(a.maxVersion);
        }
        return respond(finishResponse(std::move(out)));
    }
    if (h.version < range->minVersion || h.version > range->maxVersion)
        return respond(closeWith(std::string(apiName(h.key)) + " v" + std::to_string(h.version)
                                 + " is not supported (v" + std::to_string(range->minVersion)
                                 + "-v" + std::to_string(range->maxVersion) + ")"));
    if (flexibleHeader(h.key, h.version))
        r.skipTaggedFields();
    if (!r.ok())
        return respond(closeWith(std::string("malformed request header: ") + r.failure()));
    switch (h.key) {
    case ApiKey::ApiVersions:
        return apiVersions(h, r, respond);
    case ApiKey::Metadata:
        return metadata(h, r, self, respond);
    case ApiKey::ListOffsets:
        return listOffsets(h, r, respond);
    case ApiKey::CreateTopics:
        return createTopics(h, r, respond);
    case ApiKey::Produce:
        return produce(h, r, respond);
    case ApiKey::Fetch:
        return fetch(h, r, respond);
    }
}

bool KafkaHandler::parsedWhole(const char *api, KafkaReader &r, KafkaRespond &respond)
{
    if (r.ok() && r.atEnd())
        return true;
    respond(closeWith(std::string("malformed ") + api + " request: "
                      + (r.ok() ? "bytes past its fields" : r.failure())));
    return false;
}

void KafkaHandler::apiVersions(const Header &h, KafkaReader &r, KafkaRespond &respond)
{
    const bool flexible = h.version >= 3;
    if (flexible) {
        r.compactString(); // client_software_name
        r.compactString(); // client_software_version
        r.skipTaggedFields();
    }
    if (!parsedWhole("ApiVersions", r, respond))
        return;
    std::string out = beginResponse(h); // ApiVersions responses always have header v0
    KafkaWriter w(out);
    w.i16(0);
    const auto &apis = supportedApis();
    if (flexible)
        w.compactArrayLength(static_cast<int32_t>(apis.size()));
    else
        w.arrayLength(static_cast<int32_t>(apis.size()));
    for (const auto &a : apis) {
        w.i16(static_cast<int16_t>(a.key));
        w.i16(a.minVersion);
        w.i16(a.maxVersion);
        if (flexible)
            w.noTaggedFields();
    }
    if (h.version >= 1)
        w.i32(0); // throttle_time_ms
    if (flexible)
        w.noTaggedFields();
    respond(finishResponse(std::move(out)));
}

void KafkaHandler::metadata(const Header &h, KafkaReader &r, const Advertised &self,
                            KafkaRespond &respond)
{
    // v0: an empty list means every topic; v1+: null means every topic, empty means none.
    const int32_t count = r.arrayLength(2, h.version >= 1);
    std::vector<std::string> names;
    for (int32_t i = 0; i < count; ++i)
        names.emplace_back(r.string());
    if (h.version >= 4)
        r.boolean(); // allow_auto_topic_creation: topics are created explicitly here
    if (h.version >= 8) {
        r.boolean(); // include_cluster_authorized_operations
        r.boolean(); // include_topic_authorized_operations
    }
    if (!parsedWhole("Metadata", r, respond))
        return;
    const bool all = count == -1 || (h.version == 0 && count == 0);
    std::vector<std::pair<std::string, Result<TopicInfo>>> topics;
    if (all) {
        for (auto &t : m_broker.listTopics()) {
            std::string name = t.name;
            topics.emplace_back(std::move(name), std::move(t));
        }
    } else {
        for (auto &n : names)
            topics.emplace_back(n, m_broker.describeTopic(n));
    }
    std::string out = beginResponse(h);
    KafkaWriter w(out);
    if (h.version >= 3)
        w.i32(0); // throttle_time_ms
    w.arrayLength(1);
    w.i32(kNodeId);
    w.string(self.host);
    w.i32(self.port);
    if (h.version >= 1)
        w.nullableString(std::nullopt); // rack
    if (h.version >= 2)
        w.nullableString(m_clusterId);
    if (h.version >= 1)
        w.i32(kNodeId); // controller_id
    w.arrayLength(static_cast<int32_t>(topics.size()));
    for (const auto &[name, info] : topics) {
        w.i16(static_cast<int16_t>(info ? KafkaError::None : toKafkaError(info.code())));
        w.string(name);
        if (h.version >= 1)
            w.boolean(false); // is_internal
        const int32_t partitions = info ? info->partitions : 0;
        w.arrayLength(partitions);
        for (int32_t p = 0; p < partitions; ++p) {
            w.i16(0);
            w.i32(p);
            w.i32(kNodeId); // leader
            if (h.version >= 7)
                w.i32(0); // leader_epoch: there is only ever one leader
            w.arrayLength(1); // replica_nodes
            w.i32(kNodeId);
            w.arrayLength(1); // isr_nodes
            w.i32(kNodeId);
            if (h.version >= 5)
                w.arrayLength(0); // offline_replicas
        }
        if (h.version >= 8)
            w.i32(INT32_MIN); // topic_authorized_operations: not computed
    }
    if (h.version >= 8)
        w.i32(INT32_MIN); // cluster_authorized_operations: not computed
    respond(finishResponse(std::move(out)));
}

void KafkaHandler::listOffsets(const Header &h, KafkaReader &r, KafkaRespond &respond)
{
    struct Query {
        int32_t partition = 0;
        int64_t timestamp = 0;
    };
    std::vector<std::pair<std::string, std::vector<Query>>> topics;
    r.i32(); // replica_id
    if (h.version >= 2)
        r.i8(); // isolation_level: without transactions both levels read the same
    const int32_t count = r.arrayLength(6);
    for (int32_t t = 0; t < count && r.ok(); ++t) {
        std::string name(r.string());
        std::vector<Query> queries;
        const int32_t n = r.arrayLength(12);
        for (int32_t p = 0; p < n && r.ok(); ++p) {
            Query q;
            q.partition = r.i32();
            if (h.version >= 4)
                r.i32(); // current_leader_epoch
            q.timestamp = r.i64();
            queries.push_back(q);
        }
        topics.emplace_back(std::move(name), std::move(queries));
    }
    if (!parsedWhole("ListOffsets", r, respond))
        return;
    std::string out = beginResponse(h);
    KafkaWriter w(out);
    if (h.version >= 2)
        w.i32(0); // throttle_time_ms
    w.arrayLength(static_cast<int32_t>(topics.size()));
    for (const auto &[name, queries] : topics) {
        w.string(name);
        w.arrayLength(static_cast<int32_t>(queries.size()));
        const auto info = m_broker.describeTopic(name);
        for (const auto &q : queries) {
            KafkaError error = KafkaError::None;
            int64_t offset = -1;
            int64_t timestamp = -1;
            if (!info) {
                error = toKafkaError(info.code());
            } else if (q.partition < 0 || q.partition >= info->partitions) {
                error = KafkaError::UnknownTopicOrPartition;
            } else {
                const auto &part = info->partitionInfo[static_cast<std::size_t>(q.partition)];
                if (q.timestamp == -1) { // latest
                    offset = part.highWatermark;
                } else if (q.timestamp == -2) { // earliest
                    offset = part.logStartOffset;
                } else {
                    auto found = m_broker.offsetForTimestamp(name, q.partition, q.timestamp);
                    if (!found)
                        error = toKafkaError(found.code());
                    else if (*found < part.highWatermark) // Kafka: -1 when no record is as new
                        offset = *found, timestamp = q.timestamp;
                }
            }
            w.i32(q.partition);
            w.i16(static_cast<int16_t>(error));
            w.i64(timestamp);
            w.i64(offset);
            if (h.version >= 4)
                w.i32(0); // leader_epoch
        }
    }
    respond(finishResponse(std::move(out)));
}

void KafkaHandler::createTopics(const Header &h, KafkaReader &r, KafkaRespond &respond)
{
    struct Wanted {
        TopicSpec spec;
        int16_t replication = -1;
        bool assigned = false;
        std::string badConfig;
    };
    std::vector<Wanted> wanted;
    const int32_t count = r.arrayLength(16);
    for (int32_t t = 0; t < count && r.ok(); ++t) {
        Wanted x;
        x.spec.name = std::string(r.string());
        x.spec.partitions = r.i32();
        x.replication = r.i16();
        const int32_t assignments = r.arrayLength(8);
        x.assigned = assignments > 0;
        for (int32_t a = 0; a < assignments && r.ok(); ++a) {
            r.i32();
            const int32_t brokers = r.arrayLength(4);
            for (int32_t b = 0; b < brokers && r.ok(); ++b)
                r.i32();
        }
        const int32_t configs = r.arrayLength(4);
        for (int32_t c = 0; c < configs && r.ok(); ++c) {
            const std::string name(r.string());
            const auto value = r.nullableString();
            if (!r.ok() || !value)
                continue; // null value: the default
            char *end = nullptr;
            const std::string v(*value);
            const long long n = std::strtoll(v.c_str(), &end, 10);
            const bool numeric = !v.empty() && end && *end == '\0';
            if (name == "retention.ms" && numeric)
                x.spec.retention.maxAgeMs = n < 0 ? 0 : n; // -1: unlimited, as in Kafka
            else if (name == "retention.bytes" && numeric)
                x.spec.retention.maxBytes = n < 0 ? 0 : n;
            else if (x.badConfig.empty())
                x.badConfig = name + "=" + v;
        }
        wanted.push_back(std::move(x));
    }
    r.i32(); // timeout_ms: creation is synchronous here
    const bool validateOnly = h.version >= 1 ? r.boolean() : false;
    if (!parsedWhole("CreateTopics", r, respond))
        return;
    std::string out = beginResponse(h);
    KafkaWriter w(out);
    if (h.version >= 2)
        w.i32(0); // throttle_time_ms
    w.arrayLength(static_cast<int32_t>(wanted.size()));
    for (auto &x : wanted) {
        KafkaError error = KafkaError::None;
        std::string message;
        if (x.spec.partitions == -1)
            x.spec.partitions = 1; // the broker default, as num.partitions=1
        if (x.assigned) {
            error = KafkaError::InvalidRequest;
            message = "manual replica assignment is not supported by a single-node broker";
        } else if (x.replication != -1 && x.replication != 1) {
            error = KafkaError::InvalidReplicationFactor;
            message = "replication factor " + std::to_string(x.replication)
                      + " is larger than the 1 broker available";
        } else if (!x.badConfig.empty()) {
            error = KafkaError::InvalidConfig;
            message = "unsupported topic config " + x.badConfig
                      + " (retention.ms and retention.bytes are supported)";
        } else if (auto valid = validateTopicSpec(x.spec); !valid) {
            error = toKafkaError(valid.code());
            message = valid.error().message;
        } else if (validateOnly) {
            if (m_broker.describeTopic(x.spec.name)) {
                error = KafkaError::TopicAlreadyExists;
                message = "topic " + x.spec.name + " already exists";
            }
        } else if (auto created = m_broker.createTopic(x.spec); !created) {
            error = toKafkaError(created.code());
            message = created.error().message;
        }
        w.string(x.spec.name);
        w.i16(static_cast<int16_t>(error));
        if (h.version >= 1)
            w.nullableString(error == KafkaError::None
                                 ? std::nullopt
                                 : std::optional<std::string_view>(message));
    }
    respond(finishResponse(std::move(out)));
}

} // namespace eddy::kafka
