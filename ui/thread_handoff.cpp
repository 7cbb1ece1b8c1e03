// Thread hand-offs through our own mutexes (see thread_handoff.h): the queue batches whatever
// was posted until its thread drains it, and wakes that thread with one queued call by name per
// batch; the pool keeps its jobs and gives Qt only a capture-free function that runs the next.
#include "thread_handoff.h"

#include <QMetaObject>

#include <utility>

namespace eddy::ui {

HandoffQueue::~HandoffQueue()
{
    std::lock_guard lock(m_mutex);
    m_pending.clear();
}

void HandoffQueue::post(std::function<void()> f)
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        m_pending.push_back(std::move(f));
        wake = !std::exchange(m_wakeQueued, true);
    }
    // By name, so that Qt builds the queued call inside its library out of nothing of ours.
    if (wake)
        QMetaObject::invokeMethod(this, "drain", Qt::QueuedConnection);
}

void HandoffQueue::drain()
{
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(m_mutex);
        batch.swap(m_pending);
        m_wakeQueued = false;
    }
    for (auto &f : batch)
        f();
}

HandoffPool::HandoffPool(int maxThreads)
{
    m_pool.setMaxThreadCount(maxThreads);
}

HandoffPool::~HandoffPool()
{
    waitForDone();
}

void HandoffPool::start(std::function<void()> job)
{
    {
        std::lock_guard lock(m_mutex);
        m_jobs.push_back(std::move(job));
    }
    // One run per job started; which job a run takes does not matter, each takes one.
    m_pool.start([this] { runOne(); });
}

void HandoffPool::runOne()
{
    std::function<void()> job;
    {
        std::lock_guard lock(m_mutex);
        job = std::move(m_jobs.front());
        m_jobs.pop_front();
    }
    job();
    job = nullptr;
    // Publishes the job's effects (and its destruction) to waitForDone.
    std::lock_guard lock(m_mutex);
}

void HandoffPool::waitForDone()
{
    m_pool.waitForDone();
    std::lock_guard lock(m_mutex);
}

} // namespace eddy::ui
