// Access control (docs/security.md) as clients see it: the auth file's validation, the token and
// pattern primitives, the lockout of failed attempts, and the whole (operation x principal)
// matrix over the wire in both encodings, where every unauthorised request must be refused with
// the structured error and leave the broker exactly as it was, and every authorised one must
// succeed. Also: filtered listings, the principal in `clients`, the client library's
// authentication (on open and again after a redial), the live stream's consent rule, and mutual
// TLS with a CA made by openssl for this run.
#include "access_control.h"
#include "admin.h"
#include "binary_codec.h"
#include "broker_fixture.h"
#include "broker_server.h"
#include "child_process.h"
#include "connection.h"
#include "producer.h"
#include "req_client.h"

#include <QTemporaryDir>
#include <QtTest>

#include <set>

#include <functional>
#include <mutex>

using nlohmann::json;
using namespace eddy;
using namespace eddy::net;

namespace {

// SHA-256 of "admin-token", as printed by `printf %s admin-token | sha256sum`.
const char kAdminTokenSha256[] = "10a4c7c9fc5206d6f36dc6944a81bb6f4a3cb0e25014ae3b12e6c3e52712292a";

std::string authFile()
{
    return R"({"principals": [
        {"name": "admin", "token_sha256": ")" + std::string(kAdminTokenSha256)
           + R"(", "admin": true},
        {"name": "orders-writer", "token": "producer-token", "produce": ["orders.*"]},
        {"name": "billing", "token": "consumer-token", "consume": ["orders.*"],
         "groups": ["billing"]}],
      "rate_limit": {"max_failures": 3, "window_ms": 600000, "lockout_ms": 600000}})";
}

const char *tokenOf(const std::string &principal)
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

// One row of the operation column: how to build the request and who may run it.
struct Operation {
    std::string name;
    std::function<std::string(const Member &)> frame; // JSON text or a binary frame
    std::vector<std::string> allowed;                 // principals; "any" for everyone
};

std::string jsonFrame(const json &j)
{
    return j.dump();
}

