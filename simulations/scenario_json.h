#pragma once

// Private to the scenario reader (scenario_parser.h) and scenario_writer.cpp: what reading and
// writing scenario files share. Not installed, not for other users of eddy_sim.

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <string>

namespace eddy::sim {

// Ordered, so event fields keep the order they were written in.
using Json = nlohmann::ordered_json;

// A number for messages and expectation text: whole numbers without a fraction, others with up
// to 15 significant digits.
inline std::string formatNumber(double v)
{
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
        return std::to_string(static_cast<long long>(v));
    std::ostringstream out;
    out.precision(15);
    out << v;
    return out.str();
}

} // namespace eddy::sim
