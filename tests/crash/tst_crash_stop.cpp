// Freezing processes with SIGSTOP for longer than the session timeout. A frozen consumer (a
// separate crash_consumer process) is evicted and the group rebalances its partitions to the
// survivor, which resumes from the committed offsets; thawed, it rejoins, and between them the
// two were given every record with nothing skipped. A frozen broker (the `eddy broker` child)
// comes back with every acknowledged record and commit, and its clients carry on.
#include "broker_process.h"
#include "crash_workload.h"

#include <QTemporaryDir>
#include <QtTest>

#include <set>

namespace {

constexpr int kSessionMs = 2000;

// One crash_consumer child and what it printed so far.
struct ConsumerChild {
    ChildProcess process;
    QByteArray printed;

    bool start(const QString &url, const QString &group, const QString &topic)
    {
        return process.start(EDDY_CRASH_CONSUMER_PATH,
                             {url, group, topic, QString::number(kSessionMs)});
    }
    const QByteArray &out()
    {
        printed += process.readAllStandardOutput();
        return printed;
    }
    QList<QByteArray> lines() { return out().split('\n'); }
};

} // namespace

class TestCrashStop : public QObject
{
    Q_OBJECT

private slots:
    void frozenConsumerIsReplacedAndRejoins();
    void frozenBrokerLosesNothing();

private:
    // describe_group through the admin: the member ids and how many partitions each may read.
    static std::map<std::string, int> members(eddy::client::Admin &admin, const std::string &group,
                                              std::string *state = nullptr);
};

std::map<std::string, int> TestCrashStop::members(eddy::client::Admin &admin,
                                                  const std::string &group, std::string *state)
{
    std::map<std::string, int> out;
    auto info = admin.describeGroup(group);
    if (!info)
        return out;
    if (state)
        *state = info->state;
    for (const auto &m : info->members)
        out[m.memberId] = int(m.assigned.size());
    return out;
}

