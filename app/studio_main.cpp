// eddy-studio: hosts the embedded broker (or connects to a remote one) through the bridge and
// shows the main window. --screenshot FILE --after SECONDS renders the window into FILE after
// that time and exits (docs and tests run it under xvfb-run or QT_QPA_PLATFORM=offscreen).
#include "broker_bridge.h"
#include "main_window.h"
#include "theme.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>

#include <cstdio>

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
    QCommandLineOption pub("pub", "Live-stream endpoint (repeatable; default tcp://127.0.0.1:7651).",
                           "url");
    QCommandLineOption noNetwork("no-network", "Serve no network endpoints.");
    QCommandLineOption connectTo("connect", "Use the remote broker at URL instead of hosting one.",
                                 "url");
    QCommandLineOption durable("durable", "Run the embedded broker with durable (fsync) acks.");
    QCommandLineOption theme("theme", "light or dark (remembered).", "name");
    QCommandLineOption screenshot("screenshot", "Save a screenshot to FILE and quit.", "file");
    QCommandLineOption after("after", "Seconds before the screenshot (default 2).", "seconds",
                             "2");
    parser.addOptions({scenario, run, data, listen, pub, noNetwork, connectTo, durable, theme,
                       screenshot, after});
    parser.process(app);

    QSettings settings;
    if (parser.isSet(theme))
        settings.setValue("ui/theme", parser.value(theme));
    eddy::ui::applyTheme(eddy::ui::themeFromName(settings.value("ui/theme", "light").toString()));

    eddy::ui::BrokerBridge bridge;
    if (parser.isSet(connectTo)) {
        bridge.connectRemote(parser.value(connectTo));
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
        if (parser.isSet(durable))
            embedded.durability = eddy::Durability::Durable;
        bridge.openEmbedded(embedded);
    }
    if (!bridge.isOpen())
        std::fprintf(stderr, "eddy-studio: %s\n", qPrintable(bridge.lastError()));

    eddy::ui::MainWindow window(&bridge);
    window.show();
    if (parser.isSet(scenario) && window.openScenario(parser.value(scenario), true)
        && parser.isSet(run))
        window.runScenario();

    if (parser.isSet(screenshot)) {
        const int ms = static_cast<int>(parser.value(after).toDouble() * 1000);
        QTimer::singleShot(ms, &window, [&] {
            const bool saved = window.grab().save(parser.value(screenshot));
            if (!saved)
                std::fprintf(stderr, "eddy-studio: cannot write %s\n",
                             qPrintable(parser.value(screenshot)));
            QApplication::exit(saved ? 0 : 1);
        });
    }
    return QApplication::exec();
}
