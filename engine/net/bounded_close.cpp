// nng_close with a bound. The close runs on a thread of its own; the caller waits on a condition
// variable for at most the bound and, past it, detaches that thread. Nothing of the caller's is
// touched by the thread except what it was given to keep alive, so abandoning it is safe; the
// socket's memory stays allocated for as long as NNG's close is stuck.
#include "bounded_close.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace eddy {

namespace {

struct CloseWait {
    std::mutex mutex;
    std::condition_variable cv;
    bool finished = false;
};

} // namespace

bool closeSocketBounded(nng_socket socket, int timeoutMs, std::shared_ptr<void> keep)
{
    auto wait = std::make_shared<CloseWait>();
    std::thread closer([socket, wait, keep = std::move(keep)] {
        nng_close(socket);
        std::lock_guard lock(wait->mutex);
        wait->finished = true;
        wait->cv.notify_all();
    });
    std::unique_lock lock(wait->mutex);
    if (wait->cv.wait_for(lock, std::chrono::milliseconds(std::max(0, timeoutMs)),
                          [&] { return wait->finished; })) {
        lock.unlock();
        closer.join();
        return true;
    }
    lock.unlock();
    closer.detach();
    return false;
}

} // namespace eddy
