// The run report: totals, fault detection and recovery times read off the timeline, the
// checker's verdict and the scenario's expectations. Detection and recovery are defined against
// the five seconds before a fault: detected when the consume rate falls under half its baseline
// or the lag rises past 1.5x its baseline plus 100 records plus half a second of traffic;
// recovered once, after the fault ended, the lag is back under that bound and the rate back to
// 70 % of the baseline for a full second.
#include "report.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace eddy::sim {

bool Report::passed() const
{
    if (!verdict.ok)
        return false;
    for (const auto &e : expectations)
        if (!e.ok)
            return false;
    return true;
}

namespace {

double rateAt(const std::vector<TimelinePoint> &t, std::size_t i)
{
    // Consume rate over the last second (two 500 ms samples back); the first sample's rate is
    // over the time since the start.
    if (i == 0)
        return t[0].elapsedS > 0 ? static_cast<double>(t[0].consumed) / t[0].elapsedS : 0;
    const std::size_t j = i >= 2 ? i - 2 : 0;
    const double dt = t[i].elapsedS - t[j].elapsedS;
    return dt > 0 ? static_cast<double>(t[i].consumed - t[j].consumed) / dt : 0;
}

} // namespace

void measureRecovery(Report &report)
{
    // Only the production phase counts: once producers stop, rates fall by design.
    std::vector<TimelinePoint> t;
    for (const auto &p : report.timeline)
        if (p.elapsedS <= report.durationS + 0.01)
            t.push_back(p);
    for (auto &f : report.faults) {
        double baseRate = 0, baseLag = 0;
        int n = 0;
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (t[i].elapsedS >= f.startS - 5 && t[i].elapsedS < f.startS) {
                baseRate += rateAt(t, i);
                baseLag = std::max(baseLag, static_cast<double>(t[i].totalLag));
                ++n;
            }
        }
        if (n == 0)
            continue; // a fault in the first half second has no baseline to compare with
        baseRate /= n;
        // Noise allowance: a Poisson producer's lag swings by a fraction of a second of traffic
        // without anything being wrong.
        const double lagBound = 1.5 * baseLag + 100 + 0.5 * baseRate;
        const auto disturbed = [&](std::size_t i) {
            return (baseRate > 0 && rateAt(t, i) < 0.5 * baseRate) || t[i].totalLag > lagBound;
        };
        const auto healthy = [&](std::size_t i) {
            return t[i].totalLag <= lagBound && (baseRate <= 0 || rateAt(t, i) >= 0.7 * baseRate);
        };
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (t[i].elapsedS >= f.startS && disturbed(i)) {
                f.detectS = t[i].elapsedS - f.startS;
                break;
            }
        }
        if (!f.detectS) {
            f.recoveryS = 0; // no visible effect: nothing to recover from
            continue;
        }
        const double from = std::max(f.endS, f.startS + *f.detectS);
        std::optional<double> healthySince;
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (t[i].elapsedS < from)
                continue;
            if (healthy(i)) {
                if (!healthySince)
                    healthySince = t[i].elapsedS;
                if (t[i].elapsedS - *healthySince >= 1.0) {
                    f.recoveryS = std::max(0.0, *healthySince - f.endS);
                    break;
                }
            } else {
                healthySince.reset();
            }
        }
    }
}

void evaluateExpectations(Report &report, const std::vector<Expectation> &expectations)
{
    double maxRecovery = 0;
    bool unrecovered = false;
    for (const auto &f : report.faults) {
        if (f.recoveryS)
            maxRecovery = std::max(maxRecovery, *f.recoveryS);
        else if (f.detectS)
            unrecovered = true;
    }
    int64_t consumed = 0;
    for (const auto &g : report.groups)
        consumed += g.consumed;
    const auto metric = [&](const std::string &name) -> double {
        if (name == "lost") return static_cast<double>(report.verdict.lost);
        if (name == "duplicates") return static_cast<double>(report.verdict.duplicates);
        if (name == "reordered") return static_cast<double>(report.verdict.reordered);
        if (name == "dead_lettered") return static_cast<double>(report.verdict.deadLettered);
        if (name == "max_lag") return static_cast<double>(report.maxLag);
        // A fault the run never recovered from counts as an infinitely long recovery.
        if (name == "recovery_s") return unrecovered ? INFINITY : maxRecovery;
        if (name == "produced") return static_cast<double>(report.verdict.produced);
        if (name == "acknowledged") return static_cast<double>(report.verdict.acknowledged);
        if (name == "consumed") return static_cast<double>(consumed);
        return NAN;
    };
    report.expectations.clear();
    for (const auto &e : expectations) {
        const double v = metric(e.metric);
        bool ok = false;
        if (e.op == "==") ok = v == e.value;
        else if (e.op == "!=") ok = v != e.value;
        else if (e.op == "<") ok = v < e.value;
        else if (e.op == "<=") ok = v <= e.value;
        else if (e.op == ">") ok = v > e.value;
        else if (e.op == ">=") ok = v >= e.value;
        report.expectations.push_back({e.text, v, ok});
    }
}

