#pragma once

#include "bench_load.h"

#include <string>
#include <vector>

namespace eddy::sim {

// Where a Kafka-protocol bench connects: an IPv4 address and port.
struct KafkaTarget {
    std::string host = "127.0.0.1";
    int port = 9092;
};

// The target of "host:port" or "tcp://host:port" (the port after the last ':').
KafkaTarget kafkaTargetOf(const std::string &address);

// The produce workload over Kafka's wire protocol: o.connections connections (connection c to
// topic c % topics.size(), partition (c / topics.size()) % o.partitions), each sending Produce v8
// requests of o.batch records of o.recordSize bytes with o.acks (none: 0, leader: 1, durable:
// -1) and up to o.inflight of them pipelined, until o.records are acknowledged. The topics must
// exist. Latencies are per request, from its send to its response; a failed request counts in
// errors, not in records.
Result<BenchResult> measureKafkaProduce(const BenchOptions &o, const KafkaTarget &target,
                                        const std::vector<TopicInfo> &topics);

// The e2e workload over Kafka's wire protocol: one consumer connection per partition of every
// topic, each long-polling with Fetch v4 (o.fetchWaitMs) from offset 0, and o.connections
// producer connections (assigned as for produce) sending Produce v8 requests of up to o.batch
// records at o.rate records/s in all until o.records are sent. Latency per record, from when it
// was due to be sent to when a consumer decoded it; records not consumed within 10 s (plus the
// wait) of the last send count as errors, as do failed produce and fetch requests.
Result<BenchResult> measureKafkaE2e(const BenchOptions &o, const KafkaTarget &target,
                                    const std::vector<TopicInfo> &topics);

// o.workload (produce or e2e) over Kafka's wire protocol: one of the two above.
Result<BenchResult> measureKafka(const BenchOptions &o, const KafkaTarget &target,
                                 const std::vector<TopicInfo> &topics);

} // namespace eddy::sim
