// GUI-thread responsiveness probe. A 5 ms precise timer is late by exactly as long as the GUI
// thread was busy with something else (painting, handling snapshots), so the distribution of its
// tick intervals is the distribution of frame delays a user would feel.
#include "frame_monitor.h"

#include <qcustomplot.h>

#include <algorithm>

namespace eddy::ui {

namespace {

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
    connect(&m_timer, &QTimer::timeout, this, [this] {
        const qint64 now = m_clock.nsecsElapsed();
        if (m_lastNs)
            m_intervalsMs.push_back(static_cast<double>(now - m_lastNs) / 1e6);
        m_lastNs = now;
    });
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
    f.replots = m_replotMs.size();
    f.seconds = m_clock.isValid() ? static_cast<double>(m_clock.elapsed()) / 1000.0 : 0;
    f.replotsPerSec = f.seconds > 0 ? static_cast<double>(f.replots) / f.seconds : 0;
    f.replotP99Ms = percentile(m_replotMs, 0.99);
    return f;
}

} // namespace eddy::ui
