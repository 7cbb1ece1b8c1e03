// The Kafka listener's network side: non-blocking TCP sockets on epoll loops of its own (one
// thread each). A loop reads what its connections send into per-connection buffers, cuts
// requests out at their size prefixes and hands them to the handler one at a time per
// connection, in order, as Kafka's broker answers them. A response is written to the socket by
// whichever thread makes it: the loop itself for most requests, the store's completion thread
// for a durable produce, an engine thread for a long-poll fetch. That is why this is not built
// on nng_stream: there a response sent from an engine thread completes its aio on NNG's task
// threads, and with 50 durable producers those wake-ups were six context switches per request
// and half of the request's CPU (docs/performance.md, item 18). Here the thread that has the
// response writes it, and the loop wakes only for what needs it: requests read ahead behind a
// busy one, a response the socket did not take whole, a connection ended from another thread.
// Only a loop closes its sockets, so no other thread ever uses a descriptor that was reused.
#include "kafka_server.h"

#include "kafka_handler.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace eddy::kafka {

namespace {

using Clock = std::chrono::steady_clock;

// Read in steps of this much; a frame larger than the buffer grows it to the frame's size.
constexpr std::size_t kReadChunk = 64 << 10;
// A connection's input buffer past this is given back once it is drained.
constexpr std::size_t kKeepBuffer = 256 << 10;
// Requests read ahead of one being handled: clients pipeline a few (librdkafka up to 5); past
// this much the connection is not read until the busy request is answered.
constexpr std::size_t kReadAheadBytes = 1 << 20;
// How often a loop looks for responses left untaken past the send timeout.
constexpr int kSweepMs = 250;

std::string errnoText(int e)
{
    return std::strerror(e);
}

std::string formatPeer(const sockaddr_storage &sa)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa.ss_family == AF_INET) {
        const auto &in = reinterpret_cast<const sockaddr_in &>(sa);
        inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
        return std::string("tcp://") + buf + ":" + std::to_string(ntohs(in.sin_port));
    }
    if (sa.ss_family == AF_INET6) {
        const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(sa);
        inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
        return std::string("tcp://[") + buf + "]:" + std::to_string(ntohs(in6.sin6_port));
    }
    return "unknown";
}

std::string hostOf(const sockaddr_storage &sa)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(sa).sin_addr, buf, sizeof buf);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(sa).sin6_addr, buf,
                  sizeof buf);
    return buf;
}

int32_t portOf(const sockaddr_storage &sa)
{
    if (sa.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in &>(sa).sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6 &>(sa).sin6_port);
    return 0;
}

uint32_t bigEndian32(const char *p)
{
    const auto *b = reinterpret_cast<const unsigned char *>(p);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

} // namespace

class IoLoop;
class KafkaServerImpl;

// One client connection. The input side belongs to its loop's thread; everything under mutex
// is shared with the threads that respond.
struct Connection : std::enable_shared_from_this<Connection> {
    int fd = -1;
    IoLoop *loop = nullptr;
    std::string peer;
    Advertised self;

    // Loop thread only: bytes read, [inStart, inEnd) not yet handled.
    std::string in;
    std::size_t inStart = 0;
    std::size_t inEnd = 0;

    std::mutex mutex;
    bool closed = false;       // no thread but the loop touches fd any more
    bool busy = false;         // a request was handed over and its response not yet given
    bool pendingInput = false; // bytes were read behind the busy request
    bool readPaused = false;   // read-ahead limit reached while busy
    uint32_t events = 0;       // the epoll interest registered now
    std::string out;           // response bytes the socket has not taken yet
    std::size_t outDone = 0;
    Clock::time_point outSince; // when out last became pending
    std::string endReason;      // why a thread other than the loop ended it
};
using ConnectionPtr = std::shared_ptr<Connection>;

