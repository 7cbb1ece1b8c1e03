// The engine's timer thread. A multimap ordered by deadline is plenty for the task counts here
// (one per parked long-poll plus a handful of periodic jobs); cancellation is a linear erase.
#include "scheduler.h"

#include <algorithm>

namespace eddy {

int64_t wallClockUs()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t wallClockMs()
{
    return wallClockUs() / 1000;
}

Scheduler::Scheduler() : m_thread([this] { loop(); }) {}

Scheduler::~Scheduler()
{
    stop();
}

Scheduler::TaskId Scheduler::after(std::chrono::milliseconds delay, std::function<void()> fn)
{
    std::lock_guard lock(m_mutex);
    const TaskId id = m_nextId++;
    m_tasks.emplace(Clock::now() + delay, Task{id, std::chrono::milliseconds(0), std::move(fn)});
    m_cv.notify_one();
    return id;
}

Scheduler::TaskId Scheduler::every(std::chrono::milliseconds period, std::function<void()> fn)
{
    std::lock_guard lock(m_mutex);
    const TaskId id = m_nextId++;
    m_tasks.emplace(Clock::now() + period, Task{id, period, std::move(fn)});
    m_cv.notify_one();
    return id;
}

void Scheduler::cancel(TaskId id)
{
    std::lock_guard lock(m_mutex);
    for (auto it = m_tasks.begin(); it != m_tasks.end(); ++it) {
        if (it->second.id == id) {
            m_tasks.erase(it);
            return;
        }
    }
}

void Scheduler::stop()
{
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping)
            return;
        m_stopping = true;
        m_tasks.clear();
    }
    m_cv.notify_one();
    if (m_thread.joinable())
        m_thread.join();
}

void Scheduler::loop()
{
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        if (m_tasks.empty()) {
            m_cv.wait(lock);
            continue;
        }
        const auto due = m_tasks.begin()->first;
        if (Clock::now() < due) {
            m_cv.wait_until(lock, due);
            continue;
        }
        Task task = std::move(m_tasks.begin()->second);
        m_tasks.erase(m_tasks.begin());
        if (task.period.count() > 0)
            m_tasks.emplace(std::max(due + task.period, Clock::now()),
                            Task{task.id, task.period, task.fn});
        lock.unlock();
        task.fn();
        lock.lock();
    }
}

} // namespace eddy
