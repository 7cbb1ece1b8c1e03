// The studio's main window fed by a real embedded broker: an external client (a raw NNG REQ
// socket on the bridge's inproc endpoint) creates a topic and produces, and the window's topic
// table and status bar show what the engine measured.
#include "broker_bridge.h"
#include "main_window.h"
#include "req_client.h"

#include <QLabel>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

class TestMainWindow : public QObject
{
    Q_OBJECT

private slots:
    void showsTopicsProducedByExternalClients();
    void reportsABrokerThatCannotOpen();
};

void TestMainWindow::showsTopicsProducedByExternalClients()
{
    QTemporaryDir dir;
    eddy::ui::BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    QCOMPARE(bridge.requestUrls(), QStringList{"inproc://ui-test"});
    eddy::ui::MainWindow window(&bridge);
    window.show();

    ReqClient client("inproc://ui-test");
    QVERIFY(client.connected());
    QCOMPARE(client.call({{"op", "create_topic"}, {"topic", "orders"}, {"partitions", 3}})
                 .value("ok", false),
             true);
    nlohmann::json records = nlohmann::json::array();
    for (int i = 0; i < 42; ++i)
        records.push_back({{"value", "order-" + std::to_string(i)}});
    QCOMPARE(client.call({{"op", "produce"}, {"topic", "orders"}, {"records", records}})
                 .value("ok", false),
             true);

    auto *table = window.findChild<QTableWidget *>();
    QVERIFY(table);
    QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), 1, 3000);
    QCOMPARE(table->item(0, 0)->text(), QString("orders"));
    QCOMPARE(table->item(0, 1)->text(), QString("3"));
    QTRY_COMPARE_WITH_TIMEOUT(table->item(0, 2)->text(), QLocale().toString(42), 3000);
    // The status bar names the endpoint and counts the connected client.
    bool endpointShown = false;
    bool clientCounted = false;
    for (auto *label : window.statusBar()->findChildren<QLabel *>()) {
        endpointShown = endpointShown || label->text().contains("inproc://ui-test");
        clientCounted = clientCounted || label->text() == "clients 1";
    }
    QVERIFY(endpointShown);
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (auto *label : window.statusBar()->findChildren<QLabel *>())
                if (label->text() == "clients 1")
                    return true;
            return false;
        }(),
        3000);
}

void TestMainWindow::reportsABrokerThatCannotOpen()
{
    QTemporaryDir dir;
    // A data directory that is a file cannot hold a store.
    const QString file = dir.filePath("file");
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.close();
    eddy::ui::BrokerBridge bridge;
    QSignalSpy errors(&bridge, &eddy::ui::BrokerBridge::brokerError);
    QVERIFY(!bridge.openEmbedded({file, {}, {}}));
    QCOMPARE(errors.count(), 1);
    QVERIFY(bridge.lastError().startsWith("STORAGE_ERROR"));
    eddy::ui::MainWindow window(&bridge);
    bool shown = false;
    for (auto *label : window.statusBar()->findChildren<QLabel *>())
        shown = shown || label->text().contains("broker not running");
    QVERIFY(shown);
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
