// `eddy bench produce --kafka`'s load generator (kafka_bench_load.cpp) against a scripted Kafka
// "broker" in this test: a loopback socket that answers Produce requests as told — correctly,
// with a Kafka error, with a malformed frame, or not at all before closing. The generator must
// count exactly what was acknowledged, pipeline up to --inflight requests, report each failure
// with a clear first error and end by itself whatever the broker does.
#include "bench_load.h"
#include "kafka_bench_load.h"
#include "kafka_codec.h"
#include "kafka_test_support.h"

#include <QtTest>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

using namespace eddy;
using namespace eddy::sim;
using namespace eddy::sim::test;

namespace {

// How the scripted broker answers request number n (from 0) of its one connection.
enum class Answer { Ok, KafkaError, Malformed, Close };

// One accepted connection on 127.0.0.1, answered by script(n) until it says Close or the
// client goes. Records the most requests it held unanswered at once (pipelining).
class ScriptedBroker
{
public:
    explicit ScriptedBroker(std::function<Answer(int)> script, int holdUntil = 1)
        : m_script(std::move(script)), m_holdUntil(holdUntil)
    {
        m_listen = listenLoopback(m_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~ScriptedBroker()
    {
        ::shutdown(m_listen, SHUT_RDWR);
        m_thread.join();
        ::close(m_listen);
    }
    int port() const { return m_port; }
    int requests() const { return m_requests.load(); }
    int seen() const { return m_seen.load(); }
    int mostHeld() const { return m_mostHeld.load(); }

private:
    void serve()
    {
        const int fd = ::accept(m_listen, nullptr, nullptr);
        if (fd < 0)
            return;
        std::vector<int32_t> held; // correlation ids read and not yet answered
        std::string frame;
        while (readRequestFrame(fd, frame)) {
            kafka::KafkaReader fr(frame);
            fr.i16();
            fr.i16();
            held.push_back(fr.i32());
            ++m_seen;
            m_mostHeld = std::max<int>(m_mostHeld.load(), static_cast<int>(held.size()));
            // Hold requests until holdUntil are waiting (the client pipelines that many), or
            // the script's last answer is near.
            if (static_cast<int>(held.size()) < m_holdUntil)
                continue;
            bool closed = false;
            for (int32_t id : held) {
                const Answer a = m_script(m_requests++);
                if (a == Answer::Close) {
                    closed = true;
                    break;
                }
                ::send(fd, respond(id, a).data(), respond(id, a).size(), MSG_NOSIGNAL);
            }
            held.clear();
            if (closed)
                break;
        }
        ::close(fd);
    }

    static std::string respond(int32_t id, Answer a)
    {
        std::string out;
        kafka::KafkaWriter w(out);
        if (a == Answer::Malformed) {
            w.i32(2); // a size too small to hold even the correlation id
            w.i16(0);
            return out;
        }
        w.i32(0);
        w.i32(id);
        w.arrayLength(1);
        w.string("t");
        w.arrayLength(1);
        w.i32(0);
        w.i16(a == Answer::KafkaError ? 3 : 0); // UNKNOWN_TOPIC_OR_PARTITION
        w.i64(0);
        w.i64(-1);
        w.i64(0);
        w.arrayLength(0);
        w.nullableString(a == Answer::KafkaError ? std::optional<std::string_view>("no such topic")
                                                 : std::nullopt);
        w.i32(0); // throttle
        w.patchI32(0, static_cast<int32_t>(out.size() - 4));
        return out;
    }

    std::function<Answer(int)> m_script;
    int m_holdUntil;
    int m_listen = -1;
    int m_port = 0;
    std::atomic<int> m_requests{0};
    std::atomic<int> m_seen{0};
    std::atomic<int> m_mostHeld{0};
    std::thread m_thread;
};

BenchOptions options(int64_t records, int inflight)
{
    BenchOptions o;
    o.kafka = true;
    o.records = records;
    o.batch = 1;
    o.inflight = inflight;
    o.connections = 1;
    o.acks = Acks::Durable;
    return o;
}

} // namespace

class TestKafkaBenchLoad : public QObject
{
    Q_OBJECT

private slots:
    void pipelinesAndCountsEveryAcknowledgement()
    {
        ScriptedBroker broker([](int) { return Answer::Ok; }, 4);
        auto r = measureKafkaProduce(options(40, 4), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 40);
        QCOMPARE(r->requests, 40);
        QCOMPARE(r->errors, 0);
        // The broker held 4 before answering: the client had sent 4 without waiting.
        QCOMPARE(broker.mostHeld(), 4);
    }

    void kafkaErrorsAreCountedNotAcknowledged()
    {
        // Every third request is refused: those records are errors, the rest acknowledged.
        ScriptedBroker broker([](int n) { return n % 3 == 2 ? Answer::KafkaError : Answer::Ok; });
        auto r = measureKafkaProduce(options(30, 1), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 20);
        QCOMPARE(r->errors, 10);
        QVERIFY2(r->firstError.find("Kafka error 3: no such topic") != std::string::npos,
                 r->firstError.c_str());
    }

    void brokerClosingMidRunEndsTheRun()
    {
        // Answers 5 of 2 in flight, then closes with the 6th and 7th unanswered.
        ScriptedBroker broker([](int n) { return n < 5 ? Answer::Ok : Answer::Close; }, 1);
        auto r = measureKafkaProduce(options(1000, 2), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 5);
        QCOMPARE(r->requests, 5);
        // The close itself and the requests it left unanswered.
        QVERIFY2(r->errors >= 2, qPrintable(QString::number(r->errors)));
        // Closed with a request unread, the kernel may reset rather than end the stream.
        const QString first = QString::fromStdString(r->firstError);
        QVERIFY2(first.contains(QRegularExpression("closed by the broker|connection failed|"
                                                   "closed while sending")),
                 qPrintable(first));
    }

    void malformedResponseBreaksTheConnection()
    {
        ScriptedBroker broker([](int n) { return n < 3 ? Answer::Ok : Answer::Malformed; });
        auto r = measureKafkaProduce(options(100, 1), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 3);
        QVERIFY(r->errors >= 1);
        QVERIFY2(r->firstError.find("malformed response") != std::string::npos,
                 r->firstError.c_str());
    }

    void acksNoneSendsEverythingWithoutWaiting()
    {
        // A broker that never answers: with acks=0 nothing waits for it.
        ScriptedBroker broker([](int) { return Answer::Ok; }, 1000000);
        BenchOptions o = options(50, 2);
        o.acks = Acks::None;
        auto r = measureKafkaProduce(o, {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 50);
        QCOMPARE(r->errors, 0);
        QTRY_COMPARE(broker.seen(), 50);
        QCOMPARE(broker.requests(), 0);
    }

    void nothingListeningIsAnError()
    {
        int port = 0;
        {
            // A port that was free a moment ago, closed again: nothing listens on it.
            ScriptedBroker gone([](int) { return Answer::Close; });
            port = gone.port();
        }
        const auto openDescriptors = [] {
            return QDir("/proc/self/fd").entryList(QDir::Files | QDir::System).size();
        };
        const auto before = openDescriptors();
        auto r = measureKafkaProduce(options(10, 1), {"127.0.0.1", port}, oneTopic());
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.find("cannot connect") != std::string::npos,
                 r.error().message.c_str());
        // The refused socket and the epoll descriptor were closed.
        QCOMPARE(openDescriptors(), before);
    }
};

QTEST_GUILESS_MAIN(TestKafkaBenchLoad)
#include "tst_kafka_bench_load.moc"
