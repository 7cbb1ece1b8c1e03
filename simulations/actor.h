#pragma once

#include "broker_client.h"
#include "scenario.h"
#include "seeded_random.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>

namespace eddy::sim {

class SimulationRunner;

// Headers the simulator puts on every record it produces.
inline constexpr const char *kIdHeader = "eddy-id";       // unique id, followed by the checker
inline constexpr const char *kTypeHeader = "eddy-type";   // the event type
inline constexpr const char *kPoisonHeader = "eddy-poison"; // fails processing everywhere

// One simulated instance of a service: its own thread and broker clients, seeded per
// instance, with the fault switches the runner flips (private to the simulator).
class Actor
{
public:
    Actor(SimulationRunner &runner, const ServiceSpec &spec, int index, uint64_t seed)
        : m_runner(runner)
        , m_spec(spec)
        , m_index(index)
        , m_name(spec.name + "#" + std::to_string(index))
        , m_seed(seed)
        , m_random(seed)
    {
    }
    ~Actor() { stop(); }

    const std::string &name() const { return m_name; }
    const ServiceSpec &spec() const { return m_spec; }

    // Starts the instance's thread (again, after a crash).
    void start()
    {
        m_stop = false;
        m_crashed = false;
        m_thread = std::thread([this] { run(); });
    }
    // Ends it cleanly: a consumer commits (per its mode) and leaves its group.
    void stop()
    {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    // Ends it as a crash: no commit, no leave; the group notices at session timeout.
    void crash()
    {
        m_crashed = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    // A crash followed by a fresh start (a new group member).
    void restart()
    {
        crash();
        start();
    }
    bool crashed() const { return m_crashed; }

    // Fault switches, flipped by the runner and read by the instance's thread.
    std::atomic<bool> paused{false};
    std::atomic<double> slowFactor{1.0};
    std::atomic<int> latencyMs{0};
    std::atomic<int> jitterMs{0};
    std::atomic<double> dropProbability{0};
    std::atomic<bool> disconnected{false};
    std::atomic<bool> poison{false};

private:
    bool running() const { return !m_stop && !m_crashed; }

    // Sleeps up to ms in short steps so stop and crash take effect quickly.
    void nap(double ms);
    // The network between this instance and the broker: false when the request is lost.
    bool crossNetwork();
    void run();
    std::unique_ptr<SimProducer> openProducer();
    // Produces one record and records it in the history.
    void produce(SimProducer &producer, const std::string &topic, Record record,
                 const std::string &id, const std::optional<std::string> &key);
    double nextIntervalMs(double elapsedMs);
    void runProducer();
    void runConsumer();
    void handle(SimRecord &rec, int32_t generation, SimProducer *producer);

    SimulationRunner &m_runner;
    const ServiceSpec &m_spec;
    int m_index;
    std::string m_name;
    uint64_t m_seed;
    SeededRandom m_random;
    int64_t m_sequence = 0; // survives restarts, so record ids stay unique
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_crashed{false};
    std::thread m_thread;
};

} // namespace eddy::sim
