// ChildProcess: posix_spawnp with three pipes (stdin, stdout, stderr) created close-on-exec, so a
// child started from one thread never inherits another child's pipe ends; dup2 in the spawn file
// actions gives the child its own. A reader thread per child polls stdout and stderr into buffers
// the test reads; the exit status is collected with waitpid, without blocking while it runs.
#include "child_process.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct ChildProcess::Output {
    std::mutex mutex;
    std::condition_variable changed;
    QByteArray out;
    QByteArray err;
    bool closed = false; // both pipes reached end-of-file (or reading was stopped)
    bool stop = false;
};

namespace {

using Clock = std::chrono::steady_clock;

} // namespace

void ChildProcess::drain(const std::shared_ptr<Output> &output, int outFd, int errFd)
{
    pollfd fds[2] = {{outFd, POLLIN, 0}, {errFd, POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        {
            std::lock_guard lock(output->mutex);
            if (output->stop)
                break;
        }
        // A bounded poll, so a stop request is seen even while a grandchild holds a pipe open.
        const int ready = ::poll(fds, 2, 50);
        if (ready < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2 && ready > 0; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                std::lock_guard lock(output->mutex);
                (i == 0 ? output->out : output->err).append(buf, n);
                output->changed.notify_all();
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            }
        }
    }
    for (const auto &fd : fds)
        if (fd.fd >= 0)
            ::close(fd.fd);
    std::lock_guard lock(output->mutex);
    output->closed = true;
    output->changed.notify_all();
}

