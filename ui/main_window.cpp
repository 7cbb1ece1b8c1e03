// Main window wiring. Three clocks drive it: the bridge's snapshots (every ~100 ms) feed the
// topics table and the status bar (the charts take the bridge's chart frames); a 250 ms timer
// gathers simulation state (instances, faults) and applies it with the snapshot to the canvas;
// group memberships are asked for once a second on a worker. Nothing here waits on the broker.
#include "main_window.h"

#include "broker_bridge.h"
#include "charts_panel.h"
#include "clients_view.h"
#include "event_log.h"
#include "fault_timeline.h"
#include "groups_view.h"
#include "message_browser.h"
#include "palette_widget.h"
#include "property_panel.h"
#include "report_view.h"
#include "scenario_document.h"
#include "simulation_controller.h"
#include "theme.h"
#include "topology_scene.h"
#include "topology_view.h"

#include <QAction>
#include <QCloseEvent>
#include <QDateTime>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QTableWidget>
#include <QThreadPool>
#include <QTimer>
#include <QTreeWidget>
#include <QUndoStack>

namespace eddy::ui {

namespace {

constexpr int kMaxRecent = 8;

QString formatRate(double perSec)
{
    return QLocale().toString(perSec, 'f', 0);
}

bool isBrokerFault(const std::string &kind)
{
    return kind == "partition-offline" || kind == "broker-stall" || kind == "broker-restart"
           || kind == "disk-slow" || kind == "disk-full";
}

// Sets a status-bar label's text without laying the window out again each time. A label whose
// size is not fixed asks its parent for a relayout on every text change, which here is the main
// window's whole dock layout: at the snapshot rate that was a fifth of the GUI thread's work
// under load. The label keeps a fixed size that only grows with its text.
void setStatusText(QLabel *label, const QString &text)
{
    if (label->text() == text)
        return;
    label->setText(text);
    const QSize wanted = label->sizeHint().expandedTo(label->minimumSize());
    if (wanted != label->minimumSize() || wanted != label->maximumSize())
        label->setFixedSize(wanted);
}

QString clockText(double s)
{
    const int total = static_cast<int>(s);
    return QString("%1:%2").arg(total / 60, 2, 10, QChar('0')).arg(total % 60, 2, 10, QChar('0'));
}

} // namespace

MainWindow::MainWindow(BrokerBridge *bridge, QWidget *parent)
    : QMainWindow(parent)
    , m_bridge(bridge)
    , m_document(new ScenarioDocument(this))
    , m_controller(new SimulationController(bridge, this))
    , m_scene(new TopologyScene(m_document, this))
    , m_view(new TopologyView(m_scene, this))
    , m_palette(new PaletteWidget(this))
    , m_outline(new QTreeWidget(this))
    , m_properties(new PropertyPanel(m_document, this))
    , m_charts(new ChartsPanel(bridge, this))
    , m_topics(new QTableWidget(this))
    , m_timeline(new FaultTimeline(m_controller, this))
    , m_report(new ReportView(this))
    , m_browser(new MessageBrowser(bridge, this))
    , m_groups(new GroupsView(bridge, this))
    , m_clients(new ClientsView(bridge, this))
    , m_events(new EventLog(bridge, this))
    , m_liveTimer(new QTimer(this))
    , m_statusEndpoints(new QLabel(this))
    , m_statusClients(new QLabel(this))
    , m_statusRates(new QLabel(this))
    , m_statusData(new QLabel(this))
    , m_statusClock(new QLabel(this))
{
    setObjectName("mainWindow");
    resize(1500, 950);
    setCentralWidget(m_view);
    setDockNestingEnabled(true);
    buildActions();
    buildDocks();

    statusBar()->addWidget(m_statusEndpoints, 1);
    statusBar()->addPermanentWidget(m_statusClients);
    statusBar()->addPermanentWidget(m_statusRates);
    statusBar()->addPermanentWidget(m_statusData);
    statusBar()->addPermanentWidget(m_statusClock);
    QString endpoints;
    if (!bridge->isOpen())
        endpoints = "broker not running: " + bridge->lastError();
    else if (bridge->isEmbedded())
        endpoints = bridge->requestUrls().isEmpty()
                        ? "embedded broker (no network endpoints"
                              + (bridge->lastError().isEmpty() ? QString()
                                                               : ": " + bridge->lastError())
                              + ")"
                        : "serving " + bridge->requestUrls().join(", ")
                              + (bridge->publishUrls().isEmpty()
                                     ? QString()
                                     : " · live " + bridge->publishUrls().join(", "));
    else
        endpoints = "connected to " + bridge->clientUrl();
    m_statusEndpoints->setText(endpoints);
    m_statusData->setText(bridge->isEmbedded() ? "data " + bridge->dataDir() : "remote broker");
    m_statusClock->setText("sim idle");

    connect(bridge, &BrokerBridge::snapshotUpdated, this,
            [this](const MetricsSnapshotPtr &snap) { showSnapshot(*snap); });
    connect(bridge, &BrokerBridge::brokerError, this,
            [this](const QString &message) { showMessage("Broker: " + message); });
    connect(m_document, &ScenarioDocument::changed, this, [this] {
        refreshOutline();
        updateTitle();
        m_timeline->setSchedule(m_document->scenario().faults);
    });
    connect(m_document->undoStack(), &QUndoStack::cleanChanged, this, [this] { updateTitle(); });
    connect(m_scene, &TopologyScene::selectionRefChanged, m_properties,
            [this](const std::optional<NodeRef> &ref) { m_properties->showNode(ref); });
    connect(m_properties, &PropertyPanel::message, this,
            [this](const QString &m) { showMessage(m); });
    connect(m_properties, &PropertyPanel::renamed, this, [this](const NodeRef &ref) {
        if (auto *n = m_scene->node(NodeItem::keyOf(ref))) {
            m_scene->clearSelection();
            n->setSelected(true);
        }
    });
    connect(m_view, &TopologyView::message, this, [this](const QString &m) { showMessage(m); });
    connect(m_view, &TopologyView::faultRequested, this,
            [this](const sim::FaultSpec &f) { injectFault(f); });
    connect(m_palette, &PaletteWidget::addRequested, this,
            [this](int kind) { m_document->addNode(static_cast<NodeRef::Kind>(kind)); });

    connect(m_controller, &SimulationController::stateChanged, this, [this] {
        updateRunActions();
        m_view->setEditable(m_controller->state() == SimulationController::State::Idle);
    });
    connect(m_controller, &SimulationController::finished, this, [this](const sim::Report &r) {
        m_report->setReport(r);
        m_timeline->refresh();
        m_timeline->applyReport(r);
        if (auto *dock = findChild<QDockWidget *>("reportDock")) {
            dock->show();
            dock->raise();
        }
        showMessage(QString("Run finished: %1 (%2 lost, %3 duplicates, %4 reordered)")
                        .arg(r.passed() ? "passed" : "FAILED")
                        .arg(r.verdict.lost)
                        .arg(r.verdict.duplicates)
                        .arg(r.verdict.reordered),
                    15000);
    });
    connect(m_controller, &SimulationController::failed, this, [this](const QString &m) {
        QMessageBox::warning(this, "Simulation", "The run could not start: " + m);
    });
    connect(m_controller, &SimulationController::faultStarted, this,
            [this](int, const sim::FaultSpec &f) {
                showMessage(QString::fromStdString("Fault started: " + f.kind + " " + f.target));
                m_timeline->refresh();
            });
    connect(m_controller, &SimulationController::faultFailed, this, [this](const QString &m) {
        showMessage("Fault refused: " + m, 10000);
    });
    connect(m_timeline, &FaultTimeline::recordsChanged, this, [this] {
        std::vector<FaultBand> bands;
        for (const auto &r : m_timeline->records()) {
            if (!r.error.isEmpty())
                continue;
            FaultBand b;
            b.startS = r.startedWallS;
            b.endS = r.endedWallS;
            b.label = QString::fromStdString(r.spec.kind + " " + r.spec.target);
            b.recoveryS = r.recoveryS;
            bands.push_back(b);
        }
        m_charts->setFaultBands(bands);
    });

    m_liveTimer->setInterval(250);
    connect(m_liveTimer, &QTimer::timeout, this, [this] { refreshLive(); });
    m_liveTimer->start();

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    m_charts->setWindowSeconds(settings.value("charts/window", 60).toInt());
    rebuildRecentMenu();
    refreshOutline();
    updateTitle();
    updateRunActions();
    if (auto snap = bridge->snapshot())
        showSnapshot(*snap);
}

MainWindow::~MainWindow()
{
    // The document is a child, deleted by ~QWidget after this destructor; its undo stack emits
    // cleanChanged as it goes, which must not reach the window part already destroyed (UBSan:
    // a member call on a plain QWidget).
    disconnect(m_document->undoStack(), nullptr, this, nullptr);
}

void MainWindow::showSnapshot(const MetricsSnapshot &snapshot)
{
    m_topics->setRowCount(static_cast<int>(snapshot.topics.size()));
    int row = 0;
    for (const auto &t : snapshot.topics) {
        const QStringList cells{QString::fromStdString(t.name),
                                QString::number(t.partitions.size()),
                                QLocale().toString(static_cast<qlonglong>(t.records)),
                                QLocale().formattedDataSize(t.sizeBytes),
                                formatRate(t.rates.recordsInPerSec),
                                formatRate(t.rates.recordsOutPerSec),
                                t.latency.count ? QString::number(t.latency.p99Us / 1000.0, 'f', 1)
                                                      + " ms"
                                                : QString("-")};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = m_topics->item(row, c);
            if (!item) {
                item = new QTableWidgetItem;
                if (c > 0)
                    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_topics->setItem(row, c, item);
            }
            item->setText(cells[c]);
        }
        ++row;
    }
    setStatusText(m_statusRates, QString("in %1 rec/s · out %2 rec/s")
                                     .arg(formatRate(snapshot.broker.recordsInPerSec),
                                          formatRate(snapshot.broker.recordsOutPerSec)));
}

