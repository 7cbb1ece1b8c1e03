// Request dispatch for both encodings. JSON requests run through the op table of json_ops.cpp;
// binary frames carry the data-plane ops (produce, fetch, poll) compactly and tunnel every other
// op as JSON. The handler also answers hello and clients itself and tracks each connected client
// for the latter. A broker stall (fault injection) holds each request on a timer before it is
// dispatched. With access control on, the handler also answers `auth`, remembers each pipe's
// principal and checks every request against it before it reaches the op table or the broker,
// so a refused request changes nothing.
#include "protocol_handler.h"

#include "batch_codec.h"

#include "binary_codec.h"
#include "fault_sink.h"
#include "json_ops.h"
#include "scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace eddy::net {

const std::vector<std::string> &supportedOps()
{
    static const std::vector<std::string> ops = [] {
        std::vector<std::string> out{"hello", "auth", "clients", "fault"};
        for (const auto &[name, fn] : opTable())
            out.push_back(name);
        std::sort(out.begin(), out.end());
        return out;
    }();
    return ops;
}

ProtocolHandler::ProtocolHandler(Broker &broker, std::string brokerId,
                                 std::optional<AuthConfig> auth)
    : m_broker(broker)
    , m_brokerId(std::move(brokerId))
    , m_auth(auth ? std::make_unique<const AuthConfig>(std::move(*auth)) : nullptr)
    , m_authLimiter(m_auth ? std::make_unique<AuthLimiter>(m_auth->rateLimit) : nullptr)
    , m_stallTimer(std::make_unique<Scheduler>())
{
}

