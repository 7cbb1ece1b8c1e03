// The Kafka requests and responses of `eddy bench --kafka`, shared by its produce workload
// (kafka_bench_load.cpp) and its end-to-end one (kafka_bench_e2e.cpp): Produce v8 and Fetch v4
// frames built with the listener's own codec, their responses parsed, and the blocking socket
// helpers of the end-to-end workload. The versions are ones kcat and librdkafka use against
// the listener, so the bench measures the path those clients take.
#include "kafka_bench_wire.h"

#include "kafka_bench_load.h"
#include "kafka_codec.h"
#include "kafka_records.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace eddy::sim {

using namespace kafka;

namespace {

constexpr int16_t kFetchApi = 1;
constexpr int16_t kFetchVersion = 4;
// Bytes a fetch may return: far more than the end-to-end workload's records between fetches.
constexpr int32_t kFetchMaxBytes = 64 << 20;
// How long a send may wait for the broker to take bytes (SO_SNDTIMEO).
constexpr int kSendTimeoutSeconds = 5;
// A response frame larger than this is taken for a malformed one.
constexpr int32_t kMaxFrameBytes = 256 << 20;

// Fixed part of a v2 record batch header up to and including lastOffsetDelta: baseOffset (8),
// batchLength (4), partitionLeaderEpoch (4), magic (1), crc (4), attributes (2).
constexpr std::size_t kLastOffsetDeltaAt = 23;
constexpr std::size_t kBatchOverhead = 12; // baseOffset and batchLength, outside batchLength

} // namespace

int16_t kafkaAcks(Acks acks)
{
    switch (acks) {
    case Acks::None: return 0;
    case Acks::Leader: return 1;
    case Acks::Durable: return -1;
    }
    return 1;
}

std::string produceFrame(const std::string &topic, int32_t partition, int16_t acks,
                         const std::string &value, int count)
{
    std::vector<Record> records(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        records[static_cast<std::size_t>(i)].offset = i;
        records[static_cast<std::size_t>(i)].timestamp = -1; // no timestamp: append time
        records[static_cast<std::size_t>(i)].value = value;
    }
    std::string set;
    appendRecordBatch(set, records, 0, records.size());
    std::string frame;
    KafkaWriter w(frame);
    w.i32(0);
    w.i16(0); // Produce
    w.i16(8);
    w.i32(0); // correlation id
    w.string("eddy-bench");
    w.nullableString(std::nullopt);
    w.i16(acks);
    w.i32(30000);
    w.arrayLength(1);
    w.string(topic);
    w.arrayLength(1);
    w.i32(partition);
    w.bytes(set);
    w.patchI32(0, static_cast<int32_t>(frame.size() - 4));
    return frame;
}

void setCorrelationId(std::string &out, std::size_t at, int32_t id)
{
    KafkaWriter(out).patchI32(at + 8, id);
}

int16_t produceError(std::string_view body, std::string &message)
{
    KafkaReader r(body);
    r.arrayLength();
    r.string();
    r.arrayLength();
    r.i32();
    const int16_t error = r.i16();
    r.i64();
    r.i64();
    r.i64();
    r.arrayLength(0);
    if (auto m = r.nullableString())
        message = std::string(*m);
    return r.ok() ? error : int16_t(-100);
}

std::string fetchFrame(int32_t correlationId, const std::string &topic, int32_t partition,
                       int64_t offset, int32_t waitMs)
{
    std::string frame;
    KafkaWriter w(frame);
    w.i32(0);
    w.i16(kFetchApi);
    w.i16(kFetchVersion);
    w.i32(correlationId);
    w.string("eddy-bench");
    w.i32(-1); // replica_id: a consumer
    w.i32(waitMs);
    w.i32(1); // min_bytes: answer as soon as there is anything
    w.i32(kFetchMaxBytes);
    w.i8(0); // isolation_level
    w.arrayLength(1);
    w.string(topic);
    w.arrayLength(1);
    w.i32(partition);
    w.i64(offset);
    w.i32(kFetchMaxBytes);
    w.patchI32(0, static_cast<int32_t>(frame.size() - 4));
    return frame;
}

Result<FetchedRecords> parseFetchResponse(std::string_view body)
{
    KafkaReader r(body);
    r.i32(); // throttle_time_ms
    const bool oneTopic = r.arrayLength() == 1;
    r.string();
    const bool onePartition = r.arrayLength() == 1;
    r.i32(); // partition
    FetchedRecords out;
    out.error = r.i16();
    r.i64(); // high_watermark
    r.i64(); // last_stable_offset
    const int32_t aborted = r.arrayLength(16, true);
    for (int32_t i = 0; i < aborted && r.ok(); ++i) {
        r.i64();
        r.i64();
    }
    const auto set = r.nullableBytes();
    if (!r.ok() || !oneTopic || !onePartition)
        return makeError(Errc::InvalidRequest,
                         std::string("malformed Fetch response: ")
                             + (r.ok() ? "not the one partition asked for" : r.failure()));
    if (!set || out.error != 0)
        return out;
    // Whole batches only: the end of a set can be a batch cut short by max_bytes.
    std::size_t whole = 0;
    while (set->size() - whole >= kLastOffsetDeltaAt + 4) {
        KafkaReader h(set->substr(whole, kLastOffsetDeltaAt + 4));
        const int64_t base = h.i64();
        const int32_t length = h.i32();
        h.raw(kLastOffsetDeltaAt - kBatchOverhead);
        const int32_t lastDelta = h.i32();
        if (length < 0 || set->size() - whole - kBatchOverhead < static_cast<std::size_t>(length))
            break;
        whole += kBatchOverhead + static_cast<std::size_t>(length);
        out.nextOffset = base + lastDelta + 1;
    }
    if (whole == 0)
        return out; // nothing came (a long-poll that ran out), or only a batch cut short
    if (const RecordSetError e = decodeRecordSet(set->substr(0, whole), out.records);
        e.code != KafkaError::None)
        return makeError(Errc::InvalidRequest, "Fetch response's records: " + e.message);
    return out;
}

Result<int> connectKafka(const KafkaTarget &target)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(target.port));
    if (::inet_pton(AF_INET, target.host.c_str(), &a.sin_addr) != 1)
        return makeError(Errc::InvalidRequest, "not an IPv4 address: " + target.host);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        const std::string why = std::strerror(errno);
        if (fd >= 0)
            ::close(fd);
        return makeError(Errc::Timeout, "cannot connect to " + target.host + ":"
                                            + std::to_string(target.port) + ": " + why);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A broker that stops reading fills the socket buffers; the open-loop pacer's next send
    // would then block for good. Bounded, it fails instead and the run ends.
    timeval limit{};
    limit.tv_sec = kSendTimeoutSeconds;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    return fd;
}

bool readFrame(int fd, std::string &body, std::string &why)
{
    const auto readExactly = [&](char *to, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::recv(fd, to + got, n - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                why = r == 0 ? "connection closed by the broker"
                             : "connection failed: " + std::string(std::strerror(errno));
                return false;
            }
            got += static_cast<std::size_t>(r);
        }
        return true;
    };
    char prefix[4];
    if (!readExactly(prefix, sizeof prefix))
        return false;
    KafkaReader r(std::string_view(prefix, sizeof prefix));
    const int32_t size = r.i32();
    if (size < 4 || size > kMaxFrameBytes) {
        why = "malformed response: size " + std::to_string(size);
        return false;
    }
    body.resize(static_cast<std::size_t>(size));
    return readExactly(body.data(), body.size());
}

} // namespace eddy::sim
