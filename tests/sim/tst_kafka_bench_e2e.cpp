// `eddy bench e2e --kafka` (kafka_bench_e2e.cpp, kafka_bench_wire.cpp) against a scripted Kafka
// "broker" in this test: a loopback listener that stores what producers send and answers
// consumers' fetches as told — with the records (followed by a batch cut short, as max_bytes
// leaves one), with a Kafka error, with a malformed frame, or by closing. The workload must
// count every record consumed exactly once, report each failure with a clear first error, and
// end by itself, without waiting out its drain time, when no consumer is left; a broker that
// stops reading fails the run instead of hanging it.
#include "bench_load.h"
#include "kafka_bench_load.h"
#include "kafka_bench_wire.h"
#include "kafka_codec.h"
#include "kafka_test_support.h"
#include "kafka_records.h"

#include <QtTest>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace eddy;
using namespace eddy::sim;
using namespace eddy::sim::test;

namespace {

enum class FetchAnswer { Records, KafkaError, Malformed, Close };

void sendFrame(int fd, std::string &out)
{
    kafka::KafkaWriter(out).patchI32(0, static_cast<int32_t>(out.size() - 4));
    ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

// A one-partition Kafka broker on 127.0.0.1: Produce appends to one log (or is refused with
// UNKNOWN_TOPIC_OR_PARTITION), Fetch is answered as `fetch` says. A thread per connection.
class ScriptedKafka
{
public:
    explicit ScriptedKafka(FetchAnswer fetch, bool refuseProduce = false)
        : m_fetch(fetch), m_refuseProduce(refuseProduce)
    {
        m_listen = listenLoopback(m_port);
        m_accept = std::thread([this] {
            for (;;) {
                const int fd = ::accept(m_listen, nullptr, nullptr);
                if (fd < 0)
                    return;
                std::lock_guard lock(m_mutex);
                m_fds.push_back(fd);
                m_threads.emplace_back([this, fd] { serve(fd); });
            }
        });
    }
    ~ScriptedKafka()
    {
        ::shutdown(m_listen, SHUT_RDWR);
        m_accept.join();
        {
            std::lock_guard lock(m_mutex);
            m_stopped = true;
            m_cv.notify_all();
            for (int fd : m_fds)
                ::shutdown(fd, SHUT_RDWR);
        }
        for (auto &t : m_threads)
            t.join();
        for (int fd : m_fds)
            ::close(fd);
        ::close(m_listen);
    }
    int port() const { return m_port; }
    // The offset the latest fetch asked for, and whether one ever asked for less than the one
    // before it.
    int64_t lastFetchOffset() const { return m_lastFetchOffset.load(); }
    bool fetchWentBack() const { return m_wentBack.load(); }

private:
    void serve(int fd)
    {
        std::string frame;
        while (readRequestFrame(fd, frame)) {
            kafka::KafkaReader r(frame);
            const int16_t api = r.i16();
            r.i16();
            const int32_t id = r.i32();
            r.nullableString(); // client_id
            if (api == 0) {
                produce(fd, id, r);
            } else if (!fetch(fd, id, r)) {
                ::shutdown(fd, SHUT_RDWR); // closed in the destructor, after this thread
                return;
            }
        }
    }

    void produce(int fd, int32_t id, kafka::KafkaReader &r)
    {
        r.nullableString(); // transactional_id
        r.i16();
        r.i32();
        r.arrayLength();
        r.string();
        r.arrayLength();
        r.i32();
        const auto set = r.nullableBytes();
        std::vector<Record> records;
        if (!m_refuseProduce && set)
            kafka::decodeRecordSet(*set, records);
        {
            std::lock_guard lock(m_mutex);
            for (auto &rec : records) {
                rec.offset = static_cast<int64_t>(m_log.size());
                m_log.push_back(std::move(rec));
            }
            m_cv.notify_all();
        }
        std::string out;
        kafka::KafkaWriter w(out);
        w.i32(0);
        w.i32(id);
        w.arrayLength(1);
        w.string("t");
        w.arrayLength(1);
        w.i32(0);
        w.i16(m_refuseProduce ? 3 : 0);
        w.i64(0);
        w.i64(-1);
        w.i64(0);
        w.arrayLength(0);
        w.nullableString(std::nullopt);
        w.i32(0);
        sendFrame(fd, out);
    }

    // False when the script closes the connection.
    bool fetch(int fd, int32_t id, kafka::KafkaReader &r)
    {
        r.i32();
        const int32_t waitMs = r.i32();
        r.i32();
        r.i32();
        r.i8();
        r.arrayLength();
        r.string();
        r.arrayLength();
        r.i32();
        const int64_t offset = r.i64();
        if (offset < m_lastFetchOffset.exchange(offset))
            m_wentBack = true;
        if (m_fetch == FetchAnswer::Close)
            return false;
        std::string out;
        kafka::KafkaWriter w(out);
        w.i32(0);
        w.i32(id);
        if (m_fetch == FetchAnswer::Malformed) {
            w.i32(0); // throttle, then nothing of the partition array the client needs
            sendFrame(fd, out);
            return true;
        }
        std::vector<Record> records;
        {
            std::unique_lock lock(m_mutex);
            m_cv.wait_for(lock, std::chrono::milliseconds(waitMs), [&] {
                return m_stopped || static_cast<int64_t>(m_log.size()) > offset;
            });
            for (auto i = static_cast<std::size_t>(std::max<int64_t>(offset, 0));
                 i < m_log.size(); ++i)
                records.push_back(m_log[i]);
        }
        w.i32(0); // throttle
        w.arrayLength(1);
        w.string("t");
        w.arrayLength(1);
        w.i32(0);
        w.i16(m_fetch == FetchAnswer::KafkaError ? 3 : 0);
        w.i64(0);
        w.i64(0);
        w.arrayLength(-1); // aborted transactions: null
        std::string set;
        if (m_fetch == FetchAnswer::Records && !records.empty()) {
            // Each record in a batch of its own, then a copy of the first cut short: the
            // client must take the whole ones and fetch on from after them.
            for (std::size_t i = 0; i < records.size(); ++i)
                kafka::appendRecordBatch(set, records, i, 1);
            std::string extra;
            kafka::appendRecordBatch(extra, records, 0, 1);
            set += extra.substr(0, extra.size() / 2);
        }
        w.bytes(set);
        sendFrame(fd, out);
        return true;
    }

    const FetchAnswer m_fetch;
    const bool m_refuseProduce;
    int m_listen = -1;
    int m_port = 0;
    std::atomic<int64_t> m_lastFetchOffset{-1};
    std::atomic<bool> m_wentBack{false};
    std::thread m_accept;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopped = false;
    std::vector<int> m_fds;
    std::vector<std::thread> m_threads;
    std::vector<Record> m_log;
};

// Accepts connections and never reads from them: a broker that hung.
class DeafBroker
{
public:
    DeafBroker()
    {
        // Small buffers (inherited by accepted sockets) fill sooner.
        m_listen = listenLoopback(m_port, 4096);
    }
    ~DeafBroker() { ::close(m_listen); }
    int port() const { return m_port; }

private:
    int m_listen = -1;
    int m_port = 0;
};

BenchOptions options(int64_t records)
{
    BenchOptions o;
    o.kafka = true;
    o.workload = BenchWorkload::E2e;
    o.records = records;
    o.batch = 1;
    o.connections = 2;
    o.rate = 2000;
    o.fetchWaitMs = 200;
    return o;
}

} // namespace

class TestKafkaBenchE2e : public QObject
{
    Q_OBJECT

private slots:
    void consumesEveryRecordOnceThroughCutShortBatches()
    {
        ScriptedKafka broker(FetchAnswer::Records);
        QElapsedTimer timer;
        timer.start();
        auto r = measureKafkaE2e(options(60), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        // It ended once everything was consumed and acknowledged, not at its 10 s drain limit.
        QVERIFY2(timer.elapsed() < 8000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(r->errors, 0);
        QCOMPARE(r->records, 60);
        QCOMPARE(r->requests, 60);
        QVERIFY(r->p50Us > 0 && r->maxUs >= r->p99Us);
        // Fetched on from after the whole batches, never from inside the one cut short (which
        // would have gone back to an offset already consumed).
        QVERIFY(broker.lastFetchOffset() >= 59);
        QVERIFY(!broker.fetchWentBack());
    }

    void fetchErrorEndsTheRunAtOnce()
    {
        ScriptedKafka broker(FetchAnswer::KafkaError);
        QElapsedTimer timer;
        timer.start();
        auto r = measureKafkaE2e(options(40), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 0);
        // The fetch failure, and the 40 records nobody consumed.
        QCOMPARE(r->errors, 41);
        QVERIFY2(r->firstError.find("Kafka error 3") != std::string::npos,
                 r->firstError.c_str());
        // With its only consumer gone it did not wait out the 10 s drain.
        QVERIFY2(timer.elapsed() < 8000, qPrintable(QString::number(timer.elapsed())));
    }

    void malformedFetchResponseIsAFailure()
    {
        ScriptedKafka broker(FetchAnswer::Malformed);
        auto r = measureKafkaE2e(options(20), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 0);
        QVERIFY(r->errors >= 1);
        QVERIFY2(r->firstError.find("malformed Fetch response") != std::string::npos,
                 r->firstError.c_str());
    }

    void brokerClosingTheConsumerEndsTheRun()
    {
        ScriptedKafka broker(FetchAnswer::Close);
        QElapsedTimer timer;
        timer.start();
        auto r = measureKafkaE2e(options(20), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 0);
        QVERIFY(r->errors >= 1);
        const QString first = QString::fromStdString(r->firstError);
        QVERIFY2(first.contains(QRegularExpression("closed by the broker|connection failed")),
                 qPrintable(first));
        QVERIFY2(timer.elapsed() < 8000, qPrintable(QString::number(timer.elapsed())));
    }

    void refusedProducesAreFailuresNotLostRecords()
    {
        ScriptedKafka broker(FetchAnswer::Records, true);
        QElapsedTimer timer;
        timer.start();
        auto r = measureKafkaE2e(options(30), {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 0);
        // One failure per refused request; none counted again as a record never consumed.
        QCOMPARE(r->errors, 30);
        QVERIFY2(r->firstError.find("produce failed with Kafka error 3") != std::string::npos,
                 r->firstError.c_str());
        QVERIFY2(timer.elapsed() < 8000, qPrintable(QString::number(timer.elapsed())));
    }

    void brokerThatStopsReadingFailsTheRunInsteadOfHangingIt()
    {
        // Never accepted, never read: the connections complete in the listen backlog and the
        // pacer's sends fill the socket buffers, then wait 5 s and fail.
        DeafBroker broker;
        BenchOptions o = options(20000);
        o.recordSize = 1000;
        o.rate = 1000000;
        o.connections = 1;
        QElapsedTimer timer;
        timer.start();
        auto r = measureKafkaE2e(o, {"127.0.0.1", broker.port()}, oneTopic());
        QVERIFY(r.ok());
        QCOMPARE(r->records, 0);
        QVERIFY(r->errors >= 1);
        QVERIFY2(r->firstError.find("stopped reading") != std::string::npos,
                 r->firstError.c_str());
        // The 5 s send bound and the 10 s drain, not forever.
        QVERIFY2(timer.elapsed() < 30000, qPrintable(QString::number(timer.elapsed())));
    }

    void nothingListeningIsAnError()
    {
        int port = 0;
        {
            ScriptedKafka gone(FetchAnswer::Close);
            port = gone.port();
        }
        const auto openDescriptors = [] {
            return QDir("/proc/self/fd").entryList(QDir::Files | QDir::System).size();
        };
        const auto before = openDescriptors();
        auto r = measureKafkaE2e(options(10), {"127.0.0.1", port}, oneTopic());
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.find("cannot connect") != std::string::npos,
                 r.error().message.c_str());
        QCOMPARE(openDescriptors(), before);
    }

    void truncatedFetchResponseDoesNotParse()
    {
        std::string body;
        kafka::KafkaWriter w(body);
        w.i32(0);
        w.arrayLength(1);
        w.string("t");
        w.arrayLength(1);
        w.i32(0);
        w.i16(0);
        w.i64(5); // high watermark, and then the frame ends
        auto r = parseFetchResponse(body);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.find("malformed Fetch response") != std::string::npos,
                 r.error().message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestKafkaBenchE2e)
#include "tst_kafka_bench_e2e.moc"
