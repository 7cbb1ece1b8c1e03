#pragma once

#include "kafka_handler.h"
#include "kafka_server.h"
#include "result.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace eddy::kafka {

// What a listener's loops share: the handler, the limits, the count of open connections, and
// the server's hooks for an accepted socket and for a connection ended with a reason.
struct LoopShared {
    KafkaHandler &handler;
    const KafkaServerOptions &options;
    std::atomic<std::size_t> open{0};
    std::function<void(int fd)> accepted;
    std::function<void(const std::string &peer, const std::string &why)> report;
};

class IoLoop;

// strerror(e) as a string.
std::string errnoText(int e);

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
    std::chrono::steady_clock::time_point outSince; // when out last became pending
    std::string endReason;      // why a thread other than the loop ended it
};
using ConnectionPtr = std::shared_ptr<Connection>;

// An epoll loop on a thread of its own, serving the connections given to it.
class IoLoop
{
public:
    explicit IoLoop(LoopShared &shared)
        : m_shared(shared)
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

    LoopShared &m_shared;
    int m_epoll = -1;
    int m_wakeFd = -1;
    std::vector<int> m_listeners;
    std::vector<int> m_resting; // listeners unwatched until the next sweep (accept failed)
    std::thread m_thread;
    std::atomic<std::thread::id> m_threadId{};
    std::unordered_map<int, ConnectionPtr> m_conns; // loop thread only

    std::mutex m_mutex; // guards the lists below and m_stopping
    std::vector<ConnectionPtr> m_adopted;
    std::vector<ConnectionPtr> m_posted;
    bool m_stopping = false;
    bool m_woken = false;
};

} // namespace eddy::kafka
