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
    struct Figures {
        std::size_t ticks = 0;
        double p50Ms = 0;
        double p99Ms = 0;
        double maxMs = 0;
        std::size_t stallsOver50Ms = 0;
        std::size_t replots = 0;
        double replotsPerSec = 0;
        double replotP99Ms = 0;  // time spent in one replot (the plot's own paint)
        double seconds = 0;
    };

    explicit FrameMonitor(QObject *parent = nullptr);
    void watch(QCustomPlot *plot);
    void start();
    Figures figures() const;

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = 0;
    std::vector<double> m_intervalsMs;
    std::vector<double> m_replotMs;
    qint64 m_replotStartNs = 0;
};

} // namespace eddy::ui
