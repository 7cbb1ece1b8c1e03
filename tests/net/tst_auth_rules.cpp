// Access control (docs/security.md) as rules: the auth file's validation, the token and pattern
// primitives, the lockout of failed attempts, and the whole (operation x principal) matrix over
// the wire in both encodings, where every unauthorised request must be refused with the
// structured error and leave the broker exactly as it was, and every authorised one must
// succeed. Listings, connections, the client library, the live stream and mutual TLS:
// tst_auth.cpp.
#include "auth_fixture.h"

#include "binary_codec.h"

#include <QtTest>

#include <functional>

using nlohmann::json;
using namespace eddy;
using namespace eddy::net;
using namespace eddy::test;

namespace {

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

class TestAuthRules : public QObject, AuthFixture
{
    Q_OBJECT

    using AuthFixture::connect;

private slots:
    void cleanup() { stopServing(); }

    void authFileIsValidated_data();
    void authFileIsValidated();
    void tokenAndPatternPrimitives();
    void limiterLocksOutPerHostAndDoubles();
    void operationMatrix_data();
    void operationMatrix();

private:
    json snapshot();
};

// Everything a request could change, read straight from the engine. The producer id is taken
// from the broker (which allocates the next one), so two snapshots of an unchanged broker differ
// in it by exactly one.
json TestAuthRules::snapshot()
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

void TestAuthRules::authFileIsValidated_data()
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

void TestAuthRules::authFileIsValidated()
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

void TestAuthRules::tokenAndPatternPrimitives()
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

void TestAuthRules::limiterLocksOutPerHostAndDoubles()
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

void TestAuthRules::operationMatrix_data()
{
    QTest::addColumn<int>("operation");
    QTest::addColumn<QString>("principal");
    const auto ops = operations();
    for (std::size_t i = 0; i < ops.size(); ++i)
        for (const char *p : {"admin", "producer", "consumer", "none", "wrong"})
            QTest::addRow("%s/%s", ops[i].name.c_str(), p) << int(i) << QString(p);
}

void TestAuthRules::operationMatrix()
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

QTEST_GUILESS_MAIN(TestAuthRules)
#include "tst_auth_rules.moc"
