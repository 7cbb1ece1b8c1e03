// Consumer groups through the client library: rebalance when a member joins, takeover after a
// member dies without leaving, commit and resume, seek, auto-commit on close, automatic rejoin
// after eviction, and the poll timeout.
#include "client_fixture.h"

#include "admin.h"
#include "consumer.h"
#include "producer.h"

#include <QtTest>

#include <algorithm>
#include <set>

using namespace eddy;
using namespace eddy::client;
using namespace eddy::test;

namespace {

ConsumerOptions consumerOptions(const std::string &url, const std::string &topic,
                                int sessionTimeoutMs = 3000)
{
    ConsumerOptions o;
    o.url = url;
    o.group = "g";
    o.topics = {topic};
    o.sessionTimeoutMs = sessionTimeoutMs;
    o.autoCommit = false;
    return o;
}

void produceEach(Broker &broker, const std::string &topic, int partitions, int perPartition,
                 const std::string &prefix = "v")
{
    for (int p = 0; p < partitions; ++p) {
        std::vector<Record> records;
        for (int i = 0; i < perPartition; ++i)
            records.push_back(rec(prefix + std::to_string(p) + ":" + std::to_string(i)));
        (void)broker.produceSync(produceTo(topic, p, std::move(records)));
    }
}

std::set<int32_t> partitionsOf(const std::vector<TopicPartition> &tps)
{
    std::set<int32_t> out;
    for (const auto &tp : tps)
        out.insert(tp.partition);
    return out;
}

} // namespace

class TestClientGroup : public QObject
{
    Q_OBJECT

private slots:
    void openErrors();
    void pollTimeoutReturnsEmpty();
    void rebalanceWhenSecondJoins();
    void survivorTakesOverAfterCrash();
    void commitAndResume();
    void seekRereadsAndSkips();
    void autoCommitOnClose();
    void rejoinsAfterEviction();
};

void TestClientGroup::openErrors()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 1, {}}));
    QElapsedTimer timer;
    timer.start();
    EDDY_VERIFY_ERR(Consumer::open(consumerOptions(served.url(), "t", 10)),
                    Errc::InvalidSessionTimeout);
    QVERIFY(timer.elapsed() < 2000); // a failed open does not linger
    auto noGroup = consumerOptions(served.url(), "t");
    noGroup.group.clear();
    EDDY_VERIFY_ERR(Consumer::open(noGroup), Errc::InvalidGroupId);
    auto noTopics = consumerOptions(served.url(), "t");
    noTopics.topics.clear();
    EDDY_VERIFY_ERR(Consumer::open(noTopics), Errc::InvalidRequest);
    auto badReset = consumerOptions(served.url(), "t");
    badReset.autoOffsetReset = "middle";
    EDDY_VERIFY_ERR(Consumer::open(badReset), Errc::InvalidRequest);
    EDDY_VERIFY_ERR(Consumer::open(consumerOptions("tcp://127.0.0.1:1", "t")), Errc::Timeout);
}

void TestClientGroup::pollTimeoutReturnsEmpty()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 2, {}}));
    auto c = Consumer::open(consumerOptions(served.url(), "t"));
    EDDY_VERIFY_OK(c);
    QElapsedTimer timer;
    timer.start();
    auto r = (*c)->poll(300);
    EDDY_VERIFY_OK(r);
    QVERIFY(r->empty());
    QVERIFY2(timer.elapsed() >= 250 && timer.elapsed() < 3000,
             QByteArray::number(timer.elapsed()).constData());
    // A record arriving during the wait ends it early.
    std::thread late([&] {
        QThread::msleep(100);
        (void)served.broker().produceSync(produceTo("t", 1, {rec("x")}));
    });
    timer.restart();
    auto woken = (*c)->poll(5000);
    late.join();
    EDDY_VERIFY_OK(woken);
    QCOMPARE(woken->size(), std::size_t(1));
    QVERIFY(timer.elapsed() < 3000);
    EDDY_VERIFY_OK((*c)->close());
    EDDY_VERIFY_ERR((*c)->poll(10), Errc::ShuttingDown);
}

