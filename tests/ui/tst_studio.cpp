// The studio as a user drives it, offscreen, on a real embedded broker: load a scenario and find
// its nodes and flows on the canvas; design one with undo/redo and save/reload it; run one and
// find points in the charts and the report; inject faults through the canvas' context menu and
// see the broker (and the simulated instances) change; and the screenshot option of the binary.
#include "broker_bridge.h"
#include "charts_panel.h"
#include "child_process.h"
#include "fault_timeline.h"
#include "main_window.h"
#include "report_view.h"
#include "scenario_document.h"
#include "simulation_controller.h"
#include "topology_scene.h"
#include "topology_view.h"

#include <QApplication>
#include <QImage>
#include <QMenu>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QUndoStack>
#include <QtTest>

#include <qcustomplot.h>

using namespace eddy;
using namespace eddy::ui;

namespace {

QString scenarioPath(const char *name)
{
    return QString(EDDY_SOURCE_DIR) + "/simulations/scenarios/" + name;
}

// Opens the context menu at a scene position of the view and triggers the action reached by
// following path (submenu titles, then the action's text).
bool triggerContextMenu(TopologyView *view, const QPointF &scenePos, const QStringList &path)
{
    bool triggered = false;
    QTimer::singleShot(100, view, [&] {
        auto *menu = qobject_cast<QMenu *>(QApplication::activePopupWidget());
        QAction *found = nullptr;
        for (int i = 0; menu && i < path.size(); ++i) {
            found = nullptr;
            for (auto *a : menu->actions())
                if (a->text() == path[i])
                    found = a;
            if (!found)
                break;
            if (i + 1 < path.size())
                menu = found->menu();
        }
        if (found && !found->menu()) {
            found->trigger();
            triggered = true;
        }
        for (auto *w : QApplication::topLevelWidgets())
            if (qobject_cast<QMenu *>(w) && w->isVisible())
                w->hide();
    });
    const QPoint pos = view->mapFromScene(scenePos);
    QContextMenuEvent event(QContextMenuEvent::Mouse, pos, view->viewport()->mapToGlobal(pos));
    QApplication::sendEvent(view->viewport(), &event);
    return triggered;
}

sim::Scenario withoutLines(sim::Scenario s)
{
    for (auto &t : s.topics)
        t.line = 0;
    for (auto &v : s.services)
        v.line = 0;
    for (auto &f : s.faults)
        f.line = 0;
    return s;
}

} // namespace

class TestStudio : public QObject
{
    Q_OBJECT

private slots:
    void init() { QStandardPaths::setTestModeEnabled(true); }
    void loadsAScenarioOntoTheCanvas();
    void designsWithUndoRedoAndSavesAndReloads();
    void refusesFlowsThatMakeNoSense();
    void movedNodesAreSavedUndoneAndReloaded();
    void runsAScenarioIntoChartsAndAReport();
    void injectsABrokerFaultFromTheCanvas();
    void crashesAnInstanceFromTheCanvasDuringARun();
    void screenshotOptionWritesAPng();
};

void TestStudio::loadsAScenarioOntoTheCanvas()
{
    QTemporaryDir dir;
    BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    MainWindow window(&bridge);
    QVERIFY(window.openScenario(scenarioPath("order-pipeline.json"), true));
    // order-pipeline: topics orders, reservations, payments, orders.dlq; services checkout,
    // inventory, payments, shipping.
    int topics = 0, services = 0;
    for (auto *n : window.scene()->nodeItems())
        (n->kind() == NodeItem::Kind::Topic ? topics : services)++;
    QCOMPARE(topics, 4);
    QCOMPARE(services, 4);
    QCOMPARE(window.scene()->edgeItems().size(),
             static_cast<qsizetype>(window.document()->flows().size()));
    int deadLetter = 0;
    for (auto *e : window.scene()->edgeItems())
        deadLetter += e->isDeadLetter() ? 1 : 0;
    QVERIFY(deadLetter >= 1);
    // Layered left to right: the producer left of the topic it writes, that left of its reader.
    auto *checkout = window.scene()->node("service:checkout");
    auto *orders = window.scene()->node("topic:orders");
    auto *inventory = window.scene()->node("service:inventory");
    QVERIFY(checkout && orders && inventory);
    QVERIFY(checkout->pos().x() < orders->pos().x());
    QVERIFY(orders->pos().x() < inventory->pos().x());
    QVERIFY(window.windowTitle().startsWith("order-pipeline.json"));
}

