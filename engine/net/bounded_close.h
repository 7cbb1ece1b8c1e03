#pragma once

#include <nng/nng.h>

#include <condition_variable>
#include <memory>
#include <mutex>

namespace eddy {

// Closes `socket` with nng_close and waits at most `timeoutMs` for it (0: not at all). NNG 1.5.2
// can wait forever to close a TCP connection that has a transfer in progress (its reaper blocks in
// the protocol's pipe stop; fixed upstream after 1.5.2, nanomsg/nng#1543), so a caller that must
// return — a broker shutting down, a client closing a connection — bounds the wait. Returns true
// when the socket closed in time; false when the close was left to finish, or not, on its own
// thread, which then holds `keep` until it ends. After false the caller must not free anything the
// socket may still use (TLS configs, pipe-notify state) unless it is held by `keep`.
//
// After false, `pending` (when given) lets the caller wait for that close a little longer.
class PendingClose;
bool closeSocketBounded(nng_socket socket, int timeoutMs, std::shared_ptr<void> keep = {},
                        std::shared_ptr<PendingClose> *pending = nullptr);

// A close that closeSocketBounded left running on its own thread.
class PendingClose
{
public:
    // Waits at most timeoutMs for the close to finish; true when it has.
    bool waitFor(int timeoutMs);

private:
    friend bool closeSocketBounded(nng_socket, int, std::shared_ptr<void>,
                                   std::shared_ptr<PendingClose> *);
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_finished = false;
};

} // namespace eddy