void MainWindow::refreshLive()
{
    ++m_liveTick;
    LiveView live;
    live.snapshot = m_bridge->snapshot();
    live.instances = m_controller->instances();
    live.clients = m_bridge->clients();
    live.members = m_members;
    live.simulationRunning = m_controller->state() != SimulationController::State::Idle;
    m_scene->applyLive(live);
    QStringList names;
    for (const auto &i : live.instances)
        names << QString::fromStdString(i.name);
    m_view->setInstanceNames(names);
    m_timeline->refresh();

    int external = 0;
    for (const auto &c : live.clients)
        if (isExternalClient(c))
            ++external;
    setStatusText(m_statusClients,
                  QString("clients %1 (%2 external)").arg(live.clients.size()).arg(external));
    switch (m_controller->state()) {
    case SimulationController::State::Idle: setStatusText(m_statusClock, "sim idle"); break;
    case SimulationController::State::Running:
    case SimulationController::State::Paused:
    case SimulationController::State::Finishing: {
        const auto state = m_controller->state();
        setStatusText(m_statusClock,
                      QString("sim %1 / %2%3")
                          .arg(clockText(m_controller->elapsedS()),
                               clockText(m_controller->scenario().durationSeconds),
                               state == SimulationController::State::Paused ? " (paused)"
                               : state == SimulationController::State::Finishing
                                   ? " (draining)"
                                   : ""));
        break;
    }
    }

    // Group memberships (who owns which partition) once a second, on a worker.
    if (m_liveTick % 4 == 0 && live.snapshot) {
        for (const auto &g : live.snapshot->groups) {
            const std::string name = g.name;
            using Members = std::optional<std::vector<client::GroupMember>>;
            m_bridge->submit<Members>(
                this,
                [name](BrokerSession &s) -> Members {
                    auto info = s.admin->describeGroup(name);
                    if (!info)
                        return std::nullopt;
                    return info->members;
                },
                [this, name](Members members) {
                    if (members)
                        m_members[name] = std::move(*members);
                });
        }
    }
}

