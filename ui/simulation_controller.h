#pragma once

#include "report.h"
#include "runner.h"
#include "scenario.h"
#include "thread_handoff.h"

#include <QObject>

#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace eddy::ui {

class BrokerBridge;

// Runs one scenario at a time in the studio against the bridge's broker: simulated clients dial
// the bridge's client URL (inproc:// for the embedded broker), broker faults go to the embedded
// broker. The run and every live fault execute off the GUI thread; results come back as signals
// on it. Simulated actors are ordinary broker clients, never its internals.
class SimulationController : public QObject
{
    Q_OBJECT

public:
    enum class State { Idle, Running, Paused, Finishing };

    explicit SimulationController(BrokerBridge *bridge, QObject *parent = nullptr);
    // Stops a run in progress and waits for it (the runner's drain is cut short).
    ~SimulationController() override;

    // Starts a run of a validated scenario. Fails when one is already going or the bridge has
    // no broker.
    Result<void> start(const sim::Scenario &scenario);
    void setPaused(bool paused);
    // Ends the run early; finished() follows once the runner has drained and checked.
    void stop();

    State state() const { return m_state; }
    const sim::Scenario &scenario() const { return m_scenario; }
    // Seconds of run time (paused time excluded); 0 when idle.
    double elapsedS() const;
    // Live state, safe to call from the GUI timer (short locks in the runner only).
    std::vector<sim::ActiveFault> activeFaults() const;
    std::vector<sim::InstanceState> instances() const;
    // Outcomes of faults so far in this run (scheduled and live, ended or not) for the timeline.
    const std::optional<sim::Report> &lastReport() const { return m_report; }

    // Starts a live fault (atSeconds ignored; durationSeconds 0 = until endFault) / ends one.
    // Results arrive as faultStarted / faultFailed / faultEnded.
    void startFault(const sim::FaultSpec &fault);
    void endFault(int id);

signals:
    void stateChanged(eddy::ui::SimulationController::State state);
    void progress(const eddy::sim::Progress &progress);
    void finished(const eddy::sim::Report &report);
    void failed(const QString &message);
    void faultStarted(int id, const eddy::sim::FaultSpec &fault);
    void faultEnded(int id);
    void faultFailed(const QString &message);

private:
    void setState(State state);
    void join();

    BrokerBridge *m_bridge;
    State m_state = State::Idle;
    sim::Scenario m_scenario;
    std::unique_ptr<sim::BrokerBackend> m_backend;
    std::unique_ptr<sim::SimulationRunner> m_runner;
    std::thread m_thread;
    HandoffQueue m_toGui;    // before m_faultPool: its jobs post here until it is done
    HandoffPool m_faultPool{2}; // live fault calls (a broker restart takes a moment)
    std::optional<sim::Report> m_report;
};

} // namespace eddy::ui
