// The client library's Producer against a served broker: idempotent retries written once,
// flush and close delivering everything, linger and batch limits, batches queued behind the
// one in flight, per-thread order under concurrent senders, and send errors.
#include "client_fixture.h"

#include "admin.h"
#include "binary_codec.h"
#include "connection.h"
#include "producer.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

using namespace eddy;
using namespace eddy::client;
using namespace eddy::test;

class TestClientProducer : public QObject
{
    Q_OBJECT

private slots:
    void idempotentRetryWritesOnce();
    void resentFrameIsDeduplicated();
    void flushAndCloseDeliverEverything();
    void lingerBatches();
    void sendsWhatQueuedBehindABatchInFlight();
    void concurrentSendersKeepOrder();
    void sendErrors();
};

void TestClientProducer::idempotentRetryWritesOnce()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 1));
    ProducerOptions po;
    po.url = served.url();
    po.testDropReplies = 2; // the broker writes, the producer believes the replies were lost
    po.retryBackoffMs = 10;
    po.lingerMs = 0;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    std::vector<std::future<Result<DeliveryReport>>> futures;
    for (int i = 0; i < 10; ++i) {
        futures.push_back((*producer)->send("t", rec("v" + std::to_string(i))));
        if (i == 4)
            (*producer)->flush(); // two batches at least
    }
    (*producer)->flush();
    bool sawDuplicate = false;
    std::set<int64_t> offsets;
    for (auto &f : futures) {
        auto r = f.get();
        EDDY_VERIFY_OK(r);
        sawDuplicate = sawDuplicate || r->duplicate;
        offsets.insert(r->offset);
    }
    QVERIFY(sawDuplicate);
    QCOMPARE(offsets.size(), std::size_t(10));
    auto all = readAll(served.broker(), "t", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(10));
    for (int i = 0; i < 10; ++i)
        QCOMPARE((*all)[i].value, "v" + std::to_string(i));
}

void TestClientProducer::resentFrameIsDeduplicated()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    auto c = Connection::open(served.url());
    EDDY_VERIFY_OK(c);
    EDDY_VERIFY_OK(Admin(*c).createTopic("t", 1));
    auto pid = (*c)->call({{"op", "init_producer"}}, 5000);
    EDDY_VERIFY_OK(pid);
    ProduceRequest req = produceTo("t", 0, {rec("a"), rec("b")});
    req.producerId = (*pid)["producer_id"].get<int64_t>();
    req.baseSequence = 0;
    const std::string frame = net::encodeProduceRequest(req);
    auto first = (*c)->request(frame, 5000);
    EDDY_VERIFY_OK(first);
    auto second = (*c)->request(frame, 5000);
    EDDY_VERIFY_OK(second);
    auto a = net::decodeProduceReply(*first);
    auto b = net::decodeProduceReply(*second);
    EDDY_VERIFY_OK(a);
    EDDY_VERIFY_OK(b);
    QVERIFY(!a->placements.front().duplicate);
    QVERIFY(b->placements.front().duplicate);
    QCOMPARE(b->offsets, a->offsets);
    auto all = readAll(served.broker(), "t", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(2));
}

void TestClientProducer::flushAndCloseDeliverEverything()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 3));
    ProducerOptions po;
    po.url = served.url();
    po.lingerMs = 60000; // only flush() or close() can send these
    po.batchRecords = 100000;
    {
        auto producer = Producer::open(po);
        EDDY_VERIFY_OK(producer);
        std::vector<std::future<Result<DeliveryReport>>> futures;
        for (int i = 0; i < 500; ++i)
            futures.push_back((*producer)->send("t", rec(std::to_string(i))));
        QElapsedTimer timer;
        timer.start();
        (*producer)->flush();
        QVERIFY(timer.elapsed() < 5000);
        for (auto &f : futures) {
            QCOMPARE(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
            EDDY_VERIFY_OK(f.get());
        }
    }
    std::atomic<int> delivered{0};
    {
        auto producer = Producer::open(po);
        EDDY_VERIFY_OK(producer);
        for (int i = 0; i < 300; ++i)
            (*producer)->send("t", rec("c" + std::to_string(i)), std::nullopt,
                              [&delivered](const Result<DeliveryReport> &r) {
                                  if (r)
                                      ++delivered;
                              });
        (*producer)->close();
        QCOMPARE(delivered.load(), 300);
        auto late = (*producer)->send("t", rec("late")).get();
        EDDY_VERIFY_ERR(late, Errc::ShuttingDown);
    }
    int64_t total = 0;
    for (int p = 0; p < 3; ++p) {
        auto all = readAll(served.broker(), "t", p);
        EDDY_VERIFY_OK(all);
        total += static_cast<int64_t>(all->size());
    }
    QCOMPARE(total, int64_t(800));
}