void MainWindow::refreshOutline()
{
    m_outline->clear();
    const auto &sc = m_document->scenario();
    auto *root = new QTreeWidgetItem(m_outline, {QString::fromStdString(sc.name)});
    auto *topics = new QTreeWidgetItem(root, {QString("Topics (%1)").arg(sc.topics.size())});
    for (const auto &t : sc.topics) {
        auto *item = new QTreeWidgetItem(
            topics, {QString("%1  ·  %2 partitions")
                         .arg(QString::fromStdString(t.spec.name))
                         .arg(t.spec.partitions)});
        item->setData(0, Qt::UserRole, "topic:" + QString::fromStdString(t.spec.name));
    }
    auto *services = new QTreeWidgetItem(root,
                                         {QString("Services (%1)").arg(sc.services.size())});
    for (const auto &s : sc.services) {
        const char *kind = s.kind == sim::ServiceSpec::Kind::Producer   ? "producer"
                           : s.kind == sim::ServiceSpec::Kind::Consumer ? "consumer group"
                                                                        : "processor";
        auto *item = new QTreeWidgetItem(services, {QString("%1  ·  %2 ×%3")
                                                        .arg(QString::fromStdString(s.name), kind)
                                                        .arg(s.instances)});
        item->setData(0, Qt::UserRole, "service:" + QString::fromStdString(s.name));
    }
    auto *faults = new QTreeWidgetItem(root,
                                       {QString("Scheduled faults (%1)").arg(sc.faults.size())});
    for (const auto &f : sc.faults)
        new QTreeWidgetItem(faults, {QString("%1 s  %2 %3")
                                         .arg(f.atSeconds)
                                         .arg(QString::fromStdString(f.kind),
                                              QString::fromStdString(f.target))});
    auto *expect = new QTreeWidgetItem(root,
                                       {QString("Expectations (%1)").arg(sc.expectations.size())});
    for (const auto &e : sc.expectations)
        new QTreeWidgetItem(expect, {QString::fromStdString(e.text)});
    m_outline->expandAll();
}

