// The simulation runner. Each simulated instance is an Actor with its own thread and its own
// broker clients, seeded from the scenario seed, the service's index and the instance number,
// so keys, bodies, processing times and failures repeat for a seed. Network faults are applied
// between the actor and its client (added delay, lost requests, disconnection), so they work
// the same against any backend; broker faults go through BrokerControl.
#include "runner.h"

#include "event_generator.h"
#include "seeded_random.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char *kIdHeader = "eddy-id";
constexpr const char *kTypeHeader = "eddy-type";
constexpr const char *kPoisonHeader = "eddy-poison";

std::optional<std::string> header(const Record &r, const std::string &key)
{
    for (const auto &h : r.headers)
        if (h.key == key)
            return h.value;
    return std::nullopt;
}

Acks parseAcks(const std::string &acks)
{
    return acks == "none" ? Acks::None : acks == "durable" ? Acks::Durable : Acks::Leader;
}

bool isBrokerFault(const std::string &kind)
{
    return kind == "partition-offline" || kind == "broker-stall" || kind == "broker-restart"
           || kind == "disk-slow" || kind == "disk-full";
}

} // namespace

// One simulated instance of a service.
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

    void start()
    {
        m_stop = false;
        m_crashed = false;
        m_thread = std::thread([this] { run(); });
    }
    void stop()
    {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    void crash()
    {
        m_crashed = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    void restart()
    {
        crash();
        start();
    }
    bool crashed() const { return m_crashed; }

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
    void nap(double ms)
    {
        const auto until = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
        while (running() && Clock::now() < until)
            std::this_thread::sleep_until(std::min(until, Clock::now() + std::chrono::milliseconds(20)));
    }

    // The network between this instance and the broker: false when the request is lost.
    bool crossNetwork()
    {
        if (disconnected) {
            nap(50);
            return false;
        }
        const int latency = latencyMs;
        const int jitter = jitterMs;
        if (latency > 0 || jitter > 0)
            nap(std::max(0.0, latency + (m_random.uniform() * 2 - 1) * jitter));
        if (dropProbability > 0 && m_random.uniform() < dropProbability) {
            nap(100); // the client would wait for a reply that never comes
            return false;
        }
        return true;
    }

    void run()
    {
        if (m_spec.kind == ServiceSpec::Kind::Producer)
            runProducer();
        else
            runConsumer();
    }

    std::unique_ptr<SimProducer> openProducer()
    {
        ProducerSettings s;
        s.clientId = m_name;
        s.acks = parseAcks(m_spec.acks);
        s.idempotent = m_spec.idempotent;
        while (running()) {
            auto p = m_runner.m_backend.producer(s);
            if (p)
                return std::move(*p);
            nap(200);
        }
        return nullptr;
    }

    // Produces one record and records it in the history.
    void produce(SimProducer &producer, const std::string &topic, Record record,
                 const std::string &id, const std::optional<std::string> &key)
    {
        ProduceEvent e;
        e.recordId = id;
        e.topic = topic;
        e.key = key.value_or("");
        if (crossNetwork()) {
            auto r = producer.send(topic, std::move(record));
            if (r) {
                e.partition = r->partition;
                e.offset = r->offset;
                e.acknowledged = m_spec.acks != "none";
            }
        }
        e.timeMs = m_runner.nowMs();
        m_runner.m_produced++;
        if (e.acknowledged)
            m_runner.m_acknowledged++;
        std::lock_guard lock(m_runner.m_historyMutex);
        m_runner.m_history.produced.push_back(std::move(e));
    }

    double nextIntervalMs(double elapsedMs)
    {
        const double perSec = std::max(1e-6, m_spec.rate.perSecond);
        switch (m_spec.rate.kind) {
        case RateSpec::Kind::Constant:
            return 1000.0 / perSec;
        case RateSpec::Kind::Poisson:
            return m_random.exponential(1000.0 / perSec);
        case RateSpec::Kind::Bursty: {
            const double cycle = (m_spec.rate.onSeconds + m_spec.rate.offSeconds) * 1000;
            const double phase = cycle > 0 ? std::fmod(elapsedMs, cycle) : 0;
            if (phase >= m_spec.rate.onSeconds * 1000)
                return cycle - phase; // silent until the next burst
            return 1000.0 / perSec;
        }
        }
        return 1000.0 / perSec;
    }

    void runProducer()
    {
        auto producer = openProducer();
        if (!producer)
            return;
        EventGenerator generator(m_spec, m_seed ^ 0x5eed);
        auto next = Clock::now();
        while (running()) {
            if (paused) {
                nap(20);
                next = Clock::now();
                continue;
            }
            const auto now = Clock::now();
            if (next > now)
                nap(std::chrono::duration<double, std::milli>(next - now).count());
            if (!running())
                break;
            // Behind by more than a second (a stall): drop the backlog instead of bursting.
            if (Clock::now() - next > std::chrono::seconds(1))
                next = Clock::now();
            const double elapsedMs = static_cast<double>(m_runner.nowMs());
            next += std::chrono::microseconds(static_cast<int64_t>(nextIntervalMs(elapsedMs) * 1000));
            const int64_t seq = m_sequence++;
            auto event = generator.next(seq, m_runner.nowMs());
            const std::string id = m_name + ":" + std::to_string(seq);
            Record r;
            r.key = event.key;
            r.value = std::move(event.body);
            r.headers = {{kIdHeader, id}, {kTypeHeader, event.type}};
            if (poison)
                r.headers.push_back({kPoisonHeader, "1"});
            const auto &topic = m_spec.outputs[static_cast<std::size_t>(seq) % m_spec.outputs.size()];
            produce(*producer, topic, std::move(r), id, event.key);
        }
        if (!m_crashed)
            producer->close();
    }

    void runConsumer()
    {
        ConsumerSettings s;
        s.clientId = m_name;
        s.group = m_spec.group;
        s.topics = m_spec.inputs;
        s.sessionTimeoutMs = m_spec.sessionTimeoutMs;
        std::unique_ptr<SimConsumer> consumer;
        while (running() && !consumer) {
            auto c = m_runner.m_backend.consumer(s);
            if (c)
                consumer = std::move(*c);
            else
                nap(200);
        }
        if (!consumer)
            return;
        std::unique_ptr<SimProducer> producer;
        if (!m_spec.outputs.empty() || !m_spec.deadLetterTopic.empty())
            producer = openProducer();
        bool wasPaused = false;
        auto lastCommit = Clock::now();
        while (running()) {
            const bool frozen = paused || disconnected;
            if (frozen != wasPaused) {
                frozen ? consumer->pause() : consumer->resume();
                wasPaused = frozen;
            }
            if (frozen) {
                nap(20);
                continue;
            }
            if (!crossNetwork())
                continue;
            auto polled = consumer->poll(100);
            if (!polled) {
                nap(50);
                continue;
            }
            const int32_t generation = consumer->generation();
            for (auto &rec : *polled) {
                if (!running())
                    break;
                handle(rec, generation, producer.get());
            }
            if (!running())
                break;
            const bool manual = m_spec.commitMode == "manual";
            if ((manual && !polled->empty())
                || (!manual && Clock::now() - lastCommit > std::chrono::seconds(1))) {
                if (crossNetwork())
                    (void)consumer->commit();
                lastCommit = Clock::now();
            }
        }
        if (m_crashed) {
            consumer->crash();
            return;
        }
        if (m_spec.commitMode != "manual")
            (void)consumer->commit();
        consumer->close();
        if (producer)
            producer->close();
    }

    void handle(SimRecord &rec, int32_t generation, SimProducer *producer)
    {
        const auto id = header(rec.record, kIdHeader)
                            .value_or("unknown:" + rec.topic + "/" + std::to_string(rec.partition)
                                      + "/" + std::to_string(rec.record.offset));
        {
            ConsumeEvent e{id,           m_spec.group, m_name, rec.topic, rec.partition,
                           rec.record.offset, generation, m_runner.nowMs()};
            std::lock_guard lock(m_runner.m_historyMutex);
            m_runner.m_history.consumed.push_back(std::move(e));
        }
        m_runner.m_consumed++;
        const bool poisoned = header(rec.record, kPoisonHeader).has_value();
        bool ok = false;
        int attempts = 0;
        const int maxAttempts = std::max(1, m_spec.retry.maxAttempts);
        while (running() && attempts < maxAttempts) {
            ++attempts;
            nap(sample(m_spec.processingMs, m_random) * slowFactor);
            const bool failed = poisoned || m_random.uniform() < m_spec.errorRate;
            if (!failed) {
                ok = true;
                break;
            }
            if (attempts < maxAttempts)
                nap(sample(m_spec.retry.backoffMs, m_random));
        }
        if (!running())
            return;
        if (!ok) {
            bool stored = false;
            if (!m_spec.deadLetterTopic.empty() && producer) {
                Record dead = rec.record;
                dead.offset = -1;
                dead.timestamp = 0;
                dead.headers.push_back({"eddy-error", "failed after " + std::to_string(attempts)
                                                          + " attempts in " + m_spec.group});
                dead.headers.push_back({"eddy-source", rec.topic + "/"
                                                           + std::to_string(rec.partition) + "/"
                                                           + std::to_string(rec.record.offset)});
                if (crossNetwork())
                    stored = producer->send(m_spec.deadLetterTopic, std::move(dead)).ok();
            }
            DeadLetterEvent e{id, m_spec.group, m_spec.deadLetterTopic, attempts,
                              m_runner.nowMs(), stored};
            std::lock_guard lock(m_runner.m_historyMutex);
            m_runner.m_history.deadLettered.push_back(std::move(e));
            return;
        }
        if (m_spec.kind != ServiceSpec::Kind::Processor || !producer)
            return;
        // A processor emits one derived event per output; it is a new record of its own.
        for (const auto &topic : m_spec.outputs) {
            const int64_t seq = m_sequence++;
            const std::string outId = m_name + ":" + std::to_string(seq);
            Record out;
            out.key = rec.record.key;
            out.value = rec.record.value;
            const auto type = header(rec.record, kTypeHeader).value_or("event");
            out.headers = {{kIdHeader, outId}, {kTypeHeader, type + "." + m_spec.name},
                           {"eddy-cause", id}};
            if (poison)
                out.headers.push_back({kPoisonHeader, "1"});
            produce(*producer, topic, std::move(out), outId, rec.record.key);
        }
    }

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
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - m_start).count();
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
    int64_t lag = 0;
    for (auto &[group, totals] : m_groupTotals) {
        auto l = m_backend.groupLag(group);
        if (l) {
            totals.finalLag = *l;
            totals.maxLag = std::max(totals.maxLag, *l);
            lag += *l;
        }
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
    // Consumers first, so they are in their groups before the first record arrives.
    for (auto &a : m_actors)
        if (a->spec().kind != ServiceSpec::Kind::Producer)
            a->start();
    for (auto &a : m_actors)
        if (a->spec().kind == ServiceSpec::Kind::Producer)
            a->start();

    std::vector<bool> started(m_scenario.faults.size(), false);
    std::map<std::size_t, int> scheduledIds;
    auto lastSample = Clock::now();
    auto lastProgress = Clock::now();
    int64_t lastProduced = 0, lastConsumed = 0;
    const double duration = m_scenario.durationSeconds;
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
        if (Clock::now() - lastSample >= std::chrono::milliseconds(500)) {
            sampleTimeline();
            lastSample = Clock::now();
        }
        if (m_options.onProgress && Clock::now() - lastProgress >= std::chrono::seconds(1)) {
            const double dt = std::chrono::duration<double>(Clock::now() - lastProgress).count();
            Progress p;
            p.elapsedS = now;
            p.durationS = duration;
            p.producedPerSec = static_cast<double>(m_produced - lastProduced) / dt;
            p.consumedPerSec = static_cast<double>(m_consumed - lastConsumed) / dt;
            p.totalLag = m_timeline.empty() ? 0 : m_timeline.back().totalLag;
            for (const auto &f : activeFaults())
                p.activeFaults.push_back(f.spec.kind + " " + f.spec.target);
            lastProduced = m_produced;
            lastConsumed = m_consumed;
            lastProgress = Clock::now();
            m_options.onProgress(p);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
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