std::vector<Operation> operations()
{
    const auto j = [](json request) {
        return [request](const Member &) { return request.dump(); };
    };
    const json one = json::array({{{"value", "a"}}, {{"value", "b"}}});
    const json orders = json::array({"orders.eu"});
    const json ordersAndPayments = json::array({"orders.eu", "payments"});
    const auto withMember = [](json request) {
        return [request](const Member &m) {
            json r = request;
            r["member_id"] = m.id;
            if (r.contains("generation"))
                r["generation"] = m.generation;
            return r.dump();
        };
    };
    const std::vector<std::string> adminOnly{"admin"};
    const std::vector<std::string> producers{"admin", "producer"};
    const std::vector<std::string> consumers{"admin", "consumer"};
    const std::vector<std::string> both{"admin", "producer", "consumer"};
    const auto produceFrame = [](std::string topic) {
        return [topic](const Member &) {
            return encodeProduceRequest(test::produceTo(topic, 0, {test::rec("bin")}));
        };
    };
    const auto fetchFrame = [](std::string topic) {
        return [topic](const Member &) {
            return encodeFetchRequest(test::fetchFrom(topic, 0, 0));
        };
    };
    return {
        {"hello", j({{"op", "hello"}}), {"any"}},
        {"create_topic", j({{"op", "create_topic"}, {"topic", "orders.new"}}), adminOnly},
        {"delete_topic", j({{"op", "delete_topic"}, {"topic", "orders.eu"}}), adminOnly},
        {"alter_topic", j({{"op", "alter_topic"}, {"topic", "orders.eu"}, {"partitions", 3}}),
         adminOnly},
        {"list_topics", j({{"op", "list_topics"}}), both},
        {"describe_topic", j({{"op", "describe_topic"}, {"topic", "orders.eu"}}), both},
        {"describe_topic_other", j({{"op", "describe_topic"}, {"topic", "payments"}}), adminOnly},
        {"list_offsets", j({{"op", "list_offsets"}, {"topic", "orders.eu"}}), both},
        {"produce",
         j({{"op", "produce"}, {"topic", "orders.eu"}, {"partition", 0}, {"value", "x"}}),
         producers},
        {"produce_other", j({{"op", "produce"}, {"topic", "payments"}, {"value", "x"}}), adminOnly},
        {"produce_batch",
         j({{"op", "produce"}, {"topic", "orders.eu"}, {"records", one}}),
         producers},
        {"init_producer", j({{"op", "init_producer"}}), producers},
        {"fetch", j({{"op", "fetch"}, {"topic", "orders.eu"}, {"partition", 0}, {"offset", 0}}),
         consumers},
        {"fetch_other",
         j({{"op", "fetch"}, {"topic", "payments"}, {"partition", 0}, {"offset", 0}}),
         adminOnly},
        {"fetch_other_group",
         j({{"op", "fetch"}, {"topic", "orders.eu"}, {"partition", 0}, {"offset", 0},
            {"group", "audit"}}),
         adminOnly},
        {"join_group", j({{"op", "join_group"}, {"group", "billing"}, {"topics", orders}}),
         consumers},
        {"join_group_other_topic",
         j({{"op", "join_group"}, {"group", "billing"}, {"topics", ordersAndPayments}}),
         adminOnly},
        {"join_group_other_group",
         j({{"op", "join_group"}, {"group", "audit"}, {"topics", orders}}), adminOnly},
        {"heartbeat", withMember({{"op", "heartbeat"}, {"group", "billing"}, {"generation", 0}}),
         consumers},
        {"poll", withMember({{"op", "poll"}, {"group", "billing"}, {"generation", 0}}), consumers},
        {"seek",
         withMember({{"op", "seek"}, {"group", "billing"}, {"topic", "orders.eu"}, {"partition", 0},
                     {"offset", 1}}),
         consumers},
        {"commit",
         withMember({{"op", "commit"}, {"group", "billing"}, {"generation", 0},
                     {"offsets", json::array({{{"topic", "orders.eu"},
                                               {"partition", 0},
                                               {"offset", 1}}})}}),
         consumers},
        {"commit_other_group",
         j({{"op", "commit"}, {"group", "audit"},
            {"offsets",
             json::array({{{"topic", "payments"}, {"partition", 0}, {"offset", 2}}})}}),
         adminOnly},
        {"committed", j({{"op", "committed"}, {"group", "billing"}}), consumers},
        {"committed_other", j({{"op", "committed"}, {"group", "audit"}}), adminOnly},
        {"describe_group", j({{"op", "describe_group"}, {"group", "billing"}}), consumers},
        {"list_groups", j({{"op", "list_groups"}}), both},
        {"leave_group", withMember({{"op", "leave_group"}, {"group", "billing"}}), consumers},
        {"reset_offsets",
         j({{"op", "reset_offsets"}, {"group", "audit"}, {"topic", "payments"},
            {"to", "earliest"}}),
         adminOnly},
        {"delete_group", j({{"op", "delete_group"}, {"group", "audit"}}), adminOnly},
        {"metrics", j({{"op", "metrics"}}), adminOnly},
        {"history", j({{"op", "history"}, {"entity", "broker"}}), adminOnly},
        {"events", j({{"op", "events"}}), adminOnly},
        {"clients", j({{"op", "clients"}}), adminOnly},
        {"fault",
         j({{"op", "fault"}, {"kind", "partition-offline"}, {"target", "payments/0"}}), adminOnly},
        {"binary_produce", produceFrame("orders.eu"), producers},
        {"binary_produce_other", produceFrame("payments"), adminOnly},
        {"binary_fetch", fetchFrame("orders.eu"), consumers},
        {"binary_fetch_other", fetchFrame("payments"), adminOnly},
        {"binary_poll",
         [](const Member &m) {
             PollRequest p;
             p.group = "billing";
             p.memberId = m.id;
             p.generation = m.generation;
             return encodePollRequest(p);
         },
         consumers},
        {"binary_tunnel_delete_topic",
         [](const Member &) {
             return encodeJsonFrame(jsonFrame({{"op", "delete_topic"}, {"topic", "orders.eu"}}));
         },
         adminOnly},
    };
}

// The error code of a reply in either encoding; "" when it succeeded.
std::string replyCode(const std::string &reply)
{
    const auto codeOf = [](const auto &result) {
        return result ? std::string() : std::string(errcName(result.code()));
    };
    if (!reply.empty() && static_cast<uint8_t>(reply[0]) == kBinaryMagic && reply.size() >= 3) {
        switch (static_cast<uint8_t>(reply[2]) & ~kReplyBit) {
        case static_cast<uint8_t>(BinaryOp::Produce):
            return codeOf(decodeProduceReply(reply));
        case static_cast<uint8_t>(BinaryOp::Fetch):
            return codeOf(decodeFetchReply(reply));
        case static_cast<uint8_t>(BinaryOp::Poll):
            return codeOf(decodePollReply(reply));
        default: {
            auto inner = decodeJsonReply(reply);
            return inner ? replyCode(*inner) : codeOf(inner);
        }
        }
    }
    const json j = json::parse(reply, nullptr, false);
    if (j.is_discarded())
        return "UNPARSABLE";
    return ReqClient::code(j);
}

} // namespace

class TestAuth : public QObject
{
    Q_OBJECT

private slots:
    void cleanup();

    void authFileIsValidated_data();
    void authFileIsValidated();
    void tokenAndPatternPrimitives();
    void limiterLocksOutPerHostAndDoubles();
    void operationMatrix_data();
    void operationMatrix();
    void listingsShowOnlyWhatThePrincipalMaySee();
    void failedAttemptsAreRateLimitedAndLogged();
    void eachRequestNamesItsOwnConnection();
    void clientsListShowsThePrincipal();
    void clientLibraryAuthenticatesAndReauthenticatesAfterARedial();
    void tokenIsHarmlessWithoutAccessControl();
    void liveStreamNeedsExplicitConsent();
    void mutualTlsRequiresACertificateFromTheCa();

private:
    void serve(std::vector<std::string> listen = {});
    json snapshot();
    std::unique_ptr<ReqClient> connect(const std::string &principal, const std::string &url);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
    std::unique_ptr<BrokerServer> m_server;
    std::string m_url;
    Member m_member;
    std::mutex m_logMutex;
    std::vector<std::string> m_log;
    int m_round = 0;
};

