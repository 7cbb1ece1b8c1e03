// Load generation for `eddy bench`: drives a broker over the binary encoding with the client
// library's Connection (one NNG REQ socket per simulated client) and measures throughput and
// latency. Requests are chained from their completion callbacks (no thread per client), so a
// run with 1,000 connections costs 1,000 sockets, not 1,000 threads. The embedded broker is the
// engine plus its BrokerServer on a loopback tcp port in this process, the path a local client
// really takes; with a URL the same load goes to any broker. The producer workload goes through
// the client library's Producer instead, so it measures what an application gets from it.
#include "bench_load.h"

#include "batch_codec.h"
#include "kafka_bench_load.h"

#include "admin.h"
#include "binary_codec.h"
#include "broker_server.h"
#include "connection.h"
#include "producer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;
using client::Connection;

constexpr int kRequestTimeoutMs = 60000;

int64_t nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
}

struct Phase;

// One client socket and what it measured. The mutex guards the latencies and counters, which
// completion callbacks of its requests (on NNG threads) update.
struct Lane {
    std::shared_ptr<Connection> connection;
    std::unique_ptr<client::Producer> producer; // the producer workload's, instead of connection
    std::string topic;
    int32_t partition = 0;
    std::string frame;          // the full-batch produce frame, encoded once
    int64_t fetchOffset = 0;    // consume/e2e: next offset to fetch
    int64_t fetchEnd = 0;       // consume: stop here
    std::mutex mutex;
    std::vector<int64_t> latenciesNs;
    // The producer workload's phase, reached through the lane so that a record's callback
    // captures two words and fits std::function's inline storage (no allocation per record).
    Phase *phase = nullptr;
    const BenchOptions *options = nullptr;
    int64_t total = 0;
};

// Counters shared by every lane of a phase, and the wake-up of the thread waiting for it.
struct Phase {
    std::atomic<int64_t> claimed{0};  // records handed to requests so far
    std::atomic<int64_t> done{0};     // records completed successfully
    std::atomic<int64_t> requests{0};
    std::atomic<int64_t> errors{0};
    std::atomic<int> active{0};       // requests in flight (closed loop) / consumers running
    std::atomic<bool> stopping{false};
    std::mutex mutex;
    std::condition_variable cv;
    std::string firstError;

    void fail(const Error &e)
    {
        ++errors;
        std::lock_guard lock(mutex);
        if (firstError.empty())
            firstError = std::string(errcName(e.code)) + ": " + e.message;
    }
    void finishOne()
    {
        if (--active == 0) {
            std::lock_guard lock(mutex);
            cv.notify_all();
        }
    }
};

// A produce of count records of value, as the client library's Producer sends it: one encoded
// batch to an explicit partition (the binary protocol's produce_batch op).
std::string makeFrame(const std::string &topic, int32_t partition, int64_t count,
                      const std::string &value, Acks acks)
{
    ProduceRequest req;
    req.topic = topic;
    req.partition = partition;
    req.acks = acks;
    BatchBuilder batch;
    Record record;
    record.value = value;
    for (int64_t i = 0; i < count; ++i)
        batch.add(record);
    req.encoded = batch.take();
    return net::encodeProduceRequest(req);
}

std::string makeFrame(const std::string &topic, int32_t partition, int64_t count,
                      std::size_t size, Acks acks)
{
    return makeFrame(topic, partition, count, std::string(size, 'x'), acks);
}

// Waits until the phase's requests are all finished, reporting progress about once a second.
void waitPhase(Phase &phase, int64_t total, Clock::time_point start,
               const BenchOptions &options, bool report)
{
    std::unique_lock lock(phase.mutex);
    while (phase.active.load() > 0) {
        phase.cv.wait_for(lock, std::chrono::seconds(1));
        if (report && options.progress && phase.active.load() > 0) {
            lock.unlock();
            options.progress(phase.done.load(), total,
                             std::chrono::duration<double>(Clock::now() - start).count());
            lock.lock();
        }
    }
}