void TestStudio::designsWithUndoRedoAndSavesAndReloads()
{
    ScenarioDocument doc;
    auto producer = doc.addNode(NodeRef::Kind::Producer);
    auto topic = doc.addNode(NodeRef::Kind::Topic);
    auto consumer = doc.addNode(NodeRef::Kind::Consumer);
    QVERIFY(doc.connectNodes(producer, topic));
    QVERIFY(doc.connectNodes(topic, consumer));
    QVERIFY(doc.rename(topic, "signups"));
    TopicSpec spec = *doc.topic("signups");
    spec.partitions = 6;
    QVERIFY(doc.setTopic("signups", spec, "partitions"));
    QCOMPARE(doc.scenario().services[0].outputs, std::vector<std::string>{"signups"});
    QCOMPARE(doc.scenario().services[1].inputs, std::vector<std::string>{"signups"});
    const sim::Scenario designed = doc.scenario();

    doc.undoStack()->undo(); // partitions
    QCOMPARE(doc.topic("signups")->partitions, 3);
    doc.undoStack()->undo(); // rename
    QVERIFY(doc.topic("topic-1"));
    QCOMPARE(doc.scenario().services[1].inputs, std::vector<std::string>{"topic-1"});
    doc.undoStack()->redo();
    doc.undoStack()->redo();
    QCOMPARE(doc.scenario(), designed);

    // Deleting a topic removes the flows through it; undo brings them back.
    QVERIFY(doc.removeNode({NodeRef::Kind::Topic, "signups"}));
    QVERIFY(doc.scenario().services[0].outputs.empty());
    doc.undoStack()->undo();
    QCOMPARE(doc.scenario(), designed);

    QVERIFY(doc.validated());
    QTemporaryDir dir;
    const QString path = dir.filePath("designed.json");
    QVERIFY(doc.save(path));
    QVERIFY(!doc.isModified());
    ScenarioDocument reloaded;
    QVERIFY(reloaded.load(path));
    QCOMPARE(withoutLines(reloaded.scenario()), withoutLines(designed));
    // The file is what `eddy simulate` reads.
    QVERIFY(sim::loadScenario(path.toStdString()));
}

