// Kafka's record batch format v2 (magic 2), decoded from produce requests into Eddy's records
// and encoded from fetched records for fetch responses. Only what a broker without compression
// or transactions can honestly accept is accepted: anything else is refused with the error code
// Kafka's own broker uses, so a client reports a clear reason instead of data going astray.
#include "kafka_records.h"

#include "kafka_codec.h"

#include <algorithm>

namespace eddy::kafka {

namespace {

// Bytes of a batch header after its batchLength field: partitionLeaderEpoch, magic, crc,
// attributes, lastOffsetDelta, baseTimestamp, maxTimestamp, producerId, producerEpoch,
// baseSequence and the record count.
constexpr std::size_t kBatchHeaderAfterLength = 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
// Offset of the magic byte from the batch's start: baseOffset, batchLength, leader epoch.
constexpr std::size_t kMagicOffset = 8 + 4 + 4;
// Offset of the attributes, where the CRC's coverage starts.
constexpr std::size_t kCrcStart = kMagicOffset + 1 + 4;

constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kTransactionalBit = 0x10;
constexpr int16_t kControlBit = 0x20;

RecordSetError failed(KafkaError code, std::string message)
{
    return RecordSetError{code, std::move(message)};
}

// One record of a batch (its length already read and bounded by reader).
bool decodeRecord(KafkaReader &r, int64_t baseTimestamp, int32_t expectedDelta, Record &out,
                  std::string &why)
{
    r.i8(); // attributes: unused by the format
    const int64_t timestampDelta = r.varint();
    const int32_t offsetDelta = r.varint32();
    if (r.ok() && offsetDelta != expectedDelta) {
        why = "record offset delta " + std::to_string(offsetDelta) + " where "
              + std::to_string(expectedDelta) + " was expected";
        return false;
    }
    const int32_t keyLength = r.varint32();
    if (keyLength >= 0)
        out.key = std::string(r.raw(static_cast<std::size_t>(keyLength)));
    else if (keyLength != -1)
        r.fail("negative key length");
    const int32_t valueLength = r.varint32();
    if (valueLength >= 0)
        out.value.assign(r.raw(static_cast<std::size_t>(valueLength)));
    else if (valueLength != -1)
        r.fail("negative value length");
    const int32_t headerCount = r.varint32();
    if (r.ok() && (headerCount < 0 || static_cast<std::size_t>(headerCount) > r.remaining())) {
        why = "header count " + std::to_string(headerCount) + " does not fit the record";
        return false;
    }
    out.headers.reserve(static_cast<std::size_t>(std::max(0, headerCount)));
    for (int32_t h = 0; r.ok() && h < headerCount; ++h) {
        Header header;
        const int32_t kl = r.varint32();
        if (kl < 0)
            r.fail("negative header key length");
        header.key.assign(r.raw(static_cast<std::size_t>(std::max(0, kl))));
        const int32_t vl = r.varint32();
        if (vl >= 0)
            header.value.assign(r.raw(static_cast<std::size_t>(vl)));
        else if (vl != -1)
            r.fail("negative header value length");
        out.headers.push_back(std::move(header));
    }
    out.timestamp = baseTimestamp < 0 ? 0 : baseTimestamp + timestampDelta;
    if (!r.ok()) {
        why = std::string("record: ") + r.failure();
        return false;
    }
    return true;
}

RecordSetError decodeBatch(std::string_view batch, std::vector<Record> &out)
{
    KafkaReader r(batch);
    r.i64(); // baseOffset: the broker assigns offsets
    r.i32(); // batchLength: checked by the caller
    r.i32(); // partitionLeaderEpoch
    r.i8();  // magic: checked by the caller
    const uint32_t crc = r.u32();
    const int16_t attributes = r.i16();
    const int32_t lastOffsetDelta = r.i32();
    const int64_t baseTimestamp = r.i64();
    r.i64(); // maxTimestamp
    r.i64(); // producerId: idempotence needs InitProducerId, which this listener does not offer
    r.i16(); // producerEpoch
    r.i32(); // baseSequence
    const int32_t count = r.i32();
    if (crc32c(batch.substr(kCrcStart)) != crc)
        return failed(KafkaError::CorruptMessage, "record batch fails its CRC-32C check");
    if (attributes & kCompressionMask)
        return failed(KafkaError::UnsupportedCompressionType,
                      "compressed record batches are not supported (compression.type=none)");
    if (attributes & (kTransactionalBit | kControlBit))
        return failed(KafkaError::InvalidRecord,
                      "transactional and control batches are not supported");
    // Every record takes at least 7 bytes (length, attributes, three varints, two lengths).
    if (count <= 0 || static_cast<std::size_t>(count) > r.remaining() / 7)
        return failed(KafkaError::CorruptMessage,
                      "record count " + std::to_string(count) + " does not fit the batch");
    if (lastOffsetDelta != count - 1)
        return failed(KafkaError::InvalidRecord,
                      "lastOffsetDelta " + std::to_string(lastOffsetDelta) + " does not match "
                          + std::to_string(count) + " records");
    out.reserve(out.size() + static_cast<std::size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
        const int32_t length = r.varint32();
        if (!r.ok() || length < 0 || static_cast<std::size_t>(length) > r.remaining())
            return failed(KafkaError::CorruptMessage,
                          "record " + std::to_string(i) + " is longer than its batch");
        KafkaReader rec(r.raw(static_cast<std::size_t>(length)));
        Record record;
        std::string why;
        if (!decodeRecord(rec, baseTimestamp, i, record, why))
            return failed(KafkaError::CorruptMessage, "record " + std::to_string(i) + ": " + why);
        if (!rec.atEnd())
            return failed(KafkaError::CorruptMessage,
                          "record " + std::to_string(i) + " has bytes past its fields");
        out.push_back(std::move(record));
    }
    if (!r.atEnd())
        return failed(KafkaError::CorruptMessage, "record batch has bytes past its records");
    return {};
}

} // namespace

KafkaError toKafkaError(Errc code)
{
    switch (code) {
    case Errc::UnknownTopic:
    case Errc::UnknownPartition:
        return KafkaError::UnknownTopicOrPartition;
    case Errc::InvalidTopicName:
        return KafkaError::InvalidTopicException;
    case Errc::InvalidPartitions:
        return KafkaError::InvalidPartitions;
    case Errc::InvalidConfig:
        return KafkaError::InvalidConfig;
    case Errc::TopicAlreadyExists:
        return KafkaError::TopicAlreadyExists;
    case Errc::OffsetOutOfRange:
    case Errc::InvalidOffset:
        return KafkaError::OffsetOutOfRange;
    case Errc::RecordTooLarge:
        return KafkaError::MessageTooLarge;
    case Errc::BatchTooLarge:
        return KafkaError::RecordListTooLarge;
    case Errc::EmptyBatch:
        return KafkaError::CorruptMessage;
    case Errc::StorageFull:
    case Errc::StorageError:
        return KafkaError::KafkaStorageError;
    case Errc::Timeout:
        return KafkaError::RequestTimedOut;
    // Retriable unavailability: the client waits and retries, as for a leader election.
    case Errc::PartitionOffline:
    case Errc::ShuttingDown:
        return KafkaError::LeaderNotAvailable;
    case Errc::InvalidRequest:
    case Errc::MalformedRequest:
        return KafkaError::InvalidRequest;
    default:
        return KafkaError::UnknownServerError;
    }
}

RecordSetError decodeRecordSet(std::string_view set, std::vector<Record> &out)
{
    if (set.empty())
        return failed(KafkaError::CorruptMessage, "empty record set");
    while (!set.empty()) {
        KafkaReader head(set);
        head.i64();
        const int32_t batchLength = head.i32();
        if (!head.ok() || set.size() < kMagicOffset + 1)
            return failed(KafkaError::CorruptMessage, "truncated record batch header");
        const auto magic = static_cast<int8_t>(set[kMagicOffset]);
        if (magic != 2)
            return failed(KafkaError::UnsupportedForMessageFormat,
                          "message format v" + std::to_string(magic)
                              + " is not supported (record batches of magic 2 only)");
        if (batchLength < static_cast<int32_t>(kBatchHeaderAfterLength)
            || static_cast<std::size_t>(batchLength) > set.size() - 12)
            return failed(KafkaError::CorruptMessage,
                          "record batch length " + std::to_string(batchLength)
                              + " does not match the bytes sent");
        const std::size_t size = 12 + static_cast<std::size_t>(batchLength);
        if (auto e = decodeBatch(set.substr(0, size), out); e.code != KafkaError::None)
            return e;
        set.remove_prefix(size);
    }
    return {};
}

void appendRecordBatch(std::string &out, const std::vector<Record> &records, std::size_t first,
                       std::size_t count)
{
    if (count == 0)
        return;
    const Record &head = records[first];
    int64_t maxTimestamp = head.timestamp;
    for (std::size_t i = first; i < first + count; ++i)
        maxTimestamp = std::max(maxTimestamp, records[i].timestamp);
    KafkaWriter w(out);
    w.i64(head.offset);
    const std::size_t lengthAt = w.position();
    w.i32(0); // batchLength, patched below
    w.i32(0); // partitionLeaderEpoch
    w.i8(2);
    const std::size_t crcAt = w.position();
    w.u32(0); // crc, patched below
    w.i16(0); // attributes: no compression, CreateTime
    w.i32(static_cast<int32_t>(records[first + count - 1].offset - head.offset));
    w.i64(head.timestamp);
    w.i64(maxTimestamp);
    w.i64(-1); // producerId
    w.i16(-1); // producerEpoch
    w.i32(-1); // baseSequence
    w.i32(static_cast<int32_t>(count));
    std::string rec;
    for (std::size_t i = first; i < first + count; ++i) {
        const Record &r = records[i];
        rec.clear();
        KafkaWriter rw(rec);
        rw.i8(0);
        rw.varint(r.timestamp - head.timestamp);
        rw.varint(r.offset - head.offset);
        if (r.key) {
            rw.varint(static_cast<int64_t>(r.key->size()));
            rw.raw(*r.key);
        } else {
            rw.varint(-1);
        }
        rw.varint(static_cast<int64_t>(r.value.size()));
        rw.raw(r.value);
        rw.varint(static_cast<int64_t>(r.headers.size()));
        for (const auto &h : r.headers) {
            rw.varint(static_cast<int64_t>(h.key.size()));
            rw.raw(h.key);
            rw.varint(static_cast<int64_t>(h.value.size()));
            rw.raw(h.value);
        }
        w.varint(static_cast<int64_t>(rec.size()));
        w.raw(rec);
    }
    w.patchI32(lengthAt, static_cast<int32_t>(out.size() - lengthAt - 4));
    w.patchU32(crcAt, crc32c(std::string_view(out).substr(crcAt + 4)));
}

} // namespace eddy::kafka
