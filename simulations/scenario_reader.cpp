// Reading and validating scenario files (docs/scenarios.md): parseScenario and loadScenario. The
// text is parsed with nlohmann::ordered_json (so event fields keep their order), then LineIndex
// (json_lines.h) walks the same text to map every JSON pointer ("/services/1/rate/per_second") to
// its line, because nlohmann keeps no positions for values. Validation then reads the document
// field by field and fails on the first problem with "line N: <field path> <what is wrong>".
// Internally a failure is thrown as ScenarioError to keep the many nested checks readable; the
// public functions turn it into an eddy::Result, so no exception crosses this file.
#include "scenario.h"

#include "field_reader.h"
#include "json_lines.h"
#include "scenario_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace eddy::sim {

namespace {

// ---------------------------------------------------------------------------------------------
// Field tables shared by the parser, the writer and the messages

const std::vector<std::string> kScenarioKeys = {"name", "description", "duration_s", "seed",
                                                "delivery", "topics", "services", "faults",
                                                "expect", "layout"};
const std::vector<std::string> kTopicKeys = {"name", "partitions", "retention"};
const std::vector<std::string> kRetentionKeys = {"records", "bytes", "ms"};
const std::vector<std::string> kServiceKeys = {
    "name", "kind", "instances", "outputs", "rate", "payload_bytes", "keys", "events", "acks",
    "idempotent", "group", "inputs", "processing_ms", "commit", "error_rate", "retry",
    "dead_letter", "session_timeout_ms"};
// Which service kinds each kind-specific field applies to.
const std::vector<std::string> kProducerOnly = {"rate", "events"};
const std::vector<std::string> kWriterFields = {"outputs", "payload_bytes", "keys", "acks",
                                                "idempotent"};
const std::vector<std::string> kReaderFields = {"group", "inputs", "processing_ms", "commit",
                                                "error_rate", "retry", "dead_letter",
                                                "session_timeout_ms"};
const std::vector<std::string> kServiceKinds = {"producer", "consumer", "processor"};
const std::vector<std::string> kDistributionKinds = {"constant", "uniform", "exponential",
                                                     "normal"};
const std::vector<std::string> kRateKinds = {"constant", "poisson", "bursty"};
const std::vector<std::string> kSkews = {"none", "uniform", "zipf"};
const std::vector<std::string> kAcks = {"none", "leader", "durable"};
const std::vector<std::string> kCommitModes = {"auto", "manual"};
const std::vector<std::string> kDeliveries = {"at-least-once", "at-most-once"};
const std::vector<std::string> kFaultKeys = {"at_s", "duration_s", "kind", "target", "params"};
const std::vector<std::string> kMetrics = {"lost", "duplicates", "reordered", "dead_lettered",
                                           "max_lag", "recovery_s", "produced", "consumed",
                                           "acknowledged"};
const std::vector<std::string> kOperators = {"==", "!=", "<=", ">=", "<", ">"};

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

// ---------------------------------------------------------------------------------------------
// The parser

class ScenarioParser
{
public:
    explicit ScenarioParser(const LineIndex &lines) : m_in(lines) {}

