// The simulation runner. Each simulated instance is an Actor with its own thread and its own
// broker clients, seeded from the scenario seed, the service's index and the instance number,
// so keys, bodies, processing times and failures repeat for a seed. Network faults are applied
// between the actor and its client (added delay, lost requests, disconnection), so they work
// the same against any backend; broker faults go through BrokerControl.
#include "runner.h"

#include "actor.h"
#include "event_generator.h"
#include "seeded_random.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;

bool isBrokerFault(const std::string &kind)
{
    return kind == "partition-offline" || kind == "broker-stall" || kind == "broker-restart"
           || kind == "disk-slow" || kind == "disk-full";
}

} // namespace

SimulationRunner::SimulationRunner(Scenario scenario, BrokerBackend &backend,
                                   BrokerControl *control, RunnerOptions options)
    : m_scenario(std::move(scenario))
    , m_backend(backend)
    , m_control(control)
    , m_options(std::move(options))
{
    if (m_options.durationS)
        m_scenario.durationSeconds = *m_options.durationS;
    if (m_options.seed)
        m_scenario.seed = *m_options.seed;
}

SimulationRunner::~SimulationRunner()
{
    stop();
    for (auto &a : m_actors)
        a->stop();
}

int64_t SimulationRunner::nowMs() const
{
    const auto now = Clock::now();
    std::lock_guard lock(m_clockMutex);
    auto paused = m_pausedTotal;
    if (m_paused)
        paused += now - m_pausedSince;
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - m_start - paused).count();
}

void SimulationRunner::setPaused(bool paused)
{
    std::lock_guard lock(m_clockMutex);
    if (paused == m_paused)
        return;
    if (paused)
        m_pausedSince = Clock::now();
    else
        m_pausedTotal += Clock::now() - m_pausedSince;
    m_paused = paused;
}

std::vector<InstanceState> SimulationRunner::instances() const
{
    std::vector<InstanceState> out;
    if (!m_actorsReady)
        return out;
    for (const auto &a : m_actors)
        out.push_back({a->name(), a->spec().name, a->crashed(), a->paused.load(),
                       a->disconnected.load(), a->slowFactor.load()});
    return out;
}

double SimulationRunner::elapsedS() const
{
    return static_cast<double>(nowMs()) / 1000.0;
}

void SimulationRunner::stop()
{
    m_stop = true;
}

std::vector<Actor *> SimulationRunner::targets(const std::string &target)
{
    std::vector<Actor *> out;
    const auto hash = target.find('#');
    const std::string service = target.substr(0, hash);
    for (auto &a : m_actors)
        if (a->spec().name == service && (hash == std::string::npos || a->name() == target))
            out.push_back(a.get());
    return out;
}

Result<void> SimulationRunner::apply(const FaultSpec &f, bool start)
{
    const auto param = [&](const char *name, double fallback) {
        auto it = f.params.find(name);
        return it == f.params.end() ? fallback : it->second;
    };
    if (isBrokerFault(f.kind)) {
        if (!m_control)
            return makeError(Errc::InvalidConfig, "fault " + f.kind
                                                      + " needs the embedded broker");
        if (f.kind == "partition-offline") {
            const auto slash = f.target.rfind('/');
            return m_control->setPartitionOffline(f.target.substr(0, slash),
                                                  std::atoi(f.target.substr(slash + 1).c_str()),
                                                  start);
        }
        if (f.kind == "broker-stall")
            m_control->setStall(start ? static_cast<int>(param("delay_ms", 200)) : 0,
                                start ? static_cast<int>(param("jitter_ms", 0)) : 0);
        else if (f.kind == "disk-slow")
            m_control->setDiskFault(start ? static_cast<int>(param("commit_delay_ms", 50)) : 0,
                                    false);
        else if (f.kind == "disk-full")
            m_control->setDiskFault(0, start);
        else if (f.kind == "broker-restart" && start)
            return m_control->restart();
        return {};
    }
    auto actors = targets(f.target);
    if (actors.empty())
        return makeError(Errc::InvalidRequest, "fault target '" + f.target + "' names no instance");
    for (auto *a : actors) {
        if (f.kind == "crash" && start)
            a->crash();
        else if (f.kind == "restart" && start)
            a->restart();
        else if (f.kind == "pause")
            a->paused = start;
        else if (f.kind == "slow")
            a->slowFactor = start ? param("factor", 10) : 1.0;
        else if (f.kind == "latency") {
            a->latencyMs = start ? static_cast<int>(param("latency_ms", 100)) : 0;
            a->jitterMs = start ? static_cast<int>(param("jitter_ms", 0)) : 0;
        } else if (f.kind == "drop")
            a->dropProbability = start ? param("probability", 0.5) : 0.0;
        else if (f.kind == "disconnect")
            a->disconnected = start;
        else if (f.kind == "poison")
            a->poison = start;
    }
    return {};
}

