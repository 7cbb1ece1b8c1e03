// Writing scenarios back as JSON text (scenarioToJson): what the studio saves, readable again by
// parseScenario. Whole numbers are written without ".0" and each service gets only the fields
// that apply to its kind, so saved files look hand-written.
#include "scenario.h"

#include "scenario_json.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace eddy::sim {

namespace {

// ---------------------------------------------------------------------------------------------
// Writing

// Whole numbers are written without ".0" so saved files look hand-written.
Json numberJson(double v)
{
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)
        return static_cast<int64_t>(v);
    return v;
}

Json distributionJson(const Distribution &d)
{
    switch (d.kind) {
    case Distribution::Kind::Constant:
        return numberJson(d.value);
    case Distribution::Kind::Uniform:
        return Json{{"kind", "uniform"}, {"min", numberJson(d.min)}, {"max", numberJson(d.max)}};
    case Distribution::Kind::Exponential:
        return Json{{"kind", "exponential"}, {"mean", numberJson(d.value)}};
    case Distribution::Kind::Normal:
        return Json{{"kind", "normal"},
                    {"mean", numberJson(d.value)},
                    {"stddev", numberJson(d.stddev)}};
    }
    return numberJson(d.value);
}

Json stringArray(const std::vector<std::string> &items)
{
    Json a = Json::array();
    for (const auto &s : items)
        a.push_back(s);
    return a;
}

Json serviceJson(const ServiceSpec &svc)
{
    Json j;
    j["name"] = svc.name;
    j["kind"] = svc.kind == ServiceSpec::Kind::Producer   ? "producer"
                : svc.kind == ServiceSpec::Kind::Consumer ? "consumer"
                                                          : "processor";
    j["instances"] = svc.instances;
    if (svc.kind != ServiceSpec::Kind::Producer) {
        j["group"] = svc.group;
        j["inputs"] = stringArray(svc.inputs);
    }
    if (svc.kind != ServiceSpec::Kind::Consumer)
        j["outputs"] = stringArray(svc.outputs);
    if (svc.kind == ServiceSpec::Kind::Producer) {
        Json rate;
        rate["kind"] = svc.rate.kind == RateSpec::Kind::Poisson  ? "poisson"
                       : svc.rate.kind == RateSpec::Kind::Bursty ? "bursty"
                                                                 : "constant";
        rate["per_second"] = numberJson(svc.rate.perSecond);
        if (svc.rate.kind == RateSpec::Kind::Bursty) {
            rate["on_s"] = numberJson(svc.rate.onSeconds);
            rate["off_s"] = numberJson(svc.rate.offSeconds);
        }
        j["rate"] = rate;
    }
    if (svc.kind != ServiceSpec::Kind::Consumer) {
        j["payload_bytes"] = distributionJson(svc.payloadBytes);
        Json keys;
        keys["skew"] = svc.keys.skew == KeySpec::Skew::None   ? "none"
                       : svc.keys.skew == KeySpec::Skew::Zipf ? "zipf"
                                                              : "uniform";
        if (svc.keys.skew != KeySpec::Skew::None)
            keys["cardinality"] = svc.keys.cardinality;
        if (svc.keys.skew == KeySpec::Skew::Zipf)
            keys["exponent"] = numberJson(svc.keys.zipfExponent);
        j["keys"] = keys;
        j["acks"] = svc.acks;
        j["idempotent"] = svc.idempotent;
    }
    if (svc.kind == ServiceSpec::Kind::Producer) {
        Json events = Json::array();
        for (const auto &e : svc.events) {
            Json fields = Json::object();
            for (const auto &[name, generator] : e.fields)
                fields[name] = generator;
            events.push_back(
                Json{{"type", e.type}, {"weight", numberJson(e.weight)}, {"fields", fields}});
        }
        j["events"] = events;
    }
    if (svc.kind != ServiceSpec::Kind::Producer) {
        j["processing_ms"] = distributionJson(svc.processingMs);
        j["commit"] = svc.commitMode;
        j["error_rate"] = numberJson(svc.errorRate);
        j["retry"] = Json{{"max_attempts", svc.retry.maxAttempts},
                          {"backoff_ms", distributionJson(svc.retry.backoffMs)}};
        if (!svc.deadLetterTopic.empty())
            j["dead_letter"] = svc.deadLetterTopic;
        j["session_timeout_ms"] = svc.sessionTimeoutMs;
    }
    return j;
}

} // namespace

std::string scenarioToJson(const Scenario &scenario)
{
    Json j;
    j["name"] = scenario.name;
    j["description"] = scenario.description;
    j["duration_s"] = numberJson(scenario.durationSeconds);
    j["seed"] = scenario.seed;
    j["delivery"] = scenario.delivery;
    Json topics = Json::array();
    for (const auto &t : scenario.topics) {
        topics.push_back(Json{{"name", t.spec.name},
                              {"partitions", t.spec.partitions},
                              {"retention",
                               Json{{"records", t.spec.retention.maxRecords},
                                    {"bytes", t.spec.retention.maxBytes},
                                    {"ms", t.spec.retention.maxAgeMs}}}});
    }
    j["topics"] = topics;
    Json services = Json::array();
    for (const auto &svc : scenario.services)
        services.push_back(serviceJson(svc));
    j["services"] = services;
    Json faults = Json::array();
    for (const auto &f : scenario.faults) {
        Json fault{{"at_s", numberJson(f.atSeconds)},
                   {"duration_s", numberJson(f.durationSeconds)},
                   {"kind", f.kind},
                   {"target", f.target}};
        if (!f.params.empty()) {
            Json params = Json::object();
            for (const auto &[name, value] : f.params)
                params[name] = numberJson(value);
            fault["params"] = params;
        }
        faults.push_back(fault);
    }
    j["faults"] = faults;
    Json expect = Json::array();
    for (const auto &e : scenario.expectations) {
        // A scenario built in code may leave `text` empty; write what it means instead.
        expect.push_back(e.text.empty() ? e.metric + " " + e.op + " " + formatNumber(e.value)
                                        : e.text);
    }
    j["expect"] = expect;
    // Only when the user placed nodes: files without hand-made positions stay as they were.
    if (!scenario.layout.empty()) {
        Json layout = Json::object();
        for (const auto &[id, xy] : scenario.layout)
            layout[id] = Json::array({numberJson(xy[0]), numberJson(xy[1])});
        j["layout"] = layout;
    }
    return j.dump(2) + "\n";
}

} // namespace eddy::sim
