// The Kafka listener's epoll loops (IoLoop). A loop reads what its connections send into
// per-connection buffers, cuts requests out at their size prefixes and hands them to the handler
// one at a time per connection, in order, as Kafka's broker answers them. A response is written
// to the socket by whichever thread makes it: the loop itself for most requests, the store's
// completion thread for a durable produce, an engine thread for a long-poll fetch. That is why
// this is not built on nng_stream: there a response sent from an engine thread completes its
// aio on NNG's task threads, and with 50 durable producers those wake-ups were six context
// switches per request and half of the request's CPU (docs/performance.md, item 18). Here the
// thread that has the response writes it, and the loop wakes only for what needs it: requests
// read ahead behind a busy one, a response the socket did not take whole, a connection ended
// from another thread. Only a loop closes its sockets, so no other thread ever uses a
// descriptor that was reused.
#include "kafka_io_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

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

uint32_t bigEndian32(const char *p)
{
    const auto *b = reinterpret_cast<const unsigned char *>(p);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

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

// The reason c was ended by another thread, if it was (its loop then finishes it).
std::optional<std::string> endedElsewhere(Connection &c)
{
    std::lock_guard lock(c.mutex);
    if (!c.closed)
        return std::nullopt;
    return c.endReason;
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

std::string errnoText(int e)
{
    return std::strerror(e);
}

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
    m_shared.open.fetch_sub(1);
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
            if (auto why = endedElsewhere(*c)) {
                finish(*c, *why);
                continue;
            }
            onReadable(*c); // re-reads only when the socket has data; hands over what waits
        }
        if (Clock::now() >= nextSweep) {
            sweepSendTimeouts();
            for (const int fd : std::exchange(m_resting, {})) {
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.fd = fd;
                epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
            }
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
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors or memory: the pending connection stays in the backlog and
                // the listener stays readable, so watching it now would spin. It is set aside
                // until the next sweep (kSweepMs) and tried again then.
                epoll_ctl(m_epoll, EPOLL_CTL_DEL, listenFd, nullptr);
                m_resting.push_back(listenFd);
            }
            return; // EAGAIN: all taken
        }
        m_shared.accepted(fd);
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
        if (n < 8 || static_cast<std::size_t>(n) > m_shared.options.maxFrameBytes)
            return finish(c, "request frame of " + std::to_string(n) + " bytes (limit "
                                 + std::to_string(m_shared.options.maxFrameBytes) + ")");
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
        m_shared.handler.handle(frame, c.self,
                                  [self](KafkaOutcome o) { respond(self, std::move(o)); });
        c.inStart += 4 + static_cast<std::size_t>(n);
        if (auto why = endedElsewhere(c))
            return finish(c, *why);
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
    m_shared.open.fetch_sub(1);
    if (!why.empty())
        m_shared.report(c.peer, why);
}

void IoLoop::sweepSendTimeouts()
{
    const auto limit = std::chrono::milliseconds(m_shared.options.sendTimeoutMs);
    const auto now = Clock::now();
    std::vector<ConnectionPtr> late;
    for (const auto &[fd, c] : m_conns) {
        std::lock_guard lock(c->mutex);
        if (!c->closed && c->outDone < c->out.size() && now - c->outSince >= limit)
            late.push_back(c);
    }
    for (const auto &c : late)
        finish(*c, "did not read its response for "
                       + std::to_string(m_shared.options.sendTimeoutMs) + " ms");
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
        m_shared.open.fetch_sub(1);
    }
    m_conns.clear();
}

} // namespace eddy::kafka
