// Shared fixture of the access-control tests (tst_auth_rules.cpp: the auth file, the token and
// pattern primitives, the lockout and the (operation x principal) matrix; tst_auth.cpp: listings,
// logged failures, connections, the client library, the live stream and mutual TLS): the test
// auth file and its tokens, and a broker with topics, groups and a member served with it, with a
// log of the access-control lines and a way to connect as one principal.
//
// Contract: a test class derives from QObject and AuthFixture, calls stopServing() from its
// cleanup() slot and says `using AuthFixture::connect;` (else connect() is ambiguous with
// QObject::connect). A test calls serve() first, or opens m_broker (and m_server) itself on
// m_dir; cleanup() closes whatever it opened. m_log is guarded by m_logMutex: the server's
// access-control log writes to it from its own thread.
#pragma once

#include "access_control.h"
#include "broker_fixture.h"
#include "broker_server.h"
#include "req_client.h"

#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace eddy::test {

// SHA-256 of "admin-token", as printed by `printf %s admin-token | sha256sum`.
inline constexpr char kAdminTokenSha256[] =
    "10a4c7c9fc5206d6f36dc6944a81bb6f4a3cb0e25014ae3b12e6c3e52712292a";

inline std::string authFile()
{
    return R"({"principals": [
        {"name": "admin", "token_sha256": ")" + std::string(kAdminTokenSha256)
           + R"(", "admin": true},
        {"name": "orders-writer", "token": "producer-token", "produce": ["orders.*"]},
        {"name": "billing", "token": "consumer-token", "consume": ["orders.*"],
         "groups": ["billing"]}],
      "rate_limit": {"max_failures": 3, "window_ms": 600000, "lockout_ms": 600000}})";
}

inline const char *tokenOf(const std::string &principal)
{
    if (principal == "admin")
        return "admin-token";
    if (principal == "producer")
        return "producer-token";
    if (principal == "consumer")
        return "consumer-token";
    return "not-a-token";
}

// The member the matrix's group requests act for.
struct Member {
    std::string id;
    int32_t generation = 0;
};

class AuthFixture
{
protected:
    using json = nlohmann::json;

    // The body of each test class's cleanup() slot.
    void stopServing()
    {
        m_server.reset();
        m_broker.reset();
        m_dir.reset();
        std::lock_guard lock(m_logMutex);
        m_log.clear();
    }

    // A fresh broker holding topics orders.eu (2 partitions) and payments, two records in each
    // partition, group billing with one member reading orders.eu, and group audit with a committed
    // offset and no members; served with the test auth file on inproc (plus `listen`).
    void serve(std::vector<std::string> listen = {})
    {
        m_dir = std::make_unique<QTemporaryDir>();
        auto broker = Broker::open(test::testConfig(m_dir->path()));
        QVERIFY(broker);
        m_broker = std::move(*broker);
        EDDY_VERIFY_OK(m_broker->createTopic({"orders.eu", 2, {}}));
        EDDY_VERIFY_OK(m_broker->createTopic({"payments", 1, {}}));
        for (const auto &[topic, partition] : std::vector<std::pair<std::string, int32_t>>{
                 {"orders.eu", 0}, {"orders.eu", 1}, {"payments", 0}})
            EDDY_VERIFY_OK(m_broker->produceSync(
                test::produceTo(topic, partition, {test::rec("one"), test::rec("two")})));
        JoinGroupRequest join;
        join.group = "billing";
        join.topics = {"orders.eu"};
        auto joined = m_broker->joinGroup(join);
        EDDY_VERIFY_OK(joined);
        m_member = {joined->memberId, joined->generation};
        CommitRequest commit;
        commit.group = "audit";
        commit.offsets = {{"payments", 0, 1, ""}};
        EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));

        auto config = net::parseAuthConfig(authFile());
        EDDY_VERIFY_OK(config);
        config->log = [this](const std::string &line) {
            std::lock_guard lock(m_logMutex);
            m_log.push_back(line);
        };
        net::BrokerServerOptions options;
        m_url = "inproc://auth-test-" + std::to_string(++m_round);
        options.requests.listen = {m_url};
        options.requests.listen.insert(options.requests.listen.end(), listen.begin(), listen.end());
        options.publish = {};
        options.auth = std::move(*config);
        auto server = net::BrokerServer::start(*m_broker, options);
        QVERIFY2(server, server ? "" : server.error().message.c_str());
        m_server = std::move(*server);
    }

    std::unique_ptr<ReqClient> connect(const std::string &principal, const std::string &url)
    {
        auto client = std::make_unique<ReqClient>(url);
        if (principal == "none")
            return client;
        const json reply = client->call({{"op", "auth"}, {"token", tokenOf(principal)}});
        if (principal == "wrong") {
            if (ReqClient::code(reply) != "UNAUTHENTICATED")
                return nullptr;
        } else if (!reply.value("ok", false)) {
            return nullptr;
        }
        return client;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
    std::unique_ptr<net::BrokerServer> m_server;
    std::string m_url;
    Member m_member;
    std::mutex m_logMutex;
    std::vector<std::string> m_log;
    int m_round = 0;
};

} // namespace eddy::test
