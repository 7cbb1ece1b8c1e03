// `eddy broker`: serves a data directory on the network until SIGINT/SIGTERM. Only argument
// handling and printing live here; the broker and its network server are the engine's.
#include "broker.h"
#include "broker_server.h"
#include "cli_commands.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QSocketNotifier>
#include <QStandardPaths>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include <unistd.h>

namespace eddy::cli {

namespace {

// SIGINT/SIGTERM write a byte to this pipe; the event loop reads it and quits. Only write() is
// async-signal-safe, and a byte that arrives before exec() starts is still seen once it does.
int g_signalPipe[2] = {-1, -1};

void onBrokerSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(g_signalPipe[1], &byte, 1);
}

} // namespace

int runBroker(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Runs the Eddy broker engine on a data directory.");
    parser.addHelpOption();
    QCommandLineOption dataDir({"data", "data-dir"}, "Data directory (default: XDG data dir/eddy).",
                               "dir");
    QCommandLineOption durability("durability", "durable or fast (default fast).", "mode", "fast");
    QCommandLineOption flush("flush-ms", "Fast mode: longest unflushed interval.", "ms", "50");
    QCommandLineOption listen("listen", "Request endpoint URL (repeatable; default "
                                        "tcp://127.0.0.1:7650).", "url");
    QCommandLineOption pub("pub", "Live stream (PUB) URL (repeatable; default "
                                  "tcp://127.0.0.1:7651; 'none' for no stream).", "url");
    QCommandLineOption allowRemote("allow-remote", "Allow listening on non-loopback addresses.");
    QCommandLineOption tlsCert("tls-cert", "PEM certificate for tls+tcp:// listeners.", "file");
    QCommandLineOption tlsKey("tls-key", "PEM private key for tls+tcp:// listeners.", "file");
    QCommandLineOption tlsCa("tls-ca", "PEM CA to verify client certificates.", "file");
    QCommandLineOption tlsRequire("tls-require-client-cert", "Mutual TLS: require client certs.");
    QCommandLineOption faulty("faulty-listen", "A second request endpoint whose latency, drops and "
                                               "disconnects `eddy fault` sets live (repeatable).",
                              "url");
    QCommandLineOption auth("auth", "Access control: JSON file of principals, tokens and rules "
                                    "(docs/security.md).", "file");
    QCommandLineOption pubWithoutAuth("pub-without-auth",
                                      "With --auth: serve the live stream anyway (anyone who can "
                                      "reach it reads every record).");
    QCommandLineOption kafka("kafka-listen",
                             "Kafka wire-protocol listener, host:port or tcp:// URL "
                             "(repeatable; none by default), for kcat, librdkafka "
                             "and other Kafka clients.",
                             "url");
    QCommandLineOption kafkaHost("kafka-advertised-host", "Host the Kafka listener tells clients "
                                                          "to connect to (default: the address "
                                                          "each client used).", "host");
    parser.addOptions({faulty, auth, pubWithoutAuth, kafka, kafkaHost});
    parser.addOptions({dataDir, durability, flush, listen, pub, allowRemote, tlsCert, tlsKey, tlsCa,
                       tlsRequire});
    parser.process(args);

    eddy::BrokerConfig config;
    config.dataDir = parser.isSet(dataDir)
                         ? parser.value(dataDir).toStdString()
                         : (QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation)
                            + "/eddy")
                               .toStdString();
    const QString mode = parser.value(durability);
    if (mode != "durable" && mode != "fast") {
        std::fprintf(stderr, "eddy broker: --durability must be 'durable' or 'fast'\n");
        return 2;
    }
    config.durability = mode == "durable" ? eddy::Durability::Durable : eddy::Durability::Fast;
    config.flushIntervalMs = parser.value(flush).toInt();

    auto broker = eddy::Broker::open(config);
    if (!broker) {
        std::fprintf(stderr, "eddy broker: %s: %s\n",
                     std::string(eddy::errcName(broker.code())).c_str(),
                     broker.error().message.c_str());
        return 1;
    }
    eddy::net::BrokerServerOptions serverOptions;
    if (parser.isSet(listen)) {
        serverOptions.requests.listen.clear();
        for (const auto &url : parser.values(listen))
            serverOptions.requests.listen.push_back(url.toStdString());
    }
    if (parser.isSet(pub)) {
        serverOptions.publish.clear();
        for (const auto &url : parser.values(pub))
            if (url != "none")
                serverOptions.publish.push_back(url.toStdString());
    }
    for (const auto &url : parser.values(faulty))
        serverOptions.faultyListen.push_back(url.toStdString());
    for (const auto &url : parser.values(kafka))
        serverOptions.kafkaListen.push_back(url.contains("://") ? url.toStdString()
                                                                : "tcp://" + url.toStdString());
    serverOptions.kafkaAdvertisedHost = parser.value(kafkaHost).toStdString();
    serverOptions.requests.tls.certFile = parser.value(tlsCert).toStdString();
    serverOptions.requests.tls.keyFile = parser.value(tlsKey).toStdString();
    serverOptions.requests.tls.caFile = parser.value(tlsCa).toStdString();
    serverOptions.requests.tls.requireClientCert = parser.isSet(tlsRequire);
    if (parser.isSet(auth)) {
        auto config = eddy::net::loadAuthConfig(parser.value(auth).toStdString());
        if (!config) {
            std::fprintf(stderr, "eddy broker: %s\n", config.error().message.c_str());
            return 2;
        }
        serverOptions.auth = std::move(*config);
        // The live stream cannot authenticate subscribers: with access control it is off unless
        // asked for, and asking for it needs --pub-without-auth (BrokerServer refuses otherwise).
        if (!parser.isSet(pub))
            serverOptions.publish.clear();
        serverOptions.publishWithoutAuth = parser.isSet(pubWithoutAuth);
    }
    // Loopback by default: a broker reachable from other machines must be asked for.
    std::vector<std::string> all = serverOptions.requests.listen;
    all.insert(all.end(), serverOptions.publish.begin(), serverOptions.publish.end());
    all.insert(all.end(), serverOptions.faultyListen.begin(), serverOptions.faultyListen.end());
    all.insert(all.end(), serverOptions.kafkaListen.begin(), serverOptions.kafkaListen.end());
    for (const auto &url : all) {
        if (eddy::net::isLoopbackUrl(url))
            continue;
        if (!parser.isSet(allowRemote)) {
            std::fprintf(stderr, "eddy broker: %s is not a loopback address; pass --allow-remote "
                                 "to listen on it\n", url.c_str());
            return 2;
        }
        const bool stream = std::find(serverOptions.publish.begin(), serverOptions.publish.end(),
                                      url)
                            != serverOptions.publish.end();
        if (!serverOptions.auth || stream)
            std::fprintf(stderr, "eddy broker: warning: listening on %s without authentication%s\n",
                         url.c_str(), serverOptions.auth ? " (the live stream)" : " (see --auth)");
        else if (url.rfind("tls+tcp://", 0) != 0)
            std::fprintf(stderr, "eddy broker: warning: tokens reach %s unencrypted; use "
                                 "tls+tcp:// beyond loopback\n", url.c_str());
    }
    auto server = eddy::net::BrokerServer::start(**broker, serverOptions);
    if (!server) {
        std::fprintf(stderr, "eddy broker: %s: %s\n",
                     std::string(eddy::errcName(server.code())).c_str(),
                     server.error().message.c_str());
        return 1;
    }
    // Handlers go in before the URLs are printed: whoever waits for that line may signal at once.
    if (::pipe(g_signalPipe) != 0) {
        std::fprintf(stderr, "eddy broker: cannot create the signal pipe\n");
        return 1;
    }
    QSocketNotifier signalNotifier(g_signalPipe[0], QSocketNotifier::Read);
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &QCoreApplication::quit);
    std::signal(SIGINT, onBrokerSignal);
    std::signal(SIGTERM, onBrokerSignal);
    std::printf("eddy broker: data %s, durability %s, %zu topics\n", config.dataDir.c_str(),
                mode.toUtf8().constData(), (*broker)->listTopics().size());
    for (const auto &url : (*server)->requestUrls())
        std::printf("eddy broker: requests on %s\n", url.c_str());
    for (const auto &url : (*server)->faultyUrls())
        std::printf("eddy broker: fault-injecting endpoint on %s\n", url.c_str());
    for (const auto &url : (*server)->kafkaUrls())
        std::printf("eddy broker: Kafka clients on %s\n", url.c_str());
    for (const auto &url : (*server)->publishUrls())
        std::printf("eddy broker: live stream on %s%s\n", url.c_str(),
                    serverOptions.auth ? " (not authenticated)" : "");
    if (serverOptions.auth)
        std::printf("eddy broker: access control on, %zu principals\n",
                    serverOptions.auth->principals.size());
    std::fflush(stdout);

    const int rc = QCoreApplication::exec();
    // Stop taking requests first, then flush: everything acknowledged is on disk at exit.
    (*server)->stop();
    (*broker)->close();
    std::printf("eddy broker: stopped\n");
    return rc;
}

} // namespace eddy::cli