void TestCrashStop::frozenConsumerIsReplacedAndRejoins()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    BrokerProcess broker(EDDY_CLI_PATH, dir.path(), "durable", freeLoopbackPort());
    QVERIFY2(broker.start(), qPrintable(broker.lastError()));
    const std::string url = broker.url().toStdString();
    auto admin = eddy::client::Admin::open(url, 5000);
    QVERIFY(admin);
    constexpr int kPartitions = 4;
    QVERIFY((*admin)->createTopic("frozen", kPartitions));

    // A producer in this process keeps writing, recording what was acknowledged.
    std::atomic<bool> stopProducing{false};
    std::mutex ackedMutex;
    std::vector<std::tuple<int32_t, int64_t, std::string>> acked;
    std::thread producing([&] {
        eddy::client::ProducerOptions o;
        o.url = url;
        o.acks = eddy::Acks::Durable;
        o.lingerMs = 2;
        auto producer = eddy::client::Producer::open(o);
        if (!producer)
            return;
        for (int n = 0; !stopProducing; ++n) {
            const std::string id = "r" + std::to_string(n);
            eddy::Record record;
            record.key = id;
            record.value = id + ":payload";
            const auto report = (*producer)->send("frozen", std::move(record)).get();
            if (report) {
                std::lock_guard lock(ackedMutex);
                acked.emplace_back(report->partition, report->offset, id);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(4));
        }
    });
    const auto ackedCount = [&] {
        std::lock_guard lock(ackedMutex);
        return acked.size();
    };

    ConsumerChild a;
    ConsumerChild b;
    QVERIFY2(a.start(broker.url(), "frozen-group", "frozen"), qPrintable(a.process.errorString()));
    QVERIFY2(b.start(broker.url(), "frozen-group", "frozen"), qPrintable(b.process.errorString()));

    // Committed offsets as seen over time: they must never move back.
    std::map<int32_t, int64_t> observed;
    QString regression;
    const auto observeCommits = [&] {
        auto offsets = (*admin)->committed("frozen-group", "frozen");
        if (!offsets)
            return observed;
        for (const auto &o : *offsets) {
            if (observed.count(o.partition) && o.offset < observed[o.partition]
                && regression.isEmpty())
                regression = QString("partition %1: committed went back from %2 to %3")
                                 .arg(o.partition)
                                 .arg(observed[o.partition])
                                 .arg(o.offset);
            observed[o.partition] = std::max(observed[o.partition], o.offset);
        }
        return observed;
    };

    std::string state;
    const auto bothStable = [&] {
        return members(**admin, "frozen-group", &state).size() == 2 && state == "stable";
    };
    QTRY_VERIFY_WITH_TIMEOUT(bothStable(), 15000);
    QTRY_VERIFY_WITH_TIMEOUT(a.out().contains("\nC ") && b.out().contains("\nC "), 15000);

    // Freeze A for more than twice its session timeout.
    a.process.signal(SIGSTOP);
    QElapsedTimer frozen;
    frozen.start();
    observeCommits();
    QTRY_VERIFY_WITH_TIMEOUT(members(**admin, "frozen-group", &state).size() == 1, 15000);
    const qint64 evictedAfter = frozen.elapsed();
    QVERIFY2(evictedAfter >= kSessionMs - 500,
             qPrintable(QString("A was evicted after only %1 ms").arg(evictedAfter)));
    const auto survivorHoldsAll = [&] {
        const auto m = members(**admin, "frozen-group", &state);
        return m.size() == 1 && m.begin()->second == kPartitions && state == "stable";
    };
    QTRY_VERIFY_WITH_TIMEOUT(survivorHoldsAll(), 10000);
    // The survivor moves every partition's committed offset on, A's former ones included.
    const auto atEviction = observeCommits();
    const auto allMovedOn = [&] {
        const auto now = observeCommits();
        for (int32_t p = 0; p < kPartitions; ++p)
            if (!now.count(p) || !atEviction.count(p) || now.at(p) <= atEviction.at(p))
                return false;
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(allMovedOn(), 15000);
    QTest::qWait(std::max<int>(0, int(2 * kSessionMs - frozen.elapsed())));
    const auto aLinesBeforeThaw = a.lines().size();

    // Thawed, A finds itself evicted, rejoins, and the group shares the partitions again.
    a.process.signal(SIGCONT);
    QTRY_VERIFY_WITH_TIMEOUT(bothStable(), 15000);
    QTRY_VERIFY_WITH_TIMEOUT(a.lines().size() > aLinesBeforeThaw + 5, 15000);
    const std::size_t ackedBeforeStop = ackedCount();
    QTRY_VERIFY_WITH_TIMEOUT(ackedCount() > ackedBeforeStop + 20, 10000);
    stopProducing = true;
    producing.join();

    // Both drain to the end of every partition.
    std::map<int32_t, int64_t> ends;
    const auto topic = (*admin)->describeTopic("frozen");
    QVERIFY(topic);
    for (const auto &p : topic->partitionInfo)
        ends[p.partition] = p.highWatermark;
    const auto allCommittedToTheEnd = [&] {
        const auto now = observeCommits();
        for (const auto &[p, end] : ends)
            if (!now.count(p) || now.at(p) != end)
                return false;
        return true;
    };
    if (!QTest::qWaitFor(allCommittedToTheEnd, 20000)) {
        for (const auto &[p, end] : ends)
            qWarning("partition %d: committed %lld, end %lld", p,
                     static_cast<long long>(observed[p]), static_cast<long long>(end));
        qWarning("A:\n%s\nB:\n%s", a.out().right(1500).constData(),
                 b.out().right(1500).constData());
        QFAIL("the consumers did not commit the end of every partition");
    }
    QVERIFY2(regression.isEmpty(), qPrintable(regression));
    a.process.terminate();
    b.process.terminate();
    QVERIFY(a.process.waitForFinished(10000) && b.process.waitForFinished(10000));
    QCOMPARE(a.process.exitCode(), 0);
    QCOMPARE(b.process.exitCode(), 0);

    // What the store holds: every acknowledged record where it was acknowledged.
    auto connection = eddy::client::Connection::open(url);
    QVERIFY(connection);
    std::map<int32_t, std::vector<std::string>> stored;
    for (const auto &[p, end] : ends) {
        while (int64_t(stored[p].size()) < end) {
            auto f = (*connection)->call({{"op", "fetch"}, {"topic", "frozen"}, {"partition", p},
                                          {"offset", stored[p].size()}, {"max_records", 5000}},
                                         10000);
            QVERIFY(f && !(*f)["records"].empty());
            for (const auto &r : (*f)["records"]) {
                QCOMPARE(r["offset"].get<int64_t>(), int64_t(stored[p].size()));
                const std::string v = r["value"];
                stored[p].push_back(v.substr(0, v.find(':')));
            }
        }
    }
    for (const auto &[p, offset, id] : acked) {
        QVERIFY(offset < int64_t(stored[p].size()));
        QCOMPARE(stored[p][offset], id);
    }
    // Between them, A and B were given every offset; each given record is the stored one, and
    // no run started past the group's committed offset.
    std::map<int32_t, std::set<int64_t>> given;
    int runs = 0;
    for (auto *child : {&a, &b}) {
        for (const auto &line : child->lines()) {
            const auto f = line.split(' ');
            if (f.size() == 4 && f[0] == "R") {
                const int32_t p = f[1].toInt();
                const int64_t offset = f[2].toLongLong();
                QVERIFY(offset < int64_t(stored[p].size()));
                QCOMPARE(stored[p][offset], f[3].toStdString());
                given[p].insert(offset);
            } else if (f.size() == 4 && f[0] == "J") {
                ++runs;
                const int64_t offset = f[2].toLongLong();
                const int64_t committed = f[3].toLongLong();
                if (committed != -2)
                    QVERIFY2(offset <= std::max<int64_t>(committed, 0),
                             qPrintable(QString("a run on partition %1 started at %2, past the "
                                                "committed offset %3")
                                            .arg(f[1].constData())
                                            .arg(offset)
                                            .arg(committed)));
            }
        }
    }
    for (const auto &[p, end] : ends) {
        QCOMPARE(int64_t(given[p].size()), end);
        QVERIFY(given[p].empty() || *given[p].rbegin() == end - 1);
    }
    // The hand-overs happened: at least the first runs, A's partitions moving to B and back.
    QVERIFY(runs >= kPartitions + 2);
    qInfo("A evicted %lld ms after SIGSTOP; %zu records acknowledged, %d runs", evictedAfter,
          acked.size(), runs);
    QCOMPARE(broker.terminate(), 0);
}

