// The produce workload of `eddy bench` over Kafka's wire protocol (`--kafka`): every connection
// is a non-blocking TCP socket speaking Produce v8 to the broker's Kafka listener, and one
// thread drives them all from an epoll loop, as redis-benchmark drives its clients against Redis.
// A thread per connection blocked in recv cost a context switch per response on each side,
// about a third of both cores with 50 unbatched connections (docs/performance.md, item 19): the
// load generator took the CPU the broker was being measured on. Requests of `batch` records are
// encoded once per connection (the records are alike; timestamps are left to the broker), so
// the client's cost per request is a send and a receive. Up to `inflight` requests are pipelined
// per connection; Kafka answers them in order.
#include "kafka_bench_load.h"

#include "kafka_bench_wire.h"

#include "kafka_codec.h"
#include "kafka_records.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>

namespace eddy::sim {

namespace {

using Clock = std::chrono::steady_clock;
using namespace kafka;

// A connection with requests outstanding and no response for this long fails them.
constexpr auto kResponseTimeout = std::chrono::seconds(60);
constexpr std::size_t kReadChunk = 64 << 10;

// A request sent and not yet answered (acks=0: sent and not yet wholly written).
struct Outstanding {
    int32_t id = 0;
    int count = 0;
    Clock::time_point sentAt;
    std::size_t endOfFrame = 0; // acks=0: where the frame ends in the connection's output
};

struct KafkaConnection {
    int fd = -1;
    std::string topic;
    int32_t partition = 0;
    std::string full;        // the frame of a whole batch
    std::string out;         // bytes to write, from outPos
    std::size_t outPos = 0;
    std::string in;          // bytes read and not yet parsed
    std::deque<Outstanding> outstanding;
    int32_t nextId = 0;
    bool exhausted = false;  // every record is claimed
    bool broken = false;
    bool writing = false;    // registered for EPOLLOUT
    Clock::time_point lastResponse;

    bool finished() const
    {
        return broken || (exhausted && outstanding.empty() && outPos == out.size());
    }
};

// The run: every connection, the records still to claim, and what was measured.
class Driver
{
public:
    explicit Driver(const BenchOptions &o)
        : m_o(o), m_acks(kafkaAcks(o.acks)), m_value(o.recordSize, 'x')
    {
    }
    ~Driver()
    {
        for (auto &c : m_connections)
            if (c->fd >= 0)
                ::close(c->fd);
        if (m_epoll >= 0)
            ::close(m_epoll);
    }

    Result<void> connect(const KafkaTarget &target, const std::vector<TopicInfo> &topics);
    void run();

    int64_t done = 0;
    int64_t errors = 0;
    std::string firstError;
    std::vector<int64_t> latenciesNs;

private:
    void fail(KafkaConnection &c, const std::string &why, bool breaks);
    // Claims records and queues requests until the window is full or nothing is left.
    void refill(KafkaConnection &c);
    void flush(KafkaConnection &c);
    void readable(KafkaConnection &c);
    void parse(KafkaConnection &c);
    void watch(KafkaConnection &c);

