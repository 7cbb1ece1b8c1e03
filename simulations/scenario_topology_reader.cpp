// The topology part of reading a scenario file (docs/scenarios.md): its topics and services.
// A topic is a name, a partition count and a retention; a service is a producer, consumer or
// processor with its instances, the topics it writes and reads, and the kind-specific fields
// (rates, key skew, event templates, processing times, commits, retries, dead letters). Topics
// and services may refer only to topics declared earlier in the document, and fields of another
// service kind are reported as such rather than as unknown. The rest of the parser:
// scenario_parser.h.
#include "scenario_parser.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

namespace eddy::sim {

namespace {

// Field tables of topics and services

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

} // namespace

TopicSpecEx ScenarioParser::topic(const Json &v, const Path &path,
                                   const std::vector<TopicSpecEx> &earlier)
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

Distribution ScenarioParser::distribution(const Json &v, const Path &path)
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

RateSpec ScenarioParser::rate(const Json &v, const Path &path)
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

KeySpec ScenarioParser::keys(const Json &v, const Path &path)
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
void ScenarioParser::checkGenerator(const std::string &g, const Path &path)
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

EventTemplate ScenarioParser::eventTemplate(const Json &v, const Path &path)
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

std::vector<std::string> ScenarioParser::topicList(const Json &v, const Path &path,
                                                    const Scenario &s)
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

void ScenarioParser::checkDeclaredTopic(const std::string &t, const Path &path, const Scenario &s)
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

ServiceSpec ScenarioParser::service(const Json &v, const Path &path, const Scenario &s)
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

} // namespace eddy::sim