void TestStudio::movedNodesAreSavedUndoneAndReloaded()
{
    QTemporaryDir dir;
    BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    MainWindow window(&bridge);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.openScenario(scenarioPath("order-pipeline.json"), true));
    auto *scene = window.scene();
    auto *doc = window.document();
    QVERIFY(doc->scenario().layout.empty()); // the bundled file leaves layout to the studio
    const QPointF ordersAuto = scene->node("topic:orders")->pos();
    const QPointF inventoryAuto = scene->node("service:inventory")->pos();

    // A real drag of the topic node with the mouse: one undoable move, stored in the layout.
    auto *view = window.view();
    view->centerOn(scene->node("topic:orders"));
    const QPoint grab = view->mapFromScene(scene->node("topic:orders")->mapToScene(20, 12));
    QTest::mousePress(view->viewport(), Qt::LeftButton, {}, grab);
    for (int step = 1; step <= 4; ++step)
        QTest::mouseMove(view->viewport(), grab + QPoint(15, 10) * step);
    QTest::mouseRelease(view->viewport(), Qt::LeftButton, {}, grab + QPoint(60, 40));
    QTRY_COMPARE(doc->undoStack()->undoText(), QString("Move orders"));
    QCOMPARE(doc->scenario().layout.size(), std::size_t(1));
    const auto stored = doc->scenario().layout.at("topic:orders");
    const QPointF dragged(stored[0], stored[1]);
    QVERIFY2(dragged.x() > ordersAuto.x() + 20 && dragged.y() > ordersAuto.y() + 10,
             qPrintable(QString("%1,%2").arg(dragged.x()).arg(dragged.y())));
    QCOMPARE(scene->node("topic:orders")->pos(), dragged); // the rebuilt canvas agrees

    // A second move through the scene's own API, then undo: back to where the first one put it.
    scene->beginMove();
    scene->node("service:inventory")->setPos(inventoryAuto + QPointF(33.4, -70.6));
    scene->endMove();
    QCOMPARE(doc->undoStack()->undoText(), QString("Move inventory"));
    const QPointF inventoryMoved(std::round(inventoryAuto.x() + 33.4),
                                 std::round(inventoryAuto.y() - 70.6));
    QCOMPARE(scene->node("service:inventory")->pos(), inventoryMoved);
    doc->undoStack()->undo();
    QCOMPARE(scene->node("service:inventory")->pos(),
             QPointF(std::round(inventoryAuto.x()), std::round(inventoryAuto.y())));
    doc->undoStack()->redo();
    QCOMPARE(scene->node("service:inventory")->pos(), inventoryMoved);
    // A click without a move is no edit.
    const int edits = doc->undoStack()->count();
    scene->beginMove();
    scene->endMove();
    QCOMPARE(doc->undoStack()->count(), edits);

    // Saved, reloaded in another window: stored positions win, the rest is laid out as before.
    const QString path = dir.filePath("moved.json");
    QVERIFY(doc->save(path));
    QVERIFY(sim::loadScenario(path.toStdString())); // `eddy simulate` reads it
    BrokerBridge otherBridge;
    QVERIFY(otherBridge.openEmbedded({dir.filePath("other"), {}, {}}));
    MainWindow other(&otherBridge);
    QVERIFY(other.openScenario(path, true));
    QCOMPARE(other.document()->scenario().layout.size(), std::size_t(2));
    QCOMPARE(other.scene()->node("topic:orders")->pos(), dragged);
    QCOMPARE(other.scene()->node("service:inventory")->pos(), inventoryMoved);
    QCOMPARE(other.scene()->node("service:checkout")->pos(),
             window.scene()->node("service:checkout")->pos());

    // Automatic layout forgets them (undoably): saved again, the file has no layout.
    scene->autoLayout();
    QVERIFY(doc->scenario().layout.empty());
    QCOMPARE(scene->node("topic:orders")->pos(), ordersAuto);
    doc->undoStack()->undo();
    QCOMPARE(scene->node("topic:orders")->pos(), dragged);
    doc->undoStack()->redo();
    QVERIFY(doc->save(path));
    QFile saved(path);
    QVERIFY(saved.open(QIODevice::ReadOnly));
    QVERIFY(!saved.readAll().contains("\"layout\""));

    // A layout naming nodes that do not exist loads; those ids draw nothing.
    sim::Scenario ghost = doc->scenario();
    ghost.layout["topic:ghost"] = {5, 5};
    ghost.layout["service:checkout"] = {-500, 300};
    QFile ghostFile(dir.filePath("ghost.json"));
    QVERIFY(ghostFile.open(QIODevice::WriteOnly));
    ghostFile.write(QByteArray::fromStdString(sim::scenarioToJson(ghost)));
    ghostFile.close();
    QVERIFY(window.openScenario(ghostFile.fileName(), true));
    QVERIFY(!scene->node("topic:ghost"));
    QCOMPARE(scene->node("service:checkout")->pos(), QPointF(-500, 300));
}

void TestStudio::refusesFlowsThatMakeNoSense()
{
    ScenarioDocument doc;
    auto producer = doc.addNode(NodeRef::Kind::Producer);
    auto topic = doc.addNode(NodeRef::Kind::Topic);
    auto other = doc.addNode(NodeRef::Kind::Topic);
    auto consumer = doc.addNode(NodeRef::Kind::Consumer);
    const int steps = doc.undoStack()->count();
    QString why;
    QVERIFY(!doc.connectNodes(consumer, topic, &why));
    QVERIFY(why.contains("only reads"));
    QVERIFY(!doc.connectNodes(topic, producer, &why));
    QVERIFY(!doc.connectNodes(topic, other, &why));
    QVERIFY(!doc.connectNodes(producer, consumer, &why));
    QVERIFY(!doc.rename(topic, "bad name!", &why));
    QVERIFY(!doc.rename(topic, other.name, &why));
    QCOMPARE(doc.undoStack()->count(), steps);
    // An unconnected producer is not a runnable scenario; the parser says why.
    auto invalid = doc.validated();
    QVERIFY(!invalid);
    QVERIFY(!invalid.error().message.empty());
}

