#pragma once

#include "admin.h"
#include "metrics.h"
#include "scenario.h"

#include <QMainWindow>

#include <map>

class QAction;
class QLabel;
class QMenu;
class QTableWidget;
class QTimer;
class QTreeWidget;

namespace eddy::ui {

class BrokerBridge;
class ChartsPanel;
class ClientsView;
class EventLog;
class FaultTimeline;
class GroupsView;
class MessageBrowser;
class PaletteWidget;
class PropertyPanel;
class ReportView;
class ScenarioDocument;
class SimulationController;
class TopologyScene;
class TopologyView;

// The studio's main window. Centre: the topology canvas. Left: the palette and the scenario
// outline. Right: the property panel. Bottom docks: charts, topics, fault timeline, report and
// the data views. Status bar: endpoints, clients, rates, data directory, simulation clock.
// Everything live comes from the bridge's snapshots and the simulation controller, refreshed on
// timers; commands go out asynchronously. Layout, theme, chart window and recent files persist
// in QSettings.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(BrokerBridge *bridge, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Loads a scenario file into the designer; false (and a message box unless quiet) on error.
    bool openScenario(const QString &path, bool quiet = false);
    // Validates the designed scenario and runs it; false with a message when it is invalid.
    bool runScenario();
    // Requests a fault as the canvas' context menu does.
    void injectFault(const sim::FaultSpec &fault);

    ScenarioDocument *document() const { return m_document; }
    TopologyScene *scene() const { return m_scene; }
    TopologyView *view() const { return m_view; }
    SimulationController *controller() const { return m_controller; }
    ChartsPanel *charts() const { return m_charts; }
    FaultTimeline *timeline() const { return m_timeline; }
    ReportView *reportView() const { return m_report; }
    MessageBrowser *messageBrowser() const { return m_browser; }
    GroupsView *groupsView() const { return m_groups; }
    QAction *action(const QString &objectName) const;
    QString statusText() const;

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void buildDocks();
    void showSnapshot(const MetricsSnapshot &snapshot);
    void refreshLive();
    void refreshOutline();
    void updateTitle();
    void updateRunActions();
    void addRecent(const QString &path);
    void rebuildRecentMenu();
    bool maybeSave();
    bool saveAs();
    bool saveTo(const QString &path);
    void setTheme(const QString &name);
    void brokerFaultWithoutRun(const sim::FaultSpec &fault);
    void showMessage(const QString &text, int ms = 6000);

    BrokerBridge *m_bridge;
    ScenarioDocument *m_document;
    SimulationController *m_controller;
    TopologyScene *m_scene;
    TopologyView *m_view;
    PaletteWidget *m_palette;
    QTreeWidget *m_outline;
    PropertyPanel *m_properties;
    ChartsPanel *m_charts;
    QTableWidget *m_topics;
    FaultTimeline *m_timeline;
    ReportView *m_report;
    MessageBrowser *m_browser;
    GroupsView *m_groups;
    ClientsView *m_clients;
    EventLog *m_events;
    QMenu *m_recentMenu = nullptr;
    QMenu *m_viewMenu = nullptr;
    QTimer *m_liveTimer;
    std::map<std::string, std::vector<client::GroupMember>> m_members;
    int m_liveTick = 0;

    QLabel *m_statusEndpoints;
    QLabel *m_statusClients;
    QLabel *m_statusRates;
    QLabel *m_statusData;
    QLabel *m_statusClock;
};

} // namespace eddy::ui