void TestClientProducer::lingerBatches()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 1));
    ProducerOptions po;
    po.url = served.url();
    po.lingerMs = 50;
    po.batchRecords = 10;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    std::vector<std::future<Result<DeliveryReport>>> futures;
    for (int i = 0; i < 25; ++i)
        futures.push_back((*producer)->send("t", rec(std::to_string(i)), 0));
    for (auto &f : futures)
        QCOMPARE(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    // Batches of at most batchRecords each: 10 + 10 + 5.
    QVERIFY(waitUntil(2000, [&] {
        auto m = served.broker().describeTopic("t");
        return m && m->partitionInfo.front().highWatermark == 25;
    }));
    auto all = readAll(served.broker(), "t", 0);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(25));
}

void TestClientProducer::sendsWhatQueuedBehindABatchInFlight()
{
    // A slow disk keeps the first batch (acks=durable) in flight for 300 ms; the records sent
    // meanwhile queue behind it, because a partition has one batch in flight at a time, and go
    // out as one batch when its reply arrives, in send order.
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 1));
    ProducerOptions po;
    po.url = served.url();
    po.acks = Acks::Durable;
    po.lingerMs = 0;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    served.broker().setDiskFault(300, false);
    auto first = (*producer)->send("t", rec("first"), 0);
    QVERIFY(waitUntil(2000, [&] { return (*producer)->requestsSent() == 1; }));
    std::vector<std::future<Result<DeliveryReport>>> queued;
    for (int i = 0; i < 20; ++i)
        queued.push_back((*producer)->send("t", rec(std::to_string(i)), 0));
    QCOMPARE(first.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    auto firstReport = first.get();
    EDDY_VERIFY_OK(firstReport);
    QCOMPARE(firstReport->offset, int64_t(0));
    for (int i = 0; i < 20; ++i) {
        auto &f = queued[static_cast<std::size_t>(i)];
        QCOMPARE(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
        auto report = f.get();
        EDDY_VERIFY_OK(report);
        QCOMPARE(report->offset, int64_t(i + 1));
    }
    QCOMPARE((*producer)->requestsSent(), int64_t(2));
    served.broker().setDiskFault(0, false);
}

void TestClientProducer::concurrentSendersKeepOrder()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 2));
    ProducerOptions po;
    po.url = served.url();
    po.batchRecords = 64;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    constexpr int kThreads = 4, kEach = 500;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i)
                (*producer)->send("t", rec(std::to_string(t) + ":" + std::to_string(i)),
                                  t % 2, [&failures](const Result<DeliveryReport> &r) {
                                      if (!r)
                                          ++failures;
                                  });
        });
    for (auto &t : threads)
        t.join();
    (*producer)->flush();
    QCOMPARE(failures.load(), 0);
    // Each thread's records are in its send order within the partition.
    for (int p = 0; p < 2; ++p) {
        auto log = readAll(served.broker(), "t", p);
        EDDY_VERIFY_OK(log);
        QCOMPARE(log->size(), std::size_t(2 * kEach));
        std::map<std::string, int> last;
        for (const auto &r : *log) {
            const auto colon = r.value.find(':');
            const std::string thread = r.value.substr(0, colon);
            const int seq = std::stoi(r.value.substr(colon + 1));
            auto it = last.find(thread);
            QVERIFY(it == last.end() || it->second + 1 == seq);
            last[thread] = seq;
        }
    }
}

void TestClientProducer::sendErrors()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(createTopicAt(served.url(), "t", 2));
    ProducerOptions po;
    po.url = served.url();
    po.lingerMs = 0;
    auto producer = Producer::open(po);
    EDDY_VERIFY_OK(producer);
    EDDY_VERIFY_ERR((*producer)->send("absent", rec("x")).get(), Errc::UnknownTopic);
    EDDY_VERIFY_ERR((*producer)->send("t", rec("x"), 7).get(), Errc::UnknownPartition);
    // A refused batch does not leave a sequence gap: the partition keeps working.
    auto ok = (*producer)->send("t", rec("y"), 1).get();
    EDDY_VERIFY_OK(ok);
    QCOMPARE(ok->partition, 1);
    Record huge = rec(std::string(2 << 20, 'x'));
    EDDY_VERIFY_ERR((*producer)->send("t", std::move(huge), 1).get(), Errc::RecordTooLarge);
    auto after = (*producer)->send("t", rec("z"), 1).get();
    EDDY_VERIFY_OK(after);
    QCOMPARE(after->offset, ok->offset + 1);

    // Out of retries on a lost reply: the record may be written, the send reports Timeout, and
    // the partition continues under a fresh producer id without a sequence error.
    po.retries = 0;
    po.testDropReplies = 1;
    auto lossy = Producer::open(po);
    EDDY_VERIFY_OK(lossy);
    EDDY_VERIFY_ERR((*lossy)->send("t", rec("maybe"), 0).get(), Errc::Timeout);
    auto next = (*lossy)->send("t", rec("surely"), 0).get();
    EDDY_VERIFY_OK(next);
    auto log = readAll(served.broker(), "t", 0);
    EDDY_VERIFY_OK(log);
    QCOMPARE(log->size(), std::size_t(2));
    QCOMPARE(log->back().value, std::string("surely"));
    QVERIFY(log->back().offset == next->offset);
}

QTEST_GUILESS_MAIN(TestClientProducer)
#include "tst_client_producer.moc"
