// The GUI thread's precedence: every other thread of the process, those running when it starts
// and those started later, gets the higher nice value; the constructing (GUI) thread keeps its
// own, and a thread already nicer than asked is left as it is.
#include "gui_precedence.h"

#include <QtTest>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace eddy::ui;

namespace {

int niceOf(long tid)
{
    return getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
}

// A thread that reports its id and waits until released.
class Parked
{
public:
    explicit Parked(int ownNice = -100)
        : m_thread([this, ownNice] {
            if (ownNice != -100)
                setpriority(PRIO_PROCESS, 0, ownNice);
            m_tid = static_cast<long>(syscall(SYS_gettid));
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [this] { return m_release; });
        })
    {
        while (m_tid == 0)
            std::this_thread::yield();
    }
    ~Parked()
    {
        {
            std::lock_guard lock(m_mutex);
            m_release = true;
        }
        m_cv.notify_all();
        m_thread.join();
    }
    long tid() const { return m_tid; }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_release = false;
    std::atomic<long> m_tid{0};
    std::thread m_thread;
};

} // namespace

class TestGuiPrecedence : public QObject
{
    Q_OBJECT

private slots:
    void otherThreadsYieldToTheGuiThread();
};

void TestGuiPrecedence::otherThreadsYieldToTheGuiThread()
{
    const long gui = static_cast<long>(syscall(SYS_gettid));
    const int guiNice = niceOf(gui);
    // Above whatever the test runs at (ctest may run it niced), below the maximum.
    const int target = std::min(guiNice + 3, 17);
    Parked before;
    Parked nicer(target + 2);
    QCOMPARE(niceOf(before.tid()), guiNice);
    GuiPrecedence precedence(target, 50);
    QCOMPARE(niceOf(before.tid()), target);
    QCOMPARE(niceOf(nicer.tid()), target + 2);
    QCOMPARE(niceOf(gui), guiNice);
    // A thread started later (by the GUI thread, so at its nice) is caught by the next round.
    Parked later;
    QCOMPARE(niceOf(later.tid()), guiNice);
    QTRY_COMPARE_WITH_TIMEOUT(niceOf(later.tid()), target, 2000);
    // Nothing left to change.
    QCOMPARE(precedence.apply(), 0);
    QCOMPARE(niceOf(gui), guiNice);
}

QTEST_GUILESS_MAIN(TestGuiPrecedence)
#include "tst_gui_precedence.moc"
