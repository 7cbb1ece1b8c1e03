#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace eddy {

// Microseconds since the Unix epoch (wall clock), the broker's append-time clock.
int64_t wallClockUs();
// Milliseconds since the Unix epoch.
int64_t wallClockMs();

// One thread that runs timed tasks: long-poll deadlines, session expiry, metric snapshots,
// retention. Tasks must be short; they run one at a time, never under the scheduler's lock.
class Scheduler
{
public:
    using Clock = std::chrono::steady_clock;
    using TaskId = uint64_t;

    Scheduler();
    ~Scheduler();
    Scheduler(const Scheduler &) = delete;
    Scheduler &operator=(const Scheduler &) = delete;

    // Runs fn once after delay. Returns an id for cancel().
    TaskId after(std::chrono::milliseconds delay, std::function<void()> fn);
    // Runs fn every period, first after one period, until cancelled or stopped.
    TaskId every(std::chrono::milliseconds period, std::function<void()> fn);
    // Cancels a pending task; a task already running finishes.
    void cancel(TaskId id);
    // Stops the thread; pending tasks are dropped. Idempotent.
    void stop();

private:
    struct Task {
        TaskId id;
        std::chrono::milliseconds period;
        std::function<void()> fn;
    };
    void loop();

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::multimap<Clock::time_point, Task> m_tasks;
    TaskId m_nextId = 1;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace eddy
