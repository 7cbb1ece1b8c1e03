#pragma once

#include <cstdint>
#include <vector>

namespace eddy::sim {

// A seeded random source for simulations: the same seed gives the same sequence on every
// platform and standard library (std::distributions are not portable, so none is used here).
// Not thread-safe; give each simulated actor its own, seeded from the scenario seed.
class SeededRandom
{
public:
    explicit SeededRandom(uint64_t seed) : m_state(seed) {}

    // The next 64 random bits (SplitMix64).
    uint64_t next();
    // Uniform in [0, 1).
    double uniform();
    // Uniform integer in [0, n); n > 0.
    uint64_t below(uint64_t n);
    // Exponentially distributed with the given mean (inter-arrival times of a Poisson process).
    double exponential(double mean);
    // A child generator whose sequence is independent of this one's continuation.
    SeededRandom fork(uint64_t stream);

private:
    uint64_t m_state;
};

// Draws ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s (Zipf), by inverse
// transform over a precomputed cumulative table. s = 0 is uniform.
class ZipfSampler
{
public:
    ZipfSampler(uint64_t n, double s);
    uint64_t sample(SeededRandom &random) const;

private:
    std::vector<double> m_cumulative;
};

} // namespace eddy::sim
