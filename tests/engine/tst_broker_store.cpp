// Integration tests of the broker's persistence: a close / reopen cycle restores topics, every
// record byte for byte, log-start offsets, committed offsets, groups and idempotent-producer
// state in both durability modes; reads below the in-memory cache come back from SQLite
// correctly; a damaged database refuses to open; one broker per data directory; and close
// flushes queued writes. A full disk: tst_broker_disk_full.cpp.
#include "sqlite_store.h"
#include "store_fixture.h"

#include <QFile>
#include <QtTest>

#include <future>
#include <map>

using namespace eddy;
using namespace eddy::test;

namespace {

std::string binary(std::initializer_list<int> bytes)
{
    std::string out;
    for (int b : bytes)
        out.push_back(static_cast<char>(b));
    return out;
}

// Everything observable about the broker's persistent state.
struct State {
    std::vector<TopicInfo> topics;
    std::map<std::pair<std::string, int32_t>, std::vector<Record>> records;
    std::map<std::string, std::vector<CommittedOffset>> offsets;
    std::map<std::string, AssignorKind> assignors;
};

} // namespace

class TestBrokerStore : public QObject, StoreFixture
{
    Q_OBJECT

private slots:
    void init() { makeDataDir(); }
    void cleanup() { closeBroker(); }

    void reopenRestoresEverything_data();
    void reopenRestoresEverything();
    void readsBelowCacheComeFromStore_data();
    void readsBelowCacheComeFromStore();
    void corruptStoreRefusesToOpen_data();
    void corruptStoreRefusesToOpen();
    void notADatabase();
    void openErrors();
    void oneBrokerPerDataDirectory();
    void closeFlushesQueuedWrites();

private:
    bool capture(State &state);
    bool compareStates(const State &after, const State &before);
};

bool TestBrokerStore::capture(State &state)
{
    state = {};
    state.topics = m_broker->listTopics();
    std::sort(state.topics.begin(), state.topics.end(),
              [](const auto &a, const auto &b) { return a.name < b.name; });
    for (const auto &t : state.topics) {
        for (int32_t p = 0; p < t.partitions; ++p) {
            auto all = readAll(*m_broker, t.name, p);
            if (!all) {
                qWarning("reading %s/%d failed: %s", t.name.c_str(), p, describe(all).constData());
                return false;
            }
            state.records[{t.name, p}] = std::move(*all);
        }
    }
    for (const auto &g : m_broker->listGroups()) {
        auto offsets = m_broker->committedOffsets(g.group);
        auto desc = m_broker->describeGroup(g.group);
        if (!offsets || !desc)
            return false;
        state.offsets[g.group] = std::move(*offsets);
        state.assignors[g.group] = desc->assignor;
    }
    return true;
}

bool TestBrokerStore::compareStates(const State &after, const State &before)
{
    [&] {
        QCOMPARE(after.topics.size(), before.topics.size());
        for (std::size_t i = 0; i < after.topics.size(); ++i) {
            const auto &a = after.topics[i];
            const auto &b = before.topics[i];
            QCOMPARE(a.name, b.name);
            QCOMPARE(a.partitions, b.partitions);
            QCOMPARE(a.retention, b.retention);
            QCOMPARE(a.createdMs, b.createdMs);
            QCOMPARE(a.partitionInfo.size(), b.partitionInfo.size());
            for (std::size_t p = 0; p < a.partitionInfo.size(); ++p) {
                const auto &pa = a.partitionInfo[p];
                const auto &pb = b.partitionInfo[p];
                const QByteArray where =
                    QByteArray::fromStdString(a.name) + "/" + QByteArray::number(int(p));
                const auto num = [](int64_t v) { return QByteArray::number(qint64(v)); };
                QVERIFY2(pa.logStartOffset == pb.logStartOffset,
                         where + " log start " + num(pa.logStartOffset) + " vs "
                             + num(pb.logStartOffset));
                QVERIFY2(pa.highWatermark == pb.highWatermark,
                         where + " HW " + num(pa.highWatermark) + " vs " + num(pb.highWatermark));
                QVERIFY2(pa.sizeBytes == pb.sizeBytes,
                         where + " size " + num(pa.sizeBytes) + " vs " + num(pb.sizeBytes));
            }
        }
        QCOMPARE(after.records.size(), before.records.size());
        for (const auto &[tp, records] : before.records) {
            auto it = after.records.find(tp);
            QVERIFY(it != after.records.end());
            const QString diff = diffRecords(it->second, records);
            QVERIFY2(diff.isEmpty(), qPrintable(QString::fromStdString(tp.first) + "/"
                                                + QString::number(tp.second) + ": " + diff));
        }
        QCOMPARE(after.offsets.size(), before.offsets.size());
        for (const auto &[group, offsets] : before.offsets) {
            auto it = after.offsets.find(group);
            QVERIFY2(it != after.offsets.end(), group.c_str());
            QCOMPARE(it->second.size(), offsets.size());
            for (std::size_t i = 0; i < offsets.size(); ++i) {
                QCOMPARE(it->second[i].topic, offsets[i].topic);
                QCOMPARE(it->second[i].partition, offsets[i].partition);
                QCOMPARE(it->second[i].offset, offsets[i].offset);
                QCOMPARE(it->second[i].metadata, offsets[i].metadata);
                QCOMPARE(it->second[i].commitMs, offsets[i].commitMs);
                QCOMPARE(it->second[i].lag, offsets[i].lag);
            }
            QCOMPARE(after.assignors.at(group), before.assignors.at(group));
        }
    }();
    return !QTest::currentTestFailed();
}