void TestCrashStop::frozenBrokerLosesNothing()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    BrokerProcess broker(EDDY_CLI_PATH, dir.path(), "durable", freeLoopbackPort());
    QVERIFY2(broker.start(), qPrintable(broker.lastError()));
    crash::WorkloadOptions options;
    options.url = broker.url().toStdString();
    options.sessionTimeoutMs = kSessionMs;
    crash::Workload workload(options);
    QVERIFY(workload.start().isEmpty());
    QVERIFY(workload.waitForAcks(50, 20000));
    for (int round = 1; round <= 3; ++round) {
        QElapsedTimer timer;
        timer.start();
        broker.stop();
        QTest::qSleep(kSessionMs + 1500);
        broker.cont();
        // The clients carry on by themselves: more acknowledged records within a few seconds.
        QVERIFY2(workload.waitForAcks(30, 20000),
                 qPrintable(QString("no progress after thawing (round %1)").arg(round)));
        qInfo("round %d: progress %lld ms after the freeze began", round, timer.elapsed());
        const QString violation = workload.verify();
        QVERIFY2(violation.isEmpty(), qPrintable(violation));
    }
    const QString end = workload.finish(30000);
    QVERIFY2(end.isEmpty(), qPrintable(end));
    const auto s = workload.stats();
    qInfo("3 freezes: %zu records acknowledged, %zu delivered, %zu commits", s.acked, s.delivered,
          s.commits);
    QCOMPARE(broker.terminate(), 0);
}

QTEST_GUILESS_MAIN(TestCrashStop)
#include "tst_crash_stop.moc"
