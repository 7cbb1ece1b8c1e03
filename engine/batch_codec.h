#pragma once

#include "byte_codec.h"
#include "record.h"
#include "result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eddy {

// The record-batch format, in memory (RecordBatch::encoded) and on disk (the batches.payload
// blob) alike: a version byte, the record count and the first record's timestamp, then per
// record the offset delta (varint), the timestamp delta (zigzag) against the first timestamp,
// the key (zigzag length, -1 = no key, then the bytes), the header count, each header's key and
// value (length-prefixed) and the value (length-prefixed). A 100-byte value with no key and no
// header costs 5 or 6 bytes over its payload. Offsets are implied by the batch's base offset.

// Encodes records whose offsets are baseOffset, baseOffset + 1, ... (offsets are written as
// deltas, so a gap makes a blob that decodes as corrupt).
std::string encodeBatchRecords(int64_t baseOffset, const std::vector<Record> &records);

// The record count in a blob's header, without reading the records (0 when the header is not
// readable): for accounting before the blob is checked.
uint64_t batchRecordCount(std::string_view blob);

// The blob with its base timestamp replaced by baseTs, the records as they were: every record's
// timestamp moves by the same amount. For a produced batch whose records all asked for the append
// time (timestamps 0), which the broker sets without decoding them. Empty when the header is not
// readable.
std::string withBaseTimestamp(std::string_view blob, int64_t baseTs);

// Builds one batch in this format a record at a time, as a producer accumulates records: each
// record is encoded once, when it is added, and is never held as a Record.
class BatchBuilder
{
public:
    // Appends record at the next offset (its own offset is ignored); its timestamp is written
    // relative to the first record's.
    void add(const Record &record);
    // Makes room for bytes of encoded records, so adding them does not reallocate.
    void reserve(std::size_t bytes) { m_body.reserve(bytes); }
    // Records added so far.
    uint64_t count() const { return m_count; }
    // Their payload bytes (recordPayloadBytes summed).
    std::size_t payloadBytes() const { return m_bytes; }
    // The whole batch, header and records, as encodeBatchRecords(0, records) would write it.
    // Leaves the builder empty.
    std::string take();

private:
    uint64_t m_count = 0;
    int64_t m_baseTs = 0;
    std::size_t m_bytes = 0;
    std::string m_body; // the records, encoded against offset 0 and m_baseTs
};

// Decodes a blob written by encodeBatchRecords into out (replacing its contents), offsets
// starting at baseOffset. Fails with CorruptStore on any truncation or inconsistency, leaving
// out unspecified.
Result<void> decodeBatchRecords(std::string_view blob, int64_t baseOffset,
                                std::vector<Record> &out);

// One record of an encoded batch, viewed in place: the views point into the blob and are valid
// while it lives.
struct RecordView {
    int64_t offset = 0;
    int64_t timestamp = 0;
    std::optional<std::string_view> key;
    uint64_t headerCount = 0;
    std::string_view headers; // headerCount length-prefixed key/value pairs, encoded
    std::string_view value;
    std::size_t payloadBytes = 0; // as recordPayloadBytes of the decoded record

    // The record as an owning Record (decodes the headers).
    Record toRecord() const;
};

// Walks an encoded batch record by record without allocating, checking the format as it goes:
// next() returns false at the end and on corruption; error() tells which (an error once the
// blob is found corrupt, including a count that does not match the records present).
class BatchCursor
{
public:
    BatchCursor(std::string_view blob, int64_t baseOffset);

    // The record count from the blob's header (0 when the header itself is corrupt).
    uint64_t count() const { return m_count; }
    // Reads the next record into view; false at the end of the batch or on corruption.
    bool next(RecordView &view);
    // Set once the blob was found corrupt.
    std::optional<Error> error() const;
    // What was wrong with it (nullptr while it reads fine): for an error of another code.
    const char *failure() const { return m_error; }

private:
    bool fail(const char *what);
    std::size_t position() const { return m_blob.size() - m_reader.remaining(); }

    std::string_view m_blob;
    ByteReader m_reader;
    int64_t m_baseOffset;
    uint64_t m_count = 0;
    uint64_t m_index = 0;
    int64_t m_baseTs = 0;
    const char *m_error = nullptr;
};

// Builds one batch out of batches whose offsets follow each other, re-encoding their records
// against the first one's base offset and timestamp. The store writer uses it to write a run of
// small batches of one partition as one row: SQLite's cost is per row, and an unbatched producer
// makes a batch of one record per request.
class BatchMerger
{
public:
    // No batch taken yet.
    bool empty() const { return m_count == 0; }
    // The offset after the last record taken (meaningful once not empty).
    int64_t endOffset() const { return m_baseOffset + static_cast<int64_t>(m_count); }
    // Encoded bytes taken so far (records only, without the batch header).
    std::size_t size() const { return m_body.size(); }
    // Takes batch's records (copied: batch may go once this returns). False, taking nothing, when
    // batch does not start at endOffset() (unless empty), carries an idempotent producer's
    // sequence (one producer row per batch), or its blob is corrupt.
    bool append(const RecordBatch &batch);
    // Takes the records at and after fromOffset of a stored batch (blob at baseOffset, with
    // maxTimestamp and appendTimeUs of its row): what is left of it after retention cut it.
    // The merger must be empty. Fails with CorruptStore on a corrupt blob (nothing is taken)
    // and with OffsetOutOfRange when no record of the batch is at or after fromOffset.
    Result<void> takeTail(std::string_view blob, int64_t baseOffset, int64_t fromOffset,
                          int64_t maxTimestamp, int64_t appendTimeUs);
    // The merged batch: base offset of the first batch taken, the records of all, the latest
    // append time and timestamp, summed bytes, no producer. Leaves the merger empty.
    RecordBatch take();

private:
    // Re-encodes the records of blob at or after fromOffset onto m_body; false on corruption or
    // when expected (if not 0) is not the count taken, m_body then as before. Sets the base
    // offset and timestamp from the first record taken when the merger is empty. The count and
    // payload bytes of the records taken go to taken and bytes.
    bool appendRecords(std::string_view blob, int64_t baseOffset, int64_t fromOffset,
                       uint64_t expected, uint64_t &taken, std::size_t &bytes);

    int64_t m_baseOffset = 0;
    int64_t m_baseTs = 0;
    uint64_t m_count = 0;
    int64_t m_appendTimeUs = 0;
    int64_t m_maxTimestamp = 0;
    std::size_t m_bytes = 0;
    std::string m_body; // the records, encoded against m_baseOffset and m_baseTs
};

} // namespace eddy
