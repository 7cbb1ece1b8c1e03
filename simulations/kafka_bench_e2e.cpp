// The end-to-end workload of `eddy bench e2e --kafka`: records produced at a fixed rate over
// Kafka's Produce v8 and consumed with Fetch v4 long-polls, latency per record from the moment
// it was due to be sent to the moment its consumer decoded it (the first 8 bytes of each value
// carry that moment, as in the NNG workload). Each consumer is a thread blocked in recv on its
// own connection, and each producer connection has a thread reading its acks, so a record's
// path is the broker's loop waking for the produce, the append firing the parked fetch on that
// same thread, and the consumer waking for the response: what kcat or librdkafka sees, with no
// client-side hand-off of its own added.
#include "kafka_bench_load.h"
#include "kafka_bench_wire.h"

#include "kafka_codec.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace eddy::sim {

// Named, not anonymous: in a unity build this file shares a translation unit with
// bench_load.cpp, whose anonymous namespace has a E2eLane and a nowNs of its own.
namespace kafka_e2e_detail {

using Clock = std::chrono::steady_clock;

// How long the run waits, after the last send, for records still unconsumed beyond the
// consumers' long-poll wait: past it they count as lost.
constexpr auto kDrainTimeout = std::chrono::seconds(10);

int64_t nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
}

// What the run's threads share: counts, the first failure, and a wake-up for the caller.
struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    int64_t consumed = 0;
    int64_t acked = 0;          // produce requests acknowledged
    int64_t refused = 0;        // produce requests that failed
    int64_t refusedRecords = 0; // their records, which no consumer will see
    int consumersEnded = 0;     // consumers that stopped (a failure, or the end of the run)
    int64_t errors = 0;
    std::string firstError;
    std::vector<int64_t> latenciesNs;

    void fail(const std::string &why)
    {
        std::lock_guard lock(mutex);
        ++errors;
        if (firstError.empty())
            firstError = why;
        cv.notify_all();
    }
};

// A socket whose descriptor is closed once, after the thread using it is joined.
struct Socket {
    int fd = -1;
    ~Socket()
    {
        if (fd >= 0)
            ::close(fd);
    }
    // Ends the blocked recv of the thread using it.
    void interrupt() const
    {
        if (fd >= 0)
            ::shutdown(fd, SHUT_RDWR);
    }
};

// One partition's consumer: fetches from offset 0 until stopped, recording each record's
// latency. A fetch error or malformed response ends it with a failure.
void consume(Socket &s, const std::string &topic, int32_t partition, int32_t waitMs,
             const std::atomic<bool> &stop, Shared &shared)
{
    int64_t offset = 0;
    int32_t id = 0;
    std::string body;
    std::vector<int64_t> latencies;
    while (!stop.load()) {
        const std::string frame = fetchFrame(++id, topic, partition, offset, waitMs);
        if (::send(s.fd, frame.data(), frame.size(), MSG_NOSIGNAL)
            != static_cast<ssize_t>(frame.size())) {
            if (!stop.load())
                shared.fail("fetch: cannot send: " + std::string(std::strerror(errno)));
            return;
        }
        std::string why;
        if (!readFrame(s.fd, body, why)) {
            if (!stop.load())
                shared.fail("fetch: " + why);
            return;
        }
        const int64_t at = nowNs();
        kafka::KafkaReader r(body);
        if (r.i32() != id) {
            shared.fail("fetch: a response to another request");
            return;
        }
        auto fetched = parseFetchResponse(std::string_view(body).substr(4));
        if (!fetched || fetched->error != 0) {
            shared.fail(fetched ? "fetch failed with Kafka error "
                                      + std::to_string(fetched->error)
                                : fetched.error().message);
            return;
        }
        if (fetched->records.empty())
            continue;
        latencies.clear();
        for (const Record &rec : fetched->records) {
            int64_t due = 0;
            if (rec.value.size() >= sizeof due)
                std::memcpy(&due, rec.value.data(), sizeof due);
            latencies.push_back(at - due);
        }
        offset = fetched->nextOffset;
        std::lock_guard lock(shared.mutex);
        shared.latenciesNs.insert(shared.latenciesNs.end(), latencies.begin(), latencies.end());
        shared.consumed += static_cast<int64_t>(fetched->records.size());
        shared.cv.notify_all();
    }
}

