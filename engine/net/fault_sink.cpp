// The faulty request endpoint's sink: a Toxiproxy-like layer between an NngServer and the
// ProtocolHandler. Dropping a request answers the server with an empty reply, which NngServer
// takes as "answer nothing" and puts the work item back to receiving; the client's REQ socket
// times out (or resends) exactly as with a lost packet. Latency copies the request (NNG frees
// its message when handle() returns) and hands it to the sink's timer thread, so no NNG thread
// sleeps. Closing a pipe is also done from the timer thread rather than inside the aio callback
// that delivered the request: that callback must finish without waiting on NNG's pipe teardown.
#include "fault_sink.h"

#include "scheduler.h"

#include <nng/nng.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

namespace eddy::net {

namespace {

uint64_t splitmix64(uint64_t &state)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A uniform double in [0, 1).
double unit(uint64_t &state)
{
    return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

} // namespace

int jitteredDelayMs(int ms, int jitterMs)
{
    // One generator per thread: NNG calls handle() from many threads at once, and a shared
    // generator would need a lock on every request of a stalled broker.
    thread_local std::minstd_rand rng(std::random_device{}());
    int delay = std::max(0, ms);
    if (jitterMs > 0)
        delay += std::uniform_int_distribution<int>(0, jitterMs)(rng);
    return delay;
}

FaultySink::FaultySink(RequestSink &inner, uint64_t seed)
    : m_inner(inner)
    , m_rng(seed ? seed : (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}())
    , m_timer(std::make_unique<Scheduler>())
{
}

FaultySink::~FaultySink()
{
    stop();
}

void FaultySink::stop()
{
    m_timer->stop();
}

void FaultySink::setFault(const NetworkFault &fault)
{
    std::vector<uint32_t> toClose;
    {
        std::lock_guard lock(m_mutex);
        m_fault = fault;
        if (fault.disconnected)
            toClose.assign(m_pipes.begin(), m_pipes.end());
    }
    for (uint32_t id : toClose)
        closePipe(id);
}

NetworkFault FaultySink::fault() const
{
    std::lock_guard lock(m_mutex);
    return m_fault;
}

void FaultySink::closePipe(uint32_t pipeId)
{
    m_timer->after(std::chrono::milliseconds(0), [pipeId] {
        nng_pipe pipe;
        pipe.id = pipeId;
        nng_pipe_close(pipe); // NNG_ENOENT when it closed meanwhile: nothing to do
    });
}

void FaultySink::handle(std::string_view request, const Peer &peer, ReplyFn reply)
{
    NetworkFault fault;
    bool drop = false;
    int delayMs = 0;
    {
        std::lock_guard lock(m_mutex);
        fault = m_fault;
        if (fault.dropProbability > 0)
            drop = fault.dropProbability >= 1 || unit(m_rng) < fault.dropProbability;
        delayMs = std::max(0, fault.latencyMs);
        if (fault.jitterMs > 0)
            delayMs += static_cast<int>(unit(m_rng) * (fault.jitterMs + 1));
    }
    if (fault.disconnected) {
        closePipe(peer.pipeId);
        return reply({}); // no answer: the work item goes back to receiving
    }
    if (drop)
        return reply({});
    if (delayMs == 0)
        return m_inner.handle(request, peer, std::move(reply));
    m_timer->after(std::chrono::milliseconds(delayMs),
                   [this, request = std::string(request), peer, reply = std::move(reply)] {
                       m_inner.handle(request, peer, reply);
                   });
}

void FaultySink::peerConnected(const Peer &peer)
{
    // A client redialing while disconnected is let in and closed on its first request: closing
    // it here as well would only make it redial in a tighter loop.
    {
        std::lock_guard lock(m_mutex);
        m_pipes.insert(peer.pipeId);
    }
    m_inner.peerConnected(peer);
}

void FaultySink::peerDisconnected(uint32_t pipeId)
{
    {
        std::lock_guard lock(m_mutex);
        m_pipes.erase(pipeId);
    }
    m_inner.peerDisconnected(pipeId);
}

} // namespace eddy::net