    Scenario parse(const Json &root)
    {
        Scenario s;
        const Path top;
        if (!root.is_object())
            throw ScenarioError("line 1: a scenario must be a JSON object (got "
                                + describe(root) + ")");
        m_in.requireObject(root, top, kScenarioKeys);

        const Json *name = member(root, "name");
        if (!name)
            throw ScenarioError("line " + std::to_string(m_in.line(top))
                                + ": name is required");
        s.name = m_in.string(*name, top.key("name"), false);
        if (const Json *v = member(root, "description"))
            s.description = m_in.string(*v, top.key("description"));
        if (const Json *v = member(root, "duration_s"))
            s.durationSeconds = m_in.number(*v, top.key("duration_s"), "> 0", positive);
        if (const Json *v = member(root, "seed")) {
            if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
                m_in.fail(top.key("seed"), "must be an integer >= 0 (got " + describe(*v) + ")");
            s.seed = v->get<uint64_t>();
        }
        if (const Json *v = member(root, "delivery"))
            s.delivery = m_in.oneOf(*v, top.key("delivery"), kDeliveries);

        if (const Json *v = member(root, "topics")) {
            const Path path = top.key("topics");
            const Json &topics = m_in.requireArray(*v, path);
            for (std::size_t i = 0; i < topics.size(); ++i)
                s.topics.push_back(topic(topics[i], path.index(i), s.topics));
        }
        if (const Json *v = member(root, "services")) {
            const Path path = top.key("services");
            const Json &services = m_in.requireArray(*v, path);
            for (std::size_t i = 0; i < services.size(); ++i)
                s.services.push_back(service(services[i], path.index(i), s));
        }
        if (const Json *v = member(root, "faults")) {
            const Path path = top.key("faults");
            const Json &faults = m_in.requireArray(*v, path);
            for (std::size_t i = 0; i < faults.size(); ++i)
                s.faults.push_back(fault(faults[i], path.index(i), s));
        }
        if (const Json *v = member(root, "expect")) {
            const Path path = top.key("expect");
            const Json &expect = m_in.requireArray(*v, path);
            for (std::size_t i = 0; i < expect.size(); ++i)
                s.expectations.push_back(expectation(expect[i], path.index(i)));
        }
        if (const Json *v = member(root, "layout")) {
            const Path path = top.key("layout");
            if (!v->is_object())
                m_in.fail(path, "must be an object of \"<node id>\": [x, y] (got "
                                    + describe(*v) + ")");
            const auto finite = [](double d) { return std::isfinite(d); };
            for (const auto &item : v->items()) {
                const Path at = path.key(item.key());
                const Json &xy = item.value();
                if (!xy.is_array() || xy.size() != 2)
                    m_in.fail(at, "must be an array [x, y] (got " + describe(xy) + ")");
                s.layout[item.key()] = {m_in.number(xy[0], at.index(0), "", finite),
                                        m_in.number(xy[1], at.index(1), "", finite)};
            }
        }
        return s;
    }

private:
    TopicSpecEx topic(const Json &v, const Path &path, const std::vector<TopicSpecEx> &earlier)
    {
        m_in.requireObject(v, path, kTopicKeys);
        TopicSpecEx t;
        t.line = m_in.line(path);
        const Json *name = member(v, "name");
        if (!name)
            m_in.fail(path, "needs a name");
        t.spec.name = m_in.string(*name, path.key("name"));
        if (auto valid = validateTopicName(t.spec.name); !valid)
            m_in.fail(path.key("name"), "is not a valid topic name: " + valid.error().message);
        for (const auto &other : earlier) {
            if (other.spec.name == t.spec.name)
                m_in.fail(path.key("name"), "\"" + t.spec.name
                                                + "\" is declared twice (first on line "
                                                + std::to_string(other.line) + ")");
        }
        if (const Json *p = member(v, "partitions"))
            t.spec.partitions = static_cast<int32_t>(
                m_in.integer(*p, path.key("partitions"), 1, kMaxPartitions, "from 1 to 1024"));
        if (const Json *r = member(v, "retention")) {
            const Path rp = path.key("retention");
            m_in.requireObject(*r, rp, kRetentionKeys);
            const auto limit = [&](const char *key) -> int64_t {
                const Json *x = member(*r, key);
                return x ? m_in.integer(*x, rp.key(key), 0, INT64_MAX, ">= 0 (0 = unlimited)")
                         : 0;
            };
            t.spec.retention.maxRecords = limit("records");
            t.spec.retention.maxBytes = limit("bytes");
            t.spec.retention.maxAgeMs = limit("ms");
        }
        return t;
    }