void TestClientGroup::rebalanceWhenSecondJoins()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 4, {}}));
    std::atomic<int> changes{0};
    auto optsA = consumerOptions(served.url(), "t");
    optsA.onAssignmentChange = [&changes](const std::vector<TopicPartition> &) { ++changes; };
    auto a = Consumer::open(optsA);
    EDDY_VERIFY_OK(a);
    QCOMPARE((*a)->assignment().size(), std::size_t(4));
    auto b = Consumer::open(consumerOptions(served.url(), "t"));
    EDDY_VERIFY_OK(b);
    // A releases two partitions by acknowledging the new generation; B then owns them.
    QVERIFY(waitUntil(5000, [&] {
        (void)(*a)->poll(10);
        (void)(*b)->poll(10);
        return (*a)->assignment().size() == 2 && (*b)->assignment().size() == 2;
    }));
    const auto pa = partitionsOf((*a)->assignment());
    const auto pb = partitionsOf((*b)->assignment());
    std::set<int32_t> all = pa;
    all.insert(pb.begin(), pb.end());
    QCOMPARE(all.size(), std::size_t(4));
    QVERIFY(changes.load() >= 2);

    produceEach(served.broker(), "t", 4, 10);
    std::vector<ConsumerRecord> gotA, gotB;
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*a)->poll(20))
            gotA.insert(gotA.end(), r->begin(), r->end());
        if (auto r = (*b)->poll(20))
            gotB.insert(gotB.end(), r->begin(), r->end());
        return gotA.size() + gotB.size() >= 40;
    }));
    QCOMPARE(gotA.size(), std::size_t(20));
    QCOMPARE(gotB.size(), std::size_t(20));
    std::set<std::string> values;
    for (const auto &r : gotA) {
        QVERIFY(pa.count(r.partition));
        values.insert(r.record.value);
    }
    for (const auto &r : gotB) {
        QVERIFY(pb.count(r.partition));
        values.insert(r.record.value);
    }
    QCOMPARE(values.size(), std::size_t(40));
}

void TestClientGroup::survivorTakesOverAfterCrash()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 4, {}}));
    auto a = Consumer::open(consumerOptions(served.url(), "t", 300));
    EDDY_VERIFY_OK(a);
    auto b = Consumer::open(consumerOptions(served.url(), "t", 300));
    EDDY_VERIFY_OK(b);
    QVERIFY(waitUntil(5000, [&] {
        (void)(*a)->poll(10);
        (void)(*b)->poll(10);
        return (*a)->assignment().size() == 2 && (*b)->assignment().size() == 2;
    }));
    (*b)->abandon();
    b->reset();
    QElapsedTimer timer;
    timer.start();
    // No polling here: the heartbeat thread alone must pick the partitions up.
    QVERIFY(waitUntil(5000, [&] { return (*a)->assignment().size() == 4; }));
    QVERIFY2(timer.elapsed() >= 150, QByteArray::number(timer.elapsed()).constData());
    produceEach(served.broker(), "t", 4, 3);
    std::vector<ConsumerRecord> got;
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*a)->poll(20))
            got.insert(got.end(), r->begin(), r->end());
        return got.size() >= 12;
    }));
    QCOMPARE(got.size(), std::size_t(12));
}

void TestClientGroup::commitAndResume()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 2, {}}));
    produceEach(served.broker(), "t", 2, 25);
    auto opts = consumerOptions(served.url(), "t");
    opts.maxPollRecords = 7;
    std::map<int32_t, int64_t> committedNext;
    std::set<std::string> uncommitted;
    {
        auto c = Consumer::open(opts);
        EDDY_VERIFY_OK(c);
        int seen = 0;
        QVERIFY(waitUntil(5000, [&] {
            auto r = (*c)->poll(50);
            if (r) {
                seen += static_cast<int>(r->size());
                for (const auto &cr : *r)
                    committedNext[cr.partition] = cr.record.offset + 1;
            }
            return seen >= 20;
        }));
        EDDY_VERIFY_OK((*c)->commitSync());
        // More records handed out but never committed: the next member must get them again.
        auto more = (*c)->poll(1000);
        EDDY_VERIFY_OK(more);
        QVERIFY(!more->empty());
        for (const auto &cr : *more)
            uncommitted.insert(cr.record.value);
        EDDY_VERIFY_OK((*c)->close()); // autoCommit is off: close commits nothing
    }
    auto admin = Admin::open(served.url());
    EDDY_VERIFY_OK(admin);
    auto committed = (*admin)->committed("g", "t");
    EDDY_VERIFY_OK(committed);
    for (const auto &o : *committed) {
        const int64_t expected = committedNext.count(o.partition) ? committedNext[o.partition] : -1;
        QCOMPARE(o.offset, expected);
    }

    auto c2 = Consumer::open(opts);
    EDDY_VERIFY_OK(c2);
    std::vector<ConsumerRecord> got;
    int64_t expectedTotal = 0;
    for (int p = 0; p < 2; ++p)
        expectedTotal += 25 - (committedNext.count(p) ? committedNext[p] : 0);
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*c2)->poll(50))
            got.insert(got.end(), r->begin(), r->end());
        return static_cast<int64_t>(got.size()) >= expectedTotal;
    }));
    QCOMPARE(static_cast<int64_t>(got.size()), expectedTotal);
    std::map<int32_t, int64_t> next;
    for (const auto &cr : got) {
        auto it = next.find(cr.partition);
        const int64_t want = it != next.end()
                                 ? it->second
                                 : (committedNext.count(cr.partition) ? committedNext[cr.partition]
                                                                      : 0);
        QCOMPARE(cr.record.offset, want); // resumes at the commit, skips nothing
        next[cr.partition] = cr.record.offset + 1;
        uncommitted.erase(cr.record.value);
    }
    QVERIFY(uncommitted.empty());
    auto extra = (*c2)->poll(100);
    EDDY_VERIFY_OK(extra);
    QVERIFY(extra->empty());
}