void TestAuth::cleanup()
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
void TestAuth::serve(std::vector<std::string> listen)
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

    auto config = parseAuthConfig(authFile());
    EDDY_VERIFY_OK(config);
    config->log = [this](const std::string &line) {
        std::lock_guard lock(m_logMutex);
        m_log.push_back(line);
    };
    BrokerServerOptions options;
    m_url = "inproc://auth-test-" + std::to_string(++m_round);
    options.requests.listen = {m_url};
    options.requests.listen.insert(options.requests.listen.end(), listen.begin(), listen.end());
    options.publish = {};
    options.auth = std::move(*config);
    auto server = BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
}

// Everything a request could change, read straight from the engine. The producer id is taken
// from the broker (which allocates the next one), so two snapshots of an unchanged broker differ
// in it by exactly one.
json TestAuth::snapshot()
{
    json s;
    for (const auto &t : m_broker->listTopics()) {
        json tj = topicInfoToJson(t);
        for (const auto &p : t.partitionInfo) {
            auto f = m_broker->fetchSync(test::fetchFrom(t.name, p.partition, p.logStartOffset, 1));
            tj["offline"].push_back(!f && f.code() == Errc::PartitionOffline);
        }
        s["topics"].push_back(std::move(tj));
    }
    for (const auto &g : m_broker->listGroups()) {
        auto d = m_broker->describeGroup(g.group);
        s["groups"].push_back(d ? groupDescriptionToJson(*d) : json(g.group));
    }
    for (const auto &e : m_broker->recentEvents())
        s["events"].push_back(eventToJson(e));
    auto id = m_broker->initProducerId();
    s["producer_id"] = id ? *id : -1;
    return s;
}

std::unique_ptr<ReqClient> TestAuth::connect(const std::string &principal, const std::string &url)
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

void TestAuth::authFileIsValidated_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("complaint"); // empty: valid
    QTest::newRow("valid") << QString::fromStdString(authFile()) << "";
    QTest::newRow("not json") << "{" << "not a JSON object";
    QTest::newRow("no principals") << R"({"principals": []})" << "non-empty array";
    QTest::newRow("unknown top field") << R"({"principals": [{"name":"a","token":"t"}], "x": 1})"
                                       << "unknown field 'x'";
    QTest::newRow("no name") << R"({"principals": [{"token":"t"}]})" << "'name'";
    QTest::newRow("no token") << R"({"principals": [{"name":"a"}]})" << "exactly one of";
    QTest::newRow("both tokens")
        << QString(R"({"principals": [{"name":"a","token":"t","token_sha256":"%1"}]})")
               .arg(kAdminTokenSha256)
        << "exactly one of";
    QTest::newRow("short hash") << R"({"principals": [{"name":"a","token_sha256":"abc"}]})"
                                << "64 hex digits";
    QTest::newRow("duplicate name")
        << R"({"principals": [{"name":"a","token":"t"},{"name":"a","token":"u"}]})"
        << "listed twice";
    QTest::newRow("duplicate token")
        << QString(R"({"principals": [{"name":"a","token":"admin-token"},)"
                   R"({"name":"b","token_sha256":"%1"}]})")
               .arg(kAdminTokenSha256)
        << "same token";
    QTest::newRow("typo in a rule")
        << R"({"principals": [{"name":"a","token":"t","prodce":["x"]}]})"
        << "unknown field 'prodce'";
    QTest::newRow("pattern not a string")
        << R"({"principals": [{"name":"a","token":"t","consume":[1]}]})" << "non-empty patterns";
    QTest::newRow("admin not bool") << R"({"principals": [{"name":"a","token":"t","admin":"yes"}]})"
                                    << "'admin'";
    QTest::newRow("bad rate limit")
        << R"({"principals": [{"name":"a","token":"t"}], "rate_limit": {"max_failures": 0}})"
        << "positive integer";
}

void TestAuth::authFileIsValidated()
{
    QFETCH(QString, file);
    QFETCH(QString, complaint);
    auto config = parseAuthConfig(file.toStdString());
    if (complaint.isEmpty()) {
        EDDY_VERIFY_OK(config);
        QCOMPARE(config->principals.size(), std::size_t(3));
        QCOMPARE(config->rateLimit.maxFailures, 3);
        QVERIFY(config->principals[0].rules.admin);
        QCOMPARE(config->principals[2].rules.groups, std::vector<std::string>{"billing"});
        return;
    }
    EDDY_VERIFY_ERR(config, Errc::InvalidConfig);
    QVERIFY2(QString::fromStdString(config.error().message).contains(complaint),
             config.error().message.c_str());

    QTemporaryDir dir;
    auto missing = loadAuthConfig(dir.filePath("absent.json").toStdString());
    EDDY_VERIFY_ERR(missing, Errc::InvalidConfig);
}

