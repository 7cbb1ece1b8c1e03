#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy {

// One ordered header of a record. Keys may repeat, as in Kafka.
struct Header {
    std::string key;
    std::string value;
    bool operator==(const Header &) const = default;
};

// A record as produced and as stored. Keys and values are bytes (std::string holds any octets).
// offset is assigned by the partition log; a timestamp of 0 on produce means "use append time".
struct Record {
    int64_t offset = -1;
    int64_t timestamp = 0; // milliseconds since the Unix epoch
    std::optional<std::string> key;
    std::vector<Header> headers;
    std::string value;
    bool operator==(const Record &) const = default;
};

// The payload bytes a record carries (key + value + header keys and values): the unit of the
// size limits, retention by bytes and bytes/s metrics.
std::size_t recordPayloadBytes(const Record &record);

// An appended batch: contiguous offsets [baseOffset, baseOffset + count). Immutable once
// appended, so readers share it without copying. The records are kept encoded in the format of
// batch_codec.h (the one the store writes), which costs a few bytes per record over the payload;
// readers decode them (BatchCursor) only when they fetch them.
struct RecordBatch {
    int64_t baseOffset = 0;
    int64_t appendTimeUs = 0; // broker clock (microseconds since the epoch) at append
    int64_t maxTimestamp = 0;
    int64_t producerId = -1;  // -1 for non-idempotent batches
    int32_t baseSequence = -1;
    int32_t count = 0;        // records in the batch
    std::size_t bytes = 0;    // sum of recordPayloadBytes
    std::string encoded;      // the records, as encodeBatchRecords(baseOffset, records)

    int64_t lastOffset() const { return baseOffset + count - 1; }
    int64_t endOffset() const { return baseOffset + count; }
    // Heap bytes the batch holds in memory (the tail cache's unit).
    std::size_t memoryBytes() const { return sizeof(RecordBatch) + encoded.capacity(); }
};

using BatchPtr = std::shared_ptr<const RecordBatch>;

} // namespace eddy
