#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace eddy {

// Kafka's murmur2 (Utils.murmur2 in the Java client): the same 32-bit hash for the same bytes.
int32_t murmur2(std::string_view data);

// Kafka's default partition for a key: toPositive(murmur2(key)) % partitions, so a key lands on
// the same partition number as with Kafka's Java client.
int32_t keyPartition(std::string_view key, int32_t partitions);

// Chooses a partition per record: an explicit partition is honoured, a keyed record goes where
// Kafka's default partitioner puts it, and un-keyed records go round-robin. Thread-safe.
class Partitioner
{
public:
    // partitions > 0. explicitPartition may be out of range: callers validate it separately.
    int32_t choose(std::optional<int32_t> explicitPartition, const std::optional<std::string> &key,
                   int32_t partitions);

private:
    std::atomic<uint32_t> m_next{0};
};

} // namespace eddy