Result<int> SimulationRunner::startFault(FaultSpec fault)
{
    return beginFault(fault, true);
}

Result<int> SimulationRunner::beginFault(const FaultSpec &fault, bool live)
{
    std::lock_guard lock(m_faultMutex);
    if (auto r = apply(fault, true); !r)
        return r.error();
    const double now = elapsedS();
    const int id = m_nextFaultId++;
    // Instant faults happen and are over: they are never "active", and recovery is measured
    // from the moment they struck.
    const bool instant = fault.kind == "crash" || fault.kind == "restart"
                         || fault.kind == "broker-restart";
    if (instant) {
        m_faultOutcomes.push_back({fault.kind, fault.target, now, now, live, {}, {}});
        if (m_control)
            m_control->announce("fault_started", fault.target, fault.kind + " on " + fault.target);
        return id;
    }
    Running running;
    running.fault = {id, fault, now};
    if (fault.durationSeconds > 0)
        running.endAtS = now + fault.durationSeconds;
    m_faultOutcomes.push_back({fault.kind, fault.target, now, now, live, {}, {}});
    running.outcome = m_faultOutcomes.size() - 1;
    if (m_control)
        m_control->announce("fault_started", fault.target, fault.kind + " on " + fault.target);
    m_running[id] = std::move(running);
    return id;
}

Result<void> SimulationRunner::endFault(int id)
{
    std::lock_guard lock(m_faultMutex);
    auto it = m_running.find(id);
    if (it == m_running.end())
        return makeError(Errc::InvalidRequest, "no active fault " + std::to_string(id));
    const auto &f = it->second.fault.spec;
    auto r = apply(f, false);
    m_faultOutcomes[it->second.outcome].endS = elapsedS();
    if (m_control)
        m_control->announce("fault_ended", f.target, f.kind + " on " + f.target + " ended");
    m_running.erase(it);
    return r;
}

std::vector<ActiveFault> SimulationRunner::activeFaults() const
{
    std::lock_guard lock(m_faultMutex);
    std::vector<ActiveFault> out;
    for (const auto &[id, r] : m_running)
        out.push_back(r.fault);
    return out;
}

void SimulationRunner::sampleTimeline()
{
    // Ask the broker first, without the lock: during a broker stall these calls are slow.
    std::vector<std::pair<GroupTotals *, int64_t>> lags;
    for (auto &[group, totals] : m_groupTotals)
        if (auto l = m_backend.groupLag(group))
            lags.emplace_back(&totals, *l);
    std::lock_guard lock(m_timelineMutex);
    int64_t lag = 0;
    for (auto &[totals, l] : lags) {
        totals->finalLag = l;
        totals->maxLag = std::max(totals->maxLag, l);
        lag += l;
    }
    m_timeline.push_back({elapsedS(), m_produced.load(), m_acknowledged.load(), m_consumed.load(),
                          lag});
}

