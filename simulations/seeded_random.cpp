// Deterministic randomness for reproducible simulation runs: SplitMix64 for the bits, and
// distributions written out by hand so a seed means the same run everywhere.
#include "seeded_random.h"

#include <algorithm>
#include <cmath>

namespace eddy::sim {

uint64_t SeededRandom::next()
{
    uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double SeededRandom::uniform()
{
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

uint64_t SeededRandom::below(uint64_t n)
{
    // Lemire's multiply-shift with rejection: unbiased for every n.
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
        if (static_cast<uint64_t>(m) >= threshold)
            return static_cast<uint64_t>(m >> 64);
    }
}

double SeededRandom::exponential(double mean)
{
    return -mean * std::log1p(-uniform());
}

SeededRandom SeededRandom::fork(uint64_t stream)
{
    return SeededRandom(next() ^ (stream * 0xd1342543de82ef95ULL));
}

ZipfSampler::ZipfSampler(uint64_t n, double s)
{
    m_cumulative.reserve(n);
    double sum = 0;
    for (uint64_t k = 0; k < n; ++k) {
        sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
        m_cumulative.push_back(sum);
    }
    for (auto &c : m_cumulative)
        c /= sum;
}

uint64_t ZipfSampler::sample(SeededRandom &random) const
{
    const double u = random.uniform();
    const auto it = std::lower_bound(m_cumulative.begin(), m_cumulative.end(), u);
    return static_cast<uint64_t>(
        std::min<std::ptrdiff_t>(it - m_cumulative.begin(),
                                 static_cast<std::ptrdiff_t>(m_cumulative.size()) - 1));
}

} // namespace eddy::sim