// A connection of the run and the thread that reads it.
struct E2eLane {
    Socket socket;
    std::string topic;
    int32_t partition = 0;
    std::atomic<int64_t> sent{0}; // requests sent on it
    std::thread thread;

    // Records in request `id` (from 1) of this producer connection.
    int countOf(int32_t id)
    {
        std::lock_guard lock(mutex);
        const auto i = static_cast<std::size_t>(id - 1);
        return i < counts.size() ? counts[i] : 0;
    }
    void sentRequest(int count)
    {
        std::lock_guard lock(mutex);
        counts.push_back(count);
    }

private:
    std::mutex mutex;
    std::vector<int> counts; // records per request sent, by correlation id - 1
};


// Reads a producer connection's responses, in order, until the run stops it or the connection
// ends: each is checked for its correlation id and error code.
void readAcks(E2eLane &lane, const std::atomic<bool> &stop, Shared &shared)
{
    Socket &s = lane.socket;
    std::string body;
    for (int32_t id = 1;; ++id) {
        std::string why;
        if (!readFrame(s.fd, body, why)) {
            if (!stop.load())
                shared.fail("produce: " + why);
            return;
        }
        kafka::KafkaReader r(body);
        std::string message;
        const int16_t error = r.i32() == id ? produceError(std::string_view(body).substr(4),
                                                           message)
                                            : int16_t(-100);
        if (error != 0) {
            shared.fail("produce failed with Kafka error " + std::to_string(error)
                        + (message.empty() ? "" : ": " + message));
            std::lock_guard lock(shared.mutex);
            ++shared.refused;
            shared.refusedRecords += lane.countOf(id);
            shared.cv.notify_all();
            continue;
        }
        std::lock_guard lock(shared.mutex);
        ++shared.acked;
        shared.cv.notify_all(); // the last ack can come after the last record was consumed
    }
}


} // namespace kafka_e2e_detail

using namespace kafka_e2e_detail;

