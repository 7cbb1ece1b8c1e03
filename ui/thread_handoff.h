#pragma once

// Hand-offs between the studio's threads whose order ThreadSanitizer can see.
//
// A queued QMetaObject::invokeMethod with a functor, QThreadPool::start and waitForDone order
// the caller's work before the function through locks inside libQt6Core. Debian's Qt is not
// built with TSan, so those locks are invisible to it and it reports the functions' captures
// (built on one thread, used and freed on another) as races. Here every function crosses
// through a std::mutex of ours instead, and Qt only carries a wake-up that holds no data of
// ours (a queued call by name, a capture-free job), so TSan sees the same order Qt provides.

#include <QObject>
#include <QThreadPool>

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace eddy::ui {

// Runs functions on the thread this object lives in, in the order they were posted.
class HandoffQueue : public QObject
{
    Q_OBJECT

public:
    explicit HandoffQueue(QObject *parent = nullptr) : QObject(parent) {}
    // Functions still pending are destroyed without being run.
    ~HandoffQueue() override;

    // Any thread, while this object lives: f runs on this object's thread soon after.
    void post(std::function<void()> f);

private:
    Q_INVOKABLE void drain();

    std::mutex m_mutex;
    std::vector<std::function<void()>> m_pending; // guarded by m_mutex
    bool m_wakeQueued = false;                    // guarded by m_mutex
};

// A QThreadPool whose jobs are handed over through a mutex of ours.
class HandoffPool
{
public:
    explicit HandoffPool(int maxThreads);
    // Waits for every job.
    ~HandoffPool();

    // Any thread: job runs on a pool thread.
    void start(std::function<void()> job);
    // Waits for every job started so far; what they did happens before the return.
    void waitForDone();

private:
    void runOne();

    QThreadPool m_pool;
    std::mutex m_mutex;
    std::deque<std::function<void()>> m_jobs; // guarded by m_mutex
};

} // namespace eddy::ui
