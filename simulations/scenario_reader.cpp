// Reading and validating scenario files (docs/scenarios.md): parseScenario and loadScenario. The
// text is parsed with nlohmann::ordered_json (so event fields keep their order), then LineIndex
// (json_lines.h) walks the same text to map every JSON pointer ("/services/1/rate/per_second") to
// its line, because nlohmann keeps no positions for values. Validation then reads the document
// field by field and fails on the first problem with "line N: <field path> <what is wrong>".
// Internally a failure is thrown as ScenarioError to keep the many nested checks readable; the
// public functions turn it into an eddy::Result, so no exception crosses this file.
//
// The parser's other parts are in scenario_topology_reader.cpp (topics and services) and
// scenario_fault_reader.cpp (the fault schedule); scenario_parser.h declares what they share.
#include "scenario.h"

#include "json_lines.h"
#include "scenario_json.h"
#include "scenario_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace eddy::sim {

namespace {

// ---------------------------------------------------------------------------------------------
// Field tables of the document's top level

const std::vector<std::string> kScenarioKeys = {"name", "description", "duration_s", "seed",
                                                "delivery", "topics", "services", "faults",
                                                "expect", "layout"};
const std::vector<std::string> kDeliveries = {"at-least-once", "at-most-once"};
const std::vector<std::string> kMetrics = {"lost", "duplicates", "reordered", "dead_lettered",
                                           "max_lag", "recovery_s", "produced", "consumed",
                                           "acknowledged"};
const std::vector<std::string> kOperators = {"==", "!=", "<=", ">=", "<", ">"};

} // namespace

// ---------------------------------------------------------------------------------------------
// The document

Scenario ScenarioParser::parse(const Json &root)
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

Expectation ScenarioParser::expectation(const Json &v, const Path &path)
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