void TestAuth::tokenAndPatternPrimitives()
{
    // FIPS 180-2 test vector, and the hash coreutils printed for the test token.
    QCOMPARE(sha256Hex("abc"),
             std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QCOMPARE(sha256Hex("admin-token"), std::string(kAdminTokenSha256));

    QVERIFY(constantTimeEqual(sha256("x"), sha256("x")));
    auto h = sha256("x");
    for (std::size_t i : {std::size_t(0), std::size_t(17), std::size_t(31)}) {
        auto other = h;
        other[i] ^= 0x01; // a single differing bit anywhere is a mismatch
        QVERIFY(!constantTimeEqual(h, other));
    }

    auto config = parseAuthConfig(authFile());
    EDDY_VERIFY_OK(config);
    const Principal *admin = findPrincipal(*config, "admin-token");
    const Principal *writer = findPrincipal(*config, "producer-token");
    QVERIFY(admin && writer);
    QCOMPARE(admin->name, std::string("admin"));
    QCOMPARE(writer->name, std::string("orders-writer"));
    for (const char *near : {"", "admin-toke", "admin-tokenn", "Admin-token", "producer-token "})
        QVERIFY2(!findPrincipal(*config, near), near);

    QVERIFY(globMatch("orders.*", "orders.eu"));
    QVERIFY(globMatch("orders.*", "orders."));
    QVERIFY(!globMatch("orders.*", "orders"));
    QVERIFY(!globMatch("orders.*", "xorders.eu"));
    QVERIFY(globMatch("*", ""));
    QVERIFY(globMatch("*.dlq", "orders.eu.dlq"));
    QVERIFY(!globMatch("*.dlq", "orders.eu.dlq2"));
    QVERIFY(globMatch("a?c", "abc"));
    QVERIFY(!globMatch("a?c", "ac"));
    QVERIFY(globMatch("billing", "billing"));
    QVERIFY(!globMatch("billing", "billing2"));
    QVERIFY(!globMatch("a*a*a*a*a*b", std::string(64, 'a'))); // no exponential backtracking

    QCOMPARE(addressHost("tcp://10.0.0.5:53122"), std::string("tcp://10.0.0.5"));
    QCOMPARE(addressHost("tcp://[::1]:53122"), std::string("tcp://[::1]"));
    QCOMPARE(addressHost("inproc://x"), std::string("inproc://x"));
    QCOMPARE(addressHost("ipc:///tmp/eddy.sock"), std::string("ipc:///tmp/eddy.sock"));

    // What counts as loopback for --allow-remote.
    for (const char *local : {"tcp://127.0.0.1:7650", "tcp://127.1.2.3:0",
                              "tls+tcp://localhost:7650", "tcp://[::1]:7650", "inproc://x",
                              "ipc:///tmp/eddy.sock"})
        QVERIFY2(isLoopbackUrl(local), local);
    for (const char *remote : {"tcp://0.0.0.0:7650", "tcp://10.0.0.5:7650", "tcp://[::]:7650",
                               "tcp://127.example.com:7650", "tcp://localhost.example.com:1",
                               "tcp://*:7650", "tls+tcp://192.168.1.2:7650", "nonsense"})
        QVERIFY2(!isLoopbackUrl(remote), remote);
}

void TestAuth::limiterLocksOutPerHostAndDoubles()
{
    AuthLimiter limiter({3, 1000, 500, 1500});
    const std::string a = "tcp://10.0.0.1", b = "tcp://10.0.0.2";
    QVERIFY(!limiter.recordFailure(a, 0));
    QVERIFY(!limiter.recordFailure(a, 10));
    limiter.recordSuccess(a); // a success forgets earlier failures
    QVERIFY(!limiter.recordFailure(a, 20));
    QVERIFY(!limiter.recordFailure(a, 30));
    QVERIFY(limiter.recordFailure(a, 40)); // third failure in the window: locked out
    QVERIFY(!limiter.mayTry(a, 41));
    QVERIFY(limiter.mayTry(b, 41)); // per host
    QVERIFY(!limiter.mayTry(a, 539));
    QVERIFY(limiter.mayTry(a, 540));
    // Failing again soon after the lockout doubles it.
    QVERIFY(!limiter.recordFailure(a, 600));
    QVERIFY(!limiter.recordFailure(a, 610));
    QVERIFY(limiter.recordFailure(a, 620));
    QVERIFY(!limiter.mayTry(a, 1619));
    QVERIFY(limiter.mayTry(a, 1620));
    // Up to the maximum.
    for (int64_t t : {1700, 1710, 1720})
        limiter.recordFailure(a, t);
    QVERIFY(!limiter.mayTry(a, 1720 + 1499));
    QVERIFY(limiter.mayTry(a, 1720 + 1500));
    // Failures spread wider than the window never lock out.
    for (int64_t t = 10'000; t < 20'000; t += 600)
        QVERIFY(!limiter.recordFailure(b, t));
}

void TestAuth::operationMatrix_data()
{
    QTest::addColumn<int>("operation");
    QTest::addColumn<QString>("principal");
    const auto ops = operations();
    for (std::size_t i = 0; i < ops.size(); ++i)
        for (const char *p : {"admin", "producer", "consumer", "none", "wrong"})
            QTest::addRow("%s/%s", ops[i].name.c_str(), p) << int(i) << QString(p);
}

void TestAuth::operationMatrix()
{
    QFETCH(int, operation);
    QFETCH(QString, principal);
    const Operation op = operations().at(static_cast<std::size_t>(operation));
    const std::string who = principal.toStdString();
    serve();
    if (QTest::currentTestFailed())
        return;
    auto client = connect(who, m_url);
    QVERIFY(client && client->connected());

    const auto listed = [&](const std::string &p) {
        return std::find(op.allowed.begin(), op.allowed.end(), p) != op.allowed.end();
    };
    const bool allowed = listed("any") || listed(who);
    const json before = snapshot();
    auto reply = client->raw(op.frame(m_member));
    QVERIFY2(reply, "no reply");
    const std::string code = replyCode(*reply);
    if (allowed) {
        QVERIFY2(code.empty(), (who + " was refused " + op.name + ": " + *reply).c_str());
        return;
    }
    const std::string expected = who == "none" || who == "wrong" ? "UNAUTHENTICATED" : "FORBIDDEN";
    QVERIFY2(code == expected, (op.name + " by " + who + " answered " + *reply).c_str());
    json after = snapshot();
    QCOMPARE(after["producer_id"].get<int64_t>(), before["producer_id"].get<int64_t>() + 1);
    after["producer_id"] = before["producer_id"];
    QVERIFY2(after == before, ("refused " + op.name + " changed the broker:\n" + before.dump()
                               + "\n" + after.dump())
                                  .c_str());
    // Nor moved the member's read positions (not part of the snapshot, since reading them moves
    // them): its first poll still reads both partitions of orders.eu from offset 0.
    PollRequest poll;
    poll.group = "billing";
    poll.memberId = m_member.id;
    poll.generation = m_member.generation;
    auto polled = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(polled);
    QCOMPARE(polled->records.size(), std::size_t(4));
    for (const auto &r : polled->records)
        QVERIFY2(r.record.offset < 2, (op.name + " moved a read position").c_str());
    if (who == "producer" || who == "consumer") {
        // Forbidden ops are logged with the principal and address.
        std::lock_guard lock(m_logMutex);
        QVERIFY(!m_log.empty());
        QVERIFY2(m_log.back().find(who == "producer" ? "orders-writer" : "billing")
                     != std::string::npos,
                 m_log.back().c_str());
        QVERIFY2(m_log.back().find(m_url) != std::string::npos, m_log.back().c_str());
    }
}

void TestAuth::listingsShowOnlyWhatThePrincipalMaySee()
{
    serve();
    const auto names = [](const json &list, const char *field) {
        std::vector<std::string> out;
        for (const auto &e : list)
            out.push_back(e.value(field, std::string()));
        std::sort(out.begin(), out.end());
        return out;
    };
    using Names = std::vector<std::string>;
    const std::vector<std::tuple<std::string, Names, Names>> expected{
        {"admin", {"orders.eu", "payments"}, {"audit", "billing"}},
        {"producer", {"orders.eu"}, {}},
        {"consumer", {"orders.eu"}, {"billing"}},
    };
    for (const auto &[who, topics, groups] : expected) {
        auto client = connect(who, m_url);
        QVERIFY(client);
        QCOMPARE(names(client->call({{"op", "list_topics"}})["topics"], "name"), topics);
        QCOMPARE(names(client->call({{"op", "list_groups"}})["groups"], "group"), groups);
        const json hello = client->call({{"op", "hello"}});
        QCOMPARE(hello.value("auth", std::string()), std::string("token"));
        QVERIFY(hello["principal"].is_string());
    }
    const json anonymous = ReqClient(m_url).call({{"op", "hello"}});
    QVERIFY(anonymous["principal"].is_null());
    QVERIFY(std::find(anonymous["ops"].begin(), anonymous["ops"].end(), "auth")
            != anonymous["ops"].end());
}

void TestAuth::failedAttemptsAreRateLimitedAndLogged()
{
    serve({"tcp://127.0.0.1:0"});
    ReqClient attacker(m_url);
    // The limit is 3 failures: each is refused as a failed authentication...
    for (int i = 0; i < 3; ++i)
        QCOMPARE(ReqClient::code(
                     attacker.call({{"op", "auth"}, {"token", "guess-" + std::to_string(i)}})),
                 std::string("UNAUTHENTICATED"));
    // ...then the address is locked out: even the right token is refused, with its own code and
    // without the token being looked at.
    const json locked = attacker.call({{"op", "auth"}, {"token", "admin-token"}});
    QCOMPARE(ReqClient::code(locked), std::string("AUTH_RATE_LIMITED"));
    QCOMPARE(ReqClient::code(attacker.call({{"op", "list_topics"}})),
             std::string("UNAUTHENTICATED"));
    // Another connection from the same address is locked out too; another address is not.
    QCOMPARE(ReqClient::code(ReqClient(m_url).call({{"op", "auth"}, {"token", "admin-token"}})),
             std::string("AUTH_RATE_LIMITED"));
    ReqClient other(m_server->requestUrls().at(1));
    QVERIFY(other.call({{"op", "auth"}, {"token", "admin-token"}}).value("ok", false));
    QVERIFY(other.call({{"op", "list_topics"}}).value("ok", false));

    std::lock_guard lock(m_logMutex);
    int failures = 0;
    for (const auto &line : m_log) {
        QVERIFY2(line.find("guess-") == std::string::npos, line.c_str()); // never the token
        QVERIFY2(line.find("admin-token") == std::string::npos, line.c_str());
        if (line.find("failed authentication from " + m_url) != std::string::npos)
            ++failures;
    }
    QCOMPARE(failures, 3);
    QVERIFY(std::any_of(m_log.begin(), m_log.end(), [](const std::string &l) {
        return l.find("refused for a while") != std::string::npos;
    }));
    // The unauthenticated list_topics was logged once for that connection.
    QVERIFY(std::any_of(m_log.begin(), m_log.end(), [](const std::string &l) {
        return l.find("refused 'list_topics' from unauthenticated") != std::string::npos;
    }));
}

// The server resolves each connection's address once and hands it with every request of that
// connection: requests from two connections, interleaved, are logged with their own addresses
// (the ones the clients list shows), and a connection made after they closed gets its own.
void TestAuth::eachRequestNamesItsOwnConnection()
{
    serve({"tcp://127.0.0.1:0"});
    const std::string tcp = m_server->requestUrls().at(1);
    // The address after `prefix` in each log line that has it, in order.
    const auto logged = [this](const std::string &prefix) {
        std::lock_guard lock(m_logMutex);
        std::vector<std::string> out;
        for (const auto &line : m_log)
            if (const auto at = line.find(prefix); at != std::string::npos) {
                const auto from = at + prefix.size();
                out.push_back(line.substr(from, line.find(' ', from) - from));
            }
        return out;
    };
    const auto listed = [this] {
        std::set<std::string> out;
        for (const auto &c : m_server->clients())
            out.insert(c.address);
        return out;
    };
    const std::string failed = "failed authentication from ";
    const std::string refused = "from unauthenticated ";
    std::set<std::string> seen;
    {
        ReqClient a(tcp);
        ReqClient b(tcp);
        for (ReqClient *c : {&a, &b, &a})
            QCOMPARE(ReqClient::code(c->call({{"op", "auth"}, {"token", "wrong"}})),
                     std::string("UNAUTHENTICATED"));
        const auto from = logged(failed);
        QCOMPARE(from.size(), std::size_t(3));
        QCOMPARE(from[0], from[2]);
        QVERIFY(from[0] != from[1]);
        const auto now = listed();
        for (const auto &address : from) {
            QVERIFY2(address.rfind("tcp://127.0.0.1:", 0) == 0, address.c_str());
            QVERIFY2(now.count(address), address.c_str());
        }
        QCOMPARE(ReqClient::code(b.call({{"op", "list_topics"}})), std::string("UNAUTHENTICATED"));
        QCOMPARE(ReqClient::code(a.call({{"op", "list_topics"}})), std::string("UNAUTHENTICATED"));
        QCOMPARE(logged(refused), (std::vector<std::string>{from[1], from[0]}));
        seen = {from[0], from[1]};
    }
    QTRY_VERIFY_WITH_TIMEOUT(listed().count(*seen.begin()) == 0
                                 && listed().count(*seen.rbegin()) == 0,
                             5000);
    ReqClient c(tcp);
    QCOMPARE(ReqClient::code(c.call({{"op", "list_topics"}})), std::string("UNAUTHENTICATED"));
    const auto refusals = logged(refused);
    QCOMPARE(refusals.size(), std::size_t(3));
    QVERIFY2(!seen.count(refusals[2]), refusals[2].c_str());
    QVERIFY2(listed().count(refusals[2]), refusals[2].c_str());
}

void TestAuth::clientsListShowsThePrincipal()
{
    serve();
    auto consumer = connect("consumer", m_url);
    auto anonymous = connect("none", m_url);
    QVERIFY(consumer && anonymous);
    QVERIFY(anonymous->call({{"op", "hello"}}).value("ok", false));
    auto admin = connect("admin", m_url);
    QVERIFY(admin);
    const json reply = admin->call({{"op", "clients"}});
    QVERIFY2(reply.value("ok", false), reply.dump().c_str());
    std::vector<std::string> principals;
    for (const auto &c : reply["clients"])
        principals.push_back(c["principal"].is_null() ? "-" : c["principal"].get<std::string>());
    std::sort(principals.begin(), principals.end());
    QCOMPARE(principals, (std::vector<std::string>{"-", "admin", "billing"}));
    std::vector<std::string> fromServer;
    for (const auto &c : m_server->clients())
        fromServer.push_back(c.principal.empty() ? "-" : c.principal);
    std::sort(fromServer.begin(), fromServer.end());
    QCOMPARE(fromServer, principals);
}

void TestAuth::clientLibraryAuthenticatesAndReauthenticatesAfterARedial()
{
    m_dir = std::make_unique<QTemporaryDir>();
    auto broker = Broker::open(test::testConfig(m_dir->path()));
    QVERIFY(broker);
    m_broker = std::move(*broker);
    auto config = parseAuthConfig(authFile());
    EDDY_VERIFY_OK(config);
    config->log = [](const std::string &) {};
    BrokerServerOptions options;
    options.requests.listen = {"tcp://127.0.0.1:0"};
    options.faultyListen = {"tcp://127.0.0.1:0"};
    options.publish = {};
    options.auth = std::move(*config);
    auto server = BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);

    client::ConnectionOptions admin;
    admin.url = m_server->faultyUrls().at(0);
    admin.token = "admin-token";
    auto a = client::Admin::open(admin, 10000);
    EDDY_VERIFY_OK(a);
    EDDY_VERIFY_OK((*a)->createTopic("orders.eu", 1));

    // A wrong token fails open() with the broker's code; no token leaves every op refused.
    client::ConnectionOptions wrong = admin;
    wrong.token = "nope";
    EDDY_VERIFY_ERR(client::Connection::open(wrong), Errc::Unauthenticated);
    client::ConnectionOptions anonymous = admin;
    anonymous.token.clear();
    auto anon = client::Admin::open(anonymous, 10000);
    EDDY_VERIFY_OK(anon);
    EDDY_VERIFY_ERR((*anon)->listTopics(), Errc::Unauthenticated);

    // The producer's binary produce goes through as its principal; another topic is forbidden.
    client::ProducerOptions po;
    static_cast<client::ConnectionOptions &>(po) = admin;
    po.token = "producer-token";
    po.retries = 0;
    auto producer = client::Producer::open(po);
    EDDY_VERIFY_OK(producer);
    EDDY_VERIFY_OK((*producer)->send("orders.eu", test::rec("v")).get());
    EDDY_VERIFY_ERR((*producer)->send("payments", test::rec("v")).get(), Errc::Forbidden);

    // The faulty endpoint drops both connections; NNG redials, and the new pipes are
    // unauthenticated: each client must authenticate again on its own, the admin for a JSON
    // request, the producer for a binary one.
    const auto pipeOf = [this](const std::string &principal) -> uint32_t {
        for (const auto &c : m_server->clients())
            if (c.principal == principal)
                return c.id;
        return 0;
    };
    const uint32_t adminBefore = pipeOf("admin"), producerBefore = pipeOf("orders-writer");
    QVERIFY(adminBefore != 0 && producerBefore != 0);
    NetworkFault cut;
    cut.disconnected = true;
    m_server->setNetworkFault(cut);
    QTRY_VERIFY_WITH_TIMEOUT(pipeOf("admin") == 0 && pipeOf("orders-writer") == 0, 10000);
    m_server->setNetworkFault({});
    auto topics = (*a)->listTopics();
    EDDY_VERIFY_OK(topics);
    QCOMPARE(topics->size(), std::size_t(1));
    EDDY_VERIFY_OK((*producer)->send("orders.eu", test::rec("after the redial")).get());
    const uint32_t adminAfter = pipeOf("admin"), producerAfter = pipeOf("orders-writer");
    QVERIFY(adminAfter != 0 && adminAfter != adminBefore);
    QVERIFY(producerAfter != 0 && producerAfter != producerBefore);
    QCOMPARE(m_broker->describeTopic("orders.eu")->partitionInfo[0].highWatermark, 2);
}