void MainWindow::updateTitle()
{
    const QString file = m_document->filePath().isEmpty()
                             ? QString("untitled")
                             : QFileInfo(m_document->filePath()).fileName();
    setWindowTitle(QString("%1%2 — Eddy Studio").arg(file, m_document->isModified() ? " *" : ""));
}

void MainWindow::updateRunActions()
{
    const auto state = m_controller->state();
    action("actionRun")->setEnabled(state == SimulationController::State::Idle
                                    || state == SimulationController::State::Paused);
    action("actionPause")->setEnabled(state == SimulationController::State::Running);
    action("actionStop")->setEnabled(state == SimulationController::State::Running
                                     || state == SimulationController::State::Paused);
}

bool MainWindow::openScenario(const QString &path, bool quiet)
{
    auto r = m_document->load(path);
    if (!r) {
        if (!quiet)
            QMessageBox::warning(this, "Open scenario",
                                 QString::fromStdString(r.error().message));
        showMessage("Could not open " + path + ": " + QString::fromStdString(r.error().message));
        return false;
    }
    addRecent(path);
    m_view->zoomToFit();
    showMessage("Opened " + path);
    return true;
}

bool MainWindow::runScenario()
{
    auto scenario = m_document->validated();
    if (!scenario) {
        const QString why = QString::fromStdString(scenario.error().message);
        QMessageBox::warning(this, "Run scenario", "The scenario is not valid yet:\n" + why);
        showMessage("Not valid: " + why);
        return false;
    }
    auto r = m_controller->start(*scenario);
    if (!r) {
        showMessage("Cannot run: " + QString::fromStdString(r.error().message));
        return false;
    }
    m_timeline->setSchedule(scenario->faults);
    if (auto *dock = findChild<QDockWidget *>("chartsDock"))
        dock->raise();
    showMessage("Running " + QString::fromStdString(scenario->name));
    return true;
}

