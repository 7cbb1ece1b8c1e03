// The produce workload of `eddy bench` over Kafka's wire protocol (`--kafka`): each connection
// is one blocking TCP socket on a thread of its own speaking Produce v8, as a thin Kafka client
// does, to the broker's Kafka listener. Requests of `batch` records are encoded once per
// connection (the records are alike; timestamps are left to the broker), so the client's cost
// per request is a send and a receive, like redis-benchmark's against Redis. Up to `inflight`
// requests are pipelined per connection; Kafka answers them in order.
#include "kafka_bench_load.h"

#include "kafka_codec.h"
#include "kafka_records.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;
using namespace kafka;

constexpr int kReceiveTimeoutS = 60;

int16_t kafkaAcks(Acks acks)
{
    switch (acks) {
    case Acks::None: return 0;
    case Acks::Leader: return 1;
    case Acks::Durable: return -1;
    }
    return 1;
}

// A Produce v8 request frame (size prefix included) for count records of value to one
// partition; the correlation id is patched per send.
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

bool sendAll(int fd, const std::string &bytes)
{
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool readAll(int fd, std::string &buf)
{
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::recv(fd, buf.data() + done, buf.size() - done, 0);
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// The error code of a one-partition Produce v8 response body (after the correlation id), and
// its message; -100 when it does not parse.
int16_t produceError(const std::string &body, std::string &message)
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

struct Shared {
    std::atomic<int64_t> claimed{0};
    std::atomic<int64_t> done{0};
    std::atomic<int64_t> errors{0};
    std::mutex mutex; // guards firstError and the latencies merged at the end
    std::string firstError;
    std::vector<int64_t> latenciesNs;

    void fail(const std::string &why)
    {
        errors.fetch_add(1);
        std::lock_guard lock(mutex);
        if (firstError.empty())
            firstError = why;
    }
};

void runConnection(const BenchOptions &o, const KafkaTarget &target, const std::string &topic,
                   int32_t partition, Shared &shared)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(target.port));
    ::inet_pton(AF_INET, target.host.c_str(), &a.sin_addr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{kReceiveTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        shared.fail("cannot connect to " + target.host + ":" + std::to_string(target.port));
        ::close(fd);
        return;
    }
    const int16_t acks = kafkaAcks(o.acks);
    const std::string value(o.recordSize, 'x');
    const std::string full = produceFrame(topic, partition, acks, value, o.batch);
    std::vector<int64_t> latencies;
    std::deque<std::pair<int32_t, Clock::time_point>> outstanding; // correlation id, sent at
    std::deque<int64_t> outstandingRecords;
    int32_t nextId = 0;
    std::string size(4, '\0');
    std::string body;
    bool broken = false;
    const auto receiveOne = [&] {
        if (!readAll(fd, size)) {
            broken = true;
            return shared.fail("connection closed or timed out waiting for a response");
        }
        KafkaReader sr(size);
        body.resize(static_cast<std::size_t>(std::max(4, sr.i32())));
        if (!readAll(fd, body)) {
            broken = true;
            return shared.fail("connection closed inside a response");
        }
        const auto [id, sentAt] = outstanding.front();
        outstanding.pop_front();
        const int64_t records = outstandingRecords.front();
        outstandingRecords.pop_front();
        KafkaReader br(body);
        std::string message;
        const int16_t error = br.i32() == id ? produceError(body.substr(4), message) : -100;
        if (error != 0)
            return shared.fail("produce failed with Kafka error " + std::to_string(error)
                               + (message.empty() ? "" : ": " + message));
        latencies.push_back((Clock::now() - sentAt).count());
        shared.done.fetch_add(records);
    };
    while (!broken) {
        const int64_t start = shared.claimed.fetch_add(o.batch);
        if (start >= o.records)
            break;
        const int count = static_cast<int>(std::min<int64_t>(o.batch, o.records - start));
        std::string frame = count == o.batch
                                ? full
                                : produceFrame(topic, partition, acks, value, count);
        const int32_t id = ++nextId;
        KafkaWriter(frame).patchI32(8, id);
        const auto sentAt = Clock::now();
        if (!sendAll(fd, frame)) {
            shared.fail("connection closed while sending");
            break;
        }
        if (acks == 0) {
            shared.done.fetch_add(count);
            continue;
        }
        outstanding.emplace_back(id, sentAt);
        outstandingRecords.push_back(count);
        if (static_cast<int>(outstanding.size()) >= std::max(1, o.inflight))
            receiveOne();
    }
    while (!broken && !outstanding.empty())
        receiveOne();
    ::close(fd);
    std::lock_guard lock(shared.mutex);
    shared.latenciesNs.insert(shared.latenciesNs.end(), latencies.begin(), latencies.end());
}

} // namespace

KafkaTarget kafkaTargetOf(const std::string &address)
{
    const std::string bare =
        address.rfind("tcp://", 0) == 0 ? address.substr(6) : address;
    KafkaTarget t;
    const auto colon = bare.rfind(':');
    t.host = bare.substr(0, colon);
    t.port = std::atoi(bare.c_str() + colon + 1);
    return t;
}

Result<BenchResult> measureKafkaProduce(const BenchOptions &o, const KafkaTarget &target,
                                        const std::vector<TopicInfo> &topics)
{
    if (topics.empty())
        return makeError(Errc::InvalidRequest, "no topic to produce to");
    Shared shared;
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    const int connections = std::max(1, o.connections);
    for (int c = 0; c < connections; ++c) {
        const auto &topic = topics[static_cast<std::size_t>(c) % topics.size()].name;
        const int32_t partition =
            (c / static_cast<int>(topics.size())) % std::max(1, o.partitions);
        threads.emplace_back([&o, &target, &topic, partition, &shared] {
            runConnection(o, target, topic, partition, shared);
        });
    }
    // Progress about once a second while the connections run.
    std::atomic<bool> finished{false};
    std::thread progress;
    if (o.progress) {
        progress = std::thread([&] {
            while (!finished.load()) {
                for (int i = 0; i < 10 && !finished.load(); ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                if (!finished.load())
                    o.progress(shared.done.load(), o.records,
                               std::chrono::duration<double>(Clock::now() - started).count());
            }
        });
    }
    for (auto &t : threads)
        t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    finished = true;
    if (progress.joinable())
        progress.join();
    BenchResult r;
    r.workload = "produce";
    r.records = shared.done.load();
    r.bytes = r.records * static_cast<int64_t>(o.recordSize);
    r.errors = shared.errors.load();
    r.firstError = shared.firstError;
    r.seconds = seconds;
    r.requests = static_cast<int64_t>(shared.latenciesNs.size());
    summariseLatencies(r, shared.latenciesNs);
    return r;
}

} // namespace eddy::sim
