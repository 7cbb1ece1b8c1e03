// Shared fixture of the wire-protocol tests (tst_protocol.cpp: requests, replies and every
// documented error in both encodings, long-poll and groups over the wire;
// tst_protocol_connections.cpp: the clients list, 200 concurrent clients, pipelining past the
// in-flight cap and the live stream): a broker on a temporary data directory served on inproc://,
// loopback tcp:// and a tcp:// live stream, with a JSON client connected over inproc.
//
// Contract: a test class derives from QObject and ProtocolFixture and calls startServing() and
// stopServing() from its init() and cleanup() slots; each test then has a fresh broker with no
// topics, m_client connected to it, m_tcpUrl the tcp:// request address and m_pubUrl the live
// stream's. Records are limited to 64 KiB, request frames to 1 MiB.
#pragma once

#include "broker.h"
#include "broker_server.h"
#include "req_client.h"

#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <string>
#include <utility>

namespace eddy::test {

class ProtocolFixture
{
protected:
    using json = nlohmann::json;

    void startServing()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        eddy::BrokerConfig config;
        config.dataDir = m_dir->path().toStdString();
        config.maxRecordBytes = 64 * 1024;
        auto broker = eddy::Broker::open(config);
        QVERIFY(broker);
        m_broker = std::move(*broker);
        eddy::net::BrokerServerOptions options;
        const std::string inproc = "inproc://protocol-test-" + std::to_string(++m_round);
        options.requests.listen = {inproc, "tcp://127.0.0.1:0"};
        options.requests.maxMessageBytes = 1 << 20;
        options.publish = {"tcp://127.0.0.1:0"};
        auto server = eddy::net::BrokerServer::start(*m_broker, options);
        QVERIFY2(server, server ? "" : server.error().message.c_str());
        m_server = std::move(*server);
        m_tcpUrl = m_server->requestUrls().at(1);
        m_pubUrl = m_server->publishUrls().at(0);
        QVERIFY(m_tcpUrl.rfind("tcp://127.0.0.1:", 0) == 0 && m_tcpUrl != "tcp://127.0.0.1:0");
        m_client = std::make_unique<ReqClient>(inproc);
        QVERIFY(m_client->connected());
    }

    void stopServing()
    {
        m_client.reset();
        if (m_server)
            m_server->stop();
        m_server.reset();
        m_broker.reset();
        m_dir.reset();
    }

    json call(const json &request) { return m_client->call(request); }
    // The `clients` entry of the connection that said hello with clientId (null if none).
    json entryOf(const std::string &clientId)
    {
        const json reply = call({{"op", "clients"}});
        for (const auto &c : reply["clients"])
            if (c.value("client_id", std::string()) == clientId)
                return c;
        return json();
    }
    void createTopic(const std::string &name, int partitions = 1)
    {
        const auto r = call({{"op", "create_topic"}, {"topic", name}, {"partitions", partitions}});
        QCOMPARE(r.value("ok", false), true);
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<eddy::Broker> m_broker;
    std::unique_ptr<eddy::net::BrokerServer> m_server;
    std::unique_ptr<ReqClient> m_client;
    std::string m_tcpUrl;
    std::string m_pubUrl;
    int m_round = 0;
};

} // namespace eddy::test