void TestBrokerStore::reopenRestoresEverything_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("fast") << Durability::Fast;
    QTest::newRow("durable") << Durability::Durable;
}

void TestBrokerStore::reopenRestoresEverything()
{
    QFETCH(Durability, durability);
    const auto config = testConfig(m_dir->path(), durability);
    QVERIFY(reopen(config));

    EDDY_VERIFY_OK(m_broker->createTopic({"alpha", 3, {1000, 0, 0}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"beta", 1, {5, 0, 0}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"gamma", 2, {0, 1 << 20, 86400000}}));

    // Records exercising every field: absent vs empty key, binary key / value / header bytes
    // (NUL, 0xff, invalid UTF-8), repeated header keys, empty value, explicit and append-time
    // timestamps, and a large value.
    const std::vector<Record> alpha0{
        rec("plain", std::nullopt, 1000),
        rec("", std::string(), 2000),
        rec(binary({0, 1, 2, 0xff, 0xfe, 0, 0x80}), binary({0, 0xc3, 0x28}), 3000,
            {{"h", binary({0, 0xff})}, {"h", ""}, {"", "empty-key"}, {binary({0xe2, 0x82}), "x"}}),
        rec(std::string(100000, 'L'), std::string("big"), 0),
        rec("last", std::string("k"), 4000, {{"only", "one"}}),
    };
    auto produced = m_broker->produceSync(produceTo("alpha", 0, alpha0, Acks::Durable));
    EDDY_VERIFY_OK(produced);
    for (int i = 0; i < 20; ++i)
        EDDY_VERIFY_OK(m_broker->produceSync(
            produceTo("alpha", std::nullopt,
                      {rec("spread-" + std::to_string(i), "key" + std::to_string(i))},
                      Acks::Durable)));
    for (int i = 0; i < 10; ++i)
        EDDY_VERIFY_OK(m_broker->produceSync(
            produceTo("beta", 0, {rec("b" + std::to_string(i))}, Acks::Durable)));
    m_broker->runRetention();
    QCOMPARE(m_broker->describeTopic("beta")->partitionInfo[0].logStartOffset, 5);
    EDDY_VERIFY_OK(m_broker->alterPartitions("alpha", 4));
    EDDY_VERIFY_OK(
        m_broker->produceSync(produceTo("alpha", 3, {rec("new-partition")}, Acks::Durable)));

    // Idempotent producer with two batches on alpha/1. (Durable acks throughout: in durable mode
    // a record is visible only once persisted, and the snapshot below must see all of them.)
    auto pid = m_broker->initProducerId();
    EDDY_VERIFY_OK(pid);
    auto idem = [&](int32_t seq, std::vector<Record> records) {
        auto req = produceTo("alpha", 1, std::move(records), Acks::Durable);
        req.producerId = *pid;
        req.baseSequence = seq;
        return req;
    };
    EDDY_VERIFY_OK(m_broker->produceSync(idem(0, {rec("i0"), rec("i1")})));
    auto lastIdem = m_broker->produceSync(idem(2, {rec("i2"), rec("i3"), rec("i4")}));
    EDDY_VERIFY_OK(lastIdem);

    // Groups: offsets committed outside membership; a round-robin group whose member left.
    CommitRequest commit;
    commit.group = "g1";
    commit.offsets = {{"alpha", 0, 3, "meta\x01with bytes"}, {"beta", 0, 7, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
    JoinGroupRequest join;
    join.group = "g2";
    join.memberId = "m";
    join.topics = {"gamma"};
    join.assignor = AssignorKind::RoundRobin;
    auto joined = m_broker->joinGroup(join);
    EDDY_VERIFY_OK(joined);
    CommitRequest memberCommit;
    memberCommit.group = "g2";
    memberCommit.memberId = "m";
    memberCommit.generation = joined->generation;
    memberCommit.offsets = {{"gamma", 1, 0, "m"}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(memberCommit));
    EDDY_VERIFY_OK(m_broker->leaveGroup("g2", "m"));
    // A group with nothing committed exists too.
    join.group = "g3";
    join.assignor = AssignorKind::Range;
    EDDY_VERIFY_OK(m_broker->joinGroup(join));
    EDDY_VERIFY_OK(m_broker->leaveGroup("g3", "m"));

    State before;
    QVERIFY(capture(before));
    // The snapshot holds what was produced, byte for byte.
    {
        auto expected = alpha0;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            expected[i].offset = int64_t(i);
            if (expected[i].timestamp == 0)
                expected[i].timestamp = before.records[{"alpha", 0}][i].timestamp;
        }
        std::vector<Record> first(before.records[{"alpha", 0}].begin(),
                                  before.records[{"alpha", 0}].begin() + alpha0.size());
        const QString diff = diffRecords(first, expected);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }
    const auto &beta = before.records[std::make_pair(std::string("beta"), 0)];
    QCOMPARE(beta.size(), std::size_t(5));
    QCOMPARE(beta.front().value, std::string("b5"));
    QCOMPARE(before.offsets.size(), std::size_t(3));

    QVERIFY(reopen(config));
    State after;
    QVERIFY(capture(after));
    QVERIFY(compareStates(after, before));

    // Idempotent state survived: a retry of the last batch is deduplicated...
    auto retry = m_broker->produceSync(idem(2, {rec("i2"), rec("i3"), rec("i4")}));
    EDDY_VERIFY_OK(retry);
    QVERIFY(retry->placements[0].duplicate);
    QCOMPARE(retry->offsets, lastIdem->offsets);
    // ...a gap is still detected, and the next sequence continues.
    EDDY_VERIFY_ERR(m_broker->produceSync(idem(9, {rec("gap")})), Errc::OutOfOrderSequence);
    auto next = m_broker->produceSync(idem(5, {rec("i5")}));
    EDDY_VERIFY_OK(next);
    QVERIFY(!next->placements[0].duplicate);
    QCOMPARE(next->offsets[0].second, before.topics[0].partitionInfo[1].highWatermark);
    auto newPid = m_broker->initProducerId();
    EDDY_VERIFY_OK(newPid);
    QVERIFY(*newPid > *pid);
    // Offsets continue after the restored end on every partition.
    auto more = m_broker->produceSync(produceTo("beta", 0, {rec("b10")}, Acks::Durable));
    EDDY_VERIFY_OK(more);
    QCOMPARE(more->offsets[0].second, 10);
    // Committed offsets keep their regression guard.
    commit.offsets = {{"alpha", 0, 2, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(commit), Errc::OffsetRegression);

    // A second cycle with the new writes restores them too.
    State before2;
    QVERIFY(capture(before2));
    QVERIFY(reopen(config));
    State after2;
    QVERIFY(capture(after2));
    QVERIFY(compareStates(after2, before2));
}

void TestBrokerStore::readsBelowCacheComeFromStore_data()
{
    QTest::addColumn<Durability>("durability");
    QTest::newRow("fast") << Durability::Fast;
    QTest::newRow("durable") << Durability::Durable;
}

void TestBrokerStore::readsBelowCacheComeFromStore()
{
    QFETCH(Durability, durability);
    auto config = testConfig(m_dir->path(), durability);
    config.tailCacheBytes = 4096;
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"deep", 2, {}}));

    // 300 records of ~100 bytes in batches of 1-7: far more than the 4 KiB cache.
    std::vector<Record> expected;
    int64_t ts = 1000000;
    for (int i = 0; i < 300;) {
        std::vector<Record> batch;
        const int n = 1 + i % 7;
        for (int k = 0; k < n && i < 300; ++k, ++i) {
            std::string value(96, char('a' + i % 26));
            value += binary({0, 0xff, i & 0xff, (i >> 8) & 0xff});
            std::optional<std::string> key;
            if (i % 3)
                key = "k" + std::to_string(i);
            std::vector<Header> headers;
            if (i % 5 == 0)
                headers.push_back({"n", std::to_string(i)});
            auto r = rec(value, key, ts += 10, headers);
            batch.push_back(r);
            r.offset = i;
            expected.push_back(r);
        }
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo("deep", 1, batch, Acks::Durable)));
    }
    QCOMPARE(m_broker->describeTopic("deep")->partitionInfo[1].highWatermark, 300);

    auto check = [&](const char *when) {
        auto all = readAll(*m_broker, "deep", 1, 0, 37);
        QVERIFY2(all.ok(), describe(all).constData());
        const QString diff = diffRecords(*all, expected);
        QVERIFY2(diff.isEmpty(), qPrintable(QString(when) + ": " + diff));
        // Reads starting mid-batch, deep in the store.
        for (int64_t from : std::vector<int64_t>{0, 1, 5, 17, 150, 299}) {
            auto f = m_broker->fetchSync(fetchFrom("deep", 1, from, 3));
            QVERIFY2(f.ok(), describe(f).constData());
            QVERIFY(!f->records.empty());
            QVERIFY(f->records.size() <= 3);
            QCOMPARE(f->highWatermark, 300);
            for (std::size_t k = 0; k < f->records.size(); ++k)
                QVERIFY2(f->records[k] == expected[std::size_t(from) + k],
                         qPrintable(QString(when) + ": " + show(f->records[k])));
        }
        // The byte limit holds on the store path too (but at least one record comes back).
        auto small = fetchFrom("deep", 1, 10, 100);
        small.maxBytes = 250; // two 100-byte values (plus keys) fit, three do not
        auto f = m_broker->fetchSync(small);
        QVERIFY2(f.ok(), describe(f).constData());
        QVERIFY(f->records.size() >= 1 && f->records.size() <= 2);
        QCOMPARE(f->records[0].offset, 10);
        small.maxBytes = 1;
        f = m_broker->fetchSync(small);
        QVERIFY2(f.ok(), describe(f).constData());
        QCOMPARE(f->records.size(), std::size_t(1));
        // Timestamp lookup over stored batches.
        auto off = m_broker->offsetForTimestamp("deep", 1, expected[42].timestamp);
        QVERIFY2(off.ok(), describe(off).constData());
        QCOMPARE(*off, 42);
        off = m_broker->offsetForTimestamp("deep", 1, expected[42].timestamp - 5);
        QVERIFY2(off.ok(), describe(off).constData());
        QCOMPARE(*off, 42);
    };
    // While running (the early batches were evicted from memory once persisted).
    check("running");
    if (QTest::currentTestFailed())
        return;
    QVERIFY(reopen(config));
    check("after reopen");
    if (QTest::currentTestFailed())
        return;
    // Appends after the reopen continue and are readable alongside the stored ones.
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("deep", 1, {rec("tail")}, Acks::Durable)));
    auto all = readAll(*m_broker, "deep", 1);
    EDDY_VERIFY_OK(all);
    QCOMPARE(all->size(), std::size_t(301));
    QCOMPARE(all->back().value, std::string("tail"));
    QCOMPARE(all->back().offset, 300);
}