void TestAuth::tokenIsHarmlessWithoutAccessControl()
{
    m_dir = std::make_unique<QTemporaryDir>();
    auto broker = Broker::open(test::testConfig(m_dir->path()));
    QVERIFY(broker);
    m_broker = std::move(*broker);
    BrokerServerOptions options;
    options.requests.listen = {"inproc://auth-off"};
    options.publish = {};
    auto server = BrokerServer::start(*m_broker, options);
    QVERIFY(server);
    m_server = std::move(*server);
    client::ConnectionOptions o;
    o.url = "inproc://auth-off";
    o.token = "anything";
    auto c = client::Connection::open(o);
    EDDY_VERIFY_OK(c);
    auto hello = (*c)->call({{"op", "hello"}}, 5000);
    EDDY_VERIFY_OK(hello);
    QCOMPARE((*hello)["auth"].get<std::string>(), std::string("none"));
    QVERIFY(!hello->contains("principal"));
    QVERIFY(m_server->clients().at(0).principal.empty());
}

void TestAuth::liveStreamNeedsExplicitConsent()
{
    m_dir = std::make_unique<QTemporaryDir>();
    auto broker = Broker::open(test::testConfig(m_dir->path()));
    QVERIFY(broker);
    m_broker = std::move(*broker);
    auto config = parseAuthConfig(authFile());
    EDDY_VERIFY_OK(config);
    BrokerServerOptions options;
    options.requests.listen = {"inproc://auth-stream"};
    options.publish = {"inproc://auth-stream-pub"};
    options.auth = *config;
    auto refused = BrokerServer::start(*m_broker, options);
    EDDY_VERIFY_ERR(refused, Errc::InvalidConfig);
    options.publishWithoutAuth = true;
    // The stream has no TLS settings: a tls+tcp:// stream would fail every handshake.
    options.publish = {"tls+tcp://127.0.0.1:0"};
    EDDY_VERIFY_ERR(BrokerServer::start(*m_broker, options), Errc::InvalidConfig);
    options.publish = {"inproc://auth-stream-pub"};
    auto allowed = BrokerServer::start(*m_broker, options);
    QVERIFY2(allowed, allowed ? "" : allowed.error().message.c_str());
    QCOMPARE((*allowed)->publishUrls().size(), std::size_t(1));
}

