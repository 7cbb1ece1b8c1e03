#pragma once

#include "errc.h"
#include "record.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::kafka {

// Kafka's error codes that the listener sends (kafka.apache.org/protocol#protocol_error_codes).
enum class KafkaError : int16_t {
    None = 0,
    UnknownServerError = -1,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    LeaderNotAvailable = 5,
    RequestTimedOut = 7,
    MessageTooLarge = 10,
    InvalidTopicException = 17,
    RecordListTooLarge = 18,
    NotEnoughReplicas = 19,
    InvalidRequiredAcks = 21,
    InvalidPartitions = 37,
    TopicAlreadyExists = 36,
    InvalidReplicationFactor = 38,
    InvalidConfig = 40,
    UnsupportedVersion = 35,
    InvalidRequest = 42,
    UnsupportedForMessageFormat = 43,
    PolicyViolation = 44,
    KafkaStorageError = 56,
    UnsupportedCompressionType = 76,
    InvalidRecord = 87,
};

// Kafka's nearest error code for an engine error.
KafkaError toKafkaError(Errc code);

// What decoding a produce request's record set found wrong: Kafka's error code for the
// partition and a sentence for the response's error_message and the broker's event log.
struct RecordSetError {
    KafkaError code = KafkaError::None;
    std::string message;
};

// Decodes the records of a produce request's record set: one or more record batches of the v2
// format (magic 2, kafka.apache.org/documentation/#recordbatch), uncompressed, checking each
// batch's length, CRC-32C, record count and offset deltas. Record timestamps are the batch's
// base timestamp plus their delta (a base of -1, no timestamp, becomes 0: the broker's append
// time); a null value or header value becomes empty (Eddy's records have no null value).
// Appends to out and returns code None, or the first error (out then unspecified). Older
// formats (magic 0/1), compression, transactional and control batches are refused with the
// error Kafka uses for them.
RecordSetError decodeRecordSet(std::string_view set, std::vector<Record> &out);

// Appends one v2 record batch (uncompressed, CreateTime, no producer id) holding records, whose
// offsets must be ascending: the base offset is the first record's, each record's delta is its
// distance from it. Nothing is written for no records.
void appendRecordBatch(std::string &out, const std::vector<Record> &records,
                       std::size_t first, std::size_t count);

} // namespace eddy::kafka