// Closed-loop produce: every lane keeps `inflight` requests going until `total` records were
// claimed. A failed request stops its chain (a broker that went away must not turn into a
// busy loop of instant failures); the others go on.
void issueProduce(Lane &lane, Phase &phase, const BenchOptions &o, int64_t total, bool measure)
{
    const int64_t first = phase.claimed.fetch_add(o.batch);
    if (first >= total || phase.stopping) {
        phase.finishOne();
        return;
    }
    const int64_t count = std::min<int64_t>(o.batch, total - first);
    // The lane's full-batch frame is sent as it is (the connection copies it into the
    // request's message); only a short last batch needs a frame of its own.
    std::string shortFrame;
    if (count != o.batch)
        shortFrame = makeFrame(lane.topic, lane.partition, count, o.recordSize, o.acks);
    const int64_t sentAt = nowNs();
    lane.connection->requestAsync(
        count == o.batch ? std::string_view(lane.frame) : std::string_view(shortFrame),
        kRequestTimeoutMs,
        [&lane, &phase, &o, total, measure, count, sentAt](Result<std::string> reply) {
            const int64_t took = nowNs() - sentAt;
            ++phase.requests;
            Result<ProduceResult> result = reply ? net::decodeProduceReply(*reply)
                                                 : Result<ProduceResult>(reply.error());
            if (!result) {
                phase.fail(result.error());
                phase.finishOne();
                return;
            }
            phase.done += count;
            if (measure) {
                std::lock_guard lock(lane.mutex);
                lane.latenciesNs.push_back(took);
            }
            issueProduce(lane, phase, o, total, measure);
        });
}

void runProducePhase(std::vector<std::unique_ptr<Lane>> &lanes, Phase &phase,
                     const BenchOptions &o, int64_t total, bool measure)
{
    const int perLane = std::max(1, o.inflight);
    phase.active = static_cast<int>(lanes.size()) * perLane;
    const auto start = Clock::now();
    for (auto &lane : lanes)
        for (int i = 0; i < perLane; ++i)
            issueProduce(*lane, phase, o, total, measure);
    waitPhase(phase, total, start, o, measure);
}

// The producer workload: a lane's Producer keeps `inflight` records outstanding, the next one
// sent from the ack of the previous (send() only queues, so it may run on the client I/O thread
// that delivers the ack). A failed record stops its chain, as a failed request does in produce.
void issueRecord(Lane &lane)
{
    Phase &phase = *lane.phase;
    if (phase.claimed.fetch_add(1) >= lane.total || phase.stopping) {
        phase.finishOne();
        return;
    }
    Record record;
    record.value.assign(lane.options->recordSize, 'x');
    const int64_t sentAt = nowNs();
    lane.producer->send(lane.topic, std::move(record), lane.partition,
                        [l = &lane, sentAt](const Result<client::DeliveryReport> &report) {
                            const int64_t took = nowNs() - sentAt;
                            if (!report) {
                                l->phase->fail(report.error());
                                l->phase->finishOne();
                                return;
                            }
                            ++l->phase->done;
                            {
                                std::lock_guard lock(l->mutex);
                                l->latenciesNs.push_back(took);
                            }
                            issueRecord(*l);
                        });
}

// Fetches a lane's partition from fetchOffset up to fetchEnd, one request at a time.
void issueFetch(Lane &lane, Phase &phase, const BenchOptions &o)
{
    if (lane.fetchOffset >= lane.fetchEnd || phase.stopping) {
        phase.finishOne();
        return;
    }
    FetchRequest req;
    req.topic = lane.topic;
    req.partition = lane.partition;
    req.offset = lane.fetchOffset;
    req.maxRecords = static_cast<std::size_t>(o.batch);
    req.maxBytes = 64 << 20;
    const int64_t sentAt = nowNs();
    lane.connection->requestAsync(
        net::encodeFetchRequest(req), kRequestTimeoutMs,
        [&lane, &phase, &o, sentAt](Result<std::string> reply) {
            const int64_t took = nowNs() - sentAt;
            ++phase.requests;
            Result<FetchResult> result = reply ? net::decodeFetchReply(*reply)
                                               : Result<FetchResult>(reply.error());
            if (!result || result->records.empty()) {
                if (!result)
                    phase.fail(result.error());
                phase.finishOne();
                return;
            }
            phase.done += static_cast<int64_t>(result->records.size());
            lane.fetchOffset = result->records.back().offset + 1;
            {
                std::lock_guard lock(lane.mutex);
                lane.latenciesNs.push_back(took);
            }
            issueFetch(lane, phase, o);
        });
}

