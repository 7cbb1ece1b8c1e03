// `eddy broker` as a child process for the crash tests: started on a fixed loopback port (so
// clients redial the same URL after every restart) and a data directory that outlives it, killed
// with SIGKILL, frozen with SIGSTOP and thawed with SIGCONT like a real process would be.
#pragma once

#include "child_process.h"

#include <QElapsedTimer>
#include <QString>
#include <QStringList>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

// A loopback TCP port that was free a moment ago: the kernel picks it for a socket bound to port
// 0, which is then closed. The broker binds it again (NNG listeners set SO_REUSEADDR).
inline int freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

class BrokerProcess
{
public:
    // The broker serves dataDir with the given durability ("durable" or "fast") on
    // tcp://127.0.0.1:port, without a live stream.
    BrokerProcess(QString cli, QString dataDir, QString durability, int port)
        : m_cli(std::move(cli))
        , m_dataDir(std::move(dataDir))
        , m_durability(std::move(durability))
        , m_url(QString("tcp://127.0.0.1:%1").arg(port))
    {
    }
    ~BrokerProcess() { kill(); }
    BrokerProcess(const BrokerProcess &) = delete;
    BrokerProcess &operator=(const BrokerProcess &) = delete;

    QString url() const { return m_url; }
    qint64 pid() const { return m_process.pid(); }
    // What the last start printed on stderr (the reason when it failed).
    QString lastError() const { return m_error; }
    // How long the last successful start took until the broker listened.
    qint64 lastStartMs() const { return m_startMs; }

    // Starts the process without waiting for it to serve.
    bool launch()
    {
        m_error.clear();
        m_timer.start();
        if (m_process.start(m_cli, {"broker", "--data", m_dataDir, "--durability", m_durability,
                                    "--listen", m_url, "--pub", "none"}))
            return true;
        m_error = m_process.errorString();
        return false;
    }

    // Waits until the launched broker prints that it listens. A broker that exits instead (a
    // refused store, a port still taken) fails with its stderr in lastError().
    bool waitServing(int timeoutMs = 20000)
    {
        QElapsedTimer timer;
        timer.start();
        QByteArray seen;
        while (timer.elapsed() < timeoutMs) {
            m_process.waitForReadyRead(100);
            seen += m_process.readAllStandardOutput();
            if (seen.contains("requests on")) {
                m_startMs = m_timer.elapsed();
                return true;
            }
            if (!m_process.running()) {
                m_process.waitForFinished(1000); // all of its stderr
                m_error = QString::fromUtf8(m_process.readAllStandardError());
                return false;
            }
        }
        m_error = "the broker did not listen within the timeout";
        return false;
    }

    // Starts and waits; retries a few times when the port is still held by the killed process's
    // sockets, which the kernel releases within moments.
    bool start()
    {
        for (int attempt = 0; attempt < 20; ++attempt) {
            if (launch() && waitServing())
                return true;
            if (!m_error.contains("Address in use") && !m_error.contains("in use"))
                return false;
            m_process.waitForFinished(1000);
            ::usleep(250 * 1000);
        }
        return false;
    }

    // SIGKILL: no flush, no clean close, as a crash or an OOM kill.
    void kill() { m_process.kill(); }

    // SIGTERM and a clean exit; returns the exit code, or -1 when it crashed or had to be killed
    // (lastError() says which).
    int terminate()
    {
        if (!m_process.running())
            return m_process.exitCode();
        m_process.terminate();
        if (!m_process.waitForFinished(15000)) {
            m_error = "the broker did not exit within 15 s of SIGTERM";
            kill();
            return -1;
        }
        m_error = QString::fromUtf8(m_process.readAllStandardError());
        if (!m_process.exitedNormally())
            m_error = "the broker crashed on SIGTERM: " + m_error;
        return m_process.exitedNormally() ? m_process.exitCode() : -1;
    }

    void stop() { m_process.signal(SIGSTOP); }
    void cont() { m_process.signal(SIGCONT); }
    bool running() { return m_process.running(); }

private:
    QString m_cli;
    QString m_dataDir;
    QString m_durability;
    QString m_url;
    ChildProcess m_process;
    QElapsedTimer m_timer;
    QString m_error;
    qint64 m_startMs = 0;
};
