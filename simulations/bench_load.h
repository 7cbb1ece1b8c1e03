#pragma once

#include "broker.h"
#include "result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace eddy::sim {

// The workloads of `eddy bench` (docs/performance.md).
enum class BenchWorkload {
    Produce,   // closed-loop produce: each connection keeps `inflight` requests of `batch` records
    Consume,   // fills the topic untimed, then fetches it back: fetch throughput
    Roundtrip, // one record per request, one request in flight per connection: request latency
    E2e,       // open-loop produce at `rate` records/s; latency from send to a long-poll fetch
    // Each connection is a client-library Producer fed one record at a time with `inflight`
    // records outstanding: the batching (linger, one batch in flight per partition) is the
    // library's, as an application using it gets. Latency per record, from send() to its ack.
    Producer,
};

// How a bench run is set up. Records are `recordSize` bytes of value, no key, broker timestamps.
struct BenchOptions {
    BenchWorkload workload = BenchWorkload::Produce;
    std::string brokerUrl;            // empty: an embedded broker on a loopback tcp port
    std::string token;                // access-control token for brokerUrl; empty: none
    std::string dataDir;              // embedded broker's store; empty: a fresh temporary one
    Durability durability = Durability::Fast; // of the embedded broker
    std::string topic;                // empty: fresh "bench-<pid>-<n>" topics, deleted after
    int64_t records = 100000;         // produce/consume/roundtrip: total; e2e: total to send
    std::size_t recordSize = 100;
    int batch = 1000;                 // records per produce request; consume: max per fetch
    Acks acks = Acks::Leader;
    int partitions = 1;               // per topic
    int topics = 1;                   // several: named "<topic>-<i>"
    // Client sockets. Connection c uses topic c % topics, partition (c / topics) % partitions;
    // e2e adds one consumer connection per partition of every topic.
    int connections = 1;
    int inflight = 1;                 // requests in flight per connection (pipelining);
                                      // producer: records outstanding per producer
    int lingerMs = 5;                 // producer: ProducerOptions::lingerMs (batch: batchRecords)
    double rate = 1000;               // e2e: records per second, over all connections
    int fetchWaitMs = 500;            // e2e: long-poll wait of the consumers' fetches
    bool keepTopic = false;           // leave a generated topic in place after the run
    // Produce over Kafka's wire protocol instead of Eddy's binary encoding (produce workload
    // only): to the embedded broker's Kafka listener, or with brokerUrl (still used to create
    // the topics) to kafkaBootstrap ("host:port", IPv4).
    bool kafka = false;
    std::string kafkaBootstrap;
    // Called about once a second during the measured phase (from the calling thread).
    std::function<void(int64_t done, int64_t total, double seconds)> progress;
};

// What a run measured. Latencies are per request (produce, consume, roundtrip) or per record
// (e2e: from the moment it was due to be sent to the moment a consumer decoded it).
struct BenchResult {
    std::string workload;
    std::string transport;  // e.g. "embedded broker, tcp://127.0.0.1:40123, binary encoding"
    int64_t records = 0;    // records produced (consume: fetched) in the measured phase
    int64_t bytes = 0;      // their payload bytes
    int64_t requests = 0;   // producer: produce requests its producers sent, retries included
    int64_t errors = 0;     // failed requests (their records are not counted)
    double seconds = 0;
    double recordsPerS = 0;
    double mbPerS = 0;      // payload megabytes (10^6) per second
    double p50Us = 0, p99Us = 0, p999Us = 0, maxUs = 0;
    std::string firstError; // the first failure's message, when errors > 0
};

// Runs one workload: starts the embedded broker when no URL is given (stopping it after),
// creates the topic, measures, and deletes a generated topic. Fails when the broker cannot be
// started or reached or the topic cannot be created; failed requests during the measured phase
// are counted in errors instead.
Result<BenchResult> runBench(const BenchOptions &options);

// Fills r's latency percentiles and maximum from latenciesNs (sorted here) and its rates from
// r.records, r.bytes and r.seconds: the summary every workload ends with.
void summariseLatencies(BenchResult &r, std::vector<int64_t> &latenciesNs);

// The workload's name as the command line spells it ("produce", "consume", ...).
const char *benchWorkloadName(BenchWorkload workload);

} // namespace eddy::sim
