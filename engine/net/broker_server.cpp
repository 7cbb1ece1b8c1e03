// Composition of the network side. Records are published as "<topic> <record JSON>" when they
// become visible; metric snapshots and events are published on reserved "$" prefixes (topic
// names cannot contain '$', so they never collide). The optional faulty endpoint is a second
// NngServer feeding the same handler through a FaultySink.
#include "broker_server.h"

#include "batch_codec.h"

#include "json_codec.h"

namespace eddy::net {

namespace {

// Announces a connection closed as a slow consumer in the broker's event log (the studio's
// event view, the live stream), then tells the caller's own handler if it set one.
SlowClientHandler slowClientReporter(Broker &broker, SlowClientHandler next)
{
    return [&broker, next = std::move(next)](const Peer &peer, const std::string &why) {
        broker.publishEvent("slow_client", peer.address, "slow client disconnected: " + why);
        if (next)
            next(peer, why);
    };
}

} // namespace

BrokerServer::BrokerServer(Broker &broker, const BrokerServerOptions &options)
    : m_broker(broker)
    , m_options(options)
    , m_handler(broker, options.brokerId, options.auth)
{
}

Result<std::unique_ptr<BrokerServer>> BrokerServer::start(Broker &broker,
                                                          const BrokerServerOptions &options)
{
    if (options.auth && !options.publish.empty() && !options.publishWithoutAuth)
        return makeError(Errc::InvalidConfig,
                         "the live stream cannot authenticate its subscribers: with access "
                         "control on, serve no stream or allow it explicitly "
                         "(--pub-without-auth)");
    if (options.auth && !options.kafkaListen.empty())
        return makeError(Errc::InvalidConfig,
                         "the Kafka listener has no authentication (no SASL): it cannot be "
                         "served with access control on");
    std::unique_ptr<BrokerServer> s(new BrokerServer(broker, options));
    if (!options.publish.empty()) {
        auto pub = LivePublisher::start(options.publish);
        if (!pub)
            return pub.error();
        s->m_publisher = std::move(*pub);
        LivePublisher *p = s->m_publisher.get();
        broker.setRecordListener([p](const std::string &topic, int32_t partition,
                                     const BatchPtr &batch) {
            if (!p->hasSubscribers())
                return;
            std::vector<Record> records;
            // The broker encoded this batch itself: it cannot fail to decode.
            if (!decodeBatchRecords(batch->encoded, batch->baseOffset, records))
                return;
            for (const auto &r : records) {
                auto j = recordToJson(r);
                j["topic"] = topic;
                j["partition"] = partition;
                p->publish(topic, j.dump(-1, ' ', false, Json::error_handler_t::replace));
            }
        });
        broker.setEventListener([p](const BrokerEvent &e) {
            if (p->hasSubscribers())
                p->publish("$events", eventToJson(e).dump());
        });
    }
    ServerOptions requests = options.requests;
    requests.onSlowClient = slowClientReporter(broker, options.requests.onSlowClient);
    auto server = NngServer::start(requests, s->m_handler);
    if (!server) {
        broker.setRecordListener({});
        broker.setEventListener({});
        return server.error();
    }
    s->m_server = std::move(*server);
    if (!options.faultyListen.empty()) {
        // Same handler behind a FaultySink: both endpoints see one broker and one clients list.
        s->m_faultySink = std::make_unique<FaultySink>(s->m_handler);
        FaultySink *sink = s->m_faultySink.get();
        s->m_handler.setNetworkFaultHooks({[sink] { return sink->fault(); },
                                           [sink](const NetworkFault &f) { sink->setFault(f); }});
        ServerOptions faulty = requests;
        faulty.listen = options.faultyListen;
        auto faultyServer = NngServer::start(faulty, *s->m_faultySink);
        if (!faultyServer) {
            s->m_server->stop();
            broker.setRecordListener({});
            broker.setEventListener({});
            return faultyServer.error();
        }
        s->m_faultyServer = std::move(*faultyServer);
    }
    if (!options.kafkaListen.empty()) {
        kafka::KafkaServerOptions kafkaOptions;
        kafkaOptions.listen = options.kafkaListen;
        kafkaOptions.advertisedHost = options.kafkaAdvertisedHost;
        kafkaOptions.clusterId = options.brokerId;
        kafkaOptions.maxFrameBytes = options.requests.maxMessageBytes;
        auto kafkaServer = kafka::KafkaServer::start(broker, kafkaOptions);
        if (!kafkaServer) {
            if (s->m_faultyServer)
                s->m_faultyServer->stop();
            s->m_server->stop();
            broker.setRecordListener({});
            broker.setEventListener({});
            return kafkaServer.error();
        }
        s->m_kafkaServer = std::move(*kafkaServer);
    }
    if (s->m_publisher)
        s->m_thread = std::thread([raw = s.get()] { raw->publishLoop(); });
    return s;
}

BrokerServer::~BrokerServer()
{
    stop();
}

void BrokerServer::stop()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping)
            return;
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable())
        m_thread.join();
    if (m_publisher) {
        m_broker.setRecordListener({});
        m_broker.setEventListener({});
    }
    if (m_kafkaServer)
        m_kafkaServer->stop();
    if (m_faultyServer)
        m_faultyServer->stop();
    if (m_server)
        m_server->stop();
    for (const auto *server : {m_server.get(), m_faultyServer.get()})
        if (server && server->closeAbandoned())
            m_broker.publishEvent("server_close_abandoned", "broker",
                                  "NNG did not finish closing a request socket within its bound "
                                  "(a connection to a client that reads slowly); stopped "
                                  "without it");
    // After the server that feeds it: a delayed request must not reach the handler once the
    // server is being torn down.
    m_handler.setNetworkFaultHooks({});
    if (m_faultySink)
        m_faultySink->stop();
    m_publisher.reset();
}

std::vector<std::string> BrokerServer::kafkaUrls() const
{
    return m_kafkaServer ? m_kafkaServer->urls() : std::vector<std::string>{};
}

std::size_t BrokerServer::kafkaConnectionCount() const
{
    return m_kafkaServer ? m_kafkaServer->connectionCount() : 0;
}

std::vector<std::string> BrokerServer::faultyUrls() const
{
    return m_faultyServer ? m_faultyServer->urls() : std::vector<std::string>{};
}

void BrokerServer::setNetworkFault(const NetworkFault &fault)
{
    if (m_faultySink)
        m_faultySink->setFault(fault);
}

NetworkFault BrokerServer::networkFault() const
{
    return m_faultySink ? m_faultySink->fault() : NetworkFault{};
}

std::vector<std::string> BrokerServer::requestUrls() const
{
    return m_server ? m_server->urls() : std::vector<std::string>{};
}

std::vector<std::string> BrokerServer::publishUrls() const
{
    return m_publisher ? m_publisher->urls() : std::vector<std::string>{};
}

void BrokerServer::publishLoop()
{
    uint64_t lastSequence = 0;
    std::unique_lock lock(m_mutex);
    while (!m_cv.wait_for(lock, std::chrono::milliseconds(m_options.metricsPublishMs),
                          [this] { return m_stopping; })) {
        lock.unlock();
        auto snap = m_broker.metrics();
        if (snap && snap->sequence != lastSequence && m_publisher->hasSubscribers()) {
            lastSequence = snap->sequence;
            m_publisher->publish("$metrics", metricsToJson(*snap).dump());
        }
        lock.lock();
    }
}

} // namespace eddy::net