void TestClientGroup::seekRereadsAndSkips()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 1, {}}));
    produceEach(served.broker(), "t", 1, 20);
    auto c = Consumer::open(consumerOptions(served.url(), "t"));
    EDDY_VERIFY_OK(c);
    std::vector<ConsumerRecord> got;
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*c)->poll(50))
            got.insert(got.end(), r->begin(), r->end());
        return got.size() >= 20;
    }));
    EDDY_VERIFY_OK((*c)->commitSync());
    // Backwards: records are read again, and committing does not regress.
    EDDY_VERIFY_OK((*c)->seek("t", 0, 5));
    auto again = (*c)->poll(1000);
    EDDY_VERIFY_OK(again);
    QVERIFY(!again->empty());
    QCOMPARE(again->front().record.offset, int64_t(5));
    EDDY_VERIFY_OK((*c)->commitSync());
    EDDY_VERIFY_ERR((*c)->seek("t", 3, 0), Errc::NotAssigned);
    EDDY_VERIFY_ERR((*c)->seek("t", 0, -1), Errc::InvalidOffset);

    produceEach(served.broker(), "t", 1, 10, "w");
    // Forwards: the skipped records are not delivered, and the skip is what gets committed.
    EDDY_VERIFY_OK((*c)->seek("t", 0, 27));
    EDDY_VERIFY_OK((*c)->commitSync());
    auto after = (*c)->poll(1000);
    EDDY_VERIFY_OK(after);
    QVERIFY(!after->empty());
    QCOMPARE(after->front().record.offset, int64_t(27));
    auto admin = Admin::open(served.url());
    EDDY_VERIFY_OK(admin);
    auto committed = (*admin)->committed("g", "t");
    EDDY_VERIFY_OK(committed);
    QCOMPARE(committed->front().offset, int64_t(27));
}

void TestClientGroup::autoCommitOnClose()
{
    EDDY_SERVE(served, listenUrl("inproc"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 1, {}}));
    produceEach(served.broker(), "t", 1, 10);
    auto opts = consumerOptions(served.url(), "t");
    opts.autoCommit = true;
    opts.autoCommitIntervalMs = 60000;
    {
        auto c = Consumer::open(opts);
        EDDY_VERIFY_OK(c);
        std::size_t seen = 0;
        QVERIFY(waitUntil(5000, [&] {
            if (auto r = (*c)->poll(50))
                seen += r->size();
            return seen >= 10;
        }));
    } // the destructor closes: commit, leave
    auto admin = Admin::open(served.url());
    EDDY_VERIFY_OK(admin);
    auto committed = (*admin)->committed("g", "t");
    EDDY_VERIFY_OK(committed);
    QCOMPARE(committed->front().offset, int64_t(10));
    auto group = (*admin)->describeGroup("g");
    EDDY_VERIFY_OK(group);
    QVERIFY(group->members.empty());

    // And on the interval, while running.
    opts.autoCommitIntervalMs = 100;
    opts.sessionTimeoutMs = 300; // heartbeats (which carry auto-commit) every 100 ms
    produceEach(served.broker(), "t", 1, 5);
    auto c = Consumer::open(opts);
    EDDY_VERIFY_OK(c);
    std::size_t seen = 0;
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*c)->poll(50))
            seen += r->size();
        return seen >= 5;
    }));
    QVERIFY(waitUntil(3000, [&] {
        auto now = (*admin)->committed("g", "t");
        return now && now->front().offset == 15;
    }));
}

void TestClientGroup::rejoinsAfterEviction()
{
    EDDY_SERVE(served, listenUrl("tcp"));
    EDDY_VERIFY_OK(served.broker().createTopic({"t", 1, {}}));
    auto c = Consumer::open(consumerOptions(served.url(), "t"));
    EDDY_VERIFY_OK(c);
    // Evict the member behind its back, as an expired session would.
    EDDY_VERIFY_OK(served.broker().leaveGroup("g", (*c)->memberId()));
    produceEach(served.broker(), "t", 1, 3);
    std::vector<ConsumerRecord> got;
    QVERIFY(waitUntil(5000, [&] {
        if (auto r = (*c)->poll(50))
            got.insert(got.end(), r->begin(), r->end());
        return got.size() >= 3;
    }));
    QCOMPARE(got.size(), std::size_t(3));
    QCOMPARE((*c)->assignment().size(), std::size_t(1));
}

QTEST_GUILESS_MAIN(TestClientGroup)
#include "tst_client_group.moc"
