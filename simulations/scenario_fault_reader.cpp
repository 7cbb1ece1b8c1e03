// The fault schedule of a scenario file (docs/scenarios.md): each fault has a kind, a time, a
// duration and a target. faultKinds() is the table of the kinds: what each may target (a
// service or instance, a consumer, a producer, a partition or the broker), whether it happens
// at one instant or holds for a window, and its parameters with their defaults and ranges. A
// fault must lie inside the scenario's duration and name services, instances and partitions
// that the scenario declares. The rest of the parser: scenario_parser.h.
#include "scenario_parser.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace eddy::sim {

namespace {

const std::vector<std::string> kFaultKeys = {"at_s", "duration_s", "kind", "target", "params"};

// What a fault kind may target, whether it needs a duration, and its parameters.
enum class Target { Service, Reader, Writer, Partition, Broker };

struct FaultParam {
    std::string name;
    double defaultValue;
    double min;         // inclusive
    double max;         // inclusive
    bool minExclusive;  // the value must be > min
};

// Instant faults happen once at at_s (duration_s must be 0); window faults hold from at_s for
// duration_s (> 0) and are undone at the end.
enum class Timing { Instant, Window };

struct FaultKind {
    std::string name;
    Target target;
    Timing timing;
    std::vector<FaultParam> params;
};

const std::vector<FaultKind> &faultKinds()
{
    static const std::vector<FaultKind> kinds = {
        {"crash", Target::Service, Timing::Instant, {}},
        {"restart", Target::Service, Timing::Instant, {}},
        {"pause", Target::Service, Timing::Window, {}},
        {"slow", Target::Reader, Timing::Window, {{"factor", 10, 0, 1e9, true}}},
        {"latency", Target::Service, Timing::Window,
         {{"latency_ms", 50, 0, 1e9, false}, {"jitter_ms", 0, 0, 1e9, false}}},
        {"drop", Target::Service, Timing::Window, {{"probability", 0.1, 0, 1, true}}},
        {"disconnect", Target::Service, Timing::Window, {}},
        {"partition-offline", Target::Partition, Timing::Window, {}},
        {"broker-stall", Target::Broker, Timing::Window,
         {{"delay_ms", 200, 0, 1e9, true}, {"jitter_ms", 0, 0, 1e9, false}}},
        {"broker-restart", Target::Broker, Timing::Instant, {}},
        {"disk-slow", Target::Broker, Timing::Window, {{"commit_delay_ms", 50, 0, 1e9, true}}},
        {"disk-full", Target::Broker, Timing::Window, {}},
        {"poison", Target::Writer, Timing::Window, {}},
    };
    return kinds;
}

const FaultKind *findFaultKind(const std::string &name)
{
    for (const auto &k : faultKinds()) {
        if (k.name == name)
            return &k;
    }
    return nullptr;
}

// The service called `name` in `s`, or nullptr.
const ServiceSpec *findService(const Scenario &s, const std::string &name)
{
    for (const auto &svc : s.services) {
        if (svc.name == name)
            return &svc;
    }
    return nullptr;
}

// Fails unless `target` is something a fault of `kind` can act on in `s`.
void checkTarget(const Reader &in, const FaultKind &kind, const std::string &target,
                 const Path &path, const Scenario &s)
{
    if (kind.target == Target::Broker) {
        if (target != "broker")
            in.fail(path, "must be \"broker\" for a " + kind.name + " fault (got \""
                              + target + "\")");
        return;
    }
    if (kind.target == Target::Partition) {
        // "topic/N": one partition (the broker takes partitions offline one at a time).
        const auto slash = target.rfind('/');
        const std::string topicName = target.substr(0, slash);
        const TopicSpecEx *topic = nullptr;
        std::vector<std::string> names;
        for (const auto &t : s.topics) {
            names.push_back(t.spec.name);
            if (t.spec.name == topicName)
                topic = &t;
        }
        if (!topic)
            in.fail(path, "must be \"topic/partition\" of a declared topic "
                              "(got \"" + target + "\")" + didYouMean(topicName, names));
        if (slash == std::string::npos)
            in.fail(path, "must name a partition: \"" + topicName + "/0\" .. \"" + topicName
                              + "/" + std::to_string(topic->spec.partitions - 1) + "\"");
        const std::string n = target.substr(slash + 1);
        char *end = nullptr;
        const long long p = std::strtoll(n.c_str(), &end, 10);
        if (n.empty() || *end != '\0' || p < 0 || p >= topic->spec.partitions)
            in.fail(path, "names partition \"" + n + "\" but topic \"" + topicName
                              + "\" has partitions 0-"
                              + std::to_string(topic->spec.partitions - 1));
        return;
    }
    // "service" (every instance) or "service#i" (instance i, from 0).
    const auto hash = target.find('#');
    const std::string serviceName = target.substr(0, hash);
    const ServiceSpec *svc = findService(s, serviceName);
    if (!svc) {
        std::vector<std::string> names;
        for (const auto &x : s.services)
            names.push_back(x.name);
        in.fail(path, "must name a service or \"service#instance\" (got \"" + target
                          + "\"; no such service" + didYouMean(serviceName, names) + ")");
    }
    if (hash != std::string::npos) {
        const std::string n = target.substr(hash + 1);
        char *end = nullptr;
        const long long i = std::strtoll(n.c_str(), &end, 10);
        if (n.empty() || *end != '\0' || i < 0 || i >= svc->instances)
            in.fail(path, "names instance \"" + n + "\" but service \"" + serviceName
                              + "\" has instances 0-" + std::to_string(svc->instances - 1));
    }
    if (kind.target == Target::Reader && svc->kind == ServiceSpec::Kind::Producer)
        in.fail(path, "must be a consumer or processor for a " + kind.name + " fault (\""
                          + serviceName + "\" is a producer)");
    if (kind.target == Target::Writer && svc->kind == ServiceSpec::Kind::Consumer)
        in.fail(path, "must be a producer or processor for a " + kind.name + " fault (\""
                          + serviceName + "\" is a consumer)");
}

} // namespace

