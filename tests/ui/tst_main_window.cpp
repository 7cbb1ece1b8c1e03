// The studio's main window fed by a real embedded broker: an external client (a raw NNG REQ
// socket over loopback tcp) creates a topic and produces; the topics table, the status bar and
// the canvas (an external-client node) show what the engine measured.
#include "broker_bridge.h"
#include "broker_server.h"
#include "main_window.h"
#include "req_client.h"
#include "topology_scene.h"

#include <QLabel>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

class TestMainWindow : public QObject
{
    Q_OBJECT

private slots:
    void init() { QStandardPaths::setTestModeEnabled(true); }
    void showsTopicsProducedByExternalClients();
    void reportsABrokerThatCannotOpen();
    void watchesARemoteBroker();
};

void TestMainWindow::showsTopicsProducedByExternalClients()
{
    QTemporaryDir dir;
    eddy::ui::BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {"tcp://127.0.0.1:0"}, {}}));
    QCOMPARE(bridge.requestUrls().size(), 1);
    const QString url = bridge.requestUrls().first();
    QVERIFY2(url.startsWith("tcp://127.0.0.1:") && url != "tcp://127.0.0.1:0", qPrintable(url));
    eddy::ui::MainWindow window(&bridge);
    window.show();

    ReqClient client(url.toStdString());
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

    QTableWidget *table = nullptr;
    for (auto *t : window.findChildren<QTableWidget *>())
        if (t->columnCount() == 7)
            table = t;
    QVERIFY(table);
    QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), 1, 3000);
    QCOMPARE(table->item(0, 0)->text(), QString("orders"));
    QCOMPARE(table->item(0, 1)->text(), QString("3"));
    QTRY_COMPARE_WITH_TIMEOUT(table->item(0, 2)->text(), QLocale().toString(42), 3000);
    // The status bar names the endpoint and counts the external client; the canvas shows it.
    QVERIFY2(window.statusText().contains(url), qPrintable(window.statusText()));
    QTRY_VERIFY2_WITH_TIMEOUT(window.statusText().contains("(1 external)"),
                              qPrintable(window.statusText()), 3000);
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (auto *n : window.scene()->nodeItems())
                if (n->kind() == eddy::ui::NodeItem::Kind::External
                    && !n->instances().empty()
                    && n->instances().front().name.startsWith("tcp://127.0.0.1:"))
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
    QVERIFY2(window.statusText().contains("broker not running"), qPrintable(window.statusText()));
}

void TestMainWindow::watchesARemoteBroker()
{
    // `eddy-studio --connect URL`: a broker in another place (here: this process, over tcp).
    QTemporaryDir dir;
    eddy::BrokerConfig config;
    config.dataDir = dir.path().toStdString();
    auto broker = eddy::Broker::open(config);
    QVERIFY(broker);
    eddy::net::BrokerServerOptions options;
    options.requests.listen = {"tcp://127.0.0.1:0"};
    options.publish.clear();
    auto server = eddy::net::BrokerServer::start(**broker, options);
    QVERIFY(server);
    const std::string url = (*server)->requestUrls().front();
    ReqClient client(url);
    QCOMPARE(client.call({{"op", "create_topic"}, {"topic", "remote"}, {"partitions", 2}})
                 .value("ok", false),
             true);
    QCOMPARE(client.call({{"op", "produce"}, {"topic", "remote"}, {"value", "x"}}).value("ok", false),
             true);

    eddy::ui::BrokerBridge bridge;
    QVERIFY(bridge.connectRemote(QString::fromStdString(url)));
    QVERIFY(!bridge.isEmbedded());
    eddy::ui::MainWindow window(&bridge);
    QTableWidget *table = nullptr;
    for (auto *t : window.findChildren<QTableWidget *>())
        if (t->columnCount() == 7)
            table = t;
    QVERIFY(table);
    QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), 1, 3000);
    QCOMPARE(table->item(0, 0)->text(), QString("remote"));
    QCOMPARE(table->item(0, 1)->text(), QString("2"));
    QVERIFY2(window.statusText().contains("connected to " + QString::fromStdString(url)),
             qPrintable(window.statusText()));
    // The other client shows up through the clients op; the studio's own connection does not
    // count as external.
    QTRY_VERIFY2_WITH_TIMEOUT(window.statusText().contains("clients 2 (1 external)"),
                              qPrintable(window.statusText()), 3000);
    bridge.close();
    (*server)->stop();
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
