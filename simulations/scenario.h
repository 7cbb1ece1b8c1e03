#pragma once

#include "result.h"
#include "topic_config.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace eddy::sim {

// A scenario as read from its JSON file (docs/scenarios.md). Plain data: the parser fills it and
// validates every field; the runner only reads it.

// A random distribution of a non-negative quantity.
struct Distribution {
    enum class Kind { Constant, Uniform, Exponential, Normal };
    Kind kind = Kind::Constant;
    double value = 0;  // constant: the value; exponential: the mean; normal: the mean
    double min = 0;    // uniform: lower bound
    double max = 0;    // uniform: upper bound
    double stddev = 0; // normal (truncated at 0)
    bool operator==(const Distribution &) const = default;
};

// How fast a producer emits.
struct RateSpec {
    enum class Kind { Constant, Poisson, Bursty };
    Kind kind = Kind::Constant;
    double perSecond = 10;  // mean records/s per instance (Bursty: while on)
    double onSeconds = 1;   // Bursty: length of a burst
    double offSeconds = 1;  // Bursty: silence between bursts
    bool operator==(const RateSpec &) const = default;
};

// Keys a producer draws from: "key-0" .. "key-(cardinality-1)", uniformly or Zipf-skewed.
struct KeySpec {
    enum class Skew { None, Uniform, Zipf };
    Skew skew = Skew::Uniform; // None: records have no key
    int64_t cardinality = 1000;
    double zipfExponent = 1.0;
    bool operator==(const KeySpec &) const = default;
};

// An event template: `type` plus fields whose values are generated per record. Field generators
// are strings such as "uuid", "int:1:1000", "name", "email", "choice:a|b|c", "timestamp",
// "text:20" (20 words), or any other string taken literally.
struct EventTemplate {
    std::string type;                      // e.g. "user.created"
    double weight = 1;                     // relative frequency among the producer's templates
    std::vector<std::pair<std::string, std::string>> fields; // name -> generator, in order
    bool operator==(const EventTemplate &) const = default;
};

struct RetryPolicy {
    int maxAttempts = 1;          // 1 = no retry
    Distribution backoffMs;       // wait between attempts
    bool operator==(const RetryPolicy &) const = default;
};

struct ServiceSpec {
    enum class Kind { Producer, Consumer, Processor };
    std::string name;             // unique in the scenario
    Kind kind = Kind::Producer;
    int instances = 1;
    int line = 0;                 // line in the file where the service starts (for messages)

    // Producers and processors
    std::vector<std::string> outputs;     // topics written (producer: exactly one or more)
    RateSpec rate;                        // producers only
    Distribution payloadBytes;            // extra padding added to each JSON body (0: none)
    KeySpec keys;
    std::vector<EventTemplate> events;    // producers only; processors forward with type mapped
    std::string acks = "leader";          // none | leader | durable
    bool idempotent = true;

    // Consumers and processors
    std::string group;
    std::vector<std::string> inputs;      // topics subscribed
    Distribution processingMs;
    std::string commitMode = "manual";    // auto | manual (commit after processing)
    double errorRate = 0;                 // probability a processing attempt fails
    RetryPolicy retry;
    std::string deadLetterTopic;          // where records that still fail go ("" = drop + count)
    int sessionTimeoutMs = 3000;
    bool operator==(const ServiceSpec &) const = default;
};

struct FaultSpec {
    // crash, restart, pause, slow, latency, drop, disconnect, partition-offline, broker-stall,
    // broker-restart, disk-slow, disk-full, poison
    std::string kind;
    double atSeconds = 0;
    double durationSeconds = 0;   // 0: instantaneous (crash, restart, broker-restart)
    std::string target;           // "service", "service#2" (one instance), "topic/3", "broker"
    std::map<std::string, double> params; // e.g. factor, latency_ms, jitter_ms, probability
    int line = 0;
    bool operator==(const FaultSpec &) const = default;
};

// An expectation checked against the report: "lost == 0", "max_lag < 5000", "recovery_s < 10".
struct Expectation {
    std::string metric;           // lost, duplicates, reordered, dead_lettered, max_lag,
                                  // recovery_s, produced, consumed, acknowledged
    std::string op;               // ==, !=, <, <=, >, >=
    double value = 0;
    std::string text;             // as written, for the report
    bool operator==(const Expectation &) const = default;
};

struct TopicSpecEx {
    TopicSpec spec;
    int line = 0;
    // TopicSpec (engine) has no operator==, so this one compares its fields.
    bool operator==(const TopicSpecEx &other) const
    {
        return spec.name == other.spec.name && spec.partitions == other.spec.partitions
               && spec.retention == other.spec.retention && line == other.line;
    }
};

struct Scenario {
    std::string name;
    std::string description;
    double durationSeconds = 30;
    uint64_t seed = 1;
    std::string delivery = "at-least-once"; // or "at-most-once" (duplicates then count as errors)
    std::vector<TopicSpecEx> topics;
    std::vector<ServiceSpec> services;
    std::vector<FaultSpec> faults;
    std::vector<Expectation> expectations;
    // Where the studio draws each node, [x, y] by node id ("topic:NAME" or "service:NAME"), for
    // the nodes the user placed by hand (the file's optional "layout" object). Nothing else
    // reads it: `eddy simulate` ignores it, and ids naming no node are kept but unused.
    std::map<std::string, std::array<double, 2>> layout;
    // Compares `line` fields too: zero them to compare the content of two different texts.
    bool operator==(const Scenario &) const = default;
};

// Parses and validates a scenario. Errors are InvalidConfig with a message naming the field
// path and the line, e.g. "line 12: services[1].rate.per_second must be a number > 0".
Result<Scenario> parseScenario(const std::string &json);
Result<Scenario> loadScenario(const std::string &path);
// The scenario back as JSON text (what the studio saves), parseable by parseScenario.
std::string scenarioToJson(const Scenario &scenario);

} // namespace eddy::sim
