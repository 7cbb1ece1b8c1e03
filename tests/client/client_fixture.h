// Shared helpers of the client library tests: an in-process broker served over NNG on a URL of
// the test's choosing (inproc:// with a unique name, or tcp://127.0.0.1:0 for an ephemeral
// loopback port), and a poll-until helper with a deadline so no test can hang.
#pragma once

#include "admin.h"
#include "broker_fixture.h"
#include "broker_server.h"

#include <QDir>
#include <QElapsedTimer>
#include <QThread>
#include <QUuid>

#include <functional>
#include <memory>
#include <string>

namespace eddy::test {

// A broker plus its network server. start() returns an empty string on success, else why not.
class ServedBroker
{
public:
    std::string start(const std::string &listenUrl, const net::TlsOptions &tls = {})
    {
        if (!m_dir.isValid())
            return "cannot create a temporary directory";
        auto broker = Broker::open(testConfig(m_dir.path()));
        if (!broker)
            return describe(broker.error()).toStdString();
        m_broker = std::move(*broker);
        net::BrokerServerOptions options;
        options.requests.listen = {listenUrl};
        options.requests.workers = 64;
        options.requests.tls = tls;
        options.publish = {};
        auto server = net::BrokerServer::start(*m_broker, options);
        if (!server)
            return describe(server.error()).toStdString();
        m_server = std::move(*server);
        m_url = m_server->requestUrls().front();
        return {};
    }

    // Stops the network server (the broker keeps its data); serveAgain() listens on the same
    // URL again.
    void stopServing()
    {
        m_server->stop();
        m_server.reset();
    }

    std::string serveAgain()
    {
        net::BrokerServerOptions options;
        options.requests.listen = {m_url};
        options.publish = {};
        auto server = net::BrokerServer::start(*m_broker, options);
        if (!server)
            return describe(server.error()).toStdString();
        m_server = std::move(*server);
        return {};
    }

    ~ServedBroker()
    {
        if (m_server)
            m_server->stop();
        if (m_broker)
            m_broker->close();
    }

    Broker &broker() { return *m_broker; }
    const std::string &url() const { return m_url; }

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Broker> m_broker;
    std::unique_ptr<net::BrokerServer> m_server;
    std::string m_url;
};

// A listen URL of the kind a data row names: "inproc", "ipc" or "tcp".
inline std::string listenUrl(const QString &transport)
{
    if (transport == "ipc")
        return "ipc://" + QDir::tempPath().toStdString() + "/eddy-client-test-"
               + QUuid::createUuid().toString(QUuid::Id128).toStdString() + ".sock";
    if (transport == "inproc")
        return "inproc://eddy-client-test-"
               + QUuid::createUuid().toString(QUuid::Id128).toStdString();
    return "tcp://127.0.0.1:0";
}

// Calls step until it returns true or timeoutMs passed; returns whether it succeeded.
inline bool waitUntil(int timeoutMs, const std::function<bool()> &step)
{
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < timeoutMs) {
        if (step())
            return true;
        QThread::msleep(5);
    }
    return step();
}

// Creates a topic through the client library's Admin at url (a test's setup, one line).
inline Result<TopicInfo> createTopicAt(const std::string &url, const std::string &name,
                                       int32_t partitions)
{
    auto admin = client::Admin::open(url);
    if (!admin)
        return admin.error();
    return (*admin)->createTopic(name, partitions);
}

} // namespace eddy::test

// Starts a ServedBroker named var on the given listen URL (then optional TLS options), failing
// the test if it cannot.
#define EDDY_SERVE(var, ...)                                                                       \
    eddy::test::ServedBroker var;                                                                  \
    do {                                                                                           \
        const std::string eddyWhy_ = var.start(__VA_ARGS__);                                       \
        QVERIFY2(eddyWhy_.empty(), eddyWhy_.c_str());                                              \
    } while (false)
