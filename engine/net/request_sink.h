#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace eddy::net {

// Who sent a request: the NNG pipe (one per connection) and its remote address.
struct Peer {
    uint32_t pipeId = 0;
    std::string address; // "tcp://127.0.0.1:53122", "ipc", "inproc"
};

// What the server hands each request to. handle() may answer at once or later from any thread
// (a parked long-poll answers when data arrives); it must call reply exactly once. An empty
// reply answers nothing: the request is dropped and the client's REQ times out (fault injection;
// every protocol reply is non-empty).
class RequestSink
{
public:
    virtual ~RequestSink() = default;
    virtual void handle(std::string_view request, const Peer &peer,
                        std::function<void(std::string reply)> reply) = 0;
    // A connection opened or closed (for the clients list).
    virtual void peerConnected(const Peer &peer) {}
    virtual void peerDisconnected(uint32_t pipeId) {}
};

} // namespace eddy::net
