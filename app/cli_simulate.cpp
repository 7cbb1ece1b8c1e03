// `eddy simulate FILE`: runs a scenario against an embedded broker (or --broker URL), prints
// one live progress line, writes the report and exits non-zero when the verdict or an
// expectation fails. The simulation itself is simulations/'s; this file only wires and prints.
#include "cli_commands.h"
#include "cli_common.h"

#include "embedded_broker.h"
#include "nng_backend.h"
#include "runner.h"
#include "scenario.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <thread>

namespace eddy::cli {

namespace {

std::atomic<sim::SimulationRunner *> g_runner{nullptr};

void onSimulateSignal(int)
{
    // SimulationRunner::stop() is a lock-free atomic store: safe in a signal handler.
    if (auto *r = g_runner.load())
        r->stop();
}

// Live fault commands read from standard input while the run goes on, one per line:
//   fault KIND TARGET [SECONDS] [name=value ...]   start a fault (SECONDS 0 or absent: until ended)
//   end ID                                          end a live fault
//   faults                                          list the active faults
// Answers go to standard error so they never mix with the report on standard output.
void controlLoop(sim::SimulationRunner &runner, const std::atomic<bool> &done)
{
    std::string pending;
    while (!done) {
        pollfd fd{STDIN_FILENO, POLLIN, 0};
        if (::poll(&fd, 1, 100) <= 0)
            continue;
        char buf[512];
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0)
            return; // end of input: no more commands
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            std::istringstream line(pending.substr(0, nl));
            pending.erase(0, nl + 1);
            std::string verb;
            line >> verb;
            if (verb == "fault") {
                sim::FaultSpec f;
                line >> f.kind >> f.target;
                std::string word;
                while (line >> word) {
                    const auto eq = word.find('=');
                    if (eq == std::string::npos)
                        f.durationSeconds = std::atof(word.c_str());
                    else
                        f.params[word.substr(0, eq)] = std::atof(word.c_str() + eq + 1);
                }
                auto id = runner.startFault(f);
                if (id)
                    std::fprintf(stderr, "fault %d started: %s %s\n", *id, f.kind.c_str(),
                                 f.target.c_str());
                else
                    std::fprintf(stderr, "fault refused: %s\n", id.error().message.c_str());
            } else if (verb == "end") {
                int id = 0;
                line >> id;
                auto r = runner.endFault(id);
                std::fprintf(stderr, r ? "fault %d ended\n" : "no active fault %d\n", id);
            } else if (verb == "faults") {
                for (const auto &f : runner.activeFaults())
                    std::fprintf(stderr, "%d %s %s since %.1f s\n", f.id, f.spec.kind.c_str(),
                                 f.spec.target.c_str(), f.startedS);
            } else if (!verb.empty()) {
                std::fprintf(stderr, "commands: fault KIND TARGET [SECONDS] [name=value...], "
                                     "end ID, faults\n");
            }
        }
    }
}

} // namespace

int runSimulate(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Runs a scenario and reports throughput, lag, recovery and a lost/duplicate/reorder "
        "verdict.\nWhile it runs, standard input takes live fault commands:\n"
        "  fault KIND TARGET [SECONDS] [name=value ...]\n  end ID\n  faults");
    parser.addHelpOption();
    parser.addPositionalArgument("file", "Scenario file (JSON, docs/scenarios.md).");
    QCommandLineOption duration("duration", "Run this many seconds instead.", "seconds");
    QCommandLineOption seed("seed", "Seed instead of the scenario's.", "n");
    QCommandLineOption report("report", "Write the JSON report to FILE.", "file");
    QCommandLineOption broker("broker", "Run against this Eddy broker instead of an embedded "
                                        "one (broker faults then unavailable).", "url");
    QCommandLineOption data("data", "Data directory of the embedded broker (default: a "
                                    "temporary one).", "dir");
    QCommandLineOption token("token", "Access-control token for --broker (default: $EDDY_TOKEN).",
                             "token");
    QCommandLineOption quiet("quiet", "No progress line.");
    parser.addOptions({duration, seed, report, broker, token, data, quiet});
    parser.process(args);
    if (parser.positionalArguments().size() != 1) {
        std::fprintf(stderr, "eddy simulate: give one scenario file\n");
        return 2;
    }
    auto scenario = sim::loadScenario(parser.positionalArguments().at(0).toStdString());
    if (!scenario) {
        std::fprintf(stderr, "eddy simulate: %s\n", scenario.error().message.c_str());
        return 2;
    }

    std::unique_ptr<sim::EmbeddedBroker> embedded;
    QTemporaryDir tempDir;
    std::string url;
    if (parser.isSet(broker)) {
        url = parser.value(broker).toStdString();
    } else {
        sim::EmbeddedBroker::Options o;
        o.config.dataDir = parser.isSet(data) ? parser.value(data).toStdString()
                                              : tempDir.path().toStdString();
        o.config.durability = Durability::Durable;
        url = "inproc://eddy-simulate-" + std::to_string(::getpid());
        o.server.requests.listen = {url};
        o.server.publish = {};
        auto started = sim::EmbeddedBroker::start(std::move(o));
        if (!started) {
            std::fprintf(stderr, "eddy simulate: %s: %s\n",
                         std::string(errcName(started.code())).c_str(),
                         started.error().message.c_str());
            return 1;
        }
        embedded = std::move(*started);
    }
    // The token matters only for an external broker; the embedded one runs without access control.
    auto backend = sim::makeNngBackend(url, embedded ? std::string() : tokenValue(parser, token));

    sim::RunnerOptions options;
    if (parser.isSet(duration))
        options.durationS = parser.value(duration).toDouble();
    if (parser.isSet(seed))
        options.seed = parser.value(seed).toULongLong();
    const bool tty = ::isatty(STDOUT_FILENO);
    if (!parser.isSet(quiet)) {
        options.onProgress = [tty](const sim::Progress &p) {
            std::string faults;
            for (const auto &f : p.activeFaults)
                faults += (faults.empty() ? "" : ", ") + f;
            std::printf("%s%5.1f/%.0f s  in %7.0f rec/s  out %7.0f rec/s  lag %7lld  faults: %s%s",
                        tty ? "\r\033[K" : "", p.elapsedS, p.durationS, p.producedPerSec,
                        p.consumedPerSec, static_cast<long long>(p.totalLag),
                        faults.empty() ? "none" : faults.c_str(), tty ? "" : "\n");
            std::fflush(stdout);
        };
    }
    sim::SimulationRunner runner(*scenario, *backend, embedded.get(), options);
    g_runner = &runner;
    std::signal(SIGINT, onSimulateSignal);
    std::signal(SIGTERM, onSimulateSignal);
    std::atomic<bool> done{false};
    std::thread control([&] { controlLoop(runner, done); });
    auto result = runner.run();
    done = true;
    control.join();
    g_runner = nullptr;
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (tty && !parser.isSet(quiet))
        std::printf("\n");
    if (!result) {
        std::fprintf(stderr, "eddy simulate: %s\n", result.error().message.c_str());
        return 1;
    }
    std::printf("%s", sim::reportSummary(*result).c_str());
    if (parser.isSet(report)) {
        QFile f(parser.value(report));
        if (!f.open(QIODevice::WriteOnly)) {
            std::fprintf(stderr, "eddy simulate: cannot write %s\n",
                         parser.value(report).toUtf8().constData());
            return 1;
        }
        f.write(QByteArray::fromStdString(sim::reportToJson(*result).dump(2)));
    }
    return result->passed() ? 0 : 3;
}

} // namespace eddy::cli
