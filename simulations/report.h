#pragma once

#include "history.h"
#include "scenario.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace eddy::sim {

// One point of the run's timeline (every 500 ms).
struct TimelinePoint {
    double elapsedS = 0;
    int64_t produced = 0;     // running totals
    int64_t acknowledged = 0;
    int64_t consumed = 0;
    int64_t totalLag = 0;     // summed over groups
};

struct TopicTotals {
    std::string topic;
    int64_t produced = 0;
    int64_t acknowledged = 0;
    int64_t consumed = 0;     // deliveries, all groups
};

struct GroupTotals {
    std::string group;
    int64_t consumed = 0;
    int64_t maxLag = 0;
    int64_t finalLag = 0;
    // Seconds from the end of production until the group's lag first reached 0; unset when it
    // did not within the drain window.
    std::optional<double> drainS;
};

struct FaultOutcome {
    std::string kind;
    std::string target;
    double startS = 0;
    double endS = 0;
    bool live = false;                 // started through the live API, not the schedule
    std::optional<double> detectS;     // first visible effect after the start
    std::optional<double> recoveryS;   // after the end, until lag and throughput were back
};

struct ExpectationOutcome {
    std::string text;
    double actual = 0;
    bool ok = false;
};

struct Report {
    std::string scenario;
    uint64_t seed = 0;
    double durationS = 0;
    bool interrupted = false;          // stopped early (Ctrl-C)
    std::vector<TopicTotals> topics;
    std::vector<GroupTotals> groups;
    double producedPerSec = 0;
    double consumedPerSec = 0;
    int64_t maxLag = 0;
    std::vector<FaultOutcome> faults;
    Verdict verdict;
    std::vector<ExpectationOutcome> expectations;
    std::vector<TimelinePoint> timeline;

    // True when the verdict is ok and every expectation holds.
    bool passed() const;
};

nlohmann::json reportToJson(const Report &report);
// A short human summary (a dozen lines).
std::string reportSummary(const Report &report);
// Detection and recovery of each fault from the timeline (see docs/scenarios.md).
void measureRecovery(Report &report);
// Evaluates the scenario's expectations against the report.
void evaluateExpectations(Report &report, const std::vector<Expectation> &expectations);

} // namespace eddy::sim
