// Kafka requests framed and responses parsed by hand for the listener's tests: Produce, Fetch,
// Metadata and CreateTopics bodies, record sets, and a bounded wait for a condition.
#pragma once

#include "kafka_codec.h"
#include "kafka_records.h"

#include <QElapsedTimer>
#include <QThread>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kafka_test {

using namespace eddy;
using namespace eddy::kafka;


inline std::string produceBody(int16_t acks, const std::string &topic, int32_t partition,
                               const std::string &set)
{
    std::string b;
    KafkaWriter w(b);
    w.nullableString(std::nullopt); // transactional_id
    w.i16(acks);
    w.i32(5000);
    w.arrayLength(1);
    w.string(topic);
    w.arrayLength(1);
    w.i32(partition);
    w.nullableBytes(std::string_view(set));
    return b;
}

inline std::string recordSet(const std::vector<std::string> &values)
{
    std::vector<Record> records;
    for (std::size_t i = 0; i < values.size(); ++i) {
        Record r;
        r.offset = static_cast<int64_t>(i);
        r.timestamp = 1700000000000 + static_cast<int64_t>(i);
        r.key = "key-" + std::to_string(i);
        r.value = values[i];
        r.headers = {{"h", "v" + std::to_string(i)}};
        records.push_back(std::move(r));
    }
    std::string set;
    appendRecordBatch(set, records, 0, records.size());
    return set;
}

struct ProduceReply {
    std::string topic;
    int32_t partition = -1;
    int16_t error = -100;
    int64_t baseOffset = -2;
    std::optional<std::string> message;
};

// A Produce v8 response with one topic and one partition.
inline ProduceReply parseProduce(const std::string &body)
{
    KafkaReader r(body);
    ProduceReply p;
    r.arrayLength();
    p.topic = std::string(r.string());
    r.arrayLength();
    p.partition = r.i32();
    p.error = r.i16();
    p.baseOffset = r.i64();
    r.i64(); // log_append_time_ms
    r.i64(); // log_start_offset
    r.arrayLength(0); // record_errors
    if (auto m = r.nullableString())
        p.message = std::string(*m);
    r.i32(); // throttle
    if (!r.ok() || !r.atEnd())
        p.error = -100;
    return p;
}

inline std::string fetchBody(const std::string &topic, int32_t partition, int64_t offset,
                             int32_t maxWaitMs, int32_t maxBytes = 1 << 20)
{
    std::string b;
    KafkaWriter w(b);
    w.i32(-1);        // replica_id
    w.i32(maxWaitMs);
    w.i32(1);         // min_bytes
    w.i32(maxBytes);  // max_bytes
    w.i8(0);          // isolation_level
    w.i32(0);         // session_id
    w.i32(-1);        // session_epoch
    w.arrayLength(1);
    w.string(topic);
    w.arrayLength(1);
    w.i32(partition);
    w.i32(-1);        // current_leader_epoch
    w.i64(offset);
    w.i64(-1);        // log_start_offset
    w.i32(maxBytes);  // partition_max_bytes
    w.arrayLength(0); // forgotten_topics_data
    w.string("");     // rack_id
    return b;
}

struct FetchReply {
    int16_t topError = -100;
    int16_t error = -100;
    int64_t highWatermark = -2;
    std::vector<Record> records;
    std::vector<int64_t> offsets;
};

// A Fetch v11 response with one topic and one partition; its record batches decoded.
inline FetchReply parseFetch(const std::string &body)
{
    KafkaReader r(body);
    FetchReply f;
    r.i32(); // throttle
    f.topError = r.i16();
    r.i32(); // session_id
    if (r.arrayLength() != 1)
        return f;
    r.string();
    r.arrayLength();
    r.i32();
    f.error = r.i16();
    f.highWatermark = r.i64();
    r.i64(); // last_stable_offset
    r.i64(); // log_start_offset
    r.arrayLength(0, true);
    r.i32(); // preferred_read_replica
    auto set = r.nullableBytes();
    if (!r.ok())
        f.error = -100;
    if (set && !set->empty()) {
        KafkaReader head(*set);
        const int64_t base = head.i64();
        if (decodeRecordSet(*set, f.records).code != KafkaError::None)
            f.error = -101;
        for (std::size_t i = 0; i < f.records.size(); ++i)
            f.offsets.push_back(base + static_cast<int64_t>(i));
    }
    return f;
}

inline std::string metadataBody(const std::optional<std::vector<std::string>> &topics)
{
    std::string b;
    KafkaWriter w(b);
    if (!topics) {
        w.arrayLength(-1);
    } else {
        w.arrayLength(static_cast<int32_t>(topics->size()));
        for (const auto &t : *topics)
            w.string(t);
    }
    w.boolean(false);
    w.boolean(false);
    w.boolean(false);
    return b;
}

inline std::string createTopicBody(const std::string &name, int32_t partitions,
                                   int16_t replication,
                                   const std::vector<std::pair<std::string, std::string>> &configs,
                                   bool validateOnly)
{
    std::string b;
    KafkaWriter w(b);
    w.arrayLength(1);
    w.string(name);
    w.i32(partitions);
    w.i16(replication);
    w.arrayLength(0);
    w.arrayLength(static_cast<int32_t>(configs.size()));
    for (const auto &[k, v] : configs) {
        w.string(k);
        w.nullableString(std::string_view(v));
    }
    w.i32(5000);
    w.boolean(validateOnly);
    return b;
}

// The error code of a CreateTopics v4 response's one topic.
inline int16_t createTopicError(const std::string &body)
{
    KafkaReader r(body);
    r.i32();
    r.arrayLength();
    r.string();
    const int16_t e = r.i16();
    r.nullableString();
    return r.ok() && r.atEnd() ? e : int16_t(-100);
}

inline bool waitFor(const std::function<bool()> &done, int ms = 5000)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > ms)
            return false;
        QThread::msleep(10);
    }
    return true;
}

} // namespace kafka_test