    Distribution distribution(const Json &v, const Path &path)
    {
        Distribution d;
        if (v.is_number()) {
            d.value = m_in.number(v, path, ">= 0", nonNegative);
            return d;
        }
        if (!v.is_object())
            m_in.fail(path, "must be a number or a distribution object (got " + describe(v)
                                + ")");
        const Json *kind = member(v, "kind");
        if (!kind)
            m_in.fail(path, "needs a kind: " + quotedList(kDistributionKinds));
        const std::string k = m_in.oneOf(*kind, path.key("kind"), kDistributionKinds);
        const auto field = [&](const char *key) -> double {
            const Json *x = member(v, key);
            if (!x)
                m_in.fail(path, "needs \"" + std::string(key) + "\" for " + withArticle(k)
                                    + " distribution");
            return m_in.number(*x, path.key(key), ">= 0", nonNegative);
        };
        if (k == "constant") {
            m_in.requireObject(v, path, {"kind", "value"},
                               "a field of a constant distribution");
            d.kind = Distribution::Kind::Constant;
            d.value = field("value");
        } else if (k == "uniform") {
            m_in.requireObject(v, path, {"kind", "min", "max"},
                               "a field of a uniform distribution");
            d.kind = Distribution::Kind::Uniform;
            d.min = field("min");
            d.max = field("max");
            if (d.max < d.min)
                m_in.fail(path.key("max"), "must be >= min (" + formatNumber(d.min) + ")");
        } else if (k == "exponential") {
            m_in.requireObject(v, path, {"kind", "mean"},
                               "a field of an exponential distribution");
            d.kind = Distribution::Kind::Exponential;
            d.value = field("mean");
            if (d.value <= 0)
                m_in.fail(path.key("mean"), "must be a number > 0 (got 0)");
        } else {
            m_in.requireObject(v, path, {"kind", "mean", "stddev"},
                               "a field of a normal distribution");
            d.kind = Distribution::Kind::Normal;
            d.value = field("mean");
            d.stddev = field("stddev");
        }
        return d;
    }

    RateSpec rate(const Json &v, const Path &path)
    {
        RateSpec r;
        if (v.is_number()) {
            r.perSecond = m_in.number(v, path, "> 0", positive);
            return r;
        }
        if (!v.is_object())
            m_in.fail(path, "must be a number or a rate object (got " + describe(v) + ")");
        const Json *kind = member(v, "kind");
        const std::string k = kind ? m_in.oneOf(*kind, path.key("kind"), kRateKinds)
                                   : std::string("constant");
        if (k == "bursty")
            m_in.requireObject(v, path, {"kind", "per_second", "on_s", "off_s"},
                               "a field of a bursty rate");
        else
            m_in.requireObject(v, path, {"kind", "per_second"},
                               "a field of " + withArticle(k)
                                   + " rate (on_s/off_s are for \"bursty\")");
        r.kind = k == "poisson" ? RateSpec::Kind::Poisson
                 : k == "bursty" ? RateSpec::Kind::Bursty
                                 : RateSpec::Kind::Constant;
        const Json *perSecond = member(v, "per_second");
        if (!perSecond)
            m_in.fail(path, "needs per_second (records per second per instance)");
        r.perSecond = m_in.number(*perSecond, path.key("per_second"), "> 0", positive);
        if (const Json *x = member(v, "on_s"))
            r.onSeconds = m_in.number(*x, path.key("on_s"), "> 0", positive);
        if (const Json *x = member(v, "off_s"))
            r.offSeconds = m_in.number(*x, path.key("off_s"), ">= 0", nonNegative);
        return r;
    }

    KeySpec keys(const Json &v, const Path &path)
    {
        KeySpec k;
        m_in.requireObject(v, path, {"skew", "cardinality", "exponent"});
        if (const Json *x = member(v, "skew")) {
            const std::string skew = m_in.oneOf(*x, path.key("skew"), kSkews);
            k.skew = skew == "none"  ? KeySpec::Skew::None
                     : skew == "zipf" ? KeySpec::Skew::Zipf
                                      : KeySpec::Skew::Uniform;
        }
        if (const Json *x = member(v, "cardinality")) {
            if (k.skew == KeySpec::Skew::None)
                m_in.fail(path.key("cardinality"), "makes no sense with skew \"none\" (no keys)");
            k.cardinality = m_in.integer(*x, path.key("cardinality"), 1, 100'000'000,
                                         "from 1 to 100000000");
        }
        if (const Json *x = member(v, "exponent")) {
            if (k.skew != KeySpec::Skew::Zipf)
                m_in.fail(path.key("exponent"), "applies only to skew \"zipf\"");
            k.zipfExponent = m_in.number(*x, path.key("exponent"), "> 0", positive);
        }
        return k;
    }

