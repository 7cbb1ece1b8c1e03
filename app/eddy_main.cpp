// The eddy command-line tool. Only argument handling and printing live here; the broker is the
// engine's. Commands: `eddy broker` runs the broker engine on a data directory until Ctrl-C.
#include "broker.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>
#include <QTimer>

#include <csignal>
#include <cstdio>

namespace {

void onSignal(int)
{
    QCoreApplication::quit();
}

int runBroker(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Runs the Eddy broker engine on a data directory.");
    parser.addHelpOption();
    QCommandLineOption dataDir("data-dir", "Data directory (default: XDG data dir/eddy).", "dir");
    QCommandLineOption durability("durability", "durable or fast (default fast).", "mode", "fast");
    QCommandLineOption flush("flush-ms", "Fast mode: longest unflushed interval.", "ms", "50");
    parser.addOptions({dataDir, durability, flush});
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
    std::printf("eddy broker: data %s, durability %s, %zu topics\n", config.dataDir.c_str(),
                mode.toUtf8().constData(), (*broker)->listTopics().size());
    std::fflush(stdout);

    QTimer status;
    QObject::connect(&status, &QTimer::timeout, [&] {
        const auto snap = (*broker)->metrics();
        std::printf("in %.0f rec/s  out %.0f rec/s  topics %zu  groups %zu\n",
                    snap->broker.recordsInPerSec, snap->broker.recordsOutPerSec,
                    snap->topics.size(), snap->groups.size());
        std::fflush(stdout);
    });
    status.start(1000);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    const int rc = QCoreApplication::exec();
    (*broker)->close();
    return rc;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("eddy");
    QStringList args = QCoreApplication::arguments();
    const QString command = args.size() > 1 ? args.at(1) : QString();
    if (command == "broker") {
        args.removeAt(1);
        return runBroker(args);
    }
    std::fprintf(stderr, "usage: eddy broker [--data-dir DIR] [--durability durable|fast]\n");
    return command.isEmpty() || command == "--help" || command == "-h" ? 0 : 2;
}
