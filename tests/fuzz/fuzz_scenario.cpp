// libFuzzer harness for the scenario parser (simulations/scenario_reader.cpp): any bytes go
// through parseScenario, which must answer a Scenario or a located error, never crash. A
// scenario that parses must survive scenarioToJson -> parseScenario unchanged (what the studio
// saves, it can open again), apart from line numbers.
#include "fuzz_check.h"
#include "scenario.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace eddy::sim;

namespace {

// Scenario::operator== compares where each part stood in its file; two texts of one scenario
// differ there.
Scenario withoutLines(Scenario s)
{
    for (auto &t : s.topics)
        t.line = 0;
    for (auto &svc : s.services)
        svc.line = 0;
    for (auto &f : s.faults)
        f.line = 0;
    return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    auto scenario = parseScenario(text);
    if (!scenario) {
        EDDY_FUZZ_CHECK(!scenario.error().message.empty());
        return 0;
    }
    auto again = parseScenario(scenarioToJson(*scenario));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(withoutLines(*again) == withoutLines(*scenario));
    return 0;
}