void TestStudio::runsAScenarioIntoChartsAndAReport()
{
    QTemporaryDir dir;
    BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    MainWindow window(&bridge);
    window.show();
    QVERIFY(window.openScenario(scenarioPath("seed-user-created.json"), true));
    auto *doc = window.document();
    // Faster and shorter than the bundled 1 record/s for 10 s.
    auto producer = *doc->service("user-service");
    producer.rate.perSecond = 200;
    QVERIFY(doc->setService("user-service", producer, "rate"));
    QVERIFY(doc->setSettings("seed-short", "", 3, 7));
    QSignalSpy finished(window.controller(), &SimulationController::finished);
    QVERIFY(window.runScenario());
    QCOMPARE(window.controller()->state(), SimulationController::State::Running);
    QTRY_VERIFY_WITH_TIMEOUT(window.charts()->seriesNames(ChartsPanel::Chart::Throughput)
                                 .contains("in events"),
                             5000);
    QTRY_VERIFY_WITH_TIMEOUT(window.charts()->pointCount(ChartsPanel::Chart::Throughput) > 10,
                             5000);
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            bool found = false;
            auto *plot = window.charts()->plot(ChartsPanel::Chart::Throughput);
            const auto range = plot->graph(0)->data()->valueRange(found);
            return found && range.upper > 0;
        }(),
        5000);
    // The canvas shows the running instance with its partition.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            auto *n = window.scene()->node("service:user-logger");
            return n && n->instances().size() == 1
                   && n->instances().front().detail.contains("p0");
        }(),
        5000);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 40000);
    const auto &report = *window.reportView()->report();
    QVERIFY(report.verdict.produced > 100);
    QCOMPARE(report.verdict.lost, 0);
    QVERIFY(window.reportView()->html().contains("PASSED"));
    QTemporaryDir out;
    QString error;
    QVERIFY2(window.reportView()->save(out.filePath("report.json"), &error), qPrintable(error));
    QVERIFY(QFileInfo(out.filePath("report.json")).size() > 100);
    // The CSV comes from the bridge's poll thread, at full resolution: at least every point the
    // plot shows inside the window (the plot's may be thinned; one may lie before the window),
    // each series' times increasing.
    QSignalSpy exported(window.charts(), &ChartsPanel::csvExported);
    window.charts()->exportCsv(ChartsPanel::Chart::Throughput, out.filePath("t.csv"));
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 5000);
    QCOMPARE(exported[0][1].toString(), QString());
    QFile csv(out.filePath("t.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QByteArray text = csv.readAll();
    QVERIFY(text.startsWith("time_ms,series,value\n"));
    int inRows = 0;
    qint64 lastMs = 0;
    for (const QByteArray &line : text.split('\n'))
        if (line.contains(",\"in events\",")) {
            const qint64 ms = line.left(line.indexOf(',')).toLongLong();
            QVERIFY(ms > lastMs);
            lastMs = ms;
            ++inRows;
        }
    auto *throughput = window.charts()->plot(ChartsPanel::Chart::Throughput);
    int plotted = 0;
    for (int i = 0; i < throughput->graphCount(); ++i)
        if (throughput->graph(i)->name() == "in events")
            plotted = throughput->graph(i)->dataCount();
    QVERIFY2(inRows >= plotted - 1 && inRows > 10,
             qPrintable(QString("%1 rows, %2 plotted").arg(inRows).arg(plotted)));
    // Once the broker is closed, an export fails (reported, not awaited).
    bridge.close();
    window.charts()->exportCsv(ChartsPanel::Chart::Throughput, out.filePath("closed.csv"));
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 2, 5000);
    QCOMPARE(exported[1][1].toString(), QString("the broker was closed"));
    QVERIFY(!QFile::exists(out.filePath("closed.csv")));
    QVERIFY(window.charts()->exportPng(ChartsPanel::Chart::Lag, out.filePath("lag.png")));
    QVERIFY(!QImage(out.filePath("lag.png")).isNull());
}

