// Kafka-compatible partitioning. murmur2 is a line-for-line port of the Java client's
// Utils.murmur2 (seed 0x9747b28c, signed 32-bit arithmetic done here in unsigned to stay defined)
// because users mix Eddy with Kafka tooling and expect a key's partition to match.
#include "partitioner.h"

#include <string>

namespace eddy {

int32_t murmur2(std::string_view data)
{
    const uint32_t length = static_cast<uint32_t>(data.size());
    const uint32_t seed = 0x9747b28c;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = seed ^ length;
    const uint32_t length4 = length / 4;
    const auto byteAt = [&](uint32_t i) {
        return static_cast<uint32_t>(static_cast<uint8_t>(data[i]));
    };

    for (uint32_t i = 0; i < length4; ++i) {
        const uint32_t i4 = i * 4;
        uint32_t k = byteAt(i4) | (byteAt(i4 + 1) << 8) | (byteAt(i4 + 2) << 16)
                     | (byteAt(i4 + 3) << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    // The Java switch falls through from the highest remaining byte down.
    switch (length % 4) {
    case 3:
        h ^= byteAt((length & ~3u) + 2) << 16;
        [[fallthrough]];
    case 2:
        h ^= byteAt((length & ~3u) + 1) << 8;
        [[fallthrough]];
    case 1:
        h ^= byteAt(length & ~3u);
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<int32_t>(h);
}

int32_t keyPartition(std::string_view key, int32_t partitions)
{
    // Kafka's toPositive is `n & 0x7fffffff`, not abs().
    const uint32_t positive = static_cast<uint32_t>(murmur2(key)) & 0x7fffffffu;
    return static_cast<int32_t>(positive % static_cast<uint32_t>(partitions));
}

int32_t Partitioner::choose(std::optional<int32_t> explicitPartition,
                            const std::optional<std::string> &key, int32_t partitions)
{
    if (explicitPartition)
        return *explicitPartition;
    if (key)
        return keyPartition(*key, partitions);
    return static_cast<int32_t>(m_next.fetch_add(1, std::memory_order_relaxed)
                                % static_cast<uint32_t>(partitions));
}

} // namespace eddy
