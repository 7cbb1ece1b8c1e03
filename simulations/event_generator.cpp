// Event bodies for simulated producers. The generators cover what event-driven systems carry
// (ids, names, emails, amounts, choices, timestamps, free text) without any data set: names and
// words come from small built-in lists, combined by the seeded source.
#include "event_generator.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace eddy::sim {

namespace {

const char *const kFirstNames[] = {"John",  "Jane",  "Ada",   "Alan",  "Grace", "Linus",
                                   "Maria", "Ken",   "Barbara", "Edsger", "Frances", "Dennis",
                                   "Margaret", "Tim", "Radia", "Bjarne"};
const char *const kLastNames[] = {"Doe",     "Lovelace", "Turing",  "Hopper", "Torvalds",
                                  "Thompson", "Liskov",  "Dijkstra", "Allen", "Ritchie",
                                  "Hamilton", "Berners-Lee", "Perlman", "Stroustrup"};
const char *const kWords[] = {"order",  "payment", "stream", "event",   "broker", "partition",
                              "offset", "replica", "commit", "latency", "queue",  "topic",
                              "service", "retry",  "backoff", "schema"};

template<std::size_t N>
const char *pick(const char *const (&list)[N], SeededRandom &random)
{
    return list[random.below(N)];
}

std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

} // namespace

double sample(const Distribution &d, SeededRandom &random)
{
    switch (d.kind) {
    case Distribution::Kind::Constant:
        return std::max(0.0, d.value);
    case Distribution::Kind::Uniform:
        return std::max(0.0, d.min + (d.max - d.min) * random.uniform());
    case Distribution::Kind::Exponential:
        return d.value > 0 ? random.exponential(d.value) : 0.0;
    case Distribution::Kind::Normal: {
        // Box-Muller; truncated at zero since these are durations and sizes.
        const double u1 = std::max(random.uniform(), 1e-12);
        const double u2 = random.uniform();
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
        return std::max(0.0, d.value + d.stddev * z);
    }
    }
    return 0;
}

EventGenerator::EventGenerator(const ServiceSpec &service, uint64_t seed)
    : m_service(service)
    , m_random(seed)
{
    if (service.keys.skew == KeySpec::Skew::Zipf)
        m_zipf = std::make_unique<ZipfSampler>(static_cast<uint64_t>(
                                                   std::max<int64_t>(1, service.keys.cardinality)),
                                               service.keys.zipfExponent);
    for (const auto &e : service.events)
        m_totalWeight += std::max(0.0, e.weight);
}

std::string EventGenerator::field(const std::string &generator, int64_t sequence, int64_t nowMs)
{
    const auto parts = split(generator, ':');
    const std::string &kind = parts[0];
    char buf[64];
    if (kind == "uuid") {
        const uint64_t a = m_random.next(), b = m_random.next();
        std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx",
                      static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                      static_cast<unsigned>(a & 0xfff), static_cast<unsigned>(0x8000 | (b >> 50)),
                      static_cast<unsigned long long>(b & 0xffffffffffffULL));
        return buf;
    }
    if (kind == "int" && parts.size() == 3) {
        const long long lo = std::atoll(parts[1].c_str()), hi = std::atoll(parts[2].c_str());
        const long long v = hi > lo ? lo
                                          + static_cast<long long>(
                                              m_random.below(static_cast<uint64_t>(hi - lo + 1)))
                                    : lo;
        return std::to_string(v);
    }
    if (kind == "name")
        return std::string(pick(kFirstNames, m_random)) + " " + pick(kLastNames, m_random);
    if (kind == "email") {
        std::string first = pick(kFirstNames, m_random);
        for (auto &c : first)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return first + "." + std::to_string(m_random.below(10000)) + "@example.com";
    }
    if (kind == "choice" && parts.size() == 2) {
        const auto choices = split(parts[1], '|');
        return choices[m_random.below(choices.size())];
    }
    if (kind == "timestamp")
        return std::to_string(nowMs);
    if (kind == "seq")
        return std::to_string(sequence);
    if (kind == "text") {
        const int words = parts.size() == 2 ? std::max(1, std::atoi(parts[1].c_str())) : 8;
        std::string out;
        for (int i = 0; i < words; ++i)
            out += (i ? " " : "") + std::string(pick(kWords, m_random));
        return out;
    }
    return generator; // a literal
}

EventGenerator::Event EventGenerator::next(int64_t sequence, int64_t nowMs)
{
    Event out;
    const EventTemplate *tmpl = nullptr;
    if (!m_service.events.empty()) {
        double r = m_random.uniform() * m_totalWeight;
        for (const auto &e : m_service.events) {
            tmpl = &e;
            r -= std::max(0.0, e.weight);
            if (r < 0)
                break;
        }
    }
    nlohmann::ordered_json body;
    out.type = tmpl ? tmpl->type : "event";
    body["type"] = out.type;
    if (tmpl) {
        nlohmann::ordered_json payload = nlohmann::ordered_json::object();
        for (const auto &[name, generator] : tmpl->fields) {
            const std::string v = field(generator, sequence, nowMs);
            // Numeric generators give JSON numbers, the rest strings.
            if (generator.rfind("int:", 0) == 0 || generator == "seq" || generator == "timestamp")
                payload[name] = std::stoll(v);
            else
                payload[name] = v;
        }
        body["payload"] = std::move(payload);
    }
    const double pad = sample(m_service.payloadBytes, m_random);
    if (pad >= 1)
        body["padding"] = std::string(static_cast<std::size_t>(pad), 'x');
    out.body = body.dump();
    switch (m_service.keys.skew) {
    case KeySpec::Skew::None:
        break;
    case KeySpec::Skew::Uniform:
        out.key = "key-"
                  + std::to_string(m_random.below(
                      static_cast<uint64_t>(std::max<int64_t>(1, m_service.keys.cardinality))));
        break;
    case KeySpec::Skew::Zipf:
        out.key = "key-" + std::to_string(m_zipf->sample(m_random));
        break;
    }
    return out;
}

} // namespace eddy::sim