// An epoll loop on a thread of its own, serving the connections given to it.
class IoLoop
{
public:
    explicit IoLoop(KafkaServerImpl &server)
        : m_server(server)
    {
    }
    ~IoLoop();
    Result<void> open();
    void start() { m_thread = std::thread([this] { run(); }); }
    // Ends the thread; then closes every connection (responses still being made are dropped).
    void stop();
    bool onLoopThread() const { return std::this_thread::get_id() == m_threadId.load(); }
    // Registers a listening socket (loop 0 accepts for every loop).
    Result<void> addListener(int fd);
    // Takes a connection accepted on any loop; it is served from the loop's next wake-up.
    void adopt(const ConnectionPtr &c);
    // Asks the loop to look at c again: input behind a finished request, or c ended elsewhere.
    void post(const ConnectionPtr &c);
    // Updates c's epoll interest to what its state wants; c.mutex held, c not closed.
    void updateInterestLocked(Connection &c);

private:
    void run();
    void wake();
    void acceptAll(int listenFd);
    void register_(const ConnectionPtr &c);
    void onReadable(Connection &c);
    void onWritable(Connection &c);
    // Hands complete requests to the handler while c is not busy with one.
    void process(Connection &c);
    // Closes c from the loop: removes it from epoll, closes the socket, reports why.
    void finish(Connection &c, const std::string &why);
    void sweepSendTimeouts();

    KafkaServerImpl &m_server;
    int m_epoll = -1;
    int m_wakeFd = -1;
    std::vector<int> m_listeners;
    std::thread m_thread;
    std::atomic<std::thread::id> m_threadId{};
    std::unordered_map<int, ConnectionPtr> m_conns; // loop thread only

    std::mutex m_mutex; // guards the lists below and m_stopping
    std::vector<ConnectionPtr> m_adopted;
    std::vector<ConnectionPtr> m_posted;
    bool m_stopping = false;
    bool m_woken = false;
};

class KafkaServerImpl
{
public:
    KafkaServerImpl(Broker &broker, KafkaServerOptions options)
        : m_broker(broker)
        , m_options(std::move(options))
        , m_handler(broker, m_options.clusterId)
    {
    }
    ~KafkaServerImpl() { stop(); }

    Result<void> listen(const std::string &url);
    Result<void> startLoops();
    void stop();
    // A connection accepted: admitted to a loop, or closed when over the limit or stopping.
    void accepted(int fd);
    void report(const std::string &peer, const std::string &why)
    {
        m_broker.publishEvent("kafka_client", peer, "Kafka client disconnected: " + why);
    }

    Broker &m_broker;
    const KafkaServerOptions m_options;
    KafkaHandler m_handler;
    std::vector<std::unique_ptr<IoLoop>> m_loops;
    std::vector<std::pair<int, std::string>> m_listeners; // socket and URL listened on
    std::atomic<std::size_t> m_open{0};
    std::atomic<std::size_t> m_nextLoop{0};
    std::mutex m_stopMutex;
    bool m_stopped = false;
};

namespace {

enum class WriteResult { Done, Pending, Failed };

// Writes what the socket takes of c.out; c.mutex held, c not closed.
WriteResult writeSome(Connection &c)
{
    while (c.outDone < c.out.size()) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.outDone, c.out.size() - c.outDone,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.outDone += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return WriteResult::Pending;
        return WriteResult::Failed;
    }
    // A large response's buffer is not worth keeping for the next, usually small one.
    if (c.out.capacity() > kKeepBuffer)
        std::string().swap(c.out);
    else
        c.out.clear();
    c.outDone = 0;
    return WriteResult::Done;
}

// Ends c from a thread other than its loop's: no more I/O from anyone but the loop, which is
// asked to close it. c.mutex held.
void endLocked(Connection &c, std::string why)
{
    c.closed = true;
    c.endReason = std::move(why);
}