    // Field generators: "uuid", "name", "email", "timestamp", "int:A:B", "choice:a|b|c",
    // "text:N"; anything else is a literal. Only the parameterised ones can be malformed.
    void checkGenerator(const std::string &g, const Path &path)
    {
        if (g.rfind("int:", 0) == 0) {
            const std::string rest = g.substr(4);
            const auto colon = rest.find(':');
            char *end = nullptr;
            bool ok = colon != std::string::npos;
            long long lo = 0;
            long long hi = 0;
            if (ok) {
                const std::string a = rest.substr(0, colon);
                const std::string b = rest.substr(colon + 1);
                lo = std::strtoll(a.c_str(), &end, 10);
                ok = !a.empty() && *end == '\0';
                hi = std::strtoll(b.c_str(), &end, 10);
                ok = ok && !b.empty() && *end == '\0' && lo <= hi;
            }
            if (!ok)
                m_in.fail(path, "must be \"int:MIN:MAX\" with integers MIN <= MAX (got \"" + g
                                    + "\")");
        } else if (g.rfind("text:", 0) == 0) {
            const std::string n = g.substr(5);
            char *end = nullptr;
            const long long words = std::strtoll(n.c_str(), &end, 10);
            if (n.empty() || *end != '\0' || words < 1 || words > 10000)
                m_in.fail(path, "must be \"text:N\" with N from 1 to 10000 words (got \"" + g
                                    + "\")");
        } else if (g.rfind("choice:", 0) == 0) {
            const std::string options = g.substr(7);
            if (options.empty() || options.front() == '|' || options.back() == '|'
                || options.find("||") != std::string::npos)
                m_in.fail(path, "must be \"choice:a|b|c\" with non-empty options (got \"" + g
                                    + "\")");
        }
    }

    EventTemplate eventTemplate(const Json &v, const Path &path)
    {
        m_in.requireObject(v, path, {"type", "weight", "fields"});
        EventTemplate e;
        const Json *type = member(v, "type");
        if (!type)
            m_in.fail(path, "needs a type (e.g. \"user.created\")");
        e.type = m_in.string(*type, path.key("type"), false);
        if (const Json *w = member(v, "weight"))
            e.weight = m_in.number(*w, path.key("weight"), "> 0", positive);
        if (const Json *f = member(v, "fields")) {
            const Path fp = path.key("fields");
            if (!f->is_object())
                m_in.fail(fp, "must be an object of field name -> generator (got "
                                  + describe(*f) + ")");
            for (const auto &item : f->items()) {
                const Path itemPath = fp.key(item.key());
                const std::string g = m_in.string(item.value(), itemPath);
                checkGenerator(g, itemPath);
                e.fields.emplace_back(item.key(), g);
            }
        }
        return e;
    }

    std::vector<std::string> topicList(const Json &v, const Path &path, const Scenario &s)
    {
        std::vector<std::string> out;
        const Json &list = m_in.requireArray(v, path);
        if (list.empty())
            m_in.fail(path, "must name at least one topic");
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string t = m_in.string(list[i], path.index(i), false);
            checkDeclaredTopic(t, path.index(i), s);
            if (std::find(out.begin(), out.end(), t) != out.end())
                m_in.fail(path.index(i), "lists \"" + t + "\" twice");
            out.push_back(t);
        }
        return out;
    }

    void checkDeclaredTopic(const std::string &t, const Path &path, const Scenario &s)
    {
        std::vector<std::string> names;
        for (const auto &topic : s.topics) {
            if (topic.spec.name == t)
                return;
            names.push_back(topic.spec.name);
        }
        m_in.fail(path, "refers to topic \"" + t + "\", which is not declared in topics"
                            + didYouMean(t, names));
    }

