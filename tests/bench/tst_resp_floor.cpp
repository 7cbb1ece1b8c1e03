// eddy_resp_floor, the durable floor peers.sh measures against Redis: it must answer what
// redis-cli and redis-benchmark send, journal each pass's XADDs before answering them (and
// only with --flush loop), keep serving others when one client sends garbage, and report its
// counts and remove its journal when stopped. Driven as a child process over loopback.
#include "child_process.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace {

// A started eddy_resp_floor on a free loopback port.
struct Floor {
    ChildProcess process;
    quint16 port = 0;
};

bool startFloor(Floor &floor, const QStringList &args)
{
    if (!floor.process.start(QStringLiteral(EDDY_RESP_FLOOR_PATH),
                             QStringList{"--port", "0"} + args))
        return false;
    // The port it took comes on stderr before it serves.
    const QRegularExpression listening("listening on 127\\.0\\.0\\.1:(\\d+)");
    QByteArray err;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 5000) {
        err += floor.process.readAllStandardError();
        const auto m = listening.match(QString::fromUtf8(err));
        if (m.hasMatch()) {
            floor.port = static_cast<quint16>(m.captured(1).toUInt());
            return true;
        }
        if (!floor.process.running())
            return false;
        QThread::msleep(10);
    }
    return false;
}

// A blocking loopback client whose reads give up after 5 s.
class Client
{
public:
    Client() = default;
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    ~Client()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    bool connectTo(quint16 port)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval timeout{5, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return ::connect(m_fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    }

    bool write(const QByteArray &bytes)
    {
        const auto size = static_cast<std::size_t>(bytes.size());
        return ::send(m_fd, bytes.constData(), size, MSG_NOSIGNAL) == static_cast<ssize_t>(size);
    }

    // Exactly n bytes, or what came before the connection ended or 5 s passed.
    QByteArray read(int n)
    {
        QByteArray got;
        char buf[4096];
        while (got.size() < n) {
            const auto want = std::min<std::size_t>(sizeof buf, std::size_t(n - got.size()));
            const ssize_t r = ::recv(m_fd, buf, want, 0);
            if (r <= 0)
                break;
            got.append(buf, static_cast<int>(r));
        }
        return got;
    }

    // Everything up to and including the first occurrence of end (or what came in 5 s).
    QByteArray readUntil(const QByteArray &end)
    {
        QByteArray got;
        char c;
        while (!got.endsWith(end) && ::recv(m_fd, &c, 1, 0) == 1)
            got.append(c);
        return got;
    }

    // True when the server closed the connection (end of stream within 5 s).
    bool closedByServer()
    {
        char c;
        return ::recv(m_fd, &c, 1, 0) == 0;
    }

private:
    int m_fd = -1;
};

QByteArray command(const QList<QByteArray> &args)
{
    QByteArray out = "*" + QByteArray::number(args.size()) + "\r\n";
    for (const auto &a : args)
        out += "$" + QByteArray::number(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

QByteArray xadd(const QByteArray &value)
{
    return command({"XADD", "stream", "*", "f", value});
}

// Stops the floor with SIGTERM and returns its JSON report (null when it did not stop cleanly).
nlohmann::json stop(Floor &floor)
{
    floor.process.terminate();
    if (!floor.process.waitForFinished(5000) || !floor.process.exitedNormally()
        || floor.process.exitCode() != 0)
        return nullptr;
    return nlohmann::json::parse(floor.process.readAllStandardOutput().toStdString(), nullptr,
                                 false);
}

} // namespace

class TestRespFloor : public QObject
{
    Q_OBJECT

private slots:
    void answersWhatRedisClientsSend();
    void journalsEachPassBeforeAnswering();
    void answersPipelinedAndSplitRequestsInOrder();
    void garbageClosesOnlyThatClient();
    void refusesBadOptions();
};

void TestRespFloor::answersWhatRedisClientsSend()
{
    Floor floor;
    QVERIFY(startFloor(floor, {"--flush", "none"}));
    Client client;
    QVERIFY(client.connectTo(floor.port));

    const QByteArray config = command({"CONFIG", "GET", "appendfsync"});
    QVERIFY(client.write(command({"PING"}) + config + command({"HELLO"})));
    const QByteArray pong = "+PONG\r\n";
    const QByteArray fsync = "*2\r\n$11\r\nappendfsync\r\n$2\r\nno\r\n";
    const QByteArray unknown = "-ERR unknown command\r\n";
    QCOMPARE(client.read(int(pong.size() + fsync.size() + unknown.size())),
             pong + fsync + unknown);

    // A stream id, "$<length>\r\n<ms>-<seq>\r\n", as XADD answers.
    QVERIFY(client.write(xadd("v")));
    const QByteArray length = client.readUntil("\r\n");
    QVERIFY2(length.startsWith('$'), length.constData());
    const QByteArray id = client.read(length.mid(1).trimmed().toInt() + 2);
    QVERIFY2(QRegularExpression("^\\d+-0\\r\\n$").match(QString::fromUtf8(id)).hasMatch(),
             id.constData());

    const auto report = stop(floor);
    QVERIFY(report.is_object());
    QCOMPARE(report["xadds"].get<int>(), 1);
    QCOMPARE(report["flushes"].get<int>(), 0); // --flush none never syncs
}

void TestRespFloor::journalsEachPassBeforeAnswering()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    Floor floor;
    QVERIFY(startFloor(floor, {"--flush", "loop", "--dir", dir.path(), "--journal-mib", "1"}));
    const QStringList journals = QDir(dir.path()).entryList({"*.journal"}, QDir::Files);
    QCOMPARE(journals.size(), 1);
    const QString journal = dir.filePath(journals.first());
    QCOMPARE(QFileInfo(journal).size(), qint64(1) << 20); // preallocated, written

    Client client;
    QVERIFY(client.connectTo(floor.port));
    QVERIFY(client.write(command({"CONFIG", "GET", "appendonly"})));
    const QByteArray aof = "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n";
    QCOMPARE(client.read(int(aof.size())), aof);

    const QByteArray marker = "record-that-must-be-on-disk";
    QVERIFY(client.write(xadd(marker)));
    QVERIFY(client.readUntil("\r\n").startsWith('$'));
    // Answered, so already written: the request as it came is in the journal.
    QFile file(journal);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains(xadd(marker)));
    file.close();