FaultSpec ScenarioParser::fault(const Json &v, const Path &path, const Scenario &s)
{
    m_in.requireObject(v, path, kFaultKeys);
    FaultSpec f;
    f.line = m_in.line(path);
    const Json *kindValue = member(v, "kind");
    if (!kindValue)
        m_in.fail(path, "needs a kind");
    std::vector<std::string> kindNames;
    for (const auto &k : faultKinds())
        kindNames.push_back(k.name);
    f.kind = m_in.oneOf(*kindValue, path.key("kind"), kindNames);
    const FaultKind &kind = *findFaultKind(f.kind);

    const Json *at = member(v, "at_s");
    if (!at)
        m_in.fail(path, "needs at_s (seconds from the start)");
    f.atSeconds = m_in.number(*at, path.key("at_s"), ">= 0", nonNegative);
    if (f.atSeconds >= s.durationSeconds)
        m_in.fail(path.key("at_s"), "is " + formatNumber(f.atSeconds)
                                        + ", not before the scenario's end (duration_s "
                                        + formatNumber(s.durationSeconds) + ")");
    if (const Json *d = member(v, "duration_s"))
        f.durationSeconds = m_in.number(*d, path.key("duration_s"), ">= 0", nonNegative);
    if (kind.timing == Timing::Window && f.durationSeconds <= 0)
        m_in.fail(path.key("duration_s"), "must be > 0 for a " + f.kind + " fault");
    if (kind.timing == Timing::Instant && f.durationSeconds != 0)
        m_in.fail(path.key("duration_s"),
                  "must be 0 for a " + f.kind + " fault (it happens at at_s"
                      + (f.kind == "crash" ? "; a later restart fault brings it back)"
                                           : ")"));
    if (f.atSeconds + f.durationSeconds > s.durationSeconds)
        m_in.fail(path.key("duration_s"),
                  "runs the fault to " + formatNumber(f.atSeconds + f.durationSeconds)
                      + " s, past the scenario's end (duration_s "
                      + formatNumber(s.durationSeconds) + ")");

    if (const Json *t = member(v, "target"))
        f.target = m_in.string(*t, path.key("target"), false);
    else if (kind.target == Target::Broker)
        f.target = "broker";
    else
        m_in.fail(path, "needs a target for a " + f.kind + " fault");
    checkTarget(m_in, kind, f.target, path.key("target"), s);

    std::vector<std::string> paramNames;
    for (const auto &p : kind.params)
        paramNames.push_back(p.name);
    if (const Json *params = member(v, "params")) {
        const Path pp = path.key("params");
        if (!params->is_object())
            m_in.fail(pp, "must be an object (got " + describe(*params) + ")");
        for (const auto &item : params->items()) {
            const auto it = std::find_if(kind.params.begin(), kind.params.end(),
                                         [&](const FaultParam &p) {
                                             return p.name == item.key();
                                         });
            if (it == kind.params.end())
                m_in.fail(pp.key(item.key()),
                          "is not a parameter of a " + f.kind + " fault"
                              + (paramNames.empty()
                                     ? std::string(" (it takes none)")
                                     : " (it takes " + quotedList(paramNames) + ")"));
            const FaultParam p = *it;
            const std::string rule = (p.minExclusive ? "> " : ">= ") + formatNumber(p.min)
                                     + (p.max < 1e9 ? " and <= " + formatNumber(p.max)
                                                    : std::string());
            f.params[p.name] = m_in.number(item.value(), pp.key(p.name), rule,
                                           [&](double d) {
                                               return std::isfinite(d)
                                                      && (p.minExclusive ? d > p.min
                                                                         : d >= p.min)
                                                      && d <= p.max;
                                           });
        }
    }
    for (const auto &p : kind.params)
        f.params.emplace(p.name, p.defaultValue); // keeps values given above
    return f;
}

} // namespace eddy::sim
