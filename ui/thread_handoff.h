#pragma once

// Hand-offs between threads through Qt's queues, stated to ThreadSanitizer.
//
// A queued QMetaObject::invokeMethod and QThreadPool::start order everything the calling thread
// did before the call before the function runs on the other thread, and QThreadPool::
// waitForDone orders a pool's finished jobs before what follows it. They do so through locks
// inside libQt6Core, and Debian's Qt is not built with TSan, which therefore cannot see that order
// and reports the function's captures (built on one thread, read on the other) as races. These
// wrappers state the same order with TSan's release/acquire annotations; without TSan they are
// the plain Qt calls. All hand-offs share one synchronisation address, as all of a thread's
// queued events share one queue lock in Qt.

#include <QMetaObject>
#include <QObject>
#include <QThreadPool>

#include <utility>

#if defined(__SANITIZE_THREAD__)
#define EDDY_TSAN_ANNOTATE 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EDDY_TSAN_ANNOTATE 1
#endif
#endif

#ifdef EDDY_TSAN_ANNOTATE
extern "C" void __tsan_acquire(void *addr);
extern "C" void __tsan_release(void *addr);
#endif

namespace eddy::ui {

namespace handoff_detail {
inline char tag;
inline void release()
{
#ifdef EDDY_TSAN_ANNOTATE
    __tsan_release(&tag);
#endif
}
inline void acquire()
{
#ifdef EDDY_TSAN_ANNOTATE
    __tsan_acquire(&tag);
#endif
}
} // namespace handoff_detail

// Runs f on receiver's thread through its event queue (Qt::QueuedConnection); not at all if the
// receiver is destroyed first. Any thread.
template <class F>
void postTo(QObject *receiver, F f)
{
    handoff_detail::release();
    QMetaObject::invokeMethod(
        receiver,
        [f = std::move(f)]() mutable {
            handoff_detail::acquire();
            f();
        },
        Qt::QueuedConnection);
}

// Runs f on a thread of pool. Any thread.
template <class F>
void startIn(QThreadPool &pool, F f)
{
    handoff_detail::release();
    pool.start([f = std::move(f)]() mutable {
        handoff_detail::acquire();
        f();
        handoff_detail::release();
    });
}

// Waits for every job of pool (QThreadPool::waitForDone); what they did happens before the return.
inline void waitForPool(QThreadPool &pool)
{
    pool.waitForDone();
    handoff_detail::acquire();
}

} // namespace eddy::ui
