// Child processes for the tests (the eddy CLI, crash_consumer, nngcat, openssl), started with
// posix_spawn instead of QProcess. QProcess forks, and ThreadSanitizer (clang 14) cannot survive a
// fork() from a multi-threaded process: the child dies in the runtime before it execs. glibc's
// posix_spawn clones with CLONE_VM | CLONE_VFORK and execs at once, so no fork handler runs.
#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

// How a child starts beyond its program and arguments.
struct ChildOptions {
    // Variables set (or replaced) in the child's environment, which is otherwise this process's.
    QList<QPair<QString, QString>> setEnv;
    // Variables removed from the child's environment.
    QStringList unsetEnv;
    // The child's working directory; empty keeps this process's.
    QString workingDirectory;
    // Keep standard input open for write(); otherwise the child reads end-of-file at once.
    bool keepStdinOpen = false;
};

// One child process with its standard output and error captured (drained by a thread of its
// own, so a chatty child never blocks on a full pipe). Not copyable. The destructor kills the
// child with SIGKILL and reaps it if it still runs, so an early return from a failed test leaks
// no process, pipe or thread.
class ChildProcess
{
public:
    ChildProcess() = default;
    ~ChildProcess();
    ChildProcess(const ChildProcess &) = delete;
    ChildProcess &operator=(const ChildProcess &) = delete;

    // Starts program (searched in PATH when it has no '/') with args. False when it could not be
    // executed, with the reason in errorString(). Kills and reaps any child started before.
    bool start(const QString &program, const QStringList &args, const ChildOptions &options = {});
    // Why the last start failed.
    QString errorString() const { return m_error; }
    // The child's process id, 0 before a successful start.
    pid_t pid() const { return m_pid; }

    // True while the child has not exited (a stopped child still runs). Reaps it when it has.
    bool running();
    // Waits up to timeoutMs for the child to exit; true when it has. Its output is then complete
    // (unless it left a process of its own holding the pipes).
    bool waitForFinished(int timeoutMs);
    // True when it exited by itself (not by a signal); exitCode() is then its status.
    bool exitedNormally() const { return m_reaped && m_signal == 0; }
    int exitCode() const { return m_exitCode; }
    // The signal that ended it, 0 if none.
    int exitSignal() const { return m_signal; }

    // Writes to the child's standard input (see ChildOptions::keepStdinOpen); false on error.
    bool write(const QByteArray &data);
    // Closes standard input: the child reads end-of-file.
    void closeWriteChannel();

    // Waits up to timeoutMs for unread standard output; true when there is some.
    bool waitForReadyRead(int timeoutMs);
    // What the child wrote since the last call (or since it started).
    QByteArray readAllStandardOutput();
    QByteArray readAllStandardError();

    // Sends sig (SIGTERM, SIGSTOP, SIGCONT, ...); false when the child is gone.
    bool signal(int sig);
    // SIGTERM; waitForFinished() tells when it is done.
    bool terminate();
    // SIGKILL, then reaps it (a killed process exits at once, even a stopped one).
    void kill();

private:
    struct Output;

    // The reader thread: both pipes into output until each reaches end-of-file or output->stop
    // is set; then it closes them.
    static void drain(const std::shared_ptr<Output> &output, int outFd, int errFd);
    // Records a status from waitpid.
    void setStatus(int status);
    // Closes the pipes and joins the reader thread, waiting up to timeoutMs for end-of-file.
    void finishReading(int timeoutMs);

    pid_t m_pid = 0;
    bool m_reaped = false;
    int m_exitCode = -1;
    int m_signal = 0;
    int m_stdin = -1;
    QString m_error;
    std::shared_ptr<Output> m_output;
    std::thread m_reader;
};

// A child run to completion.
struct ChildRun {
    // The exit status; -1 when it could not start, crashed on a signal or timed out.
    int exitCode = -1;
    QString out;
    QString err;

    // Exit code, stdout and stderr, for failure messages.
    QString describe() const;
};

// Runs program with args, input on its standard input (then end-of-file), and waits up to
// timeoutMs for it. A child still running then is killed and the run reports "timed out".
ChildRun runChild(const QString &program, const QStringList &args, int timeoutMs,
                  const QByteArray &input = {}, const ChildOptions &options = {});
