// Builds the main window's actions (menus and toolbars, with their shortcuts and what they
// trigger) and its docks (palette, properties, charts, the live views). Run once, from the
// constructor in main_window.cpp; the window's behaviour once built lives there.
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
#include <QActionGroup>
#include <QDockWidget>
#include <QFileDialog>
#include <QHeaderView>
#include <QSettings>
#include <QSplitter>
#include <QTableWidget>
#include <QTreeWidget>
#include <QKeySequence>
#include <QMenu>
#include <QMenuBar>
#include <QToolBar>

namespace eddy::ui {

QAction *MainWindow::action(const QString &objectName) const
{
    return findChild<QAction *>(objectName);
}

void MainWindow::buildActions()
{
    auto make = [this](const QString &name, const QString &text, const QKeySequence &key,
                       auto slot) {
        auto *a = new QAction(text, this);
        a->setObjectName(name);
        if (!key.isEmpty())
            a->setShortcut(key);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    auto *file = menuBar()->addMenu("&File");
    file->addAction(make("actionNew", "&New scenario", QKeySequence::New, [this] {
        if (maybeSave())
            m_document->newScenario();
    }));
    file->addAction(make("actionOpen", "&Open…", QKeySequence::Open, [this] {
        if (!maybeSave())
            return;
        const QString path = QFileDialog::getOpenFileName(this, "Open scenario", QString(),
                                                          "Scenarios (*.json)");
        if (!path.isEmpty())
            openScenario(path);
    }));
    m_recentMenu = file->addMenu("Open &recent");
    file->addAction(make("actionSave", "&Save", QKeySequence::Save, [this] {
        if (m_document->filePath().isEmpty())
            saveAs();
        else
            saveTo(m_document->filePath());
    }));
    file->addAction(make("actionSaveAs", "Save &as…", QKeySequence::SaveAs, [this] { saveAs(); }));
    file->addSeparator();
    file->addAction(make("actionQuit", "&Quit", QKeySequence::Quit, [this] { close(); }));

    auto *edit = menuBar()->addMenu("&Edit");
    auto *undo = m_document->undoStack()->createUndoAction(this, "&Undo");
    undo->setObjectName("actionUndo");
    undo->setShortcut(QKeySequence::Undo);
    auto *redo = m_document->undoStack()->createRedoAction(this, "&Redo");
    redo->setObjectName("actionRedo");
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    auto *del = make("actionDelete", "&Delete selection", QKeySequence(),
                     [this] { m_view->deleteSelection(); });
    edit->addAction(del);

    m_viewMenu = menuBar()->addMenu("&View");
    auto *zoomIn = make("actionZoomIn", "Zoom &in", QKeySequence::ZoomIn,
                        [this] { m_view->zoomIn(); });
    auto *zoomOut = make("actionZoomOut", "Zoom &out", QKeySequence::ZoomOut,
                         [this] { m_view->zoomOut(); });
    auto *fit = make("actionZoomFit", "Zoom to &fit", QKeySequence("Ctrl+0"),
                     [this] { m_view->zoomToFit(); });
    auto *layout = make("actionLayout", "Automatic &layout", QKeySequence("Ctrl+L"), [this] {
        m_scene->autoLayout();
        m_view->zoomToFit();
    });
    m_viewMenu->addActions({zoomIn, zoomOut, fit, layout});
    auto *themes = m_viewMenu->addMenu("&Theme");
    auto *group = new QActionGroup(this);
    const QString current = QSettings().value("ui/theme", "light").toString();
    for (const QString name : {"light", "dark"}) {
        auto *a = make("actionTheme_" + name, name == "light" ? "&Light" : "&Dark", QKeySequence(),
                       [this, name] { setTheme(name); });
        a->setCheckable(true);
        a->setChecked(name == current);
        group->addAction(a);
        themes->addAction(a);
    }
    m_viewMenu->addSeparator();

    auto *simMenu = menuBar()->addMenu("&Simulation");
    auto *run = make("actionRun", "&Run", QKeySequence(Qt::Key_F5), [this] {
        if (m_controller->state() == SimulationController::State::Paused)
            m_controller->setPaused(false);
        else
            runScenario();
    });
    auto *pause = make("actionPause", "&Pause", QKeySequence(Qt::Key_F6), [this] {
        m_controller->setPaused(m_controller->state() == SimulationController::State::Running);
    });
    auto *stop = make("actionStop", "&Stop", QKeySequence(Qt::SHIFT | Qt::Key_F5),
                      [this] { m_controller->stop(); });
    simMenu->addActions({run, pause, stop});

    auto *tools = addToolBar("Main");
    tools->setObjectName("mainToolBar");
    tools->addAction(action("actionNew"));
    tools->addAction(action("actionOpen"));
    tools->addAction(action("actionSave"));
    tools->addSeparator();
    tools->addActions({undo, redo});
    tools->addSeparator();
    tools->addActions({run, pause, stop});
    tools->addSeparator();
    tools->addActions({zoomIn, zoomOut, fit, layout});
}

void MainWindow::buildDocks()
{
    auto dock = [this](const QString &name, const QString &title, QWidget *w,
                       Qt::DockWidgetArea area) {
        auto *d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        m_viewMenu->addAction(d->toggleViewAction());
        return d;
    };
    auto *left = new QSplitter(Qt::Vertical, this);
    left->addWidget(m_palette);
    left->addWidget(m_outline);
    left->setStretchFactor(1, 1);
    m_palette->setMaximumHeight(120);
    m_outline->setHeaderHidden(true);
    connect(m_outline, &QTreeWidget::itemClicked, this, [this](QTreeWidgetItem *item) {
        const QString key = item->data(0, Qt::UserRole).toString();
        if (auto *n = m_scene->node(key)) {
            m_scene->clearSelection();
            n->setSelected(true);
            m_view->centerOn(n);
        }
    });
    dock("designDock", "Design", left, Qt::LeftDockWidgetArea)->setMinimumWidth(200);
    dock("propertiesDock", "Properties", m_properties, Qt::RightDockWidgetArea)
        ->setMinimumWidth(260);

    const QStringList headers{"Topic", "Partitions", "Records", "Size", "In rec/s", "Out rec/s",
                              "p99 latency"};
    m_topics->setColumnCount(static_cast<int>(headers.size()));
    m_topics->setHorizontalHeaderLabels(headers);
    m_topics->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_topics->verticalHeader()->setVisible(false);
    m_topics->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_topics->setSelectionBehavior(QAbstractItemView::SelectRows);

    auto *charts = dock("chartsDock", "Charts", m_charts, Qt::BottomDockWidgetArea);
    auto *topics = dock("topicsDock", "Topics", m_topics, Qt::BottomDockWidgetArea);
    auto *faults = dock("faultsDock", "Fault timeline", m_timeline, Qt::BottomDockWidgetArea);
    auto *report = dock("reportDock", "Report", m_report, Qt::BottomDockWidgetArea);
    auto *messages = dock("messagesDock", "Messages", m_browser, Qt::BottomDockWidgetArea);
    auto *groups = dock("groupsDock", "Groups", m_groups, Qt::BottomDockWidgetArea);
    auto *clients = dock("clientsDock", "Clients", m_clients, Qt::BottomDockWidgetArea);
    auto *events = dock("eventsDock", "Event log", m_events, Qt::BottomDockWidgetArea);
    tabifyDockWidget(charts, topics);
    tabifyDockWidget(topics, messages);
    tabifyDockWidget(messages, groups);
    tabifyDockWidget(groups, clients);
    tabifyDockWidget(clients, faults);
    tabifyDockWidget(faults, events);
    tabifyDockWidget(events, report);
    charts->raise();
    // Double-clicking a topic opens it in the message browser.
    connect(m_topics, &QTableWidget::cellDoubleClicked, this, [this, messages](int row, int) {
        if (auto *item = m_topics->item(row, 0)) {
            m_browser->setTopic(item->text());
            messages->show();
            messages->raise();
        }
    });
    m_charts->setMinimumHeight(230);
}

} // namespace eddy::ui