void MainWindow::injectFault(const sim::FaultSpec &fault)
{
    if (m_controller->state() != SimulationController::State::Idle) {
        m_controller->startFault(fault);
        return;
    }
    if (isBrokerFault(fault.kind)) {
        brokerFaultWithoutRun(fault);
        return;
    }
    showMessage(QString::fromStdString("Run the scenario to inject " + fault.kind + " into "
                                       + fault.target + " (simulated services exist only while "
                                                        "it runs)"),
                10000);
}

void MainWindow::brokerFaultWithoutRun(const sim::FaultSpec &fault)
{
    // No simulation: broker faults still apply to whoever uses the broker (external clients),
    // through the broker's own fault op; a restart goes to the embedded broker directly.
    auto *embedded = m_bridge->embedded();
    if (fault.kind == "broker-restart") {
        if (!embedded) {
            showMessage("A remote broker cannot be restarted from the studio");
            return;
        }
        using R = Result<void>;
        m_bridge->submit<R>(
            this, [embedded](BrokerSession &) { return embedded->restart(); },
            [this](R r) {
                showMessage(r ? QString("Broker restarted from its store")
                              : "Broker restart failed: "
                                    + QString::fromStdString(r.error().message));
            });
        return;
    }
    client::Json params = client::Json::object();
    for (const auto &[k, v] : fault.params)
        params[k] = v;
    const std::string kind = fault.kind, target = fault.target;
    auto run = [this, kind, target, params](bool active) {
        using R = Result<void>;
        m_bridge->submit<R>(
            this,
            [kind, target, params, active](BrokerSession &s) {
                return s.admin->fault(kind, target, active, params);
            },
            [this, kind, target, active](R r) {
                showMessage(QString::fromStdString(
                    (r ? std::string(active ? "Started " : "Ended ") : "Fault refused: ") + kind
                    + " " + target + (r ? "" : ": " + r.error().message)));
            });
    };
    run(true);
    m_timeline->addManual(fault, [run] { run(false); });
}

void MainWindow::addRecent(const QString &path)
{
    QSettings settings;
    QStringList recent = settings.value("files/recent").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue("files/recent", recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = QSettings().value("files/recent").toStringList();
    for (const auto &path : recent)
        m_recentMenu->addAction(QFileInfo(path).fileName() + "  —  " + path, this, [this, path] {
            if (maybeSave())
                openScenario(path);
        });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

bool MainWindow::maybeSave()
{
    if (!m_document->isModified())
        return true;
    const auto answer = QMessageBox::question(
        this, "Unsaved changes", "Save the changes to the scenario first?",
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
    if (answer == QMessageBox::Cancel)
        return false;
    if (answer == QMessageBox::Save)
        return m_document->filePath().isEmpty() ? saveAs() : saveTo(m_document->filePath());
    return true;
}

bool MainWindow::saveAs()
{
    const QString path = QFileDialog::getSaveFileName(this, "Save scenario",
                                                      m_document->filePath(), "Scenarios (*.json)");
    return !path.isEmpty() && saveTo(path);
}

bool MainWindow::saveTo(const QString &path)
{
    auto r = m_document->save(path);
    if (!r) {
        QMessageBox::warning(this, "Save scenario", QString::fromStdString(r.error().message));
        return false;
    }
    addRecent(path);
    showMessage("Saved " + path);
    return true;
}

void MainWindow::setTheme(const QString &name)
{
    applyTheme(themeFromName(name));
    QSettings().setValue("ui/theme", name);
    m_scene->update();
}

void MainWindow::showMessage(const QString &text, int ms)
{
    statusBar()->showMessage(text, ms);
}

QString MainWindow::statusText() const
{
    return QStringList{m_statusEndpoints->text(), m_statusClients->text(), m_statusRates->text(),
                       m_statusData->text(), m_statusClock->text()}
        .join(" | ");
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (!maybeSave()) {
        event->ignore();
        return;
    }
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    settings.setValue("charts/window", m_charts->windowSeconds());
    m_controller->stop();
    event->accept();
}

} // namespace eddy::ui
