// eddy-studio: starts the embedded broker through the bridge and shows the main window.
// --screenshot FILE renders the window after a short delay into FILE and exits (used to check
// the GUI under xvfb-run or QT_QPA_PLATFORM=offscreen).
#include "broker_bridge.h"
#include "main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QStandardPaths>
#include <QTimer>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName("Eddy Studio");
    QApplication::setOrganizationName("Eddy");

    QCommandLineParser parser;
    parser.addHelpOption();
    QCommandLineOption dataDir("data-dir", "Data directory of the embedded broker.", "dir");
    QCommandLineOption screenshot("screenshot", "Save a screenshot to FILE and quit.", "file");
    QCommandLineOption delay("screenshot-delay", "Milliseconds before the screenshot.", "ms",
                             "1500");
    QCommandLineOption listen("listen", "Request endpoint for external clients (repeatable).",
                              "url");
    QCommandLineOption pub("pub", "Live stream endpoint (repeatable).", "url");
    QCommandLineOption noNetwork("no-network", "Serve no network endpoints.");
    parser.addOptions({dataDir, screenshot, delay, listen, pub, noNetwork});
    parser.process(app);

    const QString dir = parser.isSet(dataDir)
                            ? parser.value(dataDir)
                            : QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation)
                                  + "/eddy";
    eddy::ui::BrokerBridge bridge;
    // The embedded broker serves real external clients too, on Eddy's default loopback ports.
    QStringList listenUrls = parser.isSet(listen) ? parser.values(listen)
                                                  : QStringList{"tcp://127.0.0.1:7650"};
    QStringList pubUrls = parser.isSet(pub) ? parser.values(pub)
                                            : QStringList{"tcp://127.0.0.1:7651"};
    if (parser.isSet(noNetwork)) {
        listenUrls.clear();
        pubUrls.clear();
    }
    eddy::ui::EmbeddedSettings settings;
    settings.dataDir = dir;
    settings.listen = listenUrls;
    settings.publish = pubUrls;
    bridge.openEmbedded(settings);
    eddy::ui::MainWindow window(&bridge);
    window.show();

    if (parser.isSet(screenshot)) {
        QTimer::singleShot(parser.value(delay).toInt(), &window, [&] {
            const bool saved = window.grab().save(parser.value(screenshot));
            QApplication::exit(saved ? 0 : 1);
        });
    }
    return QApplication::exec();
}