// The response to c's busy request, from whichever thread made it.
void respond(const ConnectionPtr &cp, KafkaOutcome outcome)
{
    Connection &c = *cp;
    std::lock_guard lock(c.mutex);
    if (c.closed)
        return;
    c.busy = false;
    bool ended = false;
    switch (outcome.kind) {
    case KafkaOutcome::Kind::Respond: {
        // out is empty: the next request is handed over only once a response was sent whole.
        c.out = std::move(outcome.bytes);
        c.outDone = 0;
        const WriteResult w = writeSome(c);
        if (w == WriteResult::Failed) {
            endLocked(c, {}); // the client went away: not news
            ended = true;
        } else if (w == WriteResult::Pending) {
            // The loop sends the rest when the socket has room, and goes on from there.
            c.outSince = Clock::now();
            c.loop->updateInterestLocked(c);
            return;
        }
        break;
    }
    case KafkaOutcome::Kind::NoResponse:
        break;
    case KafkaOutcome::Kind::Close:
        endLocked(c, std::move(outcome.reason));
        ended = true;
        break;
    }
    const bool onLoop = c.loop->onLoopThread();
    if (ended) {
        if (!onLoop)
            c.loop->post(cp);
        return;
    }
    c.readPaused = false;
    c.loop->updateInterestLocked(c);
    // The loop hands over the next request itself when this came while it handled the request;
    // otherwise it is woken only when requests were read ahead (the usual client, one request
    // in flight, needs no wake-up: its next request arrives as a readable socket).
    if (!onLoop && c.pendingInput)
        c.loop->post(cp);
}

} // namespace

IoLoop::~IoLoop()
{
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

Result<void> IoLoop::open()
{
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0)
        return makeError(Errc::Internal, "epoll_create1: " + errnoText(errno));
    m_wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_wakeFd < 0)
        return makeError(Errc::Internal, "eventfd: " + errnoText(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = m_wakeFd;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &ev) != 0)
        return makeError(Errc::Internal, "epoll_ctl: " + errnoText(errno));
    return {};
}

Result<void> IoLoop::addListener(int fd)
{
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0)
        return makeError(Errc::Internal, "epoll_ctl: " + errnoText(errno));
    m_listeners.push_back(fd);
    return {};
}

void IoLoop::wake()
{
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(m_wakeFd, &one, sizeof one);
}

void IoLoop::adopt(const ConnectionPtr &c)
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_stopping) {
            m_adopted.push_back(c);
            if (!std::exchange(m_woken, true))
                wake();
            return;
        }
    }
    ::close(c->fd); // stopping: never served
    m_server.m_open.fetch_sub(1);
}

void IoLoop::post(const ConnectionPtr &c)
{
    std::lock_guard lock(m_mutex);
    if (m_stopping)
        return;
    m_posted.push_back(c);
    if (!std::exchange(m_woken, true))
        wake();
}

void IoLoop::updateInterestLocked(Connection &c)
{
    uint32_t want = c.readPaused ? 0u : uint32_t(EPOLLIN);
    if (c.outDone < c.out.size())
        want |= EPOLLOUT;
    if (want == c.events)
        return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    // epoll_ctl is safe from any thread; the descriptor is open while c is not closed.
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
}

void IoLoop::register_(const ConnectionPtr &c)
{
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c->fd;
    {
        std::lock_guard lock(c->mutex);
        c->events = EPOLLIN;
    }
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        finish(*c, "cannot watch its socket: " + errnoText(errno));
        return;
    }
    m_conns.emplace(c->fd, c);
}