Result<Report> SimulationRunner::run()
{
    for (const auto &f : m_scenario.faults)
        if (isBrokerFault(f.kind) && !m_control)
            return makeError(Errc::InvalidConfig, "line " + std::to_string(f.line) + ": fault "
                                                      + f.kind + " needs the embedded broker "
                                                        "(not available with --broker)");
    for (const auto &t : m_scenario.topics)
        if (auto r = m_backend.ensureTopic(t.spec); !r)
            return r.error();
    for (const auto &s : m_scenario.services) {
        if (!s.group.empty()) {
            m_groupTotals[s.group].group = s.group;
            auto &subs = m_history.subscriptions;
            auto it = std::find_if(subs.begin(), subs.end(),
                                   [&](const auto &p) { return p.first == s.group; });
            if (it == subs.end())
                subs.push_back({s.group, s.inputs});
        }
    }
    m_start = Clock::now();
    SeededRandom seeds(m_scenario.seed);
    for (std::size_t si = 0; si < m_scenario.services.size(); ++si) {
        const auto &s = m_scenario.services[si];
        for (int i = 0; i < s.instances; ++i) {
            const uint64_t seed = seeds.fork(si * 1000 + static_cast<uint64_t>(i)).next();
            m_actors.push_back(std::make_unique<Actor>(*this, s, i, seed));
        }
    }
    m_actorsReady = true;
    // Consumers first, so they are in their groups before the first record arrives.
    for (auto &a : m_actors)
        if (a->spec().kind != ServiceSpec::Kind::Producer)
            a->start();
    for (auto &a : m_actors)
        if (a->spec().kind == ServiceSpec::Kind::Producer)
            a->start();

    std::vector<bool> started(m_scenario.faults.size(), false);
    std::map<std::size_t, int> scheduledIds;
    auto lastProgress = Clock::now();
    int64_t lastProduced = 0, lastConsumed = 0;
    const double duration = m_scenario.durationSeconds;
    // Lag is sampled on its own thread so a slow broker (a stall) cannot delay the schedule.
    std::atomic<bool> samplerStop{false};
    std::thread sampler([&] {
        while (!samplerStop) {
            sampleTimeline();
            const auto next = Clock::now() + std::chrono::milliseconds(500);
            while (!samplerStop && Clock::now() < next)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    while (!m_stop && elapsedS() < duration) {
        const double now = elapsedS();
        for (std::size_t i = 0; i < m_scenario.faults.size(); ++i) {
            const auto &f = m_scenario.faults[i];
            if (!started[i] && now >= f.atSeconds) {
                started[i] = true;
                if (auto id = beginFault(f, false))
                    scheduledIds[i] = *id;
            }
        }
        std::vector<int> due;
        {
            std::lock_guard lock(m_faultMutex);
            for (const auto &[id, r] : m_running)
                if (r.endAtS && now >= *r.endAtS)
                    due.push_back(id);
        }
        for (int id : due)
            (void)endFault(id);
        if (m_options.onProgress && Clock::now() - lastProgress >= std::chrono::seconds(1)) {
            const double dt = std::chrono::duration<double>(Clock::now() - lastProgress).count();
            Progress p;
            p.elapsedS = now;
            p.durationS = duration;
            p.producedPerSec = static_cast<double>(m_produced - lastProduced) / dt;
            p.consumedPerSec = static_cast<double>(m_consumed - lastConsumed) / dt;
            {
                std::lock_guard lock(m_timelineMutex);
                p.totalLag = m_timeline.empty() ? 0 : m_timeline.back().totalLag;
            }
            for (const auto &f : activeFaults())
                p.activeFaults.push_back(f.spec.kind + " " + f.spec.target);
            lastProduced = m_produced;
            lastConsumed = m_consumed;
            lastProgress = Clock::now();
            m_options.onProgress(p);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    samplerStop = true;
    sampler.join();
    setPaused(false); // a run stopped while paused still drains
    const bool interrupted = elapsedS() < duration;
    // End faults still running so the services can drain, then stop producers first and give
    // consumers a moment to catch up with what was acknowledged.
    std::vector<int> still;
    {
        std::lock_guard lock(m_faultMutex);
        for (const auto &[id, r] : m_running)
            still.push_back(id);
    }
    for (int id : still)
        (void)endFault(id);
    const double producedS = elapsedS();
    for (auto &a : m_actors)
        if (a->spec().kind == ServiceSpec::Kind::Producer)
            a->stop();
    // Drain: consumers keep going until every group's lag is 0 and nothing more arrives, or
    // nothing has moved for 3 s (a stuck or crashed group), or 30 s at most (1 s when stopped).
    const auto drainUntil = Clock::now() + std::chrono::seconds(interrupted ? 1 : 30);
    int64_t lastSeen = -1;
    auto lastProgressAt = Clock::now();
    const auto noteDrained = [&] {
        for (auto &[group, totals] : m_groupTotals)
            if (!totals.drainS && totals.finalLag == 0)
                totals.drainS = std::max(0.0, elapsedS() - producedS);
    };
    sampleTimeline();
    noteDrained();
    while (Clock::now() < drainUntil) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        sampleTimeline();
        noteDrained();
        const int64_t lag = m_timeline.back().totalLag;
        if (lag == 0 && m_consumed == lastSeen)
            break;
        if (m_consumed != lastSeen)
            lastProgressAt = Clock::now();
        else if (Clock::now() - lastProgressAt > std::chrono::seconds(3))
            break;
        lastSeen = m_consumed;
    }
    for (auto &a : m_actors)
        a->stop();
    sampleTimeline();

    // The final read: what is in the logs now tells "lost" from "not consumed yet".
    std::map<std::string, std::unordered_set<std::string>> finalRead;
    for (const auto &[group, topics] : m_history.subscriptions) {
        for (const auto &topic : topics) {
            if (finalRead.count(topic))
                continue;
            auto ids = m_backend.readIds(topic, kIdHeader);
            if (ids)
                finalRead[topic] = std::unordered_set<std::string>(ids->begin(), ids->end());
        }
    }

    Report report;
    report.scenario = m_scenario.name;
    report.seed = m_scenario.seed;
    report.durationS = producedS;
    report.interrupted = interrupted;
    {
        std::lock_guard lock(m_historyMutex);
        std::map<std::string, TopicTotals> topics;
        for (const auto &t : m_scenario.topics)
            topics[t.spec.name].topic = t.spec.name;
        for (const auto &e : m_history.produced) {
            auto &t = topics[e.topic];
            t.topic = e.topic;
            ++t.produced;
            t.acknowledged += e.acknowledged ? 1 : 0;
        }
        for (const auto &e : m_history.consumed) {
            ++topics[e.topic].consumed;
            ++m_groupTotals[e.group].consumed;
        }
        for (const auto &e : m_history.deadLettered) {
            if (e.deadLetterTopic.empty())
                continue;
            auto &t = topics[e.deadLetterTopic];
            t.topic = e.deadLetterTopic;
            ++t.produced;
            t.acknowledged += e.stored ? 1 : 0;
        }
        for (auto &[name, t] : topics)
            report.topics.push_back(t);
        m_history.finalRead = std::move(finalRead);
        report.verdict = checkHistory(m_history, m_scenario.delivery != "at-most-once");
    }
    for (auto &[name, g] : m_groupTotals) {
        report.groups.push_back(g);
        report.maxLag = std::max(report.maxLag, g.maxLag);
    }
    if (producedS > 0) {
        report.producedPerSec = static_cast<double>(m_produced) / producedS;
        report.consumedPerSec = static_cast<double>(m_consumed) / producedS;
    }
    {
        std::lock_guard lock(m_faultMutex);
        report.faults = m_faultOutcomes;
    }
    report.timeline = m_timeline;
    measureRecovery(report);
    evaluateExpectations(report, m_scenario.expectations);
    return report;
}

} // namespace eddy::sim