namespace {

int64_t steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace

void ProtocolHandler::logAuth(const std::string &line) const
{
    if (m_auth->log)
        return m_auth->log(line);
    std::fprintf(stderr, "eddy broker: %s\n", line.c_str());
}

const Principal *ProtocolHandler::principalOf(uint32_t pipeId) const
{
    std::lock_guard lock(m_table->mutex);
    auto it = m_table->clients.find(pipeId);
    return it == m_table->clients.end() ? nullptr : it->second.principal;
}

Error ProtocolHandler::unauthenticated(const Peer &peer, std::string_view op)
{
    bool first = false;
    {
        std::lock_guard lock(m_table->mutex);
        auto it = m_table->clients.find(peer.pipeId);
        if (it != m_table->clients.end() && !it->second.reportedUnauthenticated)
            first = it->second.reportedUnauthenticated = true;
    }
    if (first)
        logAuth("auth: refused '" + std::string(op) + "' from unauthenticated " + peer.address
                + " (further refusals on this connection are not logged)");
    return makeError(Errc::Unauthenticated, "this broker requires authentication: send "
                                            "{\"op\":\"auth\",\"token\":...} first");
}

Error ProtocolHandler::refused(const Peer &peer, const Principal &p, Error error)
{
    logAuth("auth: refused for principal '" + p.name + "' at " + peer.address + ": "
            + error.message);
    return error;
}

// The `auth` op: binds the pipe to the principal whose token it presents. A failed attempt
// unbinds the pipe (whoever holds it no longer proves anything) and counts against its host.
Json ProtocolHandler::authOp(const Json &request, const Peer &peer)
{
    if (!m_auth) {
        auto out = okReply();
        out["principal"] = nullptr;
        out["auth"] = "none";
        return out;
    }
    const std::string host = addressHost(peer.address);
    const int64_t now = steadyMs();
    const auto bind = [&](const Principal *p) {
        std::lock_guard lock(m_table->mutex);
        auto &s = m_table->clients[peer.pipeId];
        s.principal = p;
        s.info.principal = p ? p->name : std::string();
    };
    if (!m_authLimiter->mayTry(host, now)) {
        bind(nullptr);
        return errorReply(makeError(Errc::AuthRateLimited,
                                    "too many failed authentication attempts from " + host
                                        + "; try again later"));
    }
    auto token = request.find("token");
    const Principal *p = token != request.end() && token->is_string()
                             ? findPrincipal(*m_auth, token->get_ref<const std::string &>())
                             : nullptr;
    bind(p);
    if (!p) {
        const bool lockedOut = m_authLimiter->recordFailure(host, now);
        logAuth("auth: failed authentication from " + peer.address
                + (token == request.end() ? " (no token)" : " (token matches no principal)")
                + (lockedOut ? "; " + host + " is refused for a while after "
                                   + std::to_string(m_auth->rateLimit.maxFailures)
                                   + " failures"
                             : std::string()));
        return errorReply(makeError(Errc::Unauthenticated, "authentication failed"));
    }
    m_authLimiter->recordSuccess(host);
    auto out = okReply();
    out["principal"] = p->name;
    out["auth"] = "token";
    return out;
}

ProtocolHandler::~ProtocolHandler()
{
    // Stop first: a stalled request coming due now would run against members being destroyed.
    m_stallTimer->stop();
}

void ProtocolHandler::setStall(int ms, int jitterMs)
{
    m_stallMs.store(std::max(0, ms), std::memory_order_relaxed);
    m_stallJitterMs.store(std::max(0, jitterMs), std::memory_order_relaxed);
}

void ProtocolHandler::peerConnected(const Peer &peer)
{
    std::lock_guard lock(m_table->mutex);
    auto &s = m_table->clients[peer.pipeId];
    // NNG may deliver the pipe's first request before this notification: keep what it counted.
    if (s.info.id != 0)
        return;
    s.info.id = peer.pipeId;
    s.info.address = peer.address;
    s.info.connectedMs = wallClockMs();
    s.info.role = "idle";
}

void ProtocolHandler::peerDisconnected(uint32_t pipeId)
{
    std::lock_guard lock(m_table->mutex);
    m_table->clients.erase(pipeId);
}

namespace {

// Sets a client's text field only when it changes: a connection sends the same op, as the same
// principal in the same role, request after request, and an assignment per request was a copy
// (and an allocation for a long name) under the clients table's lock.
void assignIfChanged(std::string &field, std::string_view value)
{
    if (field != value)
        field.assign(value);
}

} // namespace

void ProtocolHandler::track(const Peer &peer, std::string_view op, std::string_view clientId)
{
    const bool produce = isProduceOp(op);
    const bool consume = !produce && isConsumeOp(op);
    const int64_t nowSteady = steadyMs();
    std::lock_guard lock(m_table->mutex);
    auto &s = m_table->clients[peer.pipeId];
    if (s.info.id == 0) {
        s.info.id = peer.pipeId;
        s.info.address = peer.address;
        s.info.connectedMs = wallClockMs();
    }
    ++s.info.requests;
    assignIfChanged(s.info.lastOp, op);
    assignIfChanged(s.info.principal,
                    s.principal ? std::string_view(s.principal->name) : std::string_view());
    if (!clientId.empty())
        assignIfChanged(s.info.clientId, clientId);
    if (produce)
        ++s.produces;
    else if (consume)
        ++s.consumes;
    assignIfChanged(s.info.role, s.produces && s.consumes ? "producer+consumer"
                                 : s.produces             ? "producer"
                                 : s.consumes             ? "consumer"
                                                          : "admin");
    s.requestRate.add(1, nowSteady);
}

void ProtocolHandler::SecondCounter::add(uint64_t n, int64_t nowMs)
{
    const int64_t now = nowMs / 1000;
    if (now != second) {
        // The current second becomes the previous one only if they are adjacent; after a gap
        // the previous full second counted nothing.
        previous = now == second + 1 ? current : 0;
        current = 0;
        second = now;
    }
    current += n;
}

double ProtocolHandler::SecondCounter::perSecond(int64_t nowMs) const
{
    const int64_t now = nowMs / 1000;
    if (now == second)
        return static_cast<double>(previous);
    return now == second + 1 ? static_cast<double>(current) : 0.0;
}

void ProtocolHandler::ClientTable::account(uint32_t pipeId, bool in, uint64_t records,
                                           std::span<const std::string_view> topics)
{
    const int64_t now = steadyMs();
    std::lock_guard lock(mutex);
    auto it = clients.find(pipeId);
    if (it == clients.end())
        return;
    Stats &s = it->second;
    (in ? s.info.recordsIn : s.info.recordsOut) += records;
    (in ? s.inRate : s.outRate).add(records, now);
    for (const std::string_view topic : topics)
        addTopic(in ? s.info.producedTopics : s.info.consumedTopics, topic);
}

void ProtocolHandler::ClientTable::addTopic(std::vector<std::string> &names, std::string_view topic)
{
    auto at = std::lower_bound(names.begin(), names.end(), topic);
    if (at != names.end() && *at == topic)
        return;
    if (names.size() < kMaxClientTopics)
        names.insert(at, std::string(topic));
}

ProtocolHandler::Reply ProtocolHandler::countingRecords(const std::string &op,
                                                        const Json &request, uint32_t pipeId,
                                                        Reply reply) const
{
    const bool produce = op == "produce";
    const bool fetch = op == "fetch";
    if (!produce && !fetch && op != "poll")
        return reply;
    std::string topic;
    if (auto t = request.find("topic"); t != request.end() && t->is_string())
        topic = t->get<std::string>();
    // A produce reply does not repeat what was produced: count the request's records now.
    uint64_t produced = 1;
    if (auto r = request.find("records"); r != request.end() && r->is_array())
        produced = r->size();
    return [table = m_table, reply = std::move(reply), produce, fetch,
            topic = std::move(topic), produced, pipeId](Json j) {
        if (j.value("ok", false)) {
            const auto records = j.find("records");
            const bool hasRecords = records != j.end() && records->is_array();
            const std::string_view one = topic;
            if (produce) {
                table->account(pipeId, true, produced, {&one, 1});
            } else if (fetch) {
                table->account(pipeId, false, hasRecords ? records->size() : 0, {&one, 1});
            } else {
                // poll: the topics of what was returned and of the member's assignment (views
                // into j, which outlives the call).
                std::vector<std::string_view> topics;
                const auto collect = [&](const Json &list) {
                    if (!list.is_array())
                        return;
                    for (const auto &e : list)
                        if (e.is_object())
                            if (auto t = e.find("topic"); t != e.end() && t->is_string())
                                topics.push_back(t->get_ref<const std::string &>());
                };
                if (auto a = j.find("assignment"); a != j.end())
                    collect(*a);
                if (hasRecords)
                    collect(*records);
                std::sort(topics.begin(), topics.end());
                topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
                table->account(pipeId, false, hasRecords ? records->size() : 0, topics);
            }
        }
        reply(std::move(j));
    };
}

std::vector<ClientInfo> ProtocolHandler::clients() const
{
    const int64_t now = steadyMs();
    std::lock_guard lock(m_table->mutex);
    std::vector<ClientInfo> out;
    for (const auto &[id, s] : m_table->clients) {
        out.push_back(s.info);
        out.back().requestsPerSec = s.requestRate.perSecond(now);
        out.back().recordsInPerSec = s.inRate.perSecond(now);
        out.back().recordsOutPerSec = s.outRate.perSecond(now);
    }
    return out;
}

void ProtocolHandler::handle(std::string_view request, const Peer &peer, ReplyFn reply)
{
    const int stallMs = m_stallMs.load(std::memory_order_relaxed);
    const int jitterMs = m_stallJitterMs.load(std::memory_order_relaxed);
    if (stallMs == 0 && jitterMs == 0)
        return dispatch(request, peer, std::move(reply));
    // A stalled broker must not hold NNG's threads while it waits (they also serve every other
    // work item): the request is copied, since NNG frees its message once handle() returns, and
    // handled on the timer thread when due. An op that waits for the store (admin ops) then
    // waits there, delaying the stalled requests behind it; a stalled broker is the point.
    m_stallTimer->after(std::chrono::milliseconds(jitteredDelayMs(stallMs, jitterMs)),
                        [this, request = std::string(request), peer, reply = std::move(reply)] {
                            dispatch(request, peer, reply);
                        });
}

void ProtocolHandler::dispatch(std::string_view request, const Peer &peer, ReplyFn reply)
{
    if (!request.empty() && static_cast<uint8_t>(request.front()) == kBinaryMagic)
        return handleBinary(request, peer, std::move(reply));
    auto parsed = parseRequest(request);
    if (!parsed) {
        track(peer, "malformed");
        return reply(errorReply(parsed.error()).dump());
    }
    handleJson(*parsed, peer, [reply](Json j) {
        reply(j.dump(-1, ' ', false, Json::error_handler_t::replace));
    });
}

void ProtocolHandler::setNetworkFaultHooks(NetworkFaultHooks hooks)
{
    std::lock_guard lock(m_hooksMutex);
    m_networkHooks = std::move(hooks);
}

// The `fault` op: starts or ends a broker-side or network fault live, for the studio, the CLI
// and any external tool. Broker faults act on this broker; network faults act on the
// fault-injecting endpoint (BrokerServerOptions::faultyListen), so ordinary clients are spared.
Json ProtocolHandler::faultOp(const Json &request)
{
    auto kind = stringField(request, "kind");
    if (!kind)
        return errorReply(kind.error());
    auto active = optionalBool(request, "active", true);
    if (!active)
        return errorReply(active.error());
    const Json params = request.value("params", Json::object());
    if (!params.is_object())
        return errorReply(makeError(Errc::InvalidRequest, "field 'params' must be an object"));
    const auto number = [&](const char *name, double fallback) -> Result<double> {
        auto it = params.find(name);
        if (it == params.end())
            return fallback;
        if (!it->is_number() || it->get<double>() < 0)
            return makeError(Errc::InvalidRequest, std::string("params.") + name
                                                       + " must be a number >= 0");
        return it->get<double>();
    };
    const bool on = *active;
    if (*kind == "partition-offline") {
        auto target = stringField(request, "target");
        if (!target)
            return errorReply(target.error());
        const auto slash = target->rfind('/');
        if (slash == std::string::npos)
            return errorReply(
                makeError(Errc::InvalidRequest, "target must be \"topic/partition\""));
        char *end = nullptr;
        const long p = std::strtol(target->c_str() + slash + 1, &end, 10);
        if (*end != '\0' || slash + 1 == target->size())
            return errorReply(
                makeError(Errc::InvalidRequest, "target must be \"topic/partition\""));
        if (auto r = m_broker.setPartitionOffline(target->substr(0, slash), static_cast<int32_t>(p),
                                                  on);
            !r)
            return errorReply(r.error());
    } else if (*kind == "broker-stall") {
        auto delay = number("delay_ms", 200);
        auto jitter = number("jitter_ms", 0);
        if (!delay || !jitter)
            return errorReply(!delay ? delay.error() : jitter.error());
        setStall(on ? static_cast<int>(*delay) : 0, on ? static_cast<int>(*jitter) : 0);
    } else if (*kind == "disk-slow" || *kind == "disk-full") {
        auto delay = number("commit_delay_ms", 50);
        if (!delay)
            return errorReply(delay.error());
        m_broker.setDiskFault(*kind == "disk-slow" && on ? static_cast<int>(*delay) : 0,
                              *kind == "disk-full" && on);
    } else if (*kind == "io-error") {
        m_broker.setIoErrorFault(on);
    } else if (*kind == "latency" || *kind == "drop" || *kind == "disconnect") {
        NetworkFaultHooks hooks;
        {
            std::lock_guard lock(m_hooksMutex);
            hooks = m_networkHooks;
        }
        if (!hooks.get || !hooks.set)
            return errorReply(makeError(Errc::InvalidConfig,
                                        "this broker has no fault-injecting endpoint (start it "
                                        "with --faulty-listen URL)"));
        NetworkFault f = hooks.get();
        if (*kind == "latency") {
            auto latency = number("latency_ms", 50);
            auto jitter = number("jitter_ms", 0);
            if (!latency || !jitter)
                return errorReply(!latency ? latency.error() : jitter.error());
            f.latencyMs = on ? static_cast<int>(*latency) : 0;
            f.jitterMs = on ? static_cast<int>(*jitter) : 0;
        } else if (*kind == "drop") {
            auto p = number("probability", 0.1);
            if (!p || *p > 1)
                return errorReply(makeError(Errc::InvalidRequest,
                                            "params.probability must be within 0-1"));
            f.dropProbability = on ? *p : 0;
        } else {
            f.disconnected = on;
        }
        hooks.set(f);
    } else {
        return errorReply(makeError(Errc::InvalidRequest,
                                    "unknown fault kind '" + *kind
                                        + "' (partition-offline, broker-stall, disk-slow, "
                                          "disk-full, io-error, latency, drop, disconnect)"));
    }
    const std::string target = request.value("target", std::string());
    m_broker.publishEvent(on ? "fault_started" : "fault_ended", target.empty() ? "broker" : target,
                          *kind + (on ? " started" : " ended") + " through the fault op");
    return okReply();
}

void ProtocolHandler::handleJson(const Json &request, const Peer &peer, Reply reply)
{
    auto op = request.find("op");
    if (op == request.end() || !op->is_string()) {
        track(peer, "malformed");
        return reply(errorReply(makeError(Errc::InvalidRequest,
                                          "field 'op' is required and must be a string")));
    }
    const std::string name = op->get<std::string>();
    // An id, when given, is echoed so clients can match replies to requests.
    if (auto id = request.find("id"); id != request.end())
        reply = [reply, id = *id](Json j) {
            j["id"] = id;
            reply(std::move(j));
        };
    if (auto v = request.find("version"); v != request.end()
        && (!v->is_number_integer() || v->get<int64_t>() != kProtocolVersion)) {
        track(peer, name);
        return reply(errorReply(makeError(Errc::UnsupportedVersion,
                                          "this broker speaks protocol version "
                                              + std::to_string(kProtocolVersion))));
    }
    std::string clientId;
    if (auto c = request.find("client_id"); c != request.end() && c->is_string())
        clientId = c->get<std::string>();
    track(peer, name, clientId);
    if (name == "auth")
        return reply(authOp(request, peer));
    const Principal *principal = nullptr;
    if (m_auth && name != "hello") {
        principal = principalOf(peer.pipeId);
        if (!principal)
            return reply(errorReply(unauthenticated(peer, name)));
        if (auto allowed = authorizeOp(*principal, name, request); !allowed)
            return reply(errorReply(refused(peer, *principal, allowed.error())));
        // Listings show only what the principal may see.
        if (!principal->rules.admin && (name == "list_topics" || name == "list_groups"))
            reply = [reply, principal, topics = name == "list_topics"](Json j) {
                const char *key = topics ? "topics" : "groups";
                if (auto list = j.find(key); list != j.end() && list->is_array()) {
                    Json kept = Json::array();
                    for (auto &e : *list) {
                        const std::string n = e.value(topics ? "name" : "group", std::string());
                        if (topics ? mayDescribeTopic(*principal, n) : mayUseGroup(*principal, n))
                            kept.push_back(std::move(e));
                    }
                    *list = std::move(kept);
                }
                reply(std::move(j));
            };
    }
    if (name == "hello") {
        auto out = okReply();
        out["protocol"] = kProtocolVersion;
        out["broker_id"] = m_brokerId;
        out["ops"] = supportedOps();
        out["encodings"] = {"json", "binary"};
        const auto &c = m_broker.config();
        out["limits"] = {{"max_record_bytes", c.maxRecordBytes},
                         {"max_key_bytes", c.maxKeyBytes},
                         {"max_headers", c.maxHeaders},
                         {"max_batch_records", c.maxBatchRecords},
                         {"max_batch_bytes", c.maxBatchBytes}};
        out["durability"] = c.durability == Durability::Durable ? "durable" : "fast";
        out["auth"] = m_auth ? "token" : "none";
        if (m_auth) {
            const Principal *p = principalOf(peer.pipeId);
            out["principal"] = p ? Json(p->name) : Json(nullptr);
        }
        return reply(std::move(out));
    }
    if (name == "fault")
        return reply(faultOp(request));
    if (name == "clients") {
        auto out = okReply();
        out["clients"] = Json::array();
        for (const auto &ci : clients())
            out["clients"].push_back(clientInfoToJson(ci));
        return reply(std::move(out));
    }
    const auto &table = opTable();
    auto it = table.find(name);
    if (it == table.end())
        return reply(errorReply(makeError(
            Errc::UnknownOp, "unknown op '" + name + "'; hello lists the supported ops")));
    it->second(m_broker, request, countingRecords(name, request, peer.pipeId, std::move(reply)));
}

void ProtocolHandler::handleBinary(std::string_view frame, const Peer &peer, ReplyFn reply)
{
    if (frame.size() < 3) {
        track(peer, "malformed");
        return reply(encodeErrorReply(BinaryOp::Json, makeError(Errc::MalformedRequest,
                                                                "binary frame: truncated header")));
    }
    const auto version = static_cast<uint8_t>(frame[1]);
    const auto op = static_cast<BinaryOp>(static_cast<uint8_t>(frame[2]));
    const std::string_view body = frame.substr(3);
    if (version != kBinaryVersion) {
        track(peer, "malformed");
        return reply(encodeErrorReply(op, makeError(Errc::UnsupportedVersion,
                                                    "binary frame version "
                                                        + std::to_string(version)
                                                        + "; this broker speaks 1")));
    }
    // Data-plane frames are checked here; a tunnelled JSON request is checked by handleJson.
    const Principal *principal = nullptr;
    const bool produce = op == BinaryOp::Produce || op == BinaryOp::ProduceBatch;
    if (m_auth && (produce || op == BinaryOp::Fetch || op == BinaryOp::Poll)) {
        principal = principalOf(peer.pipeId);
        const char *name = produce ? "produce"
                           : op == BinaryOp::Fetch ? "fetch"
                                                   : "poll";
        if (!principal) {
            track(peer, name);
            return reply(encodeErrorReply(op, unauthenticated(peer, name)));
        }
    }
    const auto check = [&](Result<void> allowed) {
        if (allowed)
            return true;
        reply(encodeErrorReply(op, refused(peer, *principal, allowed.error())));
        return false;
    };
    switch (op) {
    case BinaryOp::Produce:
    case BinaryOp::ProduceBatch: {
        track(peer, "produce");
        auto req = op == BinaryOp::Produce ? decodeProduceRequest(body)
                                           : decodeProduceBatchRequest(body);
        if (!req)
            return reply(encodeErrorReply(op, req.error()));
        if (principal && !check(authorizeProduce(*principal, req->topic)))
            return;
        const bool fireAndForget = req->acks == Acks::None;
        if (fireAndForget) {
            std::string empty;
            encodeProduceReply({}, empty, op);
            reply(empty);
        }
        const uint64_t count = req->encoded.empty() ? req->records.size()
                                                    : batchRecordCount(req->encoded);
        std::string topic = req->topic;
        // reply is moved, not copied: a copy of a std::function is an allocation per request.
        return m_broker.produce(std::move(*req), [reply = std::move(reply), fireAndForget, op,
                                                  table = m_table, count, topic = std::move(topic),
                                                  pipeId = peer.pipeId](Result<ProduceResult> r) {
            const std::string_view one = topic;
            if (r)
                table->account(pipeId, true, count, {&one, 1});
            if (fireAndForget)
                return;
            if (!r)
                return reply(encodeErrorReply(op, r.error()));
            // Encoded into this thread's buffer, not a string per reply: reply() copies the
            // bytes before it returns (ReplyFn), and a produce reply stays small (one entry
            // per partition and one per record), so the buffer does too.
            thread_local std::string encoded;
            encodeProduceReply(*r, encoded, op);
            reply(encoded);
        });
    }
    case BinaryOp::Fetch: {
        track(peer, "fetch");
        auto req = decodeFetchRequest(body);
        if (!req)
            return reply(encodeErrorReply(op, req.error()));
        if (principal && !check(authorizeFetch(*principal, req->topic, req->group)))
            return;
        std::string topic = req->topic;
        return m_broker.fetch(std::move(*req), [reply = std::move(reply), table = m_table,
                                                topic = std::move(topic),
                                                pipeId = peer.pipeId](Result<FetchResult> r) {
            const std::string_view one = topic;
            if (r)
                table->account(pipeId, false, r->records.size(), {&one, 1});
            reply(r ? encodeFetchReply(*r) : encodeErrorReply(BinaryOp::Fetch, r.error()));
        });
    }
    case BinaryOp::Poll: {
        track(peer, "poll");
        auto req = decodePollRequest(body);
        if (!req)
            return reply(encodeErrorReply(op, req.error()));
        if (principal && !check(authorizePoll(*principal, req->group)))
            return;
        return m_broker.poll(std::move(*req), [reply = std::move(reply), table = m_table,
                                               pipeId = peer.pipeId](Result<PollResult> r) {
            if (r) {
                std::vector<std::string_view> topics;
                for (const auto &tp : r->assignment.assigned)
                    topics.push_back(tp.topic);
                for (const auto &pr : r->records)
                    topics.push_back(pr.topic);
                std::sort(topics.begin(), topics.end());
                topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
                table->account(pipeId, false, r->records.size(), topics);
            }
            reply(r ? encodePollReply(*r) : encodeErrorReply(BinaryOp::Poll, r.error()));
        });
    }
    case BinaryOp::Json: {
        auto parsed = parseRequest(body);
        if (!parsed) {
            track(peer, "malformed");
            return reply(encodeJsonReply(errorReply(parsed.error()).dump()));
        }
        return handleJson(*parsed, peer, [reply](Json j) {
            reply(encodeJsonReply(j.dump(-1, ' ', false, Json::error_handler_t::replace)));
        });
    }
    }
    track(peer, "malformed");
    reply(encodeErrorReply(op,
                           makeError(Errc::UnknownOp,
                                     "unknown binary op " + std::to_string(static_cast<int>(op)))));
}

} // namespace eddy::net
