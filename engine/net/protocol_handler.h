#pragma once

#include "access_control.h"
#include "broker.h"
#include "fault_sink.h"
#include "json_codec.h"
#include "request_sink.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace eddy {
class Scheduler;
}

namespace eddy::net {

// Decodes requests in either encoding, runs them on the broker and encodes the replies.
// Thread-safe; long operations (fetch/poll with wait_ms, durable produce) answer later from the
// engine thread that completes them. With an AuthConfig every connection (NNG pipe) must
// authenticate with the `auth` op before anything but hello, and each request, JSON or binary,
// is checked against the rules of the pipe's principal (docs/security.md).
class ProtocolHandler : public RequestSink
{
public:
    explicit ProtocolHandler(Broker &broker, std::string brokerId = "eddy-1",
                             std::optional<AuthConfig> auth = std::nullopt);
    // Drops stalled requests that are not due yet (their clients time out).
    ~ProtocolHandler() override;

    void handle(std::string_view request, const Peer &peer, ReplyFn reply) override;
    void peerConnected(const Peer &peer) override;
    void peerDisconnected(uint32_t pipeId) override;

    // Every connected client (ClientInfo: counts, rates over the last full second, topics).
    std::vector<ClientInfo> clients() const;

    // Fault injection ("broker stall"): every request is handled ms plus a uniform random
    // 0..jitterMs later than it arrived, on a timer, without holding an NNG thread meanwhile.
    // (0, 0) turns it off; requests already waiting keep their due time.
    void setStall(int ms, int jitterMs = 0);

    // Where the `fault` op sends network faults for the fault-injecting endpoint: get/set of the
    // server's current NetworkFault. Unset (no such endpoint): those fault kinds are refused.
    struct NetworkFaultHooks {
        std::function<NetworkFault()> get;
        std::function<void(const NetworkFault &)> set;
    };
    void setNetworkFaultHooks(NetworkFaultHooks hooks);

private:
    void dispatch(std::string_view request, const Peer &peer, ReplyFn reply);
    using Reply = std::function<void(Json)>;
    void handleJson(const Json &request, const Peer &peer, Reply reply);
    void handleBinary(std::string_view frame, const Peer &peer, ReplyFn reply);
    void track(const Peer &peer, std::string_view op, std::string_view clientId = {});
    // Wraps a JSON reply so an ok produce / fetch / poll answer adds to the connection's record
    // counts (struct ClientTable below outlives the handler for late answers).
    Reply countingRecords(const std::string &op, const Json &request, uint32_t pipeId,
                          Reply reply) const;
    Json faultOp(const Json &request);
    // Access control (only with an AuthConfig).
    Json authOp(const Json &request, const Peer &peer);
    const Principal *principalOf(uint32_t pipeId) const;
    Error unauthenticated(const Peer &peer, std::string_view op);
    Error refused(const Peer &peer, const Principal &p, Error error);
    void logAuth(const std::string &line) const;

    Broker &m_broker;
    std::string m_brokerId;
    // Events per steady-clock second: what the current second counted so far and what the
    // previous one counted, so perSecond() reports the last full second and falls to 0 when
    // the events stop.
    struct SecondCounter {
        int64_t second = 0;
        uint64_t current = 0;
        uint64_t previous = 0;
        void add(uint64_t n, int64_t nowMs);
        double perSecond(int64_t nowMs) const;
    };
    struct Stats {
        ClientInfo info;
        uint64_t produces = 0;
        uint64_t consumes = 0;
        SecondCounter requestRate;
        SecondCounter inRate;
        SecondCounter outRate;
        const Principal *principal = nullptr; // points into m_auth, which never changes
        bool reportedUnauthenticated = false; // log the first refused request of a pipe only
    };
    // Shared with the record-counting reply wrappers: a long poll or durable produce can be
    // answered by the engine after the server (and this handler) stopped.
    struct ClientTable {
        mutable std::mutex mutex;
        std::map<uint32_t, Stats> clients;
        // Adds records (to recordsIn when `in`, else recordsOut) and the topics (one for a
        // produce or fetch, a view of a local, so no list is built) to a connection; one that
        // has gone meanwhile is not re-created.
        void account(uint32_t pipeId, bool in, uint64_t records,
                     std::span<const std::string_view> topics);
        // Inserts topic into the sorted names unless it is there or the list is full.
        static void addTopic(std::vector<std::string> &names, std::string_view topic);
    };
    const std::shared_ptr<ClientTable> m_table = std::make_shared<ClientTable>();
    const std::unique_ptr<const AuthConfig> m_auth; // null: access control off
    std::unique_ptr<AuthLimiter> m_authLimiter;
    std::mutex m_hooksMutex;
    NetworkFaultHooks m_networkHooks;
    std::atomic<int> m_stallMs{0};
    std::atomic<int> m_stallJitterMs{0};
    // Holds stalled requests until due; last member so it stops before the rest goes away.
    std::unique_ptr<Scheduler> m_stallTimer;
};

// The JSON ops this build answers, in the order `hello` lists them.
const std::vector<std::string> &supportedOps();

} // namespace eddy::net
