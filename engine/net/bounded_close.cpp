// nng_close with a bound. The close runs on a thread of its own; the caller waits on a condition
// variable for at most the bound and, past it, detaches that thread. Nothing of the caller's is
// touched by the thread except what it was given to keep alive, so abandoning it is safe; the
// socket's memory stays allocated for as long as NNG's close is stuck.
#include "bounded_close.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace eddy {

bool PendingClose::waitFor(int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, std::chrono::milliseconds(std::max(0, timeoutMs)),
                         [&] { return m_finished; });
}

bool closeSocketBounded(nng_socket socket, int timeoutMs, std::shared_ptr<void> keep,
                        std::shared_ptr<PendingClose> *pending)
{
    auto wait = std::make_shared<PendingClose>();
    std::thread closer([socket, wait, keep = std::move(keep)] {
        nng_close(socket);
        std::lock_guard lock(wait->m_mutex);
        wait->m_finished = true;
        wait->m_cv.notify_all();
    });
    if (wait->waitFor(timeoutMs)) {
        closer.join();
        return true;
    }
    closer.detach();
    if (pending)
        *pending = wait;
    return false;
}

} // namespace eddy