namespace {

QByteArray nameOf(const char *entry)
{
    const char *eq = std::strchr(entry, '=');
    return eq ? QByteArray(entry, int(eq - entry)) : QByteArray(entry);
}

// This process's environment with options' changes, as "NAME=value" strings.
std::vector<std::string> childEnvironment(const ChildOptions &options)
{
    QList<QByteArray> drop;
    for (const auto &name : options.unsetEnv)
        drop << name.toLocal8Bit();
    for (const auto &[name, value] : options.setEnv)
        drop << name.toLocal8Bit();
    std::vector<std::string> env;
    for (char **entry = environ; *entry; ++entry)
        if (!drop.contains(nameOf(*entry)))
            env.emplace_back(*entry);
    for (const auto &[name, value] : options.setEnv)
        env.push_back((name + '=' + value).toStdString());
    return env;
}

std::vector<char *> pointers(std::vector<std::string> &strings)
{
    std::vector<char *> out;
    for (auto &s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

ChildProcess::~ChildProcess()
{
    kill();
    closeWriteChannel();
    finishReading(0);
}

bool ChildProcess::start(const QString &program, const QStringList &args,
                         const ChildOptions &options)
{
    kill();
    closeWriteChannel();
    finishReading(0);
    m_pid = 0;
    m_reaped = false;
    m_exitCode = -1;
    m_signal = 0;
    m_error.clear();

    int in[2];
    int out[2];
    int err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
        m_error = QString("pipe: ") + std::strerror(errno);
        return false;
    }
    if (::pipe2(out, O_CLOEXEC) != 0) {
        m_error = QString("pipe: ") + std::strerror(errno);
        ::close(in[0]);
        ::close(in[1]);
        return false;
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
        m_error = QString("pipe: ") + std::strerror(errno);
        for (int fd : {in[0], in[1], out[0], out[1]})
            ::close(fd);
        return false;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the copies: only these three reach the program.
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    const QByteArray dir = options.workingDirectory.toLocal8Bit();
    if (!dir.isEmpty())
        posix_spawn_file_actions_addchdir_np(&actions, dir.constData());

    // The child starts with no blocked signals and default dispositions for the signals a test
    // runner may have changed, whatever thread of this process starts it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
        sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argStrings{program.toStdString()};
    for (const auto &a : args)
        argStrings.push_back(a.toStdString());
    auto argv = pointers(argStrings);
    auto envStrings = childEnvironment(options);
    auto envp = pointers(envStrings);

    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
        m_error = "cannot start " + program + ": " + std::strerror(rc);
        for (int fd : {in[1], out[0], err[0]})
            ::close(fd);
        return false;
    }
    m_pid = pid;
    m_stdin = in[1];
    if (!options.keepStdinOpen)
        closeWriteChannel();
    m_output = std::make_shared<Output>();
    m_reader = std::thread(&ChildProcess::drain, m_output, out[0], err[0]);
    return true;
}

void ChildProcess::setStatus(int status)
{
    m_reaped = true;
    if (WIFEXITED(status)) {
        m_exitCode = WEXITSTATUS(status);
        m_signal = 0;
    } else if (WIFSIGNALED(status)) {
        m_exitCode = -1;
        m_signal = WTERMSIG(status);
    }
}

bool ChildProcess::running()
{
    if (m_pid == 0 || m_reaped)
        return false;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(m_pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == m_pid)
        setStatus(status);
    else if (r < 0)
        m_reaped = true; // not our child any more: nothing left to wait for
    return !m_reaped;
}

bool ChildProcess::waitForFinished(int timeoutMs)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (running()) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (m_pid == 0)
        return false;
    // The pipes close with the child; a little grace for the reader to drain the last bytes
    // (more only if the child left a process of its own holding them).
    finishReading(1000);
    return true;
}

bool ChildProcess::write(const QByteArray &data)
{
    if (m_stdin < 0)
        return false;
    // A child that closed its end would raise SIGPIPE and end the test: block it in this thread
    // and take the pending one back if the write fails with EPIPE.
    sigset_t pipeSet;
    sigset_t old;
    sigemptyset(&pipeSet);
    sigaddset(&pipeSet, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeSet, &old);
    qsizetype done = 0;
    bool ok = true;
    while (done < data.size()) {
        const ssize_t n = ::write(m_stdin, data.constData() + done, size_t(data.size() - done));
        if (n > 0) {
            done += n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            ok = false;
            if (errno == EPIPE) {
                const timespec zero{0, 0};
                ::sigtimedwait(&pipeSet, nullptr, &zero);
            }
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return ok;
}

void ChildProcess::closeWriteChannel()
{
    if (m_stdin >= 0)
        ::close(m_stdin);
    m_stdin = -1;
}

bool ChildProcess::waitForReadyRead(int timeoutMs)
{
    if (!m_output)
        return false;
    std::unique_lock lock(m_output->mutex);
    m_output->changed.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                               [&] { return !m_output->out.isEmpty() || m_output->closed; });
    return !m_output->out.isEmpty();
}

QByteArray ChildProcess::readAllStandardOutput()
{
    if (!m_output)
        return {};
    std::lock_guard lock(m_output->mutex);
    return std::exchange(m_output->out, {});
}

QByteArray ChildProcess::readAllStandardError()
{
    if (!m_output)
        return {};
    std::lock_guard lock(m_output->mutex);
    return std::exchange(m_output->err, {});
}

bool ChildProcess::signal(int sig)
{
    // Until it is reaped the pid stays ours (a zombie keeps it), so it cannot hit a stranger.
    if (m_pid == 0 || m_reaped)
        return false;
    return ::kill(m_pid, sig) == 0;
}

bool ChildProcess::terminate()
{
    return signal(SIGTERM);
}

void ChildProcess::kill()
{
    if (m_pid == 0 || m_reaped)
        return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(m_pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r == m_pid)
        setStatus(status);
    else
        m_reaped = true;
    finishReading(1000);
}

void ChildProcess::finishReading(int timeoutMs)
{
    if (!m_reader.joinable())
        return;
    {
        std::unique_lock lock(m_output->mutex);
        m_output->changed.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                                   [&] { return m_output->closed; });
        m_output->stop = true;
    }
    m_reader.join();
}

QString ChildRun::describe() const
{
    return QString("exit %1\nstdout:\n%2\nstderr:\n%3").arg(exitCode).arg(out, err);
}

ChildRun runChild(const QString &program, const QStringList &args, int timeoutMs,
                  const QByteArray &input, const ChildOptions &options)
{
    ChildRun r;
    ChildProcess p;
    ChildOptions withInput = options;
    withInput.keepStdinOpen = !input.isEmpty();
    if (!p.start(program, args, withInput)) {
        r.err = p.errorString();
        return r;
    }
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        r.err = "timed out";
        return r;
    }
    r.exitCode = p.exitedNormally() ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}
