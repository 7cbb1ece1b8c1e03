#pragma once

#include "broker.h"
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
    std::vector<ClientInfo> clients() const { return m_handler.clients(); }

private:
    BrokerServer(Broker &broker, const BrokerServerOptions &options);
    void publishLoop();

    Broker &m_broker;
    BrokerServerOptions m_options;
    ProtocolHandler m_handler;
    std::unique_ptr<LivePublisher> m_publisher;
    std::unique_ptr<NngServer> m_server;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace eddy::net
