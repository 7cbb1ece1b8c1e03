// The studio's main window fed by a real embedded broker: an external client (a raw NNG REQ
// socket over loopback tcp) creates a topic, produces and fetches; the topics table, the status
// bar, the clients view and the canvas (an external-client node with flows to and from the
// scenario's topic, labelled with its records/s) show what the engine measured.
#include "broker_bridge.h"
#include "broker_server.h"
#include "clients_view.h"
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
    // A scenario that draws the topic the client will use, so its flows have an end.
    eddy::sim::Scenario scenario;
    scenario.name = "external";
    scenario.topics.push_back({eddy::TopicSpec{"orders", 3, {}}, 0});
    window.document()->reset(scenario);

    auto owned = std::make_unique<ReqClient>(url.toStdString());
    ReqClient &client = *owned;
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

    // It keeps producing and fetching: rates over the last full second need one to pass.
    auto *clients = window.findChild<eddy::ui::ClientsView *>();
    QVERIFY(clients);
    const auto cell = [&](int row, int column) {
        const auto *item = clients->table()->item(row, column);
        return item ? item->text() : QString();
    };
    const auto externalRow = [&] {
        for (int row = 0; row < clients->table()->rowCount(); ++row)
            if (cell(row, eddy::ui::ClientsView::KindColumn) == "external")
                return row;
        return -1;
    };
    const auto number = [&](int row, int column) { return QLocale().toDouble(cell(row, column)); };
    const auto clientEdge = [&](bool produced) -> eddy::ui::EdgeItem * {
        for (auto *e : window.scene()->clientEdgeItems())
            if ((produced ? e->from() : e->to())->kind() == eddy::ui::NodeItem::Kind::External
                && (produced ? e->to() : e->from())->key() == "topic:orders")
                return e;
        return nullptr;
    };
    const auto flowing = [&] {
        const int row = externalRow();
        auto *in = clientEdge(true);
        auto *out = clientEdge(false);
        return row >= 0 && number(row, eddy::ui::ClientsView::RecordsInRateColumn) > 0
               && number(row, eddy::ui::ClientsView::RecordsOutRateColumn) > 0 && in
               && in->rate() > 0 && out && out->rate() > 0;
    };
    QElapsedTimer waited;
    waited.start();
    int64_t offset = 0;
    while (!flowing() && waited.elapsed() < 8000) {
        QVERIFY(client.call({{"op", "produce"}, {"topic", "orders"}, {"records", records}})
                    .value("ok", false));
        const auto fetched = client.call(
            {{"op", "fetch"}, {"topic", "orders"}, {"partition", 0}, {"offset", offset}});
        offset += static_cast<int64_t>(fetched["records"].size());
        QTest::qWait(100);
    }
    const auto state = [&] {
        QStringList row;
        for (int c = 0; c < clients->table()->columnCount(); ++c)
            row << cell(externalRow(), c);
        QStringList edges;
        for (auto *e : window.scene()->clientEdgeItems())
            edges << e->from()->key() + ">" + e->to()->key() + " " + e->label();
        return "row " + row.join('|') + " edges " + edges.join(", ");
    };
    QVERIFY2(flowing(), qPrintable(state()));
    const int row = externalRow();
    QVERIFY(number(row, eddy::ui::ClientsView::RecordsInColumn) >= 84);
    QVERIFY(number(row, eddy::ui::ClientsView::RecordsOutColumn) >= 1);
    auto *in = clientEdge(true);
    QVERIFY2(in->label().endsWith(" rec/s"), qPrintable(in->label()));
    QVERIFY(!in->label().startsWith("Σ")); // one topic each way: its own rate, not a sum
    // The node says records/s, not requests/s.
    const QString subtitle = in->from()->subtitle();
    QVERIFY2(subtitle.contains("rec/s in") && subtitle.contains("rec/s out")
                 && !subtitle.contains("req/s"),
             qPrintable(subtitle));

    // Gone with the client: its node and both flows.
    owned.reset();
    QTRY_VERIFY_WITH_TIMEOUT(window.scene()->clientEdgeItems().isEmpty(), 5000);
    for (auto *n : window.scene()->nodeItems())
        QVERIFY(n->kind() != eddy::ui::NodeItem::Kind::External);
    QVERIFY(window.scene()->node("topic:orders"));
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
    const auto produced = client.call({{"op", "produce"}, {"topic", "remote"}, {"value", "x"}});
    QCOMPARE(produced.value("ok", false), true);

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