Result<BenchResult> measureKafkaE2e(const BenchOptions &o, const KafkaTarget &target,
                                    const std::vector<TopicInfo> &topics)
{
    if (topics.empty())
        return makeError(Errc::InvalidRequest, "no topic to produce to");
    Shared shared;
    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<E2eLane>> consumers;
    std::vector<std::unique_ptr<E2eLane>> producers;
    const auto finish = [&] {
        stop.store(true);
        for (auto *lanes : {&consumers, &producers})
            for (auto &l : *lanes)
                l->socket.interrupt();
        for (auto *lanes : {&consumers, &producers})
            for (auto &l : *lanes)
                if (l->thread.joinable())
                    l->thread.join();
    };
    const auto open = [&](std::vector<std::unique_ptr<E2eLane>> &lanes, const std::string &topic,
                          int32_t partition) -> Result<void> {
        auto fd = connectKafka(target);
        if (!fd)
            return fd.error();
        lanes.push_back(std::make_unique<E2eLane>());
        lanes.back()->socket.fd = *fd;
        lanes.back()->topic = topic;
        lanes.back()->partition = partition;
        return {};
    };
    const int partitions = std::max(1, o.partitions);
    for (const auto &t : topics)
        for (int32_t p = 0; p < partitions; ++p)
            if (auto r = open(consumers, t.name, p); !r) {
                finish();
                return r.error();
            }
    for (int c = 0; c < std::max(1, o.connections); ++c) {
        const auto &t = topics[static_cast<std::size_t>(c) % topics.size()];
        const int32_t p = (c / static_cast<int>(topics.size())) % partitions;
        if (auto r = open(producers, t.name, p); !r) {
            finish();
            return r.error();
        }
    }
    for (auto &c : consumers)
        c->thread = std::thread([&o, &stop, &shared, lane = c.get()] {
            consume(lane->socket, lane->topic, lane->partition, o.fetchWaitMs, stop, shared);
            std::lock_guard lock(shared.mutex);
            ++shared.consumersEnded;
            shared.cv.notify_all();
        });
    const int16_t acks = kafkaAcks(o.acks);
    if (acks != 0)
        for (auto &p : producers)
            p->thread = std::thread([&stop, &shared, lane = p.get()] {
                readAcks(*lane, stop, shared);
            });

    // The open-loop pacer: a request of up to `batch` records every batch/rate seconds,
    // round-robin over the producer connections, each record's value stamped with when it was
    // due (not when it went: a late send is the system's delay, not the load's).
    const double rate = std::max(1.0, o.rate);
    std::string value(std::max<std::size_t>(o.recordSize, sizeof(int64_t)), 'x');
    const auto start = Clock::now();
    auto nextProgress = start + std::chrono::seconds(1);
    int64_t sent = 0;
    for (int64_t k = 0; sent < o.records; ++k) {
        const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(
                             static_cast<double>(sent) * 1e9 / rate));
        std::this_thread::sleep_until(due);
        E2eLane &lane = *producers[static_cast<std::size_t>(k) % producers.size()];
        const int count = static_cast<int>(std::min<int64_t>(o.batch, o.records - sent));
        const int64_t dueNs =
            std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count();
        std::memcpy(value.data(), &dueNs, sizeof dueNs);
        std::string frame = produceFrame(lane.topic, lane.partition, acks, value, count);
        setCorrelationId(frame, 0, static_cast<int32_t>(lane.sent.load() + 1));
        // Counted before it goes: its response can come before send() returns.
        lane.sentRequest(count);
        if (const ssize_t n = ::send(lane.socket.fd, frame.data(), frame.size(), MSG_NOSIGNAL);
            n != static_cast<ssize_t>(frame.size())) {
            shared.fail(n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK
                            ? "produce: the broker took no bytes for 5 s (it stopped reading)"
                            : "produce: cannot send: " + std::string(std::strerror(errno)));
            break;
        }
        ++lane.sent;
        sent += count;
        if (o.progress && Clock::now() >= nextProgress) {
            nextProgress += std::chrono::seconds(1);
            int64_t consumed = 0;
            {
                std::lock_guard lock(shared.mutex);
                consumed = shared.consumed;
            }
            o.progress(consumed, o.records,
                       std::chrono::duration<double>(Clock::now() - start).count());
        }
    }
    // Wait for the consumers to see everything sent (and the acks to come), or for what is
    // missing to stay missing.
    int64_t requests = 0;
    for (auto &p : producers)
        requests += p->sent.load();
    {
        std::unique_lock lock(shared.mutex);
        shared.cv.wait_until(lock,
                             Clock::now() + kDrainTimeout
                                 + std::chrono::milliseconds(std::max(0, o.fetchWaitMs)),
                             [&] {
                                 // Everything is seen or refused, or no consumer is left.
                                 return (shared.consumed + shared.refusedRecords >= sent
                                         && (acks == 0
                                             || shared.acked + shared.refused >= requests))
                                        || shared.consumersEnded
                                               == static_cast<int>(consumers.size());
                             });
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    finish();
    BenchResult r;
    r.workload = "e2e";
    std::lock_guard lock(shared.mutex);
    // Not capped at what was sent: a record consumed twice shows as more records than sent.
    r.records = shared.consumed;
    r.bytes = r.records * static_cast<int64_t>(o.recordSize);
    r.requests = requests;
    r.errors = shared.errors;
    r.firstError = shared.firstError;
    // Records acknowledged (or sent with acks=0) that no consumer saw: lost, as far as the run
    // can tell. Refused ones were counted as failed requests already.
    const int64_t missing = sent - shared.refusedRecords - shared.consumed;
    if (missing > 0) {
        r.errors += missing;
        if (r.firstError.empty())
            r.firstError = std::to_string(missing) + " of " + std::to_string(sent)
                           + " records were never consumed";
    }
    r.seconds = seconds;
    summariseLatencies(r, shared.latenciesNs);
    return r;
}

} // namespace eddy::sim
