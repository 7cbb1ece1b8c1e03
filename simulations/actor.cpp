// A simulated service instance. Producers pace records by the scenario's rate model and
// generate them with the seeded event generator; consumers and processors poll, process with
// the scenario's timing, retry, dead-letter and commit. Network faults are applied here,
// between the actor and its client, so they work the same against any backend.
#include "actor.h"

#include "event_generator.h"
#include "runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;

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

} // namespace

void Actor::nap(double ms)
{
    const auto until = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
    while (running() && Clock::now() < until)
        std::this_thread::sleep_until(
            std::min(until, Clock::now() + std::chrono::milliseconds(20)));
}

bool Actor::crossNetwork()
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

void Actor::run()
{
    if (m_spec.kind == ServiceSpec::Kind::Producer)
        runProducer();
    else
        runConsumer();
}

std::unique_ptr<SimProducer> Actor::openProducer()
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

void Actor::produce(SimProducer &producer, const std::string &topic, Record record,
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

double Actor::nextIntervalMs(double elapsedMs)
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

void Actor::runProducer()
{
    auto producer = openProducer();
    if (!producer)
        return;
    EventGenerator generator(m_spec, m_seed ^ 0x5eed);
    auto next = Clock::now();
    while (running()) {
        if (paused || m_runner.isPaused()) {
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

void Actor::runConsumer()
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
        const bool frozen = paused || disconnected || m_runner.isPaused();
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

void Actor::handle(SimRecord &rec, int32_t generation, SimProducer *producer)
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

} // namespace eddy::sim