    const auto report = stop(floor);
    QVERIFY(report.is_object());
    QCOMPARE(report["xadds"].get<int>(), 1);
    QCOMPARE(report["flushes"].get<int>(), 1);
    QVERIFY(report["fdatasync_mean_us"].get<double>() > 0);
    QVERIFY2(!QFile::exists(journal), "the journal outlived the server");
}

void TestRespFloor::answersPipelinedAndSplitRequestsInOrder()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    Floor floor;
    QVERIFY(startFloor(floor, {"--flush", "loop", "--dir", dir.path(), "--journal-mib", "1"}));
    Client client;
    QVERIFY(client.connectTo(floor.port));

    // Ten in one write, as redis-benchmark -P 10 sends them, then one cut in the middle of a
    // bulk string, its end a moment later.
    QByteArray batch;
    for (int i = 0; i < 10; ++i)
        batch += xadd("v" + QByteArray::number(i));
    QVERIFY(client.write(batch));
    const QByteArray split = xadd("split");
    QVERIFY(client.write(split.left(split.size() / 2)));
    QThread::msleep(100);
    QVERIFY(client.write(split.mid(split.size() / 2) + command({"PING"})));

    // Eleven ids numbered in order, then the PONG behind them.
    const QString replies = QString::fromUtf8(client.readUntil("+PONG\r\n"));
    const QRegularExpression id("\\$\\d+\\r\\n\\d+-(\\d+)\\r\\n");
    QList<int> seqs;
    for (auto it = id.globalMatch(replies); it.hasNext();)
        seqs.append(it.next().captured(1).toInt());
    QCOMPARE(seqs, (QList<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    QVERIFY(replies.endsWith("+PONG\r\n"));

    const auto report = stop(floor);
    QVERIFY(report.is_object());
    QCOMPARE(report["xadds"].get<int>(), 11);
    // At least the two writes apart; never one flush per request of the batch.
    QVERIFY(report["flushes"].get<int>() >= 2);
    QVERIFY(report["flushes"].get<int>() < 11);
}

void TestRespFloor::garbageClosesOnlyThatClient()
{
    Floor floor;
    QVERIFY(startFloor(floor, {"--flush", "none"}));
    Client good;
    QVERIFY(good.connectTo(floor.port));

    const QList<QByteArray> garbage{"garbage\r\n", "*1\r\n$999999999\r\n",
                                    "*2\r\n$4\r\nPING\r\nxx\r\n", "*0\r\n"};
    for (const auto &bytes : garbage) {
        Client bad;
        QVERIFY(bad.connectTo(floor.port));
        QVERIFY(bad.write(bytes));
        const QByteArray err = "-ERR Protocol error\r\n";
        QCOMPARE(bad.read(int(err.size())), err);
        QVERIFY2(bad.closedByServer(), bytes.constData()); // and then it hangs up on it

        QVERIFY(good.write(command({"PING"})));
        QCOMPARE(good.read(7), QByteArray("+PONG\r\n"));
    }
    QVERIFY(stop(floor).is_object());
}

void TestRespFloor::refusesBadOptions()
{
    ChildProcess p;
    QVERIFY(p.start(QStringLiteral(EDDY_RESP_FLOOR_PATH), {"--port", "0", "--flush", "often"}));
    QVERIFY(p.waitForFinished(5000));
    QCOMPARE(p.exitCode(), 2);
    QVERIFY(p.readAllStandardError().contains("bad option --flush often"));

    QVERIFY(p.start(QStringLiteral(EDDY_RESP_FLOOR_PATH), {"--flush", "none"}));
    QVERIFY(p.waitForFinished(5000));
    QCOMPARE(p.exitCode(), 2); // no port
    QVERIFY(p.readAllStandardError().contains("usage:"));

    QVERIFY(p.start(QStringLiteral(EDDY_RESP_FLOOR_PATH),
                    {"--port", "0", "--flush", "loop", "--dir", "/nonexistent/eddy-floor"}));
    QVERIFY(p.waitForFinished(5000));
    QCOMPARE(p.exitCode(), 1);
    QVERIFY(p.readAllStandardError().contains("/nonexistent/eddy-floor"));

    // A port already taken: it says so and stops.
    Floor first;
    QVERIFY(startFloor(first, {"--flush", "none"}));
    QVERIFY(p.start(QStringLiteral(EDDY_RESP_FLOOR_PATH),
                    {"--port", QString::number(first.port), "--flush", "none"}));
    QVERIFY(p.waitForFinished(5000));
    QCOMPARE(p.exitCode(), 1);
    QVERIFY(p.readAllStandardError().contains("listen on 127.0.0.1:"));
    QVERIFY(stop(first).is_object());
}

QTEST_GUILESS_MAIN(TestRespFloor)
#include "tst_resp_floor.moc"