// e2e consumer: long-polls its partition and records, per record, the time since it was due.
// The first 8 bytes of each value carry the due time (steady clock, ns).
void issueTail(Lane &lane, Phase &phase, const BenchOptions &o, int64_t total)
{
    if (phase.stopping || phase.done.load() >= total) {
        phase.finishOne();
        return;
    }
    FetchRequest req;
    req.topic = lane.topic;
    req.partition = lane.partition;
    req.offset = lane.fetchOffset;
    req.maxRecords = 10000;
    req.maxBytes = 64 << 20;
    req.waitMs = o.fetchWaitMs;
    lane.connection->requestAsync(
        net::encodeFetchRequest(req), o.fetchWaitMs + kRequestTimeoutMs,
        [&lane, &phase, &o, total](Result<std::string> reply) {
            const int64_t at = nowNs();
            Result<FetchResult> result = reply ? net::decodeFetchReply(*reply)
                                               : Result<FetchResult>(reply.error());
            if (!result) {
                if (!phase.stopping)
                    phase.fail(result.error());
                phase.finishOne();
                return;
            }
            if (!result->records.empty()) {
                std::lock_guard lock(lane.mutex);
                for (const Record &r : result->records) {
                    int64_t due = 0;
                    if (r.value.size() >= sizeof due)
                        std::memcpy(&due, r.value.data(), sizeof due);
                    lane.latenciesNs.push_back(at - due);
                }
                lane.fetchOffset = result->records.back().offset + 1;
                if ((phase.done += static_cast<int64_t>(result->records.size())) >= total) {
                    std::lock_guard wake(phase.mutex);
                    phase.cv.notify_all();
                }
            }
            issueTail(lane, phase, o, total);
        });
}

double percentile(const std::vector<int64_t> &sorted, double p)
{
    if (sorted.empty())
        return 0;
    auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()));
    rank = std::min(rank, sorted.size() - 1);
    return static_cast<double>(sorted[rank]) / 1000.0;
}

void summarise(BenchResult &r, std::vector<std::unique_ptr<Lane>> &lanes)
{
    std::vector<int64_t> all;
    for (auto &lane : lanes)
        all.insert(all.end(), lane->latenciesNs.begin(), lane->latenciesNs.end());
    summariseLatencies(r, all);
}

// A Producer as the producer workload configures it: `batch` records per batch at most, the
// run's acks and linger, idempotent as Kafka's producers are by default (unless acks is none).
Result<std::unique_ptr<client::Producer>> openProducer(const client::ConnectionOptions &url,
                                                       const BenchOptions &o)
{
    client::ProducerOptions options;
    static_cast<client::ConnectionOptions &>(options) = url;
    options.acks = o.acks;
    options.lingerMs = o.lingerMs;
    options.batchRecords = static_cast<std::size_t>(o.batch);
    options.idempotent = o.acks != Acks::None;
    options.clientId = "eddy-bench";
    return client::Producer::open(options);
}

// Opens count lanes spread over the topics first, then over their partitions: lane i writes or
// reads topic i % topics, partition (i / topics) % partitions, from its high watermark at start.
// With producer set, each lane gets a Producer so configured instead of a Connection.
Result<std::vector<std::unique_ptr<Lane>>> openLanes(const client::ConnectionOptions &url,
                                                     int count,
                                                     const std::vector<TopicInfo> &topics,
                                                     int partitions,
                                                     const BenchOptions *producer = nullptr)
{
    std::vector<std::unique_ptr<Lane>> lanes;
    const int t = static_cast<int>(topics.size());
    for (int i = 0; i < count; ++i) {
        auto lane = std::make_unique<Lane>();
        if (producer) {
            auto p = openProducer(url, *producer);
            if (!p)
                return p.error();
            lane->producer = std::move(*p);
        } else {
            auto c = Connection::open(url);
            if (!c)
                return c.error();
            lane->connection = std::move(*c);
        }
        const TopicInfo &info = topics[static_cast<std::size_t>(i % t)];
        lane->topic = info.name;
        lane->partition = (i / t) % partitions;
        lane->fetchOffset = info.partitionInfo.at(static_cast<std::size_t>(lane->partition))
                                .highWatermark;
        lanes.push_back(std::move(lane));
    }
    return lanes;
}

