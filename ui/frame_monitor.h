#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

class QCustomPlot;

namespace eddy::ui {

// Measures how responsive the GUI thread is: a precise 5 ms timer on the GUI thread records the
// interval between its ticks (what a frame would wait for the event loop), and every replot of
// the given charts is counted and timed. For `eddy-studio --bench-frames`, which runs it while a
// load is going and prints the figures.
class FrameMonitor : public QObject
{
    Q_OBJECT

public:
    // One tick interval over 50 ms and what the GUI thread did in it: ran on a core for cpuMs
    // (its own work) and waited runnable in the kernel's run queue for runQueueMs (no core free;
    // -1 where /proc/thread-self/schedstat is missing). The rest it slept, waiting for an event.
    struct Stall {
        double ms = 0;
        double cpuMs = 0;
        double runQueueMs = -1;
    };
    struct Figures {
        std::size_t ticks = 0;
        double p50Ms = 0;
        double p99Ms = 0;
        double maxMs = 0;
        std::size_t stallsOver50Ms = 0;
        std::vector<Stall> stalls; // in time order
        std::size_t replots = 0;
        double replotsPerSec = 0;
        double replotP99Ms = 0;  // time spent in one replot (the plot's own paint)
        double seconds = 0;
    };

    explicit FrameMonitor(QObject *parent = nullptr);
    ~FrameMonitor() override;
    void watch(QCustomPlot *plot);
    void start();
    Figures figures() const;

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = 0;
    std::vector<double> m_intervalsMs;
    std::vector<Stall> m_stalls;
    // The GUI thread's CPU time and run-queue wait at the last tick (ns).
    qint64 m_lastCpuNs = 0;
    qint64 m_lastRunQueueNs = -1;
    int m_schedstatFd = -1; // /proc/thread-self/schedstat of the GUI thread, kept open
    std::vector<double> m_replotMs;
    qint64 m_replotStartNs = 0;
};

} // namespace eddy::ui
