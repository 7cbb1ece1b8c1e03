#pragma once

#include "report.h"
#include "runner.h"
#include "scenario.h"

#include <QWidget>

#include <functional>
#include <map>
#include <optional>

class QTreeWidget;

namespace eddy::ui {

class SimulationController;

// One fault as the timeline and the charts know it.
struct FaultRecord {
    std::optional<int> runnerId;       // while the runner knows it
    sim::FaultSpec spec;
    bool live = false;                 // started from the studio, not the schedule
    std::optional<double> startedS;    // run time
    std::optional<double> endedS;
    double startedWallS = 0;           // wall clock, for the charts' bands
    std::optional<double> endedWallS;
    std::optional<double> recoveryS;   // from the report, once the run ended
    QString error;                     // a live fault the runner refused
    std::function<void()> end;         // ends a fault started without a run (broker faults)
};

// The fault timeline: the scenario's scheduled faults (pending, active, done) and the live ones
// injected from the canvas, with start, end and measured recovery; an active fault can be ended
// early. It follows the controller's run by polling its active faults.
class FaultTimeline : public QWidget
{
    Q_OBJECT

public:
    explicit FaultTimeline(SimulationController *controller, QWidget *parent = nullptr);

    // Shows a scenario's schedule before and during a run.
    void setSchedule(const std::vector<sim::FaultSpec> &faults);
    // Polls the controller (called by the main window's timer).
    void refresh();
    // Matches the report's measured outcomes to the faults shown.
    void applyReport(const sim::Report &report);
    // A broker fault started without a run (on whoever uses the broker); end() ends it.
    void addManual(const sim::FaultSpec &fault, std::function<void()> end);
    // A live fault the runner refused.
    void addRefused(const sim::FaultSpec &fault, const QString &error);
    const std::vector<FaultRecord> &records() const { return m_records; }

signals:
    void recordsChanged();

private:
    void noteStarted(int id, const sim::FaultSpec &fault);
    void render();

    SimulationController *m_controller;
    std::vector<sim::FaultSpec> m_schedule;
    std::vector<FaultRecord> m_records; // started faults, in start order
    double m_runStartWall = 0;          // wall clock of the current run's start (pauses aside)
    QTreeWidget *m_tree;
};

} // namespace eddy::ui
