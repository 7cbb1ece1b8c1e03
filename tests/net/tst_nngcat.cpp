// Interop with nngcat (Debian's nng-utils), a real external NNG client that knows nothing of
// Eddy: create a topic, produce with JSON, fetch it back, and receive the record on the live
// stream with --sub0.
#include "broker.h"
#include "broker_server.h"
#include "child_process.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

using nlohmann::json;

class TestNngcat : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void createProduceFetch();
    void subscribeReceivesRecord();
    void errorsReachNngcat();
    void tlsListenerWithThrowawayCa();

private:
    json nngcat(const std::string &request);

    QTemporaryDir m_dir;
    std::unique_ptr<eddy::Broker> m_broker;
    std::unique_ptr<eddy::net::BrokerServer> m_server;
    QString m_url;
    QString m_pubUrl;
};

void TestNngcat::initTestCase()
{
    eddy::BrokerConfig config;
    config.dataDir = m_dir.path().toStdString();
    auto broker = eddy::Broker::open(config);
    QVERIFY(broker);
    m_broker = std::move(*broker);
    eddy::net::BrokerServerOptions options;
    options.requests.listen = {"tcp://127.0.0.1:0"};
    options.publish = {"tcp://127.0.0.1:0"};
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY(server);
    m_server = std::move(*server);
    m_url = QString::fromStdString(m_server->requestUrls().at(0));
    m_pubUrl = QString::fromStdString(m_server->publishUrls().at(0));
}

void TestNngcat::cleanupTestCase()
{
    m_server.reset();
    m_broker.reset();
}

json TestNngcat::nngcat(const std::string &request)
{
    ChildProcess p;
    if (!p.start(EDDY_NNGCAT_PATH, {"--req0", "--dial", m_url, "--ascii", "--recv-timeout", "5",
                                    "--data", QString::fromStdString(request)})
        || !p.waitForFinished(10000))
        return nullptr;
    const auto out = p.readAllStandardOutput().trimmed().toStdString();
    return json::parse(out, nullptr, false);
}

void TestNngcat::createProduceFetch()
{
    auto created = nngcat(R"({"op":"create_topic","topic":"events","partitions":1})");
    QCOMPARE(created.value("ok", false), true);
    auto produced = nngcat(
        R"({"op":"produce","topic":"events","partition":0,"key":"123",)"
        R"("value":"{\"type\":\"user.created\"}"})");
    QCOMPARE(produced.value("ok", false), true);
    QCOMPARE(produced["offset"].get<int>(), 0);
    auto fetched = nngcat(R"({"op":"fetch","topic":"events","partition":0,"offset":0})");
    QCOMPARE(fetched.value("ok", false), true);
    QCOMPARE(fetched["records"].size(), 1u);
    QCOMPARE(fetched["records"][0]["value"].get<std::string>(),
             std::string(R"({"type":"user.created"})"));
}

void TestNngcat::subscribeReceivesRecord()
{
    QVERIFY(nngcat(R"({"op":"create_topic","topic":"orders"})").value("ok", false));
    ChildProcess sub;
    QVERIFY2(sub.start(EDDY_NNGCAT_PATH, {"--sub0", "--dial", m_pubUrl, "--subscribe", "orders ",
                                          "--ascii", "--count", "1", "--recv-timeout", "8"}),
             qPrintable(sub.errorString()));
    // The subscription reaches the publisher asynchronously: produce until nngcat has one.
    for (int i = 0; i < 30 && sub.running(); ++i) {
        const auto r = nngcat(R"({"op":"produce","topic":"orders","value":"order-1"})");
        QVERIFY(r.value("ok", false));
        sub.waitForFinished(250);
    }
    if (sub.running())
        QVERIFY(sub.waitForFinished(5000));
    const QString out = QString::fromUtf8(sub.readAllStandardOutput());
    QVERIFY2(sub.exitCode() == 0, qPrintable(QString::fromUtf8(sub.readAllStandardError())));
    QVERIFY2(out.startsWith("orders "), qPrintable(out));
    QVERIFY2(out.contains("order-1"), qPrintable(out));
}

void TestNngcat::errorsReachNngcat()
{
    auto bad = nngcat(R"({"op":"fetch","topic":"nope","partition":0,"offset":0})");
    QCOMPARE(bad.value("ok", true), false);
    QCOMPARE(bad["error"]["code"].get<std::string>(), std::string("UNKNOWN_TOPIC"));
    auto garbage = nngcat("this is not json");
    QCOMPARE(garbage["error"]["code"].get<std::string>(), std::string("MALFORMED_REQUEST"));
}

void TestNngcat::tlsListenerWithThrowawayCa()
{
    // A CA and a server certificate made for this run only.
    QTemporaryDir pki;
    const auto run = [&](const QStringList &args) {
        ChildOptions options;
        options.workingDirectory = pki.path();
        return runChild("openssl", args, 30000, {}, options).exitCode == 0;
    };
    QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                 "ca.pem", "-days", "1", "-subj", "/CN=eddy-test-ca"}));
    QVERIFY(run({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
                 "server.csr", "-subj", "/CN=localhost"}));
    QFile ext(pki.filePath("ext.cnf"));
    QVERIFY(ext.open(QIODevice::WriteOnly));
    ext.write("subjectAltName=DNS:localhost\n");
    ext.close();
    QVERIFY(run({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"}));

    eddy::net::BrokerServerOptions options;
    options.requests.listen = {"tls+tcp://127.0.0.1:0"};
    options.requests.tls.certFile = pki.filePath("server.pem").toStdString();
    options.requests.tls.keyFile = pki.filePath("server.key").toStdString();
    options.publish = {};
    auto server = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    const QString url = QString::fromStdString((*server)->requestUrls().at(0));
    QVERIFY(url.startsWith("tls+tcp://127.0.0.1:"));
    // mbedTLS (NNG's TLS engine) verifies DNS names, not IP addresses: dial "localhost".
    const QString byName = QString(url).replace("127.0.0.1", "localhost");

    const ChildRun trusted = runChild(EDDY_NNGCAT_PATH,
                                      {"--req0", "--dial", byName, "--cacert",
                                       pki.filePath("ca.pem"), "--ascii", "--recv-timeout", "5",
                                       "--data", R"({"op":"hello"})"},
                                      15000);
    QVERIFY2(trusted.err != "timed out", qPrintable(trusted.describe()));
    const auto hello = json::parse(trusted.out.toStdString(), nullptr, false);
    QCOMPARE(hello.value("ok", false), true);

    // A client that does not trust the throwaway CA is refused.
    ChildProcess untrusted;
    QVERIFY(untrusted.start(EDDY_NNGCAT_PATH, {"--req0", "--dial", byName, "--ascii",
                                               "--recv-timeout", "3", "--data",
                                               R"({"op":"hello"})"}));
    QVERIFY(untrusted.waitForFinished(15000));
    QVERIFY(untrusted.exitCode() != 0);
    QVERIFY(untrusted.readAllStandardOutput().isEmpty());

    // A TLS listener without a certificate is a configuration error, reported as such.
    options.requests.tls = {};
    auto bad = eddy::net::BrokerServer::start(*m_broker, options);
    QVERIFY(!bad);
    QCOMPARE(bad.code(), eddy::Errc::InvalidConfig);
}

QTEST_GUILESS_MAIN(TestNngcat)
#include "tst_nngcat.moc"