    const BenchOptions &m_o;
    const int16_t m_acks;
    const std::string m_value;
    int m_epoll = -1;
    int64_t m_claimed = 0;
    std::vector<std::unique_ptr<KafkaConnection>> m_connections;
};

Result<void> Driver::connect(const KafkaTarget &target, const std::vector<TopicInfo> &topics)
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0)
        return makeError(Errc::Internal, std::string("epoll_create1: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(target.port));
    if (::inet_pton(AF_INET, target.host.c_str(), &a.sin_addr) != 1)
        return makeError(Errc::InvalidRequest, "not an IPv4 address: " + target.host);
    const int connections = std::max(1, m_o.connections);
    for (int i = 0; i < connections; ++i) {
        auto c = std::make_unique<KafkaConnection>();
        c->topic = topics[static_cast<std::size_t>(i) % topics.size()].name;
        c->partition = (i / static_cast<int>(topics.size())) % std::max(1, m_o.partitions);
        c->full = produceFrame(c->topic, c->partition, m_acks, m_value, m_o.batch);
        // Connected while still blocking (loopback answers at once), then non-blocking. Kept
        // before connecting, so the destructor closes the socket of a failed connect too.
        c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        KafkaConnection &conn = *c;
        m_connections.push_back(std::move(c));
        if (conn.fd < 0 || ::connect(conn.fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
            return makeError(Errc::Timeout, "cannot connect to " + target.host + ":"
                                                    + std::to_string(target.port) + ": "
                                                    + std::strerror(errno));
        int one = 1;
        ::setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(conn.fd, F_SETFL, ::fcntl(conn.fd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &conn;
        ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, conn.fd, &ev);
    }
    return {};
}

void Driver::fail(KafkaConnection &c, const std::string &why, bool breaks)
{
    ++errors;
    if (firstError.empty())
        firstError = why;
    if (breaks && !c.broken) {
        c.broken = true;
        // The requests still outstanding on it are lost with it: each is a failed request.
        errors += static_cast<int64_t>(c.outstanding.size());
        c.outstanding.clear();
        ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
    }
}

void Driver::refill(KafkaConnection &c)
{
    const std::size_t window = static_cast<std::size_t>(std::max(1, m_o.inflight));
    while (!c.broken && !c.exhausted && c.outstanding.size() < window) {
        const int64_t start = m_claimed;
        if (start >= m_o.records) {
            c.exhausted = true;
            break;
        }
        const int count = static_cast<int>(std::min<int64_t>(m_o.batch, m_o.records - start));
        m_claimed += count;
        const std::size_t at = c.out.size();
        if (count == m_o.batch)
            c.out += c.full;
        else
            c.out += produceFrame(c.topic, c.partition, m_acks, m_value, count);
        const int32_t id = ++c.nextId;
        setCorrelationId(c.out, at, id);
        c.outstanding.push_back({id, count, Clock::now(), c.out.size()});
    }
    flush(c);
}

void Driver::flush(KafkaConnection &c)
{
    while (!c.broken && c.outPos < c.out.size()) {
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.outPos, c.out.size() - c.outPos, MSG_NOSIGNAL);
        if (n > 0) {
            c.outPos += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return fail(c, "connection closed while sending", true);
    }
    // acks=0 has no response: a request counts once it is wholly written.
    if (m_acks == 0) {
        while (!c.outstanding.empty() && c.outstanding.front().endOfFrame <= c.outPos) {
            done += c.outstanding.front().count;
            c.outstanding.pop_front();
        }
    }
    // Written whole: with acks=0 every request in it was counted just above, so no
    // endOfFrame still points into it.
    if (c.outPos == c.out.size()) {
        c.out.clear();
        c.outPos = 0;
    }
    watch(c);
}

void Driver::watch(KafkaConnection &c)
{
    // acks=0 has no response to wake the connection for its next requests: it waits for room
    // in the socket instead, as long as records are left.
    const bool want = !c.broken && (c.outPos < c.out.size() || (m_acks == 0 && !c.exhausted));
    if (want == c.writing || c.broken)
        return;
    c.writing = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}

void Driver::readable(KafkaConnection &c)
{
    // Level-triggered: one read per wake-up keeps the connections fair; what is left wakes
    // the next epoll_wait.
    const std::size_t had = c.in.size();
    c.in.resize(had + kReadChunk);
    const ssize_t n = ::recv(c.fd, c.in.data() + had, kReadChunk, 0);
    if (n <= 0) {
        c.in.resize(had);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        return fail(c, n == 0 ? "connection closed by the broker" : "connection failed: "
                                    + std::string(std::strerror(errno)),
                    true);
    }
    c.in.resize(had + static_cast<std::size_t>(n));
    parse(c);
}

void Driver::parse(KafkaConnection &c)
{
    std::size_t pos = 0;
    while (!c.broken && c.in.size() - pos >= 4) {
        KafkaReader sr(std::string_view(c.in).substr(pos, 4));
        const int32_t size = sr.i32();
        if (size < 4)
            return fail(c, "malformed response: size " + std::to_string(size), true);
        if (c.in.size() - pos - 4 < static_cast<std::size_t>(size))
            break;
        const std::string_view body(c.in.data() + pos + 4, static_cast<std::size_t>(size));
        pos += 4 + static_cast<std::size_t>(size);
        if (c.outstanding.empty())
            return fail(c, "a response to no request", true);
        const Outstanding o = c.outstanding.front();
        c.outstanding.pop_front();
        c.lastResponse = Clock::now();
        KafkaReader br(body);
        std::string message;
        const int16_t error = br.i32() == o.id ? produceError(body.substr(4), message) : -100;
        if (error != 0) {
            fail(c, "produce failed with Kafka error " + std::to_string(error)
                        + (message.empty() ? "" : ": " + message), false);
            continue;
        }
        latenciesNs.push_back((c.lastResponse - o.sentAt).count());
        done += o.count;
    }
    c.in.erase(0, pos);
    refill(c);
}

void Driver::run()
{
    const auto started = Clock::now();
    auto nextTick = started + std::chrono::seconds(1);
    for (auto &c : m_connections) {
        c->lastResponse = started;
        refill(*c);
    }
    std::vector<epoll_event> events(m_connections.size());
    for (;;) {
        std::size_t active = 0;
        for (const auto &c : m_connections)
            active += c->finished() ? 0 : 1;
        if (active == 0)
            break;
        const int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            auto &c = *static_cast<KafkaConnection *>(events[static_cast<std::size_t>(i)].data.ptr);
            if (c.broken)
                continue;
            if (events[static_cast<std::size_t>(i)].events & EPOLLOUT)
                refill(c); // writes what is left, and with acks=0 queues the next requests
            if (!c.broken
                && (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                readable(c);
        }
        // Once a second: progress, and connections whose broker stopped answering.
        const auto now = Clock::now();
        if (now < nextTick)
            continue;
        nextTick = now + std::chrono::seconds(1);
        for (auto &c : m_connections)
            if (!c->finished() && !c->outstanding.empty()
                && now - c->lastResponse > kResponseTimeout)
                fail(*c, "timed out waiting for a response", true);
        if (m_o.progress)
            m_o.progress(done, m_o.records, std::chrono::duration<double>(now - started).count());
    }
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
    Driver driver(o);
    if (auto r = driver.connect(target, topics); !r)
        return r.error();
    const auto started = Clock::now();
    driver.run();
    BenchResult r;
    r.workload = "produce";
    r.records = driver.done;
    r.bytes = r.records * static_cast<int64_t>(o.recordSize);
    r.errors = driver.errors;
    r.firstError = driver.firstError;
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    r.requests = static_cast<int64_t>(driver.latenciesNs.size());
    summariseLatencies(r, driver.latenciesNs);
    return r;
}

Result<BenchResult> measureKafka(const BenchOptions &o, const KafkaTarget &target,
                                 const std::vector<TopicInfo> &topics)
{
    return o.workload == BenchWorkload::E2e ? measureKafkaE2e(o, target, topics)
                                            : measureKafkaProduce(o, target, topics);
}

} // namespace eddy::sim
