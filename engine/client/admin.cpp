// Admin requests: each method builds one JSON op, sends it and turns the reply into the
// engine's (or this library's) types, so callers such as the CLI never touch the wire format.
#include "admin.h"

#include "json_codec.h"

namespace eddy::client {

namespace {

Json retentionToJson(const RetentionPolicy &r)
{
    return Json{{"records", r.maxRecords}, {"bytes", r.maxBytes}, {"ms", r.maxAgeMs}};
}

std::vector<TopicPartition> partitionsFromJson(const Json &j)
{
    std::vector<TopicPartition> out;
    for (const auto &e : j)
        out.push_back({e.at("topic").get<std::string>(), net::integerAt<int32_t>(e, "partition")});
    return out;
}

Error badReply(const char *what, const std::exception &e)
{
    return makeError(Errc::MalformedRequest, std::string("unexpected ") + what
                                                 + " in the broker's reply: " + e.what());
}

Result<std::vector<GroupOffset>> offsetsFromJson(const Json &j)
{
    std::vector<GroupOffset> out;
    if (!j.is_array())
        return makeError(Errc::MalformedRequest, "the broker's reply has no offsets array");
    for (const auto &e : j) {
        auto o = groupOffsetFromJson(e);
        if (!o)
            return o.error();
        out.push_back(std::move(*o));
    }
    return out;
}

Result<TopicInfo> topicFromReply(const Result<Json> &reply)
{
    if (!reply)
        return reply.error();
    auto it = reply->find("topic");
    if (it == reply->end())
        return makeError(Errc::MalformedRequest, "the broker's reply has no topic");
    return net::topicInfoFromJson(*it);
}

} // namespace

Result<GroupOffset> groupOffsetFromJson(const Json &j)
{
    try {
        GroupOffset o;
        o.topic = j.at("topic").get<std::string>();
        o.partition = net::integerAt<int32_t>(j, "partition");
        o.offset = net::integerAt<int64_t>(j, "offset");
        o.highWatermark = net::integerOr<int64_t>(j, "high_watermark", 0);
        o.logStartOffset = net::integerOr<int64_t>(j, "log_start_offset", 0);
        o.lag = net::integerOr<int64_t>(j, "lag", 0);
        o.metadata = j.value("metadata", std::string());
        o.commitMs = net::integerOr<int64_t>(j, "commit_ms", 0);
        return o;
    } catch (const Json::exception &e) {
        return badReply("offset", e);
    }
}

Result<GroupInfo> groupInfoFromJson(const Json &j)
{
    try {
        GroupInfo g;
        g.group = j.at("group").get<std::string>();
        g.state = j.value("state", std::string());
        g.assignor = j.value("assignor", std::string());
        g.generation = net::integerOr<int>(j, "generation", 0);
        g.totalLag = net::integerOr<int64_t>(j, "total_lag", 0);
        for (const auto &m : j.value("members", Json::array())) {
            GroupMember member;
            member.memberId = m.at("member_id").get<std::string>();
            member.clientId = m.value("client_id", std::string());
            member.topics = m.value("topics", std::vector<std::string>());
            member.sessionTimeoutMs = net::integerOr<int>(m, "session_timeout_ms", 0);
            member.ackedGeneration = net::integerOr<int>(m, "acked_generation", 0);
            member.lastHeartbeatMs = net::integerOr<int64_t>(m, "last_heartbeat_ms", 0);
            member.assigned = partitionsFromJson(m.value("assignment", Json::array()));
            member.pending = partitionsFromJson(m.value("pending", Json::array()));
            g.members.push_back(std::move(member));
        }
        auto offsets = offsetsFromJson(j.value("offsets", Json::array()));
        if (!offsets)
            return offsets.error();
        g.offsets = std::move(*offsets);
        return g;
    } catch (const Json::exception &e) {
        return badReply("group description", e);
    }
}

Json groupInfoToJson(const GroupInfo &g)
{
    const auto partitions = [](const std::vector<TopicPartition> &tps) {
        Json out = Json::array();
        for (const auto &tp : tps)
            out.push_back({{"topic", tp.topic}, {"partition", tp.partition}});
        return out;
    };
    Json members = Json::array();
    for (const auto &m : g.members)
        members.push_back({{"member_id", m.memberId},
                           {"client_id", m.clientId},
                           {"topics", m.topics},
                           {"session_timeout_ms", m.sessionTimeoutMs},
                           {"acked_generation", m.ackedGeneration},
                           {"last_heartbeat_ms", m.lastHeartbeatMs},
                           {"assignment", partitions(m.assigned)},
                           {"pending", partitions(m.pending)}});
    Json offsets = Json::array();
    for (const auto &o : g.offsets)
        offsets.push_back(net::committedToJson(o));
    return Json{{"group", g.group},
                {"state", g.state},
                {"assignor", g.assignor},
                {"generation", g.generation},
                {"members", std::move(members)},
                {"offsets", std::move(offsets)},
                {"total_lag", g.totalLag}};
}

Json groupSummaryToJson(const GroupSummary &g)
{
    return Json{{"group", g.group},
                {"state", g.state},
                {"generation", g.generation},
                {"members", g.members}};
}

Result<std::unique_ptr<Admin>> Admin::open(const ConnectionOptions &options, int requestTimeoutMs)
{
    auto connection = Connection::open(options);
    if (!connection)
        return connection.error();
    return std::make_unique<Admin>(std::move(*connection), requestTimeoutMs);
}

Result<std::unique_ptr<Admin>> Admin::open(const std::string &url, int requestTimeoutMs)
{
    ConnectionOptions options;
    options.url = url;
    return open(options, requestTimeoutMs);
}

Admin::Admin(std::shared_ptr<Connection> connection, int requestTimeoutMs)
    : m_connection(std::move(connection))
    , m_timeoutMs(requestTimeoutMs)
{
}

Result<Json> Admin::call(Json request)
{
    return m_connection->call(request, m_timeoutMs);
}

Result<TopicInfo> Admin::createTopic(const std::string &name, int32_t partitions,
                                     const RetentionPolicy &retention)
{
    return topicFromReply(call({{"op", "create_topic"},
                                {"topic", name},
                                {"partitions", partitions},
                                {"retention", retentionToJson(retention)}}));
}

Result<void> Admin::deleteTopic(const std::string &name)
{
    auto r = call({{"op", "delete_topic"}, {"topic", name}});
    if (!r)
        return r.error();
    return {};
}

Result<std::vector<TopicInfo>> Admin::listTopics()
{
    auto r = call({{"op", "list_topics"}});
    if (!r)
        return r.error();
    std::vector<TopicInfo> out;
    auto it = r->find("topics");
    if (it == r->end() || !it->is_array())
        return makeError(Errc::MalformedRequest, "the broker's reply has no topics array");
    for (const auto &t : *it) {
        auto info = net::topicInfoFromJson(t);
        if (!info)
            return info.error();
        out.push_back(std::move(*info));
    }
    return out;
}

Result<TopicInfo> Admin::describeTopic(const std::string &name)
{
    return topicFromReply(call({{"op", "describe_topic"}, {"topic", name}}));
}

Result<TopicInfo> Admin::alterPartitions(const std::string &name, int32_t partitions)
{
    return topicFromReply(
        call({{"op", "alter_topic"}, {"topic", name}, {"partitions", partitions}}));
}

Result<TopicInfo> Admin::alterRetention(const std::string &name, const RetentionPolicy &retention)
{
    return topicFromReply(
        call({{"op", "alter_topic"}, {"topic", name}, {"retention", retentionToJson(retention)}}));
}

Result<std::vector<GroupSummary>> Admin::listGroups()
{
    auto r = call({{"op", "list_groups"}});
    if (!r)
        return r.error();
    try {
        std::vector<GroupSummary> out;
        for (const auto &g : r->at("groups"))
            out.push_back({g.at("group").get<std::string>(), g.value("state", std::string()),
                           net::integerOr<int>(g, "generation", 0),
                           net::integerOr<int>(g, "members", 0)});
        return out;
    } catch (const Json::exception &e) {
        return badReply("group list", e);
    }
}

Result<GroupInfo> Admin::describeGroup(const std::string &group)
{
    auto r = call({{"op", "describe_group"}, {"group", group}});
    if (!r)
        return r.error();
    auto it = r->find("group");
    if (it == r->end() || !it->is_object())
        return makeError(Errc::MalformedRequest, "the broker's reply has no group object");
    return groupInfoFromJson(*it);
}

Result<std::vector<GroupOffset>> Admin::committed(const std::string &group,
                                                  const std::string &topic)
{
    Json req{{"op", "committed"}, {"group", group}};
    if (!topic.empty())
        req["topic"] = topic;
    auto r = call(std::move(req));
    if (!r)
        return r.error();
    return offsetsFromJson(r->value("offsets", Json()));
}

Result<std::vector<GroupOffset>> Admin::resetOffsets(const std::string &group,
                                                     const std::string &topic, ResetTarget target,
                                                     const std::vector<int32_t> &partitions)
{
    Json req{{"op", "reset_offsets"}, {"group", group}, {"topic", topic}};
    switch (target.kind) {
    case ResetKind::Earliest: req["to"] = "earliest"; break;
    case ResetKind::Latest: req["to"] = "latest"; break;
    case ResetKind::ToOffset: req["to"] = {{"offset", target.value}}; break;
    case ResetKind::ToTimestamp: req["to"] = {{"timestamp", target.value}}; break;
    }
    if (!partitions.empty())
        req["partitions"] = partitions;
    auto r = call(std::move(req));
    if (!r)
        return r.error();
    return offsetsFromJson(r->value("offsets", Json()));
}

Result<void> Admin::deleteGroup(const std::string &group)
{
    auto r = call({{"op", "delete_group"}, {"group", group}});
    if (!r)
        return r.error();
    return {};
}

Result<Json> Admin::metrics()
{
    auto r = call({{"op", "metrics"}});
    if (!r)
        return r.error();
    return r->value("metrics", Json::object());
}

Result<Json> Admin::clients()
{
    auto r = call({{"op", "clients"}});
    if (!r)
        return r.error();
    return r->value("clients", Json::array());
}

Result<void> Admin::fault(const std::string &kind, const std::string &target, bool active,
                          const Json &params)
{
    Json request{{"op", "fault"}, {"kind", kind}, {"active", active}, {"params", params}};
    if (!target.empty())
        request["target"] = target;
    auto r = call(request);
    if (!r)
        return r.error();
    return {};
}

Result<Json> Admin::hello()
{
    return call({{"op", "hello"}});
}

} // namespace eddy::client