nlohmann::json reportToJson(const Report &r)
{
    using nlohmann::json;
    json topics = json::array();
    for (const auto &t : r.topics)
        topics.push_back({{"topic", t.topic}, {"produced", t.produced},
                          {"acknowledged", t.acknowledged}, {"consumed", t.consumed}});
    json groups = json::array();
    for (const auto &g : r.groups)
        groups.push_back({{"group", g.group}, {"consumed", g.consumed}, {"max_lag", g.maxLag},
                          {"final_lag", g.finalLag},
                          {"drain_s", g.drainS ? json(*g.drainS) : json(nullptr)}});
    json faults = json::array();
    for (const auto &f : r.faults) {
        json j{{"kind", f.kind}, {"target", f.target}, {"start_s", f.startS}, {"end_s", f.endS},
               {"live", f.live}};
        j["detect_s"] = f.detectS ? json(*f.detectS) : json(nullptr);
        j["recovery_s"] = f.recoveryS ? json(*f.recoveryS) : json(nullptr);
        faults.push_back(std::move(j));
    }
    json verdictGroups = json::array();
    for (const auto &g : r.verdict.groups)
        verdictGroups.push_back({{"group", g.group},
                                 {"expected", g.expected},
                                 {"consumed", g.consumed},
                                 {"lost", g.lost},
                                 {"unconsumed", g.unconsumed},
                                 {"duplicates", g.duplicates},
                                 {"reordered", g.reordered},
                                 {"dead_lettered", g.deadLettered},
                                 {"unknown", g.unknown},
                                 {"lost_samples", g.lostSamples},
                                 {"duplicate_samples", g.duplicateSamples},
                                 {"reorder_samples", g.reorderSamples}});
    json expectations = json::array();
    for (const auto &e : r.expectations) {
        const json actual = std::isfinite(e.actual) ? json(e.actual) : json(nullptr);
        expectations.push_back({{"expect", e.text}, {"actual", actual}, {"ok", e.ok}});
    }
    json timeline = json::array();
    for (const auto &p : r.timeline)
        timeline.push_back({p.elapsedS, p.produced, p.acknowledged, p.consumed, p.totalLag});
    return json{{"scenario", r.scenario},
                {"seed", r.seed},
                {"duration_s", r.durationS},
                {"interrupted", r.interrupted},
                {"passed", r.passed()},
                {"produced_per_s", r.producedPerSec},
                {"consumed_per_s", r.consumedPerSec},
                {"max_lag", r.maxLag},
                {"topics", topics},
                {"groups", groups},
                {"faults", faults},
                {"verdict",
                 {{"ok", r.verdict.ok},
                  {"at_least_once", r.verdict.atLeastOnce},
                  {"produced", r.verdict.produced},
                  {"acknowledged", r.verdict.acknowledged},
                  {"lost", r.verdict.lost},
                  {"unconsumed", r.verdict.unconsumed},
                  {"duplicates", r.verdict.duplicates},
                  {"reordered", r.verdict.reordered},
                  {"dead_lettered", r.verdict.deadLettered},
                  {"unknown", r.verdict.unknown},
                  {"groups", verdictGroups}}},
                {"expectations", expectations},
                {"timeline_columns",
                 {"elapsed_s", "produced", "acknowledged", "consumed", "total_lag"}},
                {"timeline", timeline}};
}

std::string reportSummary(const Report &r)
{
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(1);
    out << "scenario " << r.scenario << " (seed " << r.seed << "), " << r.durationS << " s"
        << (r.interrupted ? " (interrupted)" : "") << "\n";
    out << "throughput: " << r.producedPerSec << " rec/s produced, " << r.consumedPerSec
        << " rec/s consumed; max lag " << r.maxLag << "\n";
    for (const auto &t : r.topics)
        out << "  topic " << t.topic << ": " << t.produced << " produced, " << t.acknowledged
            << " acknowledged, " << t.consumed << " consumed\n";
    for (const auto &g : r.groups) {
        out << "  group " << g.group << ": max lag " << g.maxLag << ", ";
        if (g.drainS)
            out << "drained " << *g.drainS << " s after production ended\n";
        else
            out << "lag " << g.finalLag << " left after the drain window\n";
    }
    for (const auto &f : r.faults) {
        out << "  fault " << f.kind << " on " << f.target << " at " << f.startS << " s: ";
        if (!f.detectS)
            out << "no visible effect\n";
        else if (f.recoveryS)
            out << "seen after " << *f.detectS << " s, recovered " << *f.recoveryS
                << " s after it ended\n";
        else
            out << "seen after " << *f.detectS << " s, not recovered by the end\n";
    }
    out << verdictSummary(r.verdict);
    if (!out.str().empty() && out.str().back() != '\n')
        out << "\n";
    for (const auto &e : r.expectations)
        out << "  expect " << e.text << ": " << (e.ok ? "ok" : "FAILED") << " (actual "
            << e.actual << ")\n";
    out << (r.passed() ? "PASSED" : "FAILED") << "\n";
    return out.str();
}

} // namespace eddy::sim
