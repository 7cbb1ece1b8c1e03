#pragma once

#include <atomic>
#include <functional>
#include <memory>

namespace eddy {

// A parked long-poll read. It is registered with every partition it waits on and with the
// scheduler for its deadline; whichever of "data appended" or "deadline passed" comes first runs
// the action, exactly once, on that thread. Nothing ever sleeps and retries.
class Waiter
{
public:
    explicit Waiter(std::function<void(bool timedOut)> action) : m_action(std::move(action)) {}

    // Runs the action if no one has yet. Call without holding any engine lock.
    void fire(bool timedOut)
    {
        if (!m_fired.exchange(true, std::memory_order_acq_rel)) {
            m_action(timedOut);
            // Drop what the action captured, its partition log among them: a fired waiter can
            // stay in that log's waiter list until the next append, and after the topic is
            // deleted the log would keep itself alive through it.
            m_action = nullptr;
        }
    }
    bool fired() const { return m_fired.load(std::memory_order_acquire); }

private:
    std::function<void(bool)> m_action;
    std::atomic<bool> m_fired{false};
};

using WaiterPtr = std::shared_ptr<Waiter>;

} // namespace eddy