    ServiceSpec service(const Json &v, const Path &path, const Scenario &s)
    {
        m_in.requireObject(v, path, kServiceKeys);
        ServiceSpec svc;
        svc.line = m_in.line(path);
        const Json *name = member(v, "name");
        if (!name)
            m_in.fail(path, "needs a name");
        svc.name = m_in.string(*name, path.key("name"), false);
        // Names appear in fault targets ("svc#2") and record ids, so keep them simple.
        const bool simple = std::all_of(svc.name.begin(), svc.name.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '.' || c == '_' || c == '-';
        });
        if (!simple)
            m_in.fail(path.key("name"), "may contain only letters, digits, '.', '_' and '-' (got \""
                                            + svc.name + "\")");
        if (svc.name == "broker")
            m_in.fail(path.key("name"), "cannot be \"broker\" (reserved for fault targets)");
        for (const auto &other : s.services) {
            if (other.name == svc.name)
                m_in.fail(path.key("name"), "\"" + svc.name
                                                + "\" is used by another service (line "
                                                + std::to_string(other.line) + ")");
        }
        const Json *kind = member(v, "kind");
        if (!kind)
            m_in.fail(path, "needs a kind: " + quotedList(kServiceKinds));
        const std::string k = m_in.oneOf(*kind, path.key("kind"), kServiceKinds);
        svc.kind = k == "producer"   ? ServiceSpec::Kind::Producer
                   : k == "consumer" ? ServiceSpec::Kind::Consumer
                                     : ServiceSpec::Kind::Processor;
        const bool writes = svc.kind != ServiceSpec::Kind::Consumer;
        const bool reads = svc.kind != ServiceSpec::Kind::Producer;

        // Fields that exist but belong to another kind get their own message: "unknown field"
        // would mislead.
        for (const auto &item : v.items()) {
            const std::string &key = item.key();
            const auto in = [&](const std::vector<std::string> &list) {
                return std::find(list.begin(), list.end(), key) != list.end();
            };
            if (in(kProducerOnly) && svc.kind != ServiceSpec::Kind::Producer)
                m_in.fail(path.key(key), "applies only to producers, not to " + withArticle(k));
            if (in(kWriterFields) && !writes)
                m_in.fail(path.key(key), "applies only to producers and processors, not to "
                                             + withArticle(k));
            if (in(kReaderFields) && !reads)
                m_in.fail(path.key(key), "applies only to consumers and processors, not to "
                                             + withArticle(k));
        }

        if (const Json *x = member(v, "instances"))
            svc.instances = static_cast<int>(
                m_in.integer(*x, path.key("instances"), 1, 1000, "from 1 to 1000"));