void IoLoop::run()
{
    m_threadId.store(std::this_thread::get_id());
    std::vector<epoll_event> events(256);
    auto nextSweep = Clock::now() + std::chrono::milliseconds(kSweepMs);
    for (;;) {
        const int n = epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                 kSweepMs);
        if (n < 0 && errno != EINTR)
            break; // only a programming error gets here (a closed epoll descriptor)
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            const uint32_t what = events[i].events;
            if (fd == m_wakeFd) {
                uint64_t count = 0;
                [[maybe_unused]] const ssize_t r = ::read(m_wakeFd, &count, sizeof count);
                continue;
            }
            if (std::find(m_listeners.begin(), m_listeners.end(), fd) != m_listeners.end()) {
                acceptAll(fd);
                continue;
            }
            const auto it = m_conns.find(fd);
            if (it == m_conns.end())
                continue; // finished earlier in this batch
            const ConnectionPtr c = it->second; // finish() erases the map's reference
            if (what & (EPOLLHUP | EPOLLERR)) {
                finish(*c, {}); // reset or gone both ways: no response can reach the client
                continue;
            }
            if (what & EPOLLOUT)
                onWritable(*c);
            if (what & EPOLLIN)
                onReadable(*c);
        }
        std::vector<ConnectionPtr> adopted;
        std::vector<ConnectionPtr> posted;
        {
            std::lock_guard lock(m_mutex);
            if (m_stopping)
                break;
            m_woken = false;
            adopted.swap(m_adopted);
            posted.swap(m_posted);
        }
        for (const auto &c : adopted)
            register_(c);
        for (const auto &c : posted) {
            const auto it = m_conns.find(c->fd);
            if (it == m_conns.end() || it->second != c)
                continue; // already finished (its descriptor maybe reused since)
            std::unique_lock lock(c->mutex);
            if (c->closed) {
                const std::string why = c->endReason;
                lock.unlock();
                finish(*c, why);
                continue;
            }
            lock.unlock();
            onReadable(*c); // re-reads only when the socket has data; hands over what waits
        }
        if (Clock::now() >= nextSweep) {
            sweepSendTimeouts();
            nextSweep = Clock::now() + std::chrono::milliseconds(kSweepMs);
        }
    }
}

void IoLoop::acceptAll(int listenFd)
{
    for (;;) {
        const int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            // EAGAIN: all taken. Anything else (out of descriptors) costs only the connection
            // that could not be taken; the listener is read again at its next event.
            return;
        }
        m_server.accepted(fd);
    }
}

