#pragma once

#include "broker.h"
#include "result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::sim {

struct KafkaTarget;

// Kafka's acks for an Eddy acks level: none 0, leader 1, durable -1 (all).
int16_t kafkaAcks(Acks acks);

// A Produce v8 request frame (size prefix included) for count records of value to one
// partition; the correlation id (at byte 8) is 0, for the caller to patch per send.
std::string produceFrame(const std::string &topic, int32_t partition, int16_t acks,
                         const std::string &value, int count);

// Overwrites the correlation id of a request frame starting at `at` in out.
void setCorrelationId(std::string &out, std::size_t at, int32_t id);

// The error code of a one-partition Produce v8 response body (after the correlation id), and
// its message; -100 when it does not parse.
int16_t produceError(std::string_view body, std::string &message);

// A Fetch v4 request frame (size prefix included) for one partition from offset, long-polling
// up to waitMs for at least one byte; correlation id as given.
std::string fetchFrame(int32_t correlationId, const std::string &topic, int32_t partition,
                       int64_t offset, int32_t waitMs);

// What a one-partition Fetch v4 response said.
struct FetchedRecords {
    int16_t error = 0;          // Kafka's error code for the partition
    int64_t nextOffset = -1;    // after the last whole batch; -1 when it held none
    std::vector<Record> records; // values of every whole batch (offsets not set)
};

// Parses a one-partition Fetch v4 response body (after the correlation id). Fails with a
// sentence when it is malformed or its record batches do not decode; a batch cut short at the
// end (max_bytes) is left for the next fetch, as Kafka's clients do.
Result<FetchedRecords> parseFetchResponse(std::string_view body);

// A blocking TCP connection to target with TCP_NODELAY whose sends give up after 5 s without
// progress (SO_SNDTIMEO: a short count or EAGAIN); the descriptor, or why not. The caller
// closes it.
Result<int> connectKafka(const KafkaTarget &target);

// Reads one response frame (size prefix, then that many bytes) from the blocking socket fd into
// body: false when the connection ended or failed first, or the size is malformed (why says
// which).
bool readFrame(int fd, std::string &body, std::string &why);

} // namespace eddy::sim
