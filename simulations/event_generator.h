#pragma once

#include "scenario.h"
#include "seeded_random.h"

#include <memory>
#include <string>
#include <vector>

namespace eddy::sim {

// Builds realistic JSON bodies from a producer's event templates, keys from its key spec and
// padding from its payload-size distribution -- all from one seeded source, so the same seed
// gives the same records.
class EventGenerator
{
public:
    EventGenerator(const ServiceSpec &service, uint64_t seed);

    struct Event {
        std::string type;
        std::optional<std::string> key;
        std::string body; // a JSON object
    };
    // The next event; sequence is the producer's record number (used by "seq" fields).
    Event next(int64_t sequence, int64_t nowMs);

private:
    std::string field(const std::string &generator, int64_t sequence, int64_t nowMs);

    const ServiceSpec &m_service;
    SeededRandom m_random;
    std::unique_ptr<ZipfSampler> m_zipf;
    double m_totalWeight = 0;
};

// A value drawn from a distribution (never negative).
double sample(const Distribution &d, SeededRandom &random);

} // namespace eddy::sim
