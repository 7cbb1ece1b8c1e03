#pragma once

#include "request_sink.h"

#include <memory>
#include <mutex>
#include <set>

namespace eddy {
class Scheduler;
}

namespace eddy::net {

// Network faults of the faulty request endpoint, as a Toxiproxy in front of the broker would
// inject them. The default value is "no fault".
struct NetworkFault {
    int latencyMs = 0;           // every request waits this long before it is handled...
    int jitterMs = 0;            // ...plus a uniform random 0..jitterMs
    double dropProbability = 0;  // fraction of requests never answered (the client times out)
    bool disconnected = false;   // close the client's connection on each request; answer nothing
};

// A RequestSink in front of another (the ProtocolHandler) that applies the current NetworkFault
// to each request before passing it on. Thread-safe; the fault may change at any time and applies
// to requests arriving afterwards. Delays run on the sink's own timer thread, never on an NNG
// thread.
class FaultySink : public RequestSink
{
public:
    // seed feeds the drop/jitter random generator (0: a random seed).
    explicit FaultySink(RequestSink &inner, uint64_t seed = 0);
    // Stops the timer (see stop()).
    ~FaultySink() override;
    FaultySink(const FaultySink &) = delete;
    FaultySink &operator=(const FaultySink &) = delete;

    // Replaces the fault. Setting disconnected also closes every connection open at that moment.
    void setFault(const NetworkFault &fault);
    NetworkFault fault() const;
    // Stops the timer: delayed requests not yet due are dropped unanswered. Idempotent; call it
    // after stopping the server that feeds this sink and before the inner sink goes away.
    void stop();

    void handle(std::string_view request, const Peer &peer, ReplyFn reply) override;
    void peerConnected(const Peer &peer) override;
    void peerDisconnected(uint32_t pipeId) override;

private:
    void closePipe(uint32_t pipeId);

    RequestSink &m_inner;
    mutable std::mutex m_mutex; // guards the three below
    NetworkFault m_fault;
    uint64_t m_rng;             // splitmix64 state
    std::set<uint32_t> m_pipes; // open connections of this endpoint
    std::unique_ptr<Scheduler> m_timer;
};

// ms plus a uniform 0..jitterMs drawn from the calling thread's own generator (never below 0),
// for the broker stall (ProtocolHandler::setStall).
int jitteredDelayMs(int ms, int jitterMs);

} // namespace eddy::net
