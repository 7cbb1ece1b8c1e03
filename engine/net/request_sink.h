#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace eddy::net {

// Who sent a request: the NNG pipe (one per connection) and its remote address.
struct Peer {
    uint32_t pipeId = 0;
    std::string address; // "tcp://127.0.0.1:53122", "ipc", "inproc"
};

// What a ReplyFn calls, kept alive by the ReplyFns that hold it (an intrusive count, so the
// server's work item can be its own reply target: a std::function holding a shared_ptr to it
// was a heap allocation per request).
class ReplyTarget
{
public:
    // Answers the request with these bytes (see ReplyFn).
    virtual void reply(std::string_view bytes) = 0;
    // One more / one fewer holder; the last one deletes the target.
    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept
    {
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

protected:
    virtual ~ReplyTarget() = default;

private:
    std::atomic<int> m_refs{0};
};

// How a sink answers a request: call it once with the reply's bytes, which are read (copied)
// before the call returns, so a sink may pass a view of a buffer it reuses (the binary produce
// reply is encoded into a per-thread buffer). Copyable like a std::function; any callable taking
// a string_view converts to one (for sinks that wrap another sink's reply, and for tests).
class ReplyFn
{
public:
    ReplyFn() = default;
    // Holds target (which counts this holder).
    explicit ReplyFn(ReplyTarget *target) : m_target(target)
    {
        if (m_target)
            m_target->ref();
    }
    // (enable_if rather than a requires-clause: Qt's moc, which reads this header through the
    // tests, cannot parse <concepts>.)
    template<typename F,
             typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ReplyFn>
                                         && std::is_invocable_v<F &, std::string_view>>>
    ReplyFn(F f) : ReplyFn(new Callable<std::decay_t<F>>(std::move(f)))
    {
    }
    ReplyFn(const ReplyFn &other) : ReplyFn(other.m_target) {}
    ReplyFn(ReplyFn &&other) noexcept : m_target(std::exchange(other.m_target, nullptr)) {}
    ReplyFn &operator=(ReplyFn other) noexcept
    {
        std::swap(m_target, other.m_target);
        return *this;
    }
    ~ReplyFn()
    {
        if (m_target)
            m_target->unref();
    }

    // Answers (an empty ReplyFn must not be called).
    void operator()(std::string_view reply) const { m_target->reply(reply); }
    explicit operator bool() const { return m_target != nullptr; }

private:
    template<typename F>
    struct Callable final : ReplyTarget {
        explicit Callable(F fn) : f(std::move(fn)) {}
        void reply(std::string_view bytes) override { f(bytes); }
        F f;
    };
    ReplyTarget *m_target = nullptr;
};

// What the server hands each request to. handle() may answer at once or later from any thread
// (a parked long-poll answers when data arrives); it must call reply exactly once. An empty
// reply answers nothing: the request is dropped and the client's REQ times out (fault injection;
// every protocol reply is non-empty).
class RequestSink
{
public:
    virtual ~RequestSink() = default;
    virtual void handle(std::string_view request, const Peer &peer, ReplyFn reply) = 0;
    // A connection opened or closed (for the clients list). A connection the server closes
    // itself (a slow client) is reported closed when it closes it and again when NNG removes
    // it: the second report must be harmless.
    virtual void peerConnected(const Peer &peer) {}
    virtual void peerDisconnected(uint32_t pipeId) {}
};

} // namespace eddy::net
