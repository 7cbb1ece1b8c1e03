// A broker in a temporary directory served with a Kafka listener on a free loopback port (and
// its NNG request endpoint, no live stream), for the Kafka listener's network tests.
#pragma once

#include "broker.h"
#include "broker_server.h"

#include <QTemporaryDir>

#include <memory>
#include <string>

struct KafkaBrokerFixture {
    QTemporaryDir dir;
    std::unique_ptr<eddy::Broker> broker;
    std::unique_ptr<eddy::net::BrokerServer> server;

    // Opens the broker and starts the server; false (and nothing running) on any failure.
    bool start(eddy::Durability durability)
    {
        eddy::BrokerConfig config;
        config.dataDir = dir.path().toStdString();
        config.durability = durability;
        auto opened = eddy::Broker::open(config);
        if (!opened)
            return false;
        broker = std::move(*opened);
        eddy::net::BrokerServerOptions options;
        options.requests.listen = {"tcp://127.0.0.1:0"};
        options.publish = {};
        options.kafkaListen = {"127.0.0.1:0"};
        auto started = eddy::net::BrokerServer::start(*broker, options);
        if (!started || (*started)->kafkaUrls().size() != 1) {
            broker.reset();
            return false;
        }
        server = std::move(*started);
        return true;
    }
    void stop()
    {
        server.reset();
        broker.reset();
    }
    // "127.0.0.1:PORT", as a Kafka client's bootstrap list takes it.
    std::string bootstrap() const { return server->kafkaUrls().at(0).substr(6); }
    int port() const
    {
        const auto b = bootstrap();
        return std::stoi(b.substr(b.rfind(':') + 1));
    }
};