        if (writes) {
            const Json *outputs = member(v, "outputs");
            if (!outputs)
                m_in.fail(path, "needs outputs (the topics " + withArticle(k) + " writes)");
            svc.outputs = topicList(*outputs, path.key("outputs"), s);
            if (const Json *x = member(v, "payload_bytes"))
                svc.payloadBytes = distribution(*x, path.key("payload_bytes"));
            if (const Json *x = member(v, "keys"))
                svc.keys = keys(*x, path.key("keys"));
            if (const Json *x = member(v, "acks"))
                svc.acks = m_in.oneOf(*x, path.key("acks"), kAcks);
            if (const Json *x = member(v, "idempotent"))
                svc.idempotent = m_in.boolean(*x, path.key("idempotent"));
        }
        if (svc.kind == ServiceSpec::Kind::Producer) {
            const Json *r = member(v, "rate");
            if (!r)
                m_in.fail(path, "needs a rate (e.g. {\"kind\": \"poisson\", \"per_second\": 100})");
            svc.rate = rate(*r, path.key("rate"));
            if (const Json *x = member(v, "events")) {
                const Path ep = path.key("events");
                const Json &events = m_in.requireArray(*x, ep);
                if (events.empty())
                    m_in.fail(ep, "must hold at least one event template (or be left out)");
                for (std::size_t i = 0; i < events.size(); ++i)
                    svc.events.push_back(eventTemplate(events[i], ep.index(i)));
            } else {
                // A producer without templates still emits recognisable, unique bodies.
                svc.events.push_back(
                    {svc.name + ".event", 1, {{"id", "uuid"}, {"at", "timestamp"}}});
            }
        }
        if (reads) {
            const Json *group = member(v, "group");
            if (!group)
                m_in.fail(path, "needs a group (the consumer group its instances join)");
            svc.group = m_in.string(*group, path.key("group"), false);
            const Json *inputs = member(v, "inputs");
            if (!inputs)
                m_in.fail(path, "needs inputs (the topics " + withArticle(k) + " subscribes to)");
            svc.inputs = topicList(*inputs, path.key("inputs"), s);
            for (std::size_t i = 0; i < svc.outputs.size(); ++i) {
                // Reading and writing the same topic would feed the service its own output.
                if (std::find(svc.inputs.begin(), svc.inputs.end(), svc.outputs[i])
                    != svc.inputs.end())
                    m_in.fail(path.key("outputs").index(i),
                              "\"" + svc.outputs[i] + "\" is also one of the inputs (a loop)");
            }
            if (const Json *x = member(v, "processing_ms"))
                svc.processingMs = distribution(*x, path.key("processing_ms"));
            if (const Json *x = member(v, "commit"))
                svc.commitMode = m_in.oneOf(*x, path.key("commit"), kCommitModes);
            if (const Json *x = member(v, "error_rate"))
                svc.errorRate = m_in.number(*x, path.key("error_rate"), "from 0 to 1",
                                            [](double d) { return d >= 0 && d <= 1; });
            if (const Json *x = member(v, "retry")) {
                const Path rp = path.key("retry");
                m_in.requireObject(*x, rp, {"max_attempts", "backoff_ms"});
                if (const Json *a = member(*x, "max_attempts"))
                    svc.retry.maxAttempts = static_cast<int>(
                        m_in.integer(*a, rp.key("max_attempts"), 1, 1000, "from 1 to 1000"));
                if (const Json *b = member(*x, "backoff_ms"))
                    svc.retry.backoffMs = distribution(*b, rp.key("backoff_ms"));
            }
            if (const Json *x = member(v, "dead_letter")) {
                const Path dp = path.key("dead_letter");
                svc.deadLetterTopic = m_in.string(*x, dp);
                if (!svc.deadLetterTopic.empty()) {
                    checkDeclaredTopic(svc.deadLetterTopic, dp, s);
                    if (std::find(svc.inputs.begin(), svc.inputs.end(), svc.deadLetterTopic)
                        != svc.inputs.end())
                        m_in.fail(dp, "\"" + svc.deadLetterTopic
                                          + "\" is also one of the inputs (failures would loop)");
                }
            }
            if (const Json *x = member(v, "session_timeout_ms"))
                svc.sessionTimeoutMs = static_cast<int>(m_in.integer(
                    *x, path.key("session_timeout_ms"), 100, 3'600'000, "from 100 to 3600000"));
        }
        return svc;
    }

    const ServiceSpec *findService(const Scenario &s, const std::string &name) const
    {
        for (const auto &svc : s.services) {
            if (svc.name == name)
                return &svc;
        }
        return nullptr;
    }

    void checkTarget(const FaultKind &kind, const std::string &target, const Path &path,
                     const Scenario &s)
    {
        if (kind.target == Target::Broker) {
            if (target != "broker")
                m_in.fail(path, "must be \"broker\" for a " + kind.name + " fault (got \""
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
                m_in.fail(path, "must be \"topic/partition\" of a declared topic "
                                    "(got \"" + target + "\")" + didYouMean(topicName, names));
            if (slash == std::string::npos)
                m_in.fail(path, "must name a partition: \"" + topicName + "/0\" .. \"" + topicName
                                    + "/" + std::to_string(topic->spec.partitions - 1) + "\"");
            const std::string n = target.substr(slash + 1);
            char *end = nullptr;
            const long long p = std::strtoll(n.c_str(), &end, 10);
            if (n.empty() || *end != '\0' || p < 0 || p >= topic->spec.partitions)
                m_in.fail(path, "names partition \"" + n + "\" but topic \"" + topicName
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
            m_in.fail(path, "must name a service or \"service#instance\" (got \"" + target
                                + "\"; no such service" + didYouMean(serviceName, names) + ")");
        }
        if (hash != std::string::npos) {
            const std::string n = target.substr(hash + 1);
            char *end = nullptr;
            const long long i = std::strtoll(n.c_str(), &end, 10);
            if (n.empty() || *end != '\0' || i < 0 || i >= svc->instances)
                m_in.fail(path, "names instance \"" + n + "\" but service \"" + serviceName
                                    + "\" has instances 0-" + std::to_string(svc->instances - 1));
        }
        if (kind.target == Target::Reader && svc->kind == ServiceSpec::Kind::Producer)
            m_in.fail(path, "must be a consumer or processor for a " + kind.name + " fault (\""
                                + serviceName + "\" is a producer)");
        if (kind.target == Target::Writer && svc->kind == ServiceSpec::Kind::Consumer)
            m_in.fail(path, "must be a producer or processor for a " + kind.name + " fault (\""
                                + serviceName + "\" is a consumer)");
    }

    FaultSpec fault(const Json &v, const Path &path, const Scenario &s)
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
        checkTarget(kind, f.target, path.key("target"), s);

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

    Expectation expectation(const Json &v, const Path &path)
    {
        Expectation e;
        e.text = m_in.string(v, path, false);
        // metric, operator, number; spaces between them are optional.
        const std::string &t = e.text;
        std::size_t i = 0;
        const auto skip = [&] {
            while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i])))
                ++i;
        };
        skip();
        const std::size_t metricStart = i;
        while (i < t.size() && (std::isalnum(static_cast<unsigned char>(t[i])) || t[i] == '_'))
            ++i;
        e.metric = t.substr(metricStart, i - metricStart);
        const std::string syntax = "must read \"metric op number\", e.g. \"lost == 0\" (got \""
                                   + t + "\")";
        if (e.metric.empty())
            m_in.fail(path, syntax);
        if (std::find(kMetrics.begin(), kMetrics.end(), e.metric) == kMetrics.end())
            m_in.fail(path, "has unknown metric \"" + e.metric + "\""
                                + didYouMean(e.metric, kMetrics)
                                + " (metrics: " + quotedList(kMetrics) + ")");
        skip();
        for (const auto &op : kOperators) {
            if (t.compare(i, op.size(), op) == 0) {
                e.op = op;
                break;
            }
        }
        if (e.op.empty())
            m_in.fail(path, "needs an operator ==, !=, <, <=, > or >= after \"" + e.metric
                                + "\" (got \"" + t + "\")");
        i += e.op.size();
        skip();
        const std::string number = t.substr(i);
        char *end = nullptr;
        e.value = std::strtod(number.c_str(), &end);
        std::string trailing = end ? std::string(end) : std::string();
        while (!trailing.empty() && std::isspace(static_cast<unsigned char>(trailing.back())))
            trailing.pop_back();
        if (number.empty() || end == number.c_str() || !trailing.empty()
            || !std::isfinite(e.value))
            m_in.fail(path, syntax);
        return e;
    }

    Reader m_in;
};

} // namespace

