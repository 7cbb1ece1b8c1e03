#pragma once

#include "broker_client.h"
#include "broker_control.h"
#include "history.h"
#include "report.h"
#include "scenario.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace eddy::sim {

// Once a second while a run is going.
struct Progress {
    double elapsedS = 0;
    double durationS = 0;
    double producedPerSec = 0;
    double consumedPerSec = 0;
    int64_t totalLag = 0;
    std::vector<std::string> activeFaults; // "crash billing#1", "latency billing"
};

struct RunnerOptions {
    std::optional<double> durationS; // overrides the scenario's
    std::optional<uint64_t> seed;    // overrides the scenario's
    std::function<void(const Progress &)> onProgress;
};

// A live fault as the API reports it.
struct ActiveFault {
    int id = 0;
    FaultSpec spec;
    double startedS = 0;
};

class Actor;

// One simulated instance as the studio shows it.
struct InstanceState {
    std::string name;    // "billing#1"
    std::string service; // "billing"
    bool crashed = false;
    bool paused = false;        // by a pause fault (the whole run's pause is isPaused())
    bool disconnected = false;
    double slowFactor = 1.0;
};

// Runs a scenario against a broker backend: one thread per simulated instance, the fault
// schedule on the run's clock, lag sampling, and at the end the checker's verdict and the
// report. Faults can also be started and ended live from any thread while run() is going.
class SimulationRunner
{
public:
    SimulationRunner(Scenario scenario, BrokerBackend &backend, BrokerControl *control,
                     RunnerOptions options = {});
    ~SimulationRunner();

    // Creates the topics, starts the services, runs for the duration (or until stop()) and
    // returns the report. Fails when topics cannot be created or a broker fault is scheduled
    // without a BrokerControl.
    Result<Report> run();
    // Ends the run early; run() then returns the report of what happened so far.
    void stop();

    // Starts a fault now (its atSeconds is ignored; durationSeconds 0 = until endFault).
    Result<int> startFault(FaultSpec fault);
    Result<void> endFault(int id);
    std::vector<ActiveFault> activeFaults() const;
    // Seconds of run time so far; paused time does not count.
    double elapsedS() const;

    // Pauses or resumes the whole run: every instance stops producing and consuming (consumers
    // stay in their groups), and the run's clock and fault schedule stand still. Idempotent;
    // any thread.
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    // The simulated instances and their fault switches; empty until run() started them.
    std::vector<InstanceState> instances() const;

private:
    friend class Actor;

    struct Running {
        ActiveFault fault;
        std::optional<double> endAtS;
        std::size_t outcome = 0; // index into m_faultOutcomes
    };
    Result<void> apply(const FaultSpec &fault, bool start);
    Result<int> beginFault(const FaultSpec &fault, bool live);
    std::vector<Actor *> targets(const std::string &target);
    void sampleTimeline();
    int64_t nowMs() const;

    Scenario m_scenario;
    BrokerBackend &m_backend;
    BrokerControl *m_control;
    RunnerOptions m_options;
    std::vector<std::unique_ptr<Actor>> m_actors;

    std::atomic<bool> m_stop{false};
    std::chrono::steady_clock::time_point m_start;
    std::atomic<bool> m_paused{false};
    std::atomic<bool> m_actorsReady{false}; // m_actors is complete and no longer changes
    mutable std::mutex m_clockMutex;        // the two pause fields below
    std::chrono::steady_clock::duration m_pausedTotal{};
    std::chrono::steady_clock::time_point m_pausedSince;

    mutable std::mutex m_historyMutex;
    History m_history;
    std::atomic<int64_t> m_produced{0};
    std::atomic<int64_t> m_acknowledged{0};
    std::atomic<int64_t> m_consumed{0};

    mutable std::mutex m_faultMutex;
    std::map<int, Running> m_running;
    std::vector<FaultOutcome> m_faultOutcomes;
    int m_nextFaultId = 1;

    std::mutex m_timelineMutex; // m_timeline and the lag fields of m_groupTotals
    std::vector<TimelinePoint> m_timeline;
    std::map<std::string, GroupTotals> m_groupTotals;
};

} // namespace eddy::sim
