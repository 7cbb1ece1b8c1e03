#pragma once

// Private to the scenario reader: the parser that turns a scenario document into a Scenario,
// shared by the files that read its parts. scenario_reader.cpp holds the document itself (its
// top-level fields and expectations) and the public parseScenario/loadScenario;
// scenario_topology_reader.cpp the topics and services; scenario_fault_reader.cpp the fault
// schedule and its table of fault kinds. Not for other users of eddy_sim.
//
// Every check fails by throwing ScenarioError (field_reader.h) with the field's line; only
// parseScenario catches it.

#include "field_reader.h"
#include "json_lines.h"
#include "scenario.h"
#include "scenario_json.h"

#include <string>
#include <vector>

namespace eddy::sim {

// Reads one scenario document field by field, failing on the first problem. One parser reads
// one document: `lines` must index the text `root` was parsed from and outlive the parser.
class ScenarioParser
{
public:
    explicit ScenarioParser(const LineIndex &lines) : m_in(lines) {}

    // The scenario in `root`, every field checked; throws ScenarioError on the first problem.
    Scenario parse(const Json &root);

private:
    // One entry of "topics"; its name must differ from every topic in `earlier`.
    TopicSpecEx topic(const Json &v, const Path &path, const std::vector<TopicSpecEx> &earlier);
    // A number (constant) or a distribution object ("constant", "uniform", ...).
    Distribution distribution(const Json &v, const Path &path);
    // A number (constant records per second) or a rate object ("poisson", "bursty", ...).
    RateSpec rate(const Json &v, const Path &path);
    // A producer's key skew, cardinality and zipf exponent.
    KeySpec keys(const Json &v, const Path &path);
    // Fails unless the field generator `g` is well-formed (only parameterised ones can be not).
    void checkGenerator(const std::string &g, const Path &path);
    // One entry of a producer's "events".
    EventTemplate eventTemplate(const Json &v, const Path &path);
    // A non-empty list of distinct topics, each declared in `s`.
    std::vector<std::string> topicList(const Json &v, const Path &path, const Scenario &s);
    // Fails unless `t` is a topic declared in `s`.
    void checkDeclaredTopic(const std::string &t, const Path &path, const Scenario &s);
    // One entry of "services"; refers only to topics (and names) declared before it in `s`.
    ServiceSpec service(const Json &v, const Path &path, const Scenario &s);
    // One entry of "faults", inside the duration of `s` and targeting its topics or services.
    FaultSpec fault(const Json &v, const Path &path, const Scenario &s);
    // One entry of "expect": "metric op number".
    Expectation expectation(const Json &v, const Path &path);

    Reader m_in;
};

} // namespace eddy::sim
