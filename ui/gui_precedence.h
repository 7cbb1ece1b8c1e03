#pragma once

#include <QObject>
#include <QTimer>

namespace eddy::ui {

// Keeps the GUI thread ahead of the studio's own load on a busy machine: every other thread of
// the process (the embedded broker, NNG's I/O threads, simulated instances, worker pools) runs
// at a higher nice value, so when they and the GUI thread are all runnable the scheduler picks
// the GUI thread first. Threads start all the time (an instance restarted by a fault), so the
// process's threads are looked at again every interval; a thread already at or above the nice
// value is left alone. Linux only (elsewhere it does nothing). Construct it on the GUI thread.
class GuiPrecedence : public QObject
{
    Q_OBJECT

public:
    // niceness: what the other threads get (the GUI thread keeps its own, 0 normally).
    explicit GuiPrecedence(int niceness = 10, int intervalMs = 1000, QObject *parent = nullptr);

    // Renices the threads that are not yet at the niceness; returns how many it changed.
    int apply();

private:
    int m_niceness;
    long m_guiTid;
    QTimer m_timer;
};

} // namespace eddy::ui