void closeLanes(std::vector<std::unique_ptr<Lane>> &lanes)
{
    for (auto &lane : lanes) {
        if (lane->producer)
            lane->producer->close();
        else
            lane->connection->close();
    }
}

// The measured part of a run against a broker at url with the topics in place.
Result<BenchResult> measure(const BenchOptions &o, const client::ConnectionOptions &url,
                            const std::vector<TopicInfo> &topics)
{
    BenchResult r;
    r.workload = benchWorkloadName(o.workload);
    // A consume run reads every partition, so it needs at least one lane per partition.
    const int allPartitions = o.partitions * static_cast<int>(topics.size());
    const int connections = o.workload == BenchWorkload::Consume
                                ? std::max(o.connections, allPartitions)
                                : std::max(1, o.connections);
    const bool producers = o.workload == BenchWorkload::Producer;
    auto opened = openLanes(url, connections, topics, o.partitions, producers ? &o : nullptr);
    if (!opened)
        return opened.error();
    auto lanes = std::move(*opened);
    if (!producers)
        for (auto &lane : lanes)
            lane->frame = makeFrame(lane->topic, lane->partition, o.batch, o.recordSize, o.acks);
    Phase phase;

    if (producers) {
        const int perLane = std::max(1, o.inflight);
        phase.active = static_cast<int>(lanes.size()) * perLane;
        for (auto &lane : lanes) {
            lane->phase = &phase;
            lane->options = &o;
            lane->total = o.records;
        }
        const auto start = Clock::now();
        for (auto &lane : lanes)
            for (int i = 0; i < perLane; ++i)
                issueRecord(*lane);
        waitPhase(phase, o.records, start, o, true);
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r.records = phase.done.load();
        for (auto &lane : lanes)
            phase.requests += lane->producer->requestsSent();
    } else if (o.workload == BenchWorkload::Produce || o.workload == BenchWorkload::Roundtrip) {
        const auto start = Clock::now();
        runProducePhase(lanes, phase, o, o.records, true);
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r.records = phase.done.load();
    } else if (o.workload == BenchWorkload::Consume) {
        Phase fill;
        runProducePhase(lanes, fill, o, o.records, false);
        if (fill.errors > 0) {
            closeLanes(lanes);
            return makeError(Errc::Internal, "filling the topic failed: " + fill.firstError);
        }
        for (auto &lane : lanes)
            lane->fetchEnd = std::numeric_limits<int64_t>::max();
        phase.active = static_cast<int>(lanes.size());
        const auto start = Clock::now();
        for (auto &lane : lanes)
            issueFetch(*lane, phase, o);
        // Every lane reads its whole partition (lanes sharing a partition each read all of it).
        const int64_t expected =
            o.records * static_cast<int64_t>(lanes.size()) / allPartitions;
        waitPhase(phase, expected, start, o, true);
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r.records = phase.done.load();
    } else {
        // e2e: one consumer lane per partition, then an open-loop pacer over the producer lanes.
        auto consumers = openLanes(url, allPartitions, topics, o.partitions);
        if (!consumers) {
            closeLanes(lanes);
            return consumers.error();
        }
        phase.active = static_cast<int>(consumers->size());
        for (auto &c : *consumers)
            issueTail(*c, phase, o, o.records);
        Phase sends;
        const double rate = std::max(1.0, o.rate);
        const auto start = Clock::now();
        std::string value(std::max<std::size_t>(o.recordSize, sizeof(int64_t)), 'x');
        int64_t sent = 0;
        for (int64_t k = 0; sent < o.records; ++k) {
            const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(
                                 static_cast<double>(sent) * 1e9 / rate));
            std::this_thread::sleep_until(due);
            Lane &lane = *lanes[static_cast<std::size_t>(k) % lanes.size()];
            const int64_t n = std::min<int64_t>(o.batch, o.records - sent);
            const int64_t dueNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      due.time_since_epoch())
                                      .count();
            std::memcpy(value.data(), &dueNs, sizeof dueNs);
            sent += n;
            ++sends.active;
            lane.connection->requestAsync(makeFrame(lane.topic, lane.partition, n, value, o.acks),
                                          kRequestTimeoutMs,
                                          [&sends](Result<std::string> reply) {
                                              ++sends.requests;
                                              auto res = reply ? net::decodeProduceReply(*reply)
                                                               : Result<ProduceResult>(
                                                                   reply.error());
                                              if (!res)
                                                  sends.fail(res.error());
                                              sends.finishOne();
                                          });
            if (o.progress && k % std::max<int64_t>(1, static_cast<int64_t>(rate)) == 0 && k > 0)
                o.progress(phase.done.load(), o.records,
                           std::chrono::duration<double>(Clock::now() - start).count());
        }
        // Wait for the consumers to see everything (or for lost records to stay lost).
        {
            std::unique_lock lock(phase.mutex);
            phase.cv.wait_for(lock, std::chrono::seconds(10),
                              [&] { return phase.done.load() >= o.records || sends.errors > 0; });
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r.records = phase.done.load();
        // Let the parked long-polls run out rather than closing under them: a socket closed
        // while a request is between its send and its receive has crashed inside NNG 1.5.
        phase.stopping = true;
        {
            std::unique_lock lock(phase.mutex);
            if (!phase.cv.wait_for(lock, std::chrono::milliseconds(o.fetchWaitMs + 5000),
                                   [&] { return phase.active.load() == 0; })) {
                lock.unlock();
                closeLanes(*consumers);
                lock.lock();
                phase.cv.wait(lock, [&] { return phase.active.load() == 0; });
            }
        }
        {
            std::unique_lock lock(sends.mutex);
            sends.cv.wait_for(lock, std::chrono::seconds(10),
                              [&] { return sends.active.load() == 0; });
        }
        phase.requests += sends.requests.load();
        phase.errors += sends.errors.load();
        if (phase.firstError.empty())
            phase.firstError = sends.firstError;
        if (r.records < o.records && phase.errors == 0) {
            phase.errors += o.records - r.records;
            phase.firstError = "records sent but not consumed within 10 s";
        }
        for (auto &c : *consumers)
            lanes.push_back(std::move(c));
    }
    closeLanes(lanes);
    r.bytes = r.records * static_cast<int64_t>(o.recordSize);
    r.requests = phase.requests.load();
    r.errors = phase.errors.load();
    r.firstError = phase.firstError;
    summarise(r, lanes);
    return r;
}

