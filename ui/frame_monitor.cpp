// GUI-thread responsiveness probe. A 5 ms precise timer is late by exactly as long as the GUI
// thread was busy with something else (painting, handling snapshots), so the distribution of its
// tick intervals is the distribution of frame delays a user would feel. For each late tick
// (over 50 ms) it also records what the thread did meanwhile: its CPU time (its own work) and
// the kernel's run-queue wait from schedstat (runnable, but no core free), which tells a slow
// event handler from a thread the OS did not schedule.
#include "frame_monitor.h"

#include <qcustomplot.h>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace eddy::ui {

namespace {

qint64 threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<qint64>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Field 2 of schedstat: nanoseconds the thread spent runnable in a run queue. -1 if unreadable.
qint64 runQueueNs(int fd)
{
    if (fd < 0)
        return -1;
    char buf[96];
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    unsigned long long run = 0;
    unsigned long long wait = 0;
    if (std::sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return -1;
    return static_cast<qint64>(wait);
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

} // namespace

FrameMonitor::FrameMonitor(QObject *parent) : QObject(parent)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(5);
    // Opened here, on the thread that runs the timer (the monitor lives on the GUI thread).
    m_schedstatFd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        const qint64 now = m_clock.nsecsElapsed();
        const qint64 cpu = threadCpuNs();
        const qint64 runQueue = runQueueNs(m_schedstatFd);
        if (m_lastNs) {
            const double ms = static_cast<double>(now - m_lastNs) / 1e6;
            m_intervalsMs.push_back(ms);
            if (ms > 50)
                m_stalls.push_back({ms, static_cast<double>(cpu - m_lastCpuNs) / 1e6,
                                    runQueue >= 0 && m_lastRunQueueNs >= 0
                                        ? static_cast<double>(runQueue - m_lastRunQueueNs) / 1e6
                                        : -1.0});
        }
        m_lastNs = now;
        m_lastCpuNs = cpu;
        m_lastRunQueueNs = runQueue;
    });
}

FrameMonitor::~FrameMonitor()
{
    if (m_schedstatFd >= 0)
        close(m_schedstatFd);
}

void FrameMonitor::watch(QCustomPlot *plot)
{
    connect(plot, &QCustomPlot::beforeReplot, this,
            [this] { m_replotStartNs = m_clock.isValid() ? m_clock.nsecsElapsed() : 0; });
    connect(plot, &QCustomPlot::afterReplot, this, [this] {
        if (m_clock.isValid() && m_replotStartNs)
            m_replotMs.push_back(static_cast<double>(m_clock.nsecsElapsed() - m_replotStartNs)
                                 / 1e6);
    });
}

void FrameMonitor::start()
{
    m_clock.start();
    m_lastNs = 0;
    m_intervalsMs.clear();
    m_stalls.clear();
    m_replotMs.clear();
    m_timer.start();
}

FrameMonitor::Figures FrameMonitor::figures() const
{
    Figures f;
    f.ticks = m_intervalsMs.size();
    f.p50Ms = percentile(m_intervalsMs, 0.50);
    f.p99Ms = percentile(m_intervalsMs, 0.99);
    f.maxMs = m_intervalsMs.empty() ? 0
                                    : *std::max_element(m_intervalsMs.begin(), m_intervalsMs.end());
    f.stallsOver50Ms = static_cast<std::size_t>(
        std::count_if(m_intervalsMs.begin(), m_intervalsMs.end(), [](double v) { return v > 50; }));
    f.stalls = m_stalls;
    f.replots = m_replotMs.size();
    f.seconds = m_clock.isValid() ? static_cast<double>(m_clock.elapsed()) / 1000.0 : 0;
    f.replotsPerSec = f.seconds > 0 ? static_cast<double>(f.replots) / f.seconds : 0;
    f.replotP99Ms = percentile(m_replotMs, 0.99);
    return f;
}

} // namespace eddy::ui