void IoLoop::onReadable(Connection &c)
{
    for (;;) {
        {
            std::lock_guard lock(c.mutex);
            if (c.closed)
                break;
            if ((c.busy || c.outDone < c.out.size()) && c.inEnd - c.inStart >= kReadAheadBytes) {
                c.readPaused = true;
                updateInterestLocked(c);
                break;
            }
        }
        // Room for a chunk: drop what was handled, then grow.
        if (c.in.size() - c.inEnd < kReadChunk) {
            if (c.inStart > 0) {
                std::memmove(c.in.data(), c.in.data() + c.inStart, c.inEnd - c.inStart);
                c.inEnd -= c.inStart;
                c.inStart = 0;
            }
            if (c.in.size() - c.inEnd < kReadChunk)
                c.in.resize(c.inEnd + kReadChunk);
        }
        const std::size_t room = c.in.size() - c.inEnd;
        const ssize_t n = ::read(c.fd, c.in.data() + c.inEnd, room);
        if (n > 0) {
            c.inEnd += static_cast<std::size_t>(n);
            if (static_cast<std::size_t>(n) < room)
                break; // drained (level-triggered: more data would raise another event)
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return finish(c, {}); // end of stream or a reset: the client going away is not news
    }
    process(c);
}

void IoLoop::process(Connection &c)
{
    const ConnectionPtr self = c.shared_from_this();
    for (;;) {
        const std::size_t have = c.inEnd - c.inStart;
        if (have < 4)
            break;
        const int32_t n = static_cast<int32_t>(bigEndian32(c.in.data() + c.inStart));
        if (n < 8 || static_cast<std::size_t>(n) > m_server.m_options.maxFrameBytes)
            return finish(c, "request frame of " + std::to_string(n) + " bytes (limit "
                                 + std::to_string(m_server.m_options.maxFrameBytes) + ")");
        if (have - 4 < static_cast<std::size_t>(n)) {
            if (c.in.size() < c.inStart + 4 + static_cast<std::size_t>(n)) {
                // A large frame: make room for all of it at once rather than chunk by chunk.
                std::memmove(c.in.data(), c.in.data() + c.inStart, have);
                c.inEnd = have;
                c.inStart = 0;
                c.in.resize(std::max<std::size_t>(4 + static_cast<std::size_t>(n), kReadChunk));
            }
            break;
        }
        {
            std::lock_guard lock(c.mutex);
            if (c.closed)
                return;
            // One request at a time, its response sent whole before the next is handed over (as
            // Kafka's broker mutes a connection): a client that pipelines requests and does
            // not read makes the server hold one response, not one per request.
            if (c.busy || c.outDone < c.out.size()) {
                c.pendingInput = true;
                return;
            }
            c.busy = true;
            c.pendingInput = false;
        }
        const std::string_view frame(c.in.data() + c.inStart + 4, static_cast<std::size_t>(n));
        // The request's bytes stay where they are until handle() returns; the handler copies
        // what outlives it.
        m_server.m_handler.handle(frame, c.self,
                                  [self](KafkaOutcome o) { respond(self, std::move(o)); });
        c.inStart += 4 + static_cast<std::size_t>(n);
        std::unique_lock lock(c.mutex);
        if (c.closed) {
            const std::string why = c.endReason;
            lock.unlock();
            return finish(c, why);
        }
    }
    if (c.inStart == c.inEnd) {
        c.inStart = c.inEnd = 0;
        if (c.in.size() > kKeepBuffer)
            std::string().swap(c.in);
    }
}

void IoLoop::onWritable(Connection &c)
{
    std::unique_lock lock(c.mutex);
    if (c.closed)
        return;
    const WriteResult w = writeSome(c);
    if (w == WriteResult::Failed) {
        c.closed = true;
        lock.unlock();
        return finish(c, {});
    }
    if (w == WriteResult::Pending)
        return;
    c.readPaused = false;
    updateInterestLocked(c);
    const bool next = c.pendingInput;
    lock.unlock();
    if (next)
        onReadable(c); // reads what the pause left in the socket, then hands over the next
}

void IoLoop::finish(Connection &c, const std::string &why)
{
    const ConnectionPtr keep = c.shared_from_this();
    {
        std::lock_guard lock(c.mutex);
        c.closed = true;
    }
    // Once closed, no responder touches fd: it can go, and its number be reused.
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    m_conns.erase(c.fd);
    m_server.m_open.fetch_sub(1);
    if (!why.empty())
        m_server.report(c.peer, why);
}

void IoLoop::sweepSendTimeouts()
{
    const auto limit = std::chrono::milliseconds(m_server.m_options.sendTimeoutMs);
    const auto now = Clock::now();
    std::vector<ConnectionPtr> late;
    for (const auto &[fd, c] : m_conns) {
        std::lock_guard lock(c->mutex);
        if (!c->closed && c->outDone < c->out.size() && now - c->outSince >= limit)
            late.push_back(c);
    }
    for (const auto &c : late)
        finish(*c, "did not read its response for "
                       + std::to_string(m_server.m_options.sendTimeoutMs) + " ms");
}

void IoLoop::stop()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        wake();
    }
    if (m_thread.joinable())
        m_thread.join();
    // The thread is gone: what it owned is this thread's now.
    std::vector<ConnectionPtr> all;
    for (auto &[fd, c] : m_conns)
        all.push_back(c);
    {
        std::lock_guard lock(m_mutex);
        all.insert(all.end(), m_adopted.begin(), m_adopted.end());
        m_adopted.clear();
        m_posted.clear();
    }
    for (const auto &c : all) {
        {
            // Waits for a responder writing now; later ones see closed and drop the response.
            std::lock_guard lock(c->mutex);
            c->closed = true;
        }
        ::close(c->fd);
        m_server.m_open.fetch_sub(1);
    }
    m_conns.clear();
}

