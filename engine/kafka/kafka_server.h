#pragma once

#include "broker.h"
#include "result.h"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace eddy::kafka {

struct KafkaServerOptions {
    // tcp:// URLs (or host:port); port 0 picks a free port (see urls()).
    std::vector<std::string> listen{"tcp://127.0.0.1:9092"};
    // The host Metadata tells clients to connect to; empty: the address each client connected
    // to, which is right for any address it could reach the bootstrap server at.
    std::string advertisedHost;
    std::string clusterId = "eddy";
    // A request frame larger than this closes its connection (Kafka's socket.request.max.bytes);
    // the broker's own batch limits apply to what fits.
    std::size_t maxFrameBytes = 68 << 20;
    // Connections over this are closed as soon as they are accepted.
    int maxConnections = 4096;
    // A client that leaves a response untaken this long is disconnected: its connection holds
    // the response and, since Kafka answers in order, every request behind it.
    int sendTimeoutMs = 30000;
    // Threads serving connections (each an epoll loop; connections are dealt to them in turn).
    int ioThreads = 1;
};

class KafkaServerImpl;

// A Kafka wire-protocol listener in front of a Broker, so Kafka's own clients (kcat,
// librdkafka, kafkajs, the Java client) produce to and fetch from Eddy's topics unchanged.
// Connections are non-blocking sockets served by epoll loops (ioThreads); a connection's
// requests are answered one at a time and in order, as Kafka's broker does, a few read ahead
// while one is handled. A request waiting on the engine (a durable produce, a long-poll fetch)
// holds no thread, and its response is written by the engine thread that completes it. A
// request that cannot be parsed closes its connection and is reported in the broker's event log
// ("kafka_client"); everyone else is served on. The broker must outlive the server.
class KafkaServer
{
public:
    // Listens on every URL; fails with InvalidConfig naming one it could not listen on or one
    // that is not tcp.
    static Result<std::unique_ptr<KafkaServer>> start(Broker &broker,
                                                      const KafkaServerOptions &options);
    ~KafkaServer();
    // Stops accepting, closes every connection (responses still being made are dropped) and
    // waits for the connections' callbacks to finish. Idempotent; the destructor calls it.
    void stop();
    // The URLs listened on, a port 0 resolved to the bound port ("tcp://127.0.0.1:40123").
    std::vector<std::string> urls() const;
    // Connections open now.
    std::size_t connectionCount() const;

private:
    explicit KafkaServer(std::unique_ptr<KafkaServerImpl> impl);
    std::unique_ptr<KafkaServerImpl> m_impl;
};

} // namespace eddy::kafka