void TestBrokerStore::corruptStoreRefusesToOpen_data()
{
    QTest::addColumn<QString>("where");
    QTest::newRow("middle page") << "middle";
    QTest::newRow("second page") << "page2";
}

void TestBrokerStore::corruptStoreRefusesToOpen()
{
    QFETCH(QString, where);
    const auto config = testConfig(m_dir->path());
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"c", 4, {}}));
    for (int i = 0; i < 200; ++i)
        EDDY_VERIFY_OK(m_broker->produceSync(
            produceTo("c", std::nullopt,
                      {rec(std::string(300, char('a' + i % 26)), "k" + std::to_string(i))})));
    CommitRequest commit;
    commit.group = "g";
    commit.offsets = {{"c", 0, 1, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
    m_broker.reset(); // closes; the last connection checkpoints the WAL into eddy.db

    const QString path = m_dir->path() + "/eddy.db";
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadWrite));
    const qint64 size = file.size();
    const qint64 page = SqliteStore::kPageSize; // a store this build made
    QVERIFY2(size >= 8 * page, qPrintable(QString("eddy.db is only %1 bytes").arg(size)));
    // Overwrite a whole page with garbage. A page of garbage fails quick_check's b-tree checks;
    // a few bytes changed inside one record blob would not (quick_check verifies the b-tree
    // structure, not payload bytes), which is why a full page is overwritten.
    const qint64 at = where == "middle" ? (size / page / 2) * page : page;
    QByteArray garbage(page, '\0');
    for (int i = 0; i < garbage.size(); ++i)
        garbage[i] = char((i * 151 + 7) & 0xff);
    QVERIFY(file.seek(at));
    QCOMPARE(file.write(garbage), page);
    file.close();
    QFile::remove(path + "-wal");
    QFile::remove(path + "-shm");

    QFile before(path);
    QVERIFY(before.open(QIODevice::ReadOnly));
    const QByteArray damaged = before.readAll();
    before.close();

    auto opened = Broker::open(config);
    QVERIFY2(!opened.ok(), "a damaged store opened");
    QCOMPARE(opened.code(), Errc::CorruptStore);
    QVERIFY(!opened.error().message.empty());
    qInfo("%s", opened.error().message.c_str());
    // The damaged file was not "repaired" by writing to it.
    QFile after(path);
    QVERIFY(after.open(QIODevice::ReadOnly));
    QVERIFY(after.readAll() == damaged);
}