void KafkaServerImpl::accepted(int fd)
{
    if (m_open.fetch_add(1) >= static_cast<std::size_t>(m_options.maxConnections)) {
        m_open.fetch_sub(1);
        ::close(fd);
        return;
    }
    const int one = 1;
    // Responses are whole frames written at once: nothing to gain from Nagle's delay.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_shared<Connection>();
    c->fd = fd;
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0)
        c->peer = formatPeer(sa);
    len = sizeof sa;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0) {
        c->self.host = m_options.advertisedHost.empty() ? hostOf(sa) : m_options.advertisedHost;
        c->self.port = portOf(sa);
    }
    IoLoop &loop = *m_loops[m_nextLoop.fetch_add(1) % m_loops.size()];
    c->loop = &loop;
    loop.adopt(c);
}

Result<void> KafkaServerImpl::listen(const std::string &url)
{
    const std::string full = url.find("://") == std::string::npos ? "tcp://" + url : url;
    if (full.rfind("tcp://", 0) != 0)
        return makeError(Errc::InvalidConfig, "the Kafka listener takes tcp:// addresses only: "
                                                  + url);
    const std::string hostPort = full.substr(6);
    const auto colon = hostPort.rfind(':');
    if (colon == std::string::npos)
        return makeError(Errc::InvalidConfig, "no port in the Kafka listen address " + url);
    std::string host = hostPort.substr(0, colon);
    const std::string port = hostPort.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *found = nullptr;
    const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                                &found);
    if (gai != 0)
        return makeError(Errc::InvalidConfig, "cannot listen for Kafka clients on " + url + ": "
                                                  + gai_strerror(gai));
    std::string failure = "no address";
    int fd = -1;
    for (addrinfo *a = found; a && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      a->ai_protocol);
        if (fd < 0) {
            failure = errnoText(errno);
            continue;
        }
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
            failure = errnoText(errno);
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0)
        return makeError(Errc::InvalidConfig,
                         "cannot listen for Kafka clients on " + url + ": " + failure);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &len);
    m_listeners.emplace_back(fd, full.substr(0, full.rfind(':') + 1)
                                     + std::to_string(portOf(bound)));
    return {};
}

Result<void> KafkaServerImpl::startLoops()
{
    const int count = std::max(1, m_options.ioThreads);
    for (int i = 0; i < count; ++i) {
        auto loop = std::make_unique<IoLoop>(*this);
        if (auto r = loop->open(); !r)
            return r;
        m_loops.push_back(std::move(loop));
    }
    for (const auto &[fd, url] : m_listeners)
        if (auto r = m_loops.front()->addListener(fd); !r)
            return r;
    for (auto &loop : m_loops)
        loop->start();
    return {};
}

void KafkaServerImpl::stop()
{
    {
        std::lock_guard lock(m_stopMutex);
        if (m_stopped)
            return;
        m_stopped = true;
    }
    for (auto &loop : m_loops)
        loop->stop();
    for (const auto &[fd, url] : m_listeners)
        ::close(fd);
    // Loops stay allocated: a response from an engine thread finds its connection closed
    // before it would touch one.
}

KafkaServer::KafkaServer(std::unique_ptr<KafkaServerImpl> impl)
    : m_impl(std::move(impl))
{
}

KafkaServer::~KafkaServer()
{
    stop();
}

Result<std::unique_ptr<KafkaServer>> KafkaServer::start(Broker &broker,
                                                        const KafkaServerOptions &options)
{
    auto impl = std::make_unique<KafkaServerImpl>(broker, options);
    for (const auto &url : options.listen)
        if (auto r = impl->listen(url); !r)
            return r.error();
    if (auto r = impl->startLoops(); !r)
        return r.error();
    return std::unique_ptr<KafkaServer>(new KafkaServer(std::move(impl)));
}

void KafkaServer::stop()
{
    m_impl->stop();
}

std::vector<std::string> KafkaServer::urls() const
{
    std::vector<std::string> out;
    for (const auto &[fd, url] : m_impl->m_listeners)
        out.push_back(url);
    return out;
}

std::size_t KafkaServer::connectionCount() const
{
    return m_impl->m_open.load();
}

} // namespace eddy::kafka