Result<Scenario> parseScenario(const std::string &json)
{
    Json root;
    try {
        root = Json::parse(json);
    } catch (const Json::parse_error &e) {
        // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: syntax
        // error while parsing ..."; keep the explanation, put our own position in front.
        std::string detail = e.what();
        if (const auto pos = detail.find("syntax error"); pos != std::string::npos)
            detail = detail.substr(pos);
        else if (const auto colon = detail.find(": "); colon != std::string::npos)
            detail = detail.substr(colon + 2);
        return makeError(Errc::InvalidConfig,
                         lineColumn(json, e.byte, detail) + ": JSON " + detail);
    } catch (const Json::exception &e) {
        // e.g. out_of_range for a number beyond a double ("1e400"): invalid input, not a bug.
        return makeError(Errc::InvalidConfig, std::string("invalid JSON: ") + e.what());
    }
    try {
        const LineIndex lines(json);
        return ScenarioParser(lines).parse(root);
    } catch (const JsonLinesError &e) {
        // A duplicate key or nesting too deep, found while indexing lines.
        return makeError(Errc::InvalidConfig, e.what());
    } catch (const ScenarioError &e) {
        return makeError(Errc::InvalidConfig, e.what());
    } catch (const Json::exception &e) {
        // Every access is type-checked first, so this means a bug here; still, no throw escapes.
        return makeError(Errc::Internal, std::string("scenario parser: ") + e.what());
    }
}

Result<Scenario> loadScenario(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return makeError(Errc::InvalidConfig, path + ": cannot open the scenario file");
    std::ostringstream text;
    text << in.rdbuf();
    auto scenario = parseScenario(text.str());
    if (!scenario)
        return makeError(scenario.code(), path + ": " + scenario.error().message);
    return scenario;
}

} // namespace eddy::sim
