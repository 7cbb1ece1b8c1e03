// The eddy command-line tool: dispatches to one subcommand per file (cli_*.cpp). Only argument
// handling and printing live in app/; the broker, the network server and the client library are
// the engine's.
#include "cli_commands.h"

#include <QCoreApplication>

#include <cstdio>

namespace {

const char kUsage[] =
    "usage: eddy <command> [options]   (eddy <command> --help for details)\n"
    "\n"
    "  broker                         serve a data directory\n"
    "  topic create|list|describe|alter|delete\n"
    "  produce TOPIC                  records from --value or stdin lines\n"
    "  consume TOPIC                  print records (--group to consume as a group)\n"
    "  group list|describe|reset-offsets|delete\n"
    "  simulate FILE                  run a scenario; report and verdict\n"
    "  fault start|stop KIND [TARGET] inject a fault into a running broker\n"
    "  bench produce|consume|roundtrip|e2e  measure a broker (embedded unless --broker)\n"
    "\n"
    "Client commands take --broker URL (default tcp://127.0.0.1:7650) and --json.\n";

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("eddy");
    QStringList args = QCoreApplication::arguments();
    const QString command = args.size() > 1 ? args.at(1) : QString();
    using Run = int (*)(const QStringList &);
    const std::pair<const char *, Run> commands[] = {
        {"broker", eddy::cli::runBroker},   {"topic", eddy::cli::runTopic},
        {"produce", eddy::cli::runProduce}, {"consume", eddy::cli::runConsume},
        {"group", eddy::cli::runGroup},     {"simulate", eddy::cli::runSimulate},
        {"fault", eddy::cli::runFault},     {"bench", eddy::cli::runBench},
    };
    for (const auto &[name, run] : commands) {
        if (command == name) {
            args.removeAt(1);
            return run(args);
        }
    }
    const bool help = command == "--help" || command == "-h" || command == "help";
    std::fputs(kUsage, help ? stdout : stderr);
    if (!help && !command.isEmpty())
        std::fprintf(stderr, "eddy: unknown command '%s'\n", command.toUtf8().constData());
    return help ? 0 : 2;
}
