// Access control (docs/security.md) as clients see it: listings filtered to what the principal
// may see, failed attempts rate-limited and logged with each request's own connection, the
// principal in `clients`, the client library's authentication (on open and again after a
// redial), a token without access control, the live stream's consent rule, and mutual TLS with
// a CA made by openssl for this run. The auth file, the primitives, the lockout and the
// (operation x principal) matrix: tst_auth_rules.cpp.
#include "auth_fixture.h"

#include "admin.h"
#include "child_process.h"
#include "connection.h"
#include "producer.h"

#include <QtTest>

#include <algorithm>
#include <set>

using nlohmann::json;
using namespace eddy;
using namespace eddy::net;
using namespace eddy::test;

class TestAuth : public QObject, AuthFixture
{
    Q_OBJECT

    using AuthFixture::connect;

private slots:
    void cleanup() { stopServing(); }

    void listingsShowOnlyWhatThePrincipalMaySee();
    void failedAttemptsAreRateLimitedAndLogged();
    void eachRequestNamesItsOwnConnection();
    void clientsListShowsThePrincipal();
    void clientLibraryAuthenticatesAndReauthenticatesAfterARedial();
    void tokenIsHarmlessWithoutAccessControl();
    void liveStreamNeedsExplicitConsent();
    void mutualTlsRequiresACertificateFromTheCa();
};

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
