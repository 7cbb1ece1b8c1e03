// eddy-studio: hosts the embedded broker (or connects to a remote one) through the bridge and
// shows the main window. --screenshot FILE --after SECONDS renders the window into FILE after
// that time and exits (docs and tests run it under xvfb-run or QT_QPA_PLATFORM=offscreen).
#include "broker_bridge.h"
#include "charts_panel.h"
#include "frame_monitor.h"
#include "gui_precedence.h"
#include "main_window.h"
#include "nng_server.h"
#include "theme.h"
#include "topology_view.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>

#include <cstdio>
#include <memory>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName("Eddy Studio");
    QApplication::setOrganizationName("Eddy");

    QCommandLineParser parser;
    parser.setApplicationDescription("Design, run, break and watch event-driven topologies.");
    parser.addHelpOption();
    QCommandLineOption scenario("scenario", "Open the scenario FILE.", "file");
    QCommandLineOption run("run", "Run the scenario at once.");
    QCommandLineOption data({"data", "data-dir"}, "Data directory of the embedded broker.", "dir");
    QCommandLineOption listen("listen",
                              "Request endpoint for external clients (repeatable; default "
                              "tcp://127.0.0.1:7650).",
                              "url");
    QCommandLineOption pub("pub",
                           "Live-stream endpoint (repeatable; default tcp://127.0.0.1:7651).",
                           "url");
    QCommandLineOption noNetwork("no-network", "Serve no network endpoints.");
    QCommandLineOption connectTo("connect", "Use the remote broker at URL instead of hosting one.",
                                 "url");
    QCommandLineOption token("token", "Token for --connect to a broker with access control "
                                      "(default: $EDDY_TOKEN).",
                             "token");
    QCommandLineOption allowRemote("allow-remote",
                                   "Allow --listen on a non-loopback address (the embedded "
                                   "broker has no access control: anyone who reaches it can "
                                   "use it).");
    QCommandLineOption durable("durable", "Run the embedded broker with durable (fsync) acks.");
    QCommandLineOption theme("theme", "light or dark (remembered).", "name");
    QCommandLineOption screenshot("screenshot", "Save a screenshot to FILE and quit.", "file");
    QCommandLineOption after("after", "Seconds before the screenshot (default 2).", "seconds",
                             "2");
    QCommandLineOption windowSize("window-size", "Window size WIDTHxHEIGHT (screenshots).",
                                  "size");
    QCommandLineOption benchFrames(
        "bench-frames",
        "Measure GUI-thread frame delays for SECONDS (while a load runs), print them as JSON "
        "and quit.",
        "seconds");
    QCommandLineOption otherNice(
        "other-threads-nice",
        "Nice value of the studio's other threads (embedded broker, NNG, simulated instances), "
        "so that the GUI thread runs first on a busy machine; 0 keeps them at the GUI thread's "
        "(default 10). Linux only.",
        "n", "10");
    parser.addOptions({scenario, run, data, listen, pub, noNetwork, connectTo, durable, theme,
                       screenshot, after, windowSize, benchFrames, token, allowRemote, otherNice});
    parser.process(app);
    bool niceOk = false;
    const int otherThreadsNice = parser.value(otherNice).toInt(&niceOk);
    if (!niceOk || otherThreadsNice < 0 || otherThreadsNice > 19) {
        std::fprintf(stderr, "eddy-studio: --other-threads-nice takes 0 to 19, not '%s'\n",
                     qPrintable(parser.value(otherNice)));
        return 2;
    }

    QSettings settings;
    if (parser.isSet(theme))
        settings.setValue("ui/theme", parser.value(theme));
    eddy::ui::applyTheme(eddy::ui::themeFromName(settings.value("ui/theme", "light").toString()));

    eddy::ui::BrokerBridge bridge;
    if (parser.isSet(connectTo)) {
        const QString secret = parser.isSet(token) ? parser.value(token)
                                                   : qEnvironmentVariable("EDDY_TOKEN");
        bridge.connectRemote(parser.value(connectTo), secret);
    } else {
        eddy::ui::EmbeddedSettings embedded;
        embedded.dataDir =
            parser.isSet(data)
                ? parser.value(data)
                : QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + "/eddy";
        // The embedded broker serves real external clients too, on Eddy's default loopback ports.
        embedded.listen = parser.isSet(listen) ? parser.values(listen)
                                               : QStringList{"tcp://127.0.0.1:7650"};
        embedded.publish = parser.isSet(pub) ? parser.values(pub)
                                             : QStringList{"tcp://127.0.0.1:7651"};
        if (parser.isSet(noNetwork)) {
            embedded.listen.clear();
            embedded.publish.clear();
        }
        for (const auto &url : embedded.listen + embedded.publish) {
            if (eddy::net::isLoopbackUrl(url.toStdString()))
                continue;
            if (!parser.isSet(allowRemote)) {
                std::fprintf(stderr,
                             "eddy-studio: %s is not a loopback address; pass --allow-remote to "
                             "serve it anyway\n",
                             qPrintable(url));
                return 2;
            }
            std::fprintf(stderr,
                         "eddy-studio: warning: serving %s without authentication: anyone who "
                         "can reach it can read, write and inject faults\n",
                         qPrintable(url));
        }
        if (parser.isSet(durable))
            embedded.durability = eddy::Durability::Durable;
        bridge.openEmbedded(embedded);
    }
    if (!bridge.isOpen())
        std::fprintf(stderr, "eddy-studio: %s\n", qPrintable(bridge.lastError()));

    eddy::ui::MainWindow window(&bridge);
    // Frames stalled while the GUI thread waited for a core behind the studio's own broker and
    // simulated instances; the other threads now yield to it (docs/performance.md). Off with 0:
    // without Linux's autogroup, nice also gives the embedded broker less CPU against other
    // processes, which a user serving real clients from the studio may not want.
    std::unique_ptr<eddy::ui::GuiPrecedence> precedence;
    if (otherThreadsNice > 0)
        precedence = std::make_unique<eddy::ui::GuiPrecedence>(otherThreadsNice);
    if (parser.isSet(windowSize)) {
        const QStringList wh = parser.value(windowSize).split('x');
        if (wh.size() == 2)
            window.resize(wh[0].toInt(), wh[1].toInt());
    }
    window.show();
    if (parser.isSet(scenario) && window.openScenario(parser.value(scenario), true)
        && parser.isSet(run))
        window.runScenario();

    if (parser.isSet(screenshot)) {
        const int ms = static_cast<int>(parser.value(after).toDouble() * 1000);
        QTimer::singleShot(ms, &window, [&] {
            // Nodes that appeared since the scenario was opened (external clients) are in the
            // picture too.
            window.view()->zoomToFit();
            const bool saved = window.grab().save(parser.value(screenshot));
            if (!saved)
                std::fprintf(stderr, "eddy-studio: cannot write %s\n",
                             qPrintable(parser.value(screenshot)));
            QApplication::exit(saved ? 0 : 1);
        });
    }
    eddy::ui::FrameMonitor monitor;
    if (parser.isSet(benchFrames)) {
        using Chart = eddy::ui::ChartsPanel::Chart;
        for (auto c : {Chart::Throughput, Chart::Lag, Chart::Latency})
            monitor.watch(window.charts()->plot(c));
        monitor.start();
        const int ms = static_cast<int>(parser.value(benchFrames).toDouble() * 1000);
        QTimer::singleShot(ms, &window, [&] {
            const auto f = monitor.figures();
            const auto snap = bridge.snapshot();
            std::printf("{\"seconds\": %.1f, \"ticks\": %zu, \"frame_p50_ms\": %.2f, "
                        "\"frame_p99_ms\": %.2f, \"frame_max_ms\": %.2f, "
                        "\"stalls_over_50ms\": %zu, \"replots\": %zu, "
                        "\"replots_per_s\": %.1f, \"replot_p99_ms\": %.2f, "
                        "\"broker_records_in_per_s\": %.0f, \"stalls\": [",
                        f.seconds, f.ticks, f.p50Ms, f.p99Ms, f.maxMs, f.stallsOver50Ms,
                        f.replots, f.replotsPerSec, f.replotP99Ms,
                        snap ? snap->broker.recordsInPerSec : 0.0);
            // Each stall: its length, the GUI thread's CPU time in it and its run-queue wait.
            for (std::size_t i = 0; i < f.stalls.size(); ++i)
                std::printf("%s{\"ms\": %.1f, \"cpu_ms\": %.1f, \"run_queue_ms\": %.1f}",
                            i ? ", " : "", f.stalls[i].ms, f.stalls[i].cpuMs,
                            f.stalls[i].runQueueMs);
            std::printf("]}\n");
            std::fflush(stdout);
            QApplication::exit(0);
        });
    }
    return QApplication::exec();
}