void TestStudio::injectsABrokerFaultFromTheCanvas()
{
    QTemporaryDir dir;
    BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    MainWindow window(&bridge);
    window.show();
    QVERIFY(window.openScenario(scenarioPath("order-pipeline.json"), true));
    auto admin = eddy::client::Admin::open(bridge.clientUrl().toStdString());
    QVERIFY(admin);
    QVERIFY((*admin)->createTopic("orders", 3));
    auto produce = [&] {
        return (*admin)->connection()->call(
            {{"op", "produce"}, {"topic", "orders"}, {"partition", 1}, {"value", "x"}}, 5000);
    };
    QVERIFY(produce());

    auto *orders = window.scene()->node("topic:orders");
    QVERIFY(orders);
    window.view()->centerOn(orders);
    QVERIFY(triggerContextMenu(window.view(), orders->sceneBoundingRect().center(),
                               {"Take partition offline", "Partition 1"}));
    QTRY_VERIFY_WITH_TIMEOUT(!produce(), 3000);
    QCOMPARE(produce().error().code, eddy::Errc::PartitionOffline);

    // The fault timeline lists it with an End now button that brings the partition back.
    QPushButton *end = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((end = window.timeline()->findChild<QPushButton *>()) != nullptr,
                             3000);
    end->click();
    QTRY_VERIFY_WITH_TIMEOUT(static_cast<bool>(produce()), 3000);
}

void TestStudio::crashesAnInstanceFromTheCanvasDuringARun()
{
    QTemporaryDir dir;
    BrokerBridge bridge;
    QVERIFY(bridge.openEmbedded({dir.path(), {}, {}}));
    MainWindow window(&bridge);
    window.show();
    QVERIFY(window.openScenario(scenarioPath("seed-user-created.json"), true));
    auto consumer = *window.document()->service("user-logger");
    consumer.instances = 2;
    consumer.sessionTimeoutMs = 600;
    QVERIFY(window.document()->setService("user-logger", consumer, "instances"));
    auto producer = *window.document()->service("user-service");
    producer.rate.perSecond = 100;
    QVERIFY(window.document()->setService("user-service", producer, "rate"));
    QVERIFY(window.document()->setSettings("crash", "", 8, 3));
    QVERIFY(window.runScenario());
    auto *node = window.scene()->node("service:user-logger");
    QVERIFY(node);
    QTRY_COMPARE_WITH_TIMEOUT(node->instances().size(), std::size_t{2}, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(node->instances()[0].detail.contains("p0")
                                 || node->instances()[1].detail.contains("p0"),
                             5000);
    window.view()->centerOn(node);
    // Let the view learn the instance names for the menu.
    QTest::qWait(400);
    QVERIFY(triggerContextMenu(window.view(), node->sceneBoundingRect().center(),
                               {"user-logger#0", "Crash"}));
    QTRY_VERIFY_WITH_TIMEOUT(node->instances().size() == 2
                                 && node->instances()[0].health == Health::Failed,
                             5000);
    QCOMPARE(node->health(), Health::Failed);
    // Its partition moves to the survivor once the session times out.
    QTRY_VERIFY_WITH_TIMEOUT(node->instances()[1].detail.contains("p0"), 8000);
    // The timeline shows the live fault.
    auto *tree = window.timeline()->findChild<QTreeWidget *>();
    QTRY_VERIFY_WITH_TIMEOUT(!tree->findItems("user-logger#0", Qt::MatchExactly, 1).isEmpty(),
                             3000);
    window.controller()->stop();
    QSignalSpy finished(window.controller(), &SimulationController::finished);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 40000);
    QCOMPARE(window.reportView()->report()->verdict.lost, 0);
    QVERIFY(!window.reportView()->report()->faults.empty());
    QCOMPARE(window.reportView()->report()->faults.front().kind, std::string("crash"));
}

void TestStudio::screenshotOptionWritesAPng()
{
    QTemporaryDir dir;
    const QString png = dir.filePath("shot.png");
    ChildOptions options;
    options.setEnv = {{"QT_QPA_PLATFORM", "offscreen"},
                      {"XDG_CONFIG_HOME", dir.filePath("config")}};
    const ChildRun studio = runChild(EDDY_STUDIO_PATH,
                                     {"--no-network", "--data", dir.filePath("data"), "--scenario",
                                      scenarioPath("fanout-notifications.json"), "--screenshot",
                                      png, "--after", "1"},
                                     30000, {}, options);
    QVERIFY2(studio.exitCode == 0, qPrintable(studio.describe()));
    QImage image(png);
    QVERIFY(!image.isNull());
    QVERIFY(image.width() >= 800 && image.height() >= 500);
}

QTEST_MAIN(TestStudio)
#include "tst_studio.moc"
