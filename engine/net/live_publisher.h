#pragma once

#include "result.h"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::net {

// The live stream endpoint: an NNG PUB socket. Every message is "<prefix> <payload>", so a SUB
// socket subscribing to "orders " receives topic orders' records, "$metrics " the metric
// snapshots and "$events " broker events. Sending never blocks: NNG drops messages for
// subscribers that fall behind, which is what a live view wants.
class LivePublisher
{
public:
    // Listens on every URL (tcp://, ipc://, inproc://; tls+tcp:// is refused with InvalidConfig,
    // the stream has no TLS settings).
    static Result<std::unique_ptr<LivePublisher>> start(const std::vector<std::string> &urls);
    ~LivePublisher();

    // True when at least one subscriber is connected (callers skip encoding otherwise).
    bool hasSubscribers() const { return m_subscribers.load(std::memory_order_relaxed) > 0; }
    void publish(std::string_view prefix, std::string_view payload);
    std::vector<std::string> urls() const { return m_urls; }

private:
    LivePublisher() = default;
    uint32_t m_socket = 0;
    std::vector<std::string> m_urls;
    std::atomic<int> m_subscribers{0};
};

} // namespace eddy::net