// An engine Broker with its server on a loopback tcp port, in this process.
struct Embedded {
    std::string dir;
    bool ownDir = false;
    std::unique_ptr<Broker> broker;
    std::unique_ptr<net::BrokerServer> server;

    ~Embedded()
    {
        if (server)
            server->stop();
        server.reset();
        if (broker)
            broker->close();
        broker.reset();
        if (ownDir) {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    }
};

Result<std::unique_ptr<Embedded>> startEmbedded(const BenchOptions &o)
{
    auto e = std::make_unique<Embedded>();
    e->dir = o.dataDir;
    if (e->dir.empty()) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "eddy-bench-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            return makeError(Errc::StorageError, "cannot create a temporary directory");
        e->dir = pattern;
        e->ownDir = true;
    }
    BrokerConfig config;
    config.dataDir = e->dir;
    config.durability = o.durability;
    auto broker = Broker::open(config);
    if (!broker)
        return broker.error();
    e->broker = std::move(*broker);
    net::BrokerServerOptions server;
    server.requests.listen = {"tcp://127.0.0.1:0"};
    // Enough work items for every connection's requests plus the e2e consumers' long-polls (a
    // producer has at most one request in flight per partition, not `inflight`).
    const int perConnection =
        o.workload == BenchWorkload::Producer ? o.partitions : std::max(1, o.inflight);
    server.requests.workers =
        std::max(256, (std::max(1, o.connections) * perConnection) + o.partitions + 16);
    // A connection keeps `inflight` requests going, and an e2e consumer connection a long-poll
    // per partition: the slow-consumer cap must not mistake that for a client not reading.
    server.requests.maxInFlightPerConnection =
        std::max(server.requests.maxInFlightPerConnection,
                 std::max(1, o.inflight) + o.partitions + 16);
    server.publish.clear();
    if (o.kafka)
        server.kafkaListen = {"tcp://127.0.0.1:0"};
    auto started = net::BrokerServer::start(*e->broker, server);
    if (!started)
        return started.error();
    e->server = std::move(*started);
    return e;
}

} // namespace