void TestAuth::mutualTlsRequiresACertificateFromTheCa()
{
    // A CA, a server certificate for localhost and two client certificates, one from that CA and
    // one self-signed, all made for this run only.
    QTemporaryDir pki;
    const auto run = [&](const QStringList &args) {
        ChildOptions options;
        options.workingDirectory = pki.path();
        const ChildRun r = runChild("openssl", args, 30000, {}, options);
        if (r.exitCode != 0)
            qWarning("openssl %s: %s", qPrintable(args.join(' ')), qPrintable(r.err));
        return r.exitCode == 0;
    };
    const QStringList ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    QVERIFY(run(QStringList{"req", "-x509"} + ec
                + QStringList{"-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj",
                              "/CN=eddy-test-ca"}));
    QFile ext(pki.filePath("ext.cnf"));
    QVERIFY(ext.open(QIODevice::WriteOnly));
    ext.write("subjectAltName=DNS:localhost\n");
    ext.close();
    for (const QString name : {"server", "client"}) {
        QVERIFY(run(QStringList{"req"} + ec
                    + QStringList{"-keyout", name + ".key", "-out", name + ".csr", "-subj",
                                  "/CN=" + (name == "server" ? QString("localhost") : name)}));
        QVERIFY(run({"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile",
                     "ext.cnf"}));
    }
    QVERIFY(run(QStringList{"req", "-x509"} + ec
                + QStringList{"-keyout", "rogue.key", "-out", "rogue.pem", "-days", "1", "-subj",
                              "/CN=rogue"}));
    const auto path = [&](const char *file) { return pki.filePath(file).toStdString(); };

    m_dir = std::make_unique<QTemporaryDir>();
    auto broker = Broker::open(test::testConfig(m_dir->path()));
    QVERIFY(broker);
    m_broker = std::move(*broker);
    BrokerServerOptions options;
    options.requests.listen = {"tls+tcp://127.0.0.1:0"};
    options.requests.tls.certFile = path("server.pem");
    options.requests.tls.keyFile = path("server.key");
    options.requests.tls.requireClientCert = true;
    options.publish = {};
    // Requiring client certificates without a CA to check them against is a setup error.
    auto noCa = BrokerServer::start(*m_broker, options);
    EDDY_VERIFY_ERR(noCa, Errc::InvalidConfig);
    options.requests.tls.caFile = path("ca.pem");
    auto server = BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
    // mbedTLS verifies DNS names, not IP addresses: dial "localhost".
    const std::string url = QString::fromStdString(m_server->requestUrls().at(0))
                                .replace("127.0.0.1", "localhost")
                                .toStdString();

    client::ConnectionOptions withCert;
    withCert.url = url;
    withCert.tlsCaFile = path("ca.pem");
    withCert.tlsCertFile = path("client.pem");
    withCert.tlsKeyFile = path("client.key");
    auto served = client::Connection::open(withCert);
    EDDY_VERIFY_OK(served);
    auto hello = (*served)->call({{"op", "hello"}}, 5000);
    EDDY_VERIFY_OK(hello);
    QCOMPARE(m_server->clients().size(), std::size_t(1));

    client::ConnectionOptions noCert = withCert;
    noCert.tlsCertFile.clear();
    noCert.tlsKeyFile.clear();
    QVERIFY(!client::Connection::open(noCert));
    client::ConnectionOptions rogue = withCert;
    rogue.tlsCertFile = path("rogue.pem");
    rogue.tlsKeyFile = path("rogue.key");
    QVERIFY(!client::Connection::open(rogue));
    // Only the client with the CA's certificate ever got a connection through.
    QCOMPARE(m_server->clients().size(), std::size_t(1));
}

QTEST_GUILESS_MAIN(TestAuth)
#include "tst_auth.moc"
