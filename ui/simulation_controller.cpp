// Studio side of the simulator. SimulationRunner::run() blocks for the whole run, so it gets its
// own thread; progress and the final report cross to the GUI thread by queued calls. Live fault
// calls go through a small pool because some (a broker restart) take a moment and the GUI must
// not wait for them.
#include "simulation_controller.h"

#include "broker_bridge.h"
#include "nng_backend.h"

namespace eddy::ui {

SimulationController::SimulationController(BrokerBridge *bridge, QObject *parent)
    : QObject(parent), m_bridge(bridge)
{
    qRegisterMetaType<eddy::sim::Progress>("eddy::sim::Progress");
    qRegisterMetaType<eddy::sim::Report>("eddy::sim::Report");
}

SimulationController::~SimulationController()
{
    if (m_runner)
        m_runner->stop();
    m_faultPool.waitForDone();
    join();
}

void SimulationController::join()
{
    if (m_thread.joinable())
        m_thread.join();
}

Result<void> SimulationController::start(const sim::Scenario &scenario)
{
    if (m_state != State::Idle)
        return makeError(Errc::InvalidRequest, "a simulation is already running");
    if (!m_bridge->isOpen())
        return makeError(Errc::ShuttingDown, "no broker to run against");
    join();
    m_faultPool.waitForDone();
    m_runner.reset();
    m_scenario = scenario;
    m_report.reset();
    m_backend = sim::makeNngBackend(m_bridge->clientUrl().toStdString());
    sim::RunnerOptions options;
    options.onProgress = [this](const sim::Progress &p) {
        m_toGui.post([this, p] { emit progress(p); });
    };
    m_runner = std::make_unique<sim::SimulationRunner>(m_scenario, *m_backend,
                                                       m_bridge->embedded(), options);
    setState(State::Running);
    m_thread = std::thread([this] {
        auto result = m_runner->run();
        m_toGui.post([this, result = std::move(result)] {
            setState(State::Idle);
            if (!result) {
                emit failed(QString::fromStdString(std::string(errcName(result.code()))
                                                   + ": " + result.error().message));
                return;
            }
            m_report = *result;
            emit finished(*m_report);
        });
    });
    return {};
}

void SimulationController::setPaused(bool paused)
{
    if (!m_runner || (m_state != State::Running && m_state != State::Paused))
        return;
    m_runner->setPaused(paused);
    setState(paused ? State::Paused : State::Running);
}

void SimulationController::stop()
{
    if (!m_runner || m_state == State::Idle || m_state == State::Finishing)
        return;
    m_runner->stop();
    setState(State::Finishing);
}

double SimulationController::elapsedS() const
{
    return m_runner && m_state != State::Idle ? m_runner->elapsedS() : 0.0;
}

std::vector<sim::ActiveFault> SimulationController::activeFaults() const
{
    return m_runner && m_state != State::Idle ? m_runner->activeFaults()
                                              : std::vector<sim::ActiveFault>{};
}

std::vector<sim::InstanceState> SimulationController::instances() const
{
    return m_runner && m_state != State::Idle ? m_runner->instances()
                                              : std::vector<sim::InstanceState>{};
}

void SimulationController::startFault(const sim::FaultSpec &fault)
{
    if (!m_runner || m_state == State::Idle || m_state == State::Finishing) {
        emit faultFailed("no simulation is running: start one to inject " + QString::fromStdString(
                                                                                 fault.kind));
        return;
    }
    sim::SimulationRunner *runner = m_runner.get();
    m_faultPool.start([this, runner, fault] {
        auto id = runner->startFault(fault);
        m_toGui.post([this, id, fault] {
            if (id)
                emit faultStarted(*id, fault);
            else
                emit faultFailed(QString::fromStdString(fault.kind + " " + fault.target
                                                        + ": " + id.error().message));
        });
    });
}

void SimulationController::endFault(int id)
{
    if (!m_runner || m_state == State::Idle)
        return;
    sim::SimulationRunner *runner = m_runner.get();
    m_faultPool.start([this, runner, id] {
        auto r = runner->endFault(id);
        m_toGui.post([this, id, r] {
            if (r)
                emit faultEnded(id);
            else
                emit faultFailed(QString::fromStdString(r.error().message));
        });
    });
}

void SimulationController::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    emit stateChanged(state);
}

} // namespace eddy::ui