void TestBrokerStore::notADatabase()
{
    // Damage to the header (the first 100 bytes) makes the file not a database at all.
    const auto config = testConfig(m_dir->path());
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"c", 1, {}}));
    m_broker.reset();
    const QString path = m_dir->path() + "/eddy.db";
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadWrite));
    QCOMPARE(file.write(QByteArray(100, 'X')), qint64(100));
    file.close();
    auto opened = Broker::open(config);
    QVERIFY2(!opened.ok(), "a file that is not a database opened");
    QCOMPARE(opened.code(), Errc::CorruptStore);
}

void TestBrokerStore::openErrors()
{
    auto config = testConfig(m_dir->path());
    config.dataDir.clear();
    auto noDir = Broker::open(config);
    QVERIFY(!noDir.ok());
    QCOMPARE(noDir.code(), Errc::InvalidConfig);
    // A data directory that is a regular file cannot be used.
    const QString file = m_dir->path() + "/plain-file";
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a directory");
    f.close();
    config.dataDir = file.toStdString();
    auto notDir = Broker::open(config);
    QVERIFY(!notDir.ok());
    QCOMPARE(notDir.code(), Errc::StorageError);
    // A nested directory that does not exist yet is created.
    config.dataDir = (m_dir->path() + "/a/b/c").toStdString();
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 1, {}}));
    QVERIFY(QFile::exists(m_dir->path() + "/a/b/c/eddy.db"));
}

