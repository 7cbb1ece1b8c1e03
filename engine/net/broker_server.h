#pragma once

#include "broker.h"
#include "fault_sink.h"
#include "kafka_server.h"
#include "live_publisher.h"
#include "nng_server.h"
#include "protocol_handler.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace eddy::net {

struct BrokerServerOptions {
    ServerOptions requests;                                // the REP endpoint(s)
    std::vector<std::string> publish{"tcp://127.0.0.1:7651"}; // the PUB endpoint(s); empty: none
    int metricsPublishMs = 100;
    std::string brokerId = "eddy-1";
    // A second REP endpoint in front of the same broker whose network faults can be set live
    // (setNetworkFault), for testing real external clients; empty: none. It takes the other
    // settings of `requests` (workers, message size, TLS).
    std::vector<std::string> faultyListen;
    // Access control on every request endpoint (docs/security.md); none: every client may do
    // everything.
    std::optional<AuthConfig> auth;
    // NNG's PUB socket cannot tell subscribers apart, so the live stream cannot be limited per
    // principal: with `auth` set, start() refuses a `publish` endpoint unless this says the
    // stream may be read by anyone who can reach it.
    bool publishWithoutAuth = false;
    // Kafka wire-protocol listener(s) (tcp:// or host:port) in front of the same broker
    // (kafka_server.h); empty: none. It has no authentication (no SASL), so start() refuses it
    // together with `auth`.
    std::vector<std::string> kafkaListen;
    std::string kafkaAdvertisedHost; // see KafkaServerOptions::advertisedHost
};

// Serves a Broker to the network: the request endpoint, the live stream (records under their
// topic name, "$metrics" snapshots, "$events") and the protocol handler between them. The
// broker must outlive the server.
class BrokerServer
{
public:
    static Result<std::unique_ptr<BrokerServer>> start(Broker &broker,
                                                       const BrokerServerOptions &options);
    ~BrokerServer();
    void stop();

    std::vector<std::string> requestUrls() const;
    std::vector<std::string> publishUrls() const;
    // The URLs the faulty endpoint listens on (tcp port 0 resolved); empty without faultyListen.
    std::vector<std::string> faultyUrls() const;
    // The URLs the Kafka listener listens on; empty without kafkaListen.
    std::vector<std::string> kafkaUrls() const;
    // Kafka clients connected now (0 without kafkaListen).
    std::size_t kafkaConnectionCount() const;
    std::vector<ClientInfo> clients() const { return m_handler.clients(); }

    // Sets the faults of the faulty endpoint (see NetworkFault); NetworkFault{} clears them.
    // Without faultyListen there is no such endpoint and the call does nothing.
    void setNetworkFault(const NetworkFault &fault);
    NetworkFault networkFault() const;
    // Delays every request on every endpoint (ProtocolHandler::setStall); (0, 0) clears it.
    void setStall(int ms, int jitterMs = 0) { m_handler.setStall(ms, jitterMs); }

private:
    BrokerServer(Broker &broker, const BrokerServerOptions &options);
    void publishLoop();

    Broker &m_broker;
    BrokerServerOptions m_options;
    ProtocolHandler m_handler;
    std::unique_ptr<LivePublisher> m_publisher;
    std::unique_ptr<NngServer> m_server;
    std::unique_ptr<FaultySink> m_faultySink;   // wraps m_handler for m_faultyServer
    std::unique_ptr<NngServer> m_faultyServer;
    std::unique_ptr<kafka::KafkaServer> m_kafkaServer;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace eddy::net
