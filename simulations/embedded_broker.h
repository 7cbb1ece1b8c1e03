#pragma once

#include "broker.h"
#include "broker_control.h"
#include "broker_server.h"

#include <memory>
#include <mutex>
#include <string>

namespace eddy::sim {

// A broker run by the simulator (or the studio) itself: the engine plus its network server,
// reachable on an inproc:// URL (and any other listeners asked for). It is the BrokerControl for
// broker-side faults; restart() closes everything and opens it again from the store, as a
// process restart would, while clients reconnect on their own.
class EmbeddedBroker : public BrokerControl
{
public:
    struct Options {
        BrokerConfig config;                // dataDir and durability
        net::BrokerServerOptions server;    // listeners; inproc URL first
    };
    static Result<std::unique_ptr<EmbeddedBroker>> start(Options options);
    ~EmbeddedBroker() override;

    // The URL simulated clients use (the first request listener).
    std::string clientUrl() const;
    // The broker; valid until the next restart(). Callers on other threads than the one that
    // restarts use the locked accessors below instead.
    Broker &broker();

    // Locked views that stay safe while another thread restarts the broker (they wait for the
    // restart to finish): the latest metric snapshot, the connected network clients, the
    // recent events, persisted metric history and the endpoints actually served.
    MetricsSnapshotPtr metrics();
    std::vector<net::ClientInfo> clients();
    std::vector<BrokerEvent> recentEvents();
    Result<std::vector<HistoryPoint>> metricsHistory(const std::string &entity, int64_t fromMs,
                                                     int64_t toMs);
    std::vector<std::string> requestUrls();
    std::vector<std::string> publishUrls();

    Result<void> setPartitionOffline(const std::string &topic, int partition,
                                     bool offline) override;
    void setStall(int ms, int jitterMs) override;
    void setDiskFault(int commitDelayMs, bool full) override;
    Result<void> restart() override;
    void announce(const std::string &kind, const std::string &subject,
                  const std::string &detail) override;

private:
    explicit EmbeddedBroker(Options options);
    Result<void> open();
    void close();

    Options m_options;
    std::mutex m_mutex;
    std::unique_ptr<Broker> m_broker;
    std::unique_ptr<net::BrokerServer> m_server;
};

} // namespace eddy::sim