void TestBrokerStore::oneBrokerPerDataDirectory()
{
    auto config = testConfig(m_dir->path());
    auto first = Broker::open(config);
    EDDY_VERIFY_OK(first);
    EDDY_VERIFY_OK((*first)->createTopic({"mine", 1, {}}));
    // A second broker on the same directory would interleave its writes with the first's.
    auto second = Broker::open(config);
    QVERIFY(!second.ok());
    QCOMPARE(second.code(), Errc::StorageError);
    QVERIFY(QString::fromStdString(second.error().message).contains("in use"));
    // Once the first is gone, the directory opens again with its data.
    first->reset();
    auto third = Broker::open(config);
    EDDY_VERIFY_OK(third);
    EDDY_VERIFY_OK((*third)->describeTopic("mine"));
}

void TestBrokerStore::closeFlushesQueuedWrites()
{
    // Fast mode acknowledges on append; close() must still commit everything queued.
    auto config = testConfig(m_dir->path());
    config.flushIntervalMs = 5000; // nothing is committed by the timer during the test
    QVERIFY(reopen(config));
    EDDY_VERIFY_OK(m_broker->createTopic({"q", 3, {}}));
    std::vector<std::promise<Result<ProduceResult>>> acks(300);
    for (int i = 0; i < 300; ++i) {
        std::string value = "r"; // not "r" + to_string(i): GCC 12 -O3 warns falsely (-Wrestrict)
        value += std::to_string(i);
        m_broker->produce(produceTo("q", std::nullopt, {rec(value)},
                                    i % 2 ? Acks::None : Acks::Leader),
                          [&acks, i](Result<ProduceResult> r) {
                              acks[std::size_t(i)].set_value(std::move(r));
                          });
    }
    for (auto &a : acks)
        EDDY_VERIFY_OK(a.get_future().get());
    CommitRequest commit;
    commit.group = "g";
    commit.offsets = {{"q", 0, 1, {}}};
    m_broker->commitOffsets(commit, [](const Result<void> &) {});
    State before;
    QVERIFY(capture(before));
    QVERIFY(reopen(config));
    State after;
    QVERIFY(capture(after));
    QVERIFY(compareStates(after, before));
    int64_t total = 0;
    for (const auto &p : after.topics[0].partitionInfo)
        total += p.highWatermark;
    QCOMPARE(total, 300);
    QCOMPARE(after.offsets.at("g").at(0).offset, 1);
}

QTEST_GUILESS_MAIN(TestBrokerStore)
#include "tst_broker_store.moc"