void summariseLatencies(BenchResult &r, std::vector<int64_t> &latenciesNs)
{
    auto &all = latenciesNs;
    std::sort(all.begin(), all.end());
    r.p50Us = percentile(all, 0.50);
    r.p99Us = percentile(all, 0.99);
    r.p999Us = percentile(all, 0.999);
    r.maxUs = all.empty() ? 0 : static_cast<double>(all.back()) / 1000.0;
    r.recordsPerS = r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0;
    r.mbPerS = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
}

const char *benchWorkloadName(BenchWorkload workload)
{
    switch (workload) {
    case BenchWorkload::Produce: return "produce";
    case BenchWorkload::Consume: return "consume";
    case BenchWorkload::Roundtrip: return "roundtrip";
    case BenchWorkload::E2e: return "e2e";
    case BenchWorkload::Producer: return "producer";
    }
    return "?";
}

Result<BenchResult> runBench(const BenchOptions &options)
{
    BenchOptions o = options;
    o.partitions = std::max(1, o.partitions);
    o.topics = std::max(1, o.topics);
    o.batch = std::max(1, o.batch);
    o.lingerMs = std::max(0, o.lingerMs);
    if (o.workload == BenchWorkload::Roundtrip) {
        o.batch = 1;
        o.inflight = 1;
    }
    if (o.kafka && o.workload != BenchWorkload::Produce && o.workload != BenchWorkload::E2e)
        return makeError(Errc::InvalidRequest, "--kafka measures the produce and e2e workloads");
    KafkaTarget kafkaTarget;
    if (o.kafka && !o.brokerUrl.empty()) {
        if (o.kafkaBootstrap.find(':') == std::string::npos)
            return makeError(Errc::InvalidRequest,
                             "--kafka with --broker needs --kafka-bootstrap host:port");
        kafkaTarget = kafkaTargetOf(o.kafkaBootstrap);
    }
    std::unique_ptr<Embedded> embedded;
    std::string url = o.brokerUrl;
    std::string transport;
    std::string encoding = o.kafka ? ", Kafka protocol (Produce v8)" : ", binary encoding";
    if (o.kafka && o.workload == BenchWorkload::E2e)
        encoding = ", Kafka protocol (Produce v8, Fetch v4)";
    if (url.empty()) {
        auto e = startEmbedded(o);
        if (!e)
            return e.error();
        embedded = std::move(*e);
        url = embedded->server->requestUrls().front();
        std::string endpoint = url;
        if (o.kafka) {
            endpoint = embedded->server->kafkaUrls().front();
            kafkaTarget = kafkaTargetOf(endpoint);
        }
        transport = std::string("embedded broker (")
                    + (o.durability == Durability::Durable ? "durable" : "fast") + "), "
                    + endpoint + encoding;
    } else {
        transport = "broker at " + (o.kafka ? o.kafkaBootstrap : url) + encoding;
    }

    client::ConnectionOptions connection;
    connection.url = url;
    connection.token = o.token;
    auto admin = client::Admin::open(connection);
    if (!admin)
        return admin.error();
    static std::atomic<int> counter{0};
    const bool generated = o.topic.empty();
    const std::string base = generated ? "bench-" + std::to_string(getpid()) + "-"
                                             + std::to_string(counter++)
                                       : o.topic;
    std::vector<TopicInfo> topics;
    const auto cleanup = [&] {
        if (generated && !o.keepTopic)
            for (const auto &t : topics)
                (void)(*admin)->deleteTopic(t.name);
    };
    for (int i = 0; i < o.topics; ++i) {
        const std::string name = o.topics == 1 ? base : base + "-" + std::to_string(i);
        auto info = (*admin)->createTopic(name, o.partitions);
        if (!info && info.error().code == Errc::TopicAlreadyExists)
            info = (*admin)->describeTopic(name);
        if (info && info->partitions < o.partitions)
            info = makeError(Errc::InvalidPartitions,
                             "topic '" + name + "' has " + std::to_string(info->partitions)
                                 + " partitions, fewer than --partitions");
        if (!info) {
            cleanup();
            return info.error();
        }
        topics.push_back(std::move(*info));
    }

    auto result = o.kafka ? measureKafka(o, kafkaTarget, topics) : measure(o, connection, topics);
    cleanup();
    if (result)
        result->transport = transport;
    return result;
}

} // namespace eddy::sim
