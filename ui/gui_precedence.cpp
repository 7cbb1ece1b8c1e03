// The GUI thread's precedence over the studio's own load threads. Measured with
// `eddy-studio --bench-frames` (docs/performance.md): every frame stall over 50 ms was the GUI
// thread runnable but waiting for a core, not working; with the other threads at nice +10 the
// scheduler runs it first and the frame p99 halved. Nice values are per thread on Linux and
// within the process's autogroup they only split the studio's own share of the machine.
#include "gui_precedence.h"

#include <QDir>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace eddy::ui {

namespace {

long currentTid()
{
#ifdef __linux__
    return static_cast<long>(syscall(SYS_gettid));
#else
    return -1;
#endif
}

} // namespace

GuiPrecedence::GuiPrecedence(int niceness, int intervalMs, QObject *parent)
    : QObject(parent), m_niceness(niceness), m_guiTid(currentTid())
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, [this] { apply(); });
    apply();
    m_timer.start();
}

int GuiPrecedence::apply()
{
#ifdef __linux__
    int changed = 0;
    const QStringList tids = QDir("/proc/self/task").entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &name : tids) {
        bool ok = false;
        const long tid = name.toLong(&ok);
        if (!ok || tid == m_guiTid)
            continue;
        errno = 0;
        const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
        // -1 with errno set: the thread ended meanwhile.
        if ((nice == -1 && errno != 0) || nice >= m_niceness)
            continue;
        if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), m_niceness) == 0)
            ++changed;
    }
    return changed;
#else
    return 0;
#endif
}

} // namespace eddy::ui
