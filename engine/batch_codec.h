#pragma once

#include "record.h"
#include "result.h"

#include <string>
#include <string_view>

namespace eddy {

// Encodes the records of a batch into the blob stored in SQLite: a version byte, then per record
// the offset delta, timestamp delta (zigzag) against the batch's first timestamp, the key
// (zigzag length, -1 = no key), the headers and the value. Offsets are implied by baseOffset.
std::string encodeBatchRecords(const RecordBatch &batch);

// Decodes a blob written by encodeBatchRecords into batch.records, offsets starting at
// batch.baseOffset. Fails with CorruptStore on any truncation or inconsistency.
Result<void> decodeBatchRecords(std::string_view blob, RecordBatch &batch);

} // namespace eddy
