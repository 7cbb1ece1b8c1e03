// Integration tests of consumer groups through eddy::Broker: range and round-robin placement,
// generations, the hand-over rule (a partition reaches its new owner only after the previous
// owner acknowledged the new generation, so no partition is ever consumable by two members),
// leave and session expiry, group states, join and heartbeat validation, and a poll that waits
// on pending partitions only. Commits, lag, resets and deletion: tst_broker_offsets.cpp.
#include "groups_fixture.h"

#include <QElapsedTimer>
#include <QStringList>
#include <QtTest>

#include <algorithm>
#include <future>
#include <map>
#include <random>
#include <set>

using namespace eddy;
using namespace eddy::test;

namespace {

using TpSet = std::set<TopicPartition>;

// "t/0 t/1 ..." sorted, so placements compare as readable strings.
QString fmt(const std::vector<TopicPartition> &tps)
{
    auto sorted = tps;
    std::sort(sorted.begin(), sorted.end());
    QStringList parts;
    for (const auto &tp : sorted)
        parts << QString::fromStdString(tp.topic) + "/" + QString::number(tp.partition);
    return parts.join(' ');
}

QString fmt(const TpSet &tps)
{
    return fmt(std::vector<TopicPartition>(tps.begin(), tps.end()));
}

QString range(const std::string &topic, int from, int to)
{
    std::vector<TopicPartition> out;
    for (int p = from; p <= to; ++p)
        out.push_back({topic, p});
    return fmt(out);
}

// A consumer as the hand-over rule sees it: after a response to a call that carried the current
// generation it consumes exactly `assigned`; after a response to an older generation it has not
// yet released anything, so it may still consume what it held plus what it was just given.
struct SimMember {
    std::string id;
    int32_t generation = 0;
    TpSet held;
};

} // namespace

class TestBrokerGroups : public QObject, GroupsFixture
{
    Q_OBJECT

private slots:
    void init() { openBroker(); }
    void cleanup() { closeBroker(); }

    void rangeJoinSequenceHandsOverSafely();
    void rangeHandOverInVariousOrders_data();
    void rangeHandOverInVariousOrders();
    void randomizedHandOver_data();
    void randomizedHandOver();
    void roundRobinPlacement();
    void leaveRebalances();
    void sessionTimeoutEvicts();
    void groupStates();
    void joinValidation();
    void heartbeatErrors();
    void topicCreatedAfterJoin();
    void pollWithOnlyPendingPartitionsAnswers();

private:
    // Heartbeats m with its generation, updates its simulated holdings, and checks that no two
    // members hold the same partition.
    bool beat(const std::string &group, SimMember &m, std::vector<SimMember> &all);
    bool noOverlap(const std::vector<SimMember> &all);
};

bool TestBrokerGroups::noOverlap(const std::vector<SimMember> &all)
{
    std::map<TopicPartition, std::string> owner;
    for (const auto &m : all) {
        for (const auto &tp : m.held) {
            auto [it, fresh] = owner.emplace(tp, m.id);
            if (!fresh) {
                qWarning("partition %s/%d held by both %s and %s", tp.topic.c_str(), tp.partition,
                         it->second.c_str(), m.id.c_str());
                return false;
            }
        }
    }
    return true;
}

bool TestBrokerGroups::beat(const std::string &group, SimMember &m, std::vector<SimMember> &all)
{
    auto r = m_broker->heartbeat(group, m.id, m.generation);
    if (!r) {
        qWarning("heartbeat of %s failed: %s", m.id.c_str(), describe(r).constData());
        return false;
    }
    if (r->generation == m.generation) {
        m.held = TpSet(r->assigned.begin(), r->assigned.end());
    } else {
        m.held.insert(r->assigned.begin(), r->assigned.end());
        m.generation = r->generation;
    }
    for (auto &other : all)
        if (other.id == m.id)
            other = m;
    return noOverlap(all);
}

void TestBrokerGroups::rangeJoinSequenceHandsOverSafely()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"six", 6, {}}));

    // One member: everything, at once.
    auto a = join("g", "a", {"six"});
    EDDY_VERIFY_OK(a);
    QCOMPARE(a->memberId, std::string("a"));
    QCOMPARE(a->generation, 1);
    QCOMPARE(fmt(a->assigned), range("six", 0, 5));
    QVERIFY(a->pending.empty());
    QCOMPARE(a->state, GroupState::Stable);
    QVERIFY(a->heartbeatIntervalMs > 0 && a->heartbeatIntervalMs < 10000);
    // A heartbeat at the current generation changes nothing.
    auto hbA = m_broker->heartbeat("g", "a", 1);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(fmt(hbA->assigned), range("six", 0, 5));

    // Second member: b's half stays pending until a acknowledges generation 2.
    auto b = join("g", "b", {"six"});
    EDDY_VERIFY_OK(b);
    QCOMPARE(b->generation, 2);
    QVERIFY2(b->assigned.empty(), qPrintable("b may consume " + fmt(b->assigned)
                                             + " while a still owns it"));
    QCOMPARE(fmt(b->pending), range("six", 3, 5));
    QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Rebalancing);
    auto hbB = m_broker->heartbeat("g", "b", 2);
    EDDY_VERIFY_OK(hbB);
    QVERIFY(hbB->assigned.empty());
    QCOMPARE(fmt(hbB->pending), range("six", 3, 5));

    // a learns the new generation with a stale heartbeat: it is told its new share, but has not
    // released anything yet.
    hbA = m_broker->heartbeat("g", "a", 1);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(hbA->generation, 2);
    QCOMPARE(fmt(hbA->assigned), range("six", 0, 2));
    hbB = m_broker->heartbeat("g", "b", 2);
    EDDY_VERIFY_OK(hbB);
    QVERIFY(hbB->assigned.empty());
    // a acknowledges generation 2: now b gets its partitions.
    hbA = m_broker->heartbeat("g", "a", 2);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(fmt(hbA->assigned), range("six", 0, 2));
    hbB = m_broker->heartbeat("g", "b", 2);
    EDDY_VERIFY_OK(hbB);
    QCOMPARE(fmt(hbB->assigned), range("six", 3, 5));
    QVERIFY(hbB->pending.empty());
    QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Stable);

    // Third member: Kafka range placement a {0,1}, b {2,3}, c {4,5}.
    auto c = join("g", "c", {"six"});
    EDDY_VERIFY_OK(c);
    QCOMPARE(c->generation, 3);
    QVERIFY(c->assigned.empty());
    QCOMPARE(fmt(c->pending), range("six", 4, 5));
    // b acknowledges first: c gets 4 and 5, b keeps 3 and waits for 2 (a still owns it).
    hbB = m_broker->heartbeat("g", "b", 3);
    EDDY_VERIFY_OK(hbB);
    QCOMPARE(fmt(hbB->assigned), range("six", 3, 3));
    QCOMPARE(fmt(hbB->pending), range("six", 2, 2));
    auto hbC = m_broker->heartbeat("g", "c", 3);
    EDDY_VERIFY_OK(hbC);
    QCOMPARE(fmt(hbC->assigned), range("six", 4, 5));
    QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Rebalancing);
    hbA = m_broker->heartbeat("g", "a", 3);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(fmt(hbA->assigned), range("six", 0, 1));
    hbB = m_broker->heartbeat("g", "b", 3);
    EDDY_VERIFY_OK(hbB);
    QCOMPARE(fmt(hbB->assigned), range("six", 2, 3));
    QVERIFY(hbB->pending.empty());
    auto desc = m_broker->describeGroup("g");
    EDDY_VERIFY_OK(desc);
    QCOMPARE(desc->state, GroupState::Stable);
    QCOMPARE(desc->generation, 3);
    QCOMPARE(desc->assignor, AssignorKind::Range);
    QCOMPARE(desc->members.size(), std::size_t(3));
    for (const auto &m : desc->members) {
        QCOMPARE(m.ackedGeneration, 3);
        QVERIFY(m.pending.empty());
        QCOMPARE(m.clientId, "client-" + m.memberId);
    }
}

void TestBrokerGroups::rangeHandOverInVariousOrders_data()
{
    // Heartbeat schedules (indexes into members a, b, c) run after each join.
    QTest::addColumn<QList<int>>("order");
    QTest::newRow("in join order") << QList<int>{0, 1, 2, 0, 1, 2};
    QTest::newRow("newest first") << QList<int>{2, 1, 0, 2, 1, 0};
    QTest::newRow("oldest repeatedly") << QList<int>{0, 0, 1, 1, 2, 2};
    QTest::newRow("newcomer spins") << QList<int>{2, 2, 2, 1, 2, 0, 2, 1};
    QTest::newRow("middle first") << QList<int>{1, 2, 1, 0, 2, 1};
}

void TestBrokerGroups::rangeHandOverInVariousOrders()
{
    QFETCH(QList<int>, order);
    EDDY_VERIFY_OK(m_broker->createTopic({"six", 6, {}}));
    std::vector<SimMember> all;
    const std::vector<std::string> ids{"a", "b", "c"};
    for (std::size_t n = 0; n < ids.size(); ++n) {
        auto j = join("g", ids[n], {"six"});
        EDDY_VERIFY_OK(j);
        all.push_back({ids[n], j->generation, TpSet(j->assigned.begin(), j->assigned.end())});
        QVERIFY(noOverlap(all));
        for (int i : order) {
            if (std::size_t(i) >= all.size())
                continue;
            SimMember m = all[std::size_t(i)];
            QVERIFY(beat("g", m, all));
        }
        // Converge: everyone heartbeats at the current generation until nothing is pending.
        for (int round = 0; round < 3; ++round)
            for (auto m : std::vector<SimMember>(all))
                QVERIFY(beat("g", m, all));
        // Final placement is Kafka's range placement for the current member count.
        const int members = int(all.size());
        int next = 0;
        for (int k = 0; k < members; ++k) {
            const int take = 6 / members + (k < 6 % members ? 1 : 0);
            QCOMPARE(fmt(all[std::size_t(k)].held), range("six", next, next + take - 1));
            next += take;
        }
        QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Stable);
        QCOMPARE(m_broker->describeGroup("g")->generation, int32_t(n + 1));
    }
}

void TestBrokerGroups::randomizedHandOver_data()
{
    QTest::addColumn<uint>("seed");
    QTest::addColumn<int>("assignor");
    for (uint seed : {1u, 7u, 42u, 1234u}) {
        QTest::addRow("range seed %u", seed) << seed << int(AssignorKind::Range);
        QTest::addRow("roundrobin seed %u", seed) << seed << int(AssignorKind::RoundRobin);
    }
}

void TestBrokerGroups::randomizedHandOver()
{
    // Random joins, leaves, current and stale heartbeats, subscription changes and partition
    // increases: after every response no partition may be held by two members, and once
    // everyone has acknowledged the last generation every subscribed partition has exactly one
    // holder.
    QFETCH(uint, seed);
    QFETCH(int, assignor);
    EDDY_VERIFY_OK(m_broker->createTopic({"x", 4, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"y", 3, {}}));
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return int(rng() % uint(n)); };
    const std::vector<std::vector<std::string>> subscriptions{{"x"}, {"y"}, {"x", "y"}};
    std::vector<SimMember> all;
    std::map<std::string, std::vector<std::string>> topicsOf;
    int nextId = 0;
    int partitionsX = 4;
    for (int step = 0; step < 250; ++step) {
        const int action = pick(10);
        if (all.empty() || (action == 0 && all.size() < 5)) {
            const std::string id = "m" + std::to_string(nextId++);
            const auto &topics = subscriptions[std::size_t(pick(3))];
            auto j = join("g", id, topics, AssignorKind(assignor));
            EDDY_VERIFY_OK(j);
            all.push_back({id, j->generation, TpSet(j->assigned.begin(), j->assigned.end())});
            topicsOf[id] = topics;
        } else if (action == 1 && all.size() > 1) {
            const std::size_t i = std::size_t(pick(int(all.size())));
            EDDY_VERIFY_OK(m_broker->leaveGroup("g", all[i].id));
            topicsOf.erase(all[i].id);
            all.erase(all.begin() + std::ptrdiff_t(i));
        } else if (action == 2) {
            // Re-join with another subscription: a membership change without acknowledging.
            auto &m = all[std::size_t(pick(int(all.size())))];
            const auto &topics = subscriptions[std::size_t(pick(3))];
            auto j = join("g", m.id, topics, AssignorKind(assignor));
            EDDY_VERIFY_OK(j);
            m.held.insert(j->assigned.begin(), j->assigned.end());
            m.generation = j->generation;
            topicsOf[m.id] = topics;
        } else if (action == 3 && partitionsX < 8 && pick(4) == 0) {
            EDDY_VERIFY_OK(m_broker->alterPartitions("x", ++partitionsX));
        } else {
            // Heartbeat, usually at the member's last known generation (which may be stale).
            SimMember m = all[std::size_t(pick(int(all.size())))];
            QVERIFY2(beat("g", m, all), qPrintable(QString("step %1").arg(step)));
            continue;
        }
        QVERIFY2(noOverlap(all), qPrintable(QString("step %1, action %2").arg(step).arg(action)));
    }
    // Converge.
    for (int round = 0; round < 3; ++round)
        for (auto m : std::vector<SimMember>(all))
            QVERIFY(beat("g", m, all));
    std::map<TopicPartition, int> holders;
    for (const auto &m : all) {
        for (const auto &tp : m.held) {
            ++holders[tp];
            const auto &topics = topicsOf[m.id];
            QVERIFY(std::find(topics.begin(), topics.end(), tp.topic) != topics.end());
        }
    }
    std::set<std::string> subscribed;
    for (const auto &[id, topics] : topicsOf)
        subscribed.insert(topics.begin(), topics.end());
    for (const auto &topic : subscribed) {
        const int count = topic == "x" ? partitionsX : 3;
        for (int p = 0; p < count; ++p)
            QVERIFY2(holders[TopicPartition({topic, p})] == 1,
                     qPrintable(QString("%1/%2 has %3 holders")
                                    .arg(QString::fromStdString(topic))
                                    .arg(p)
                                    .arg(holders[TopicPartition({topic, p})])));
    }
    auto desc = m_broker->describeGroup("g");
    EDDY_VERIFY_OK(desc);
    QCOMPARE(desc->state, GroupState::Stable);
    for (const auto &m : desc->members)
        QVERIFY(m.pending.empty());
}

void TestBrokerGroups::roundRobinPlacement()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t1", 3, {}}));
    EDDY_VERIFY_OK(m_broker->createTopic({"t2", 2, {}}));
    auto a = join("rr", "a", {"t1", "t2"}, AssignorKind::RoundRobin);
    EDDY_VERIFY_OK(a);
    auto b = join("rr", "b", {"t2", "t1"}, AssignorKind::RoundRobin);
    EDDY_VERIFY_OK(b);
    EDDY_VERIFY_OK(m_broker->heartbeat("rr", "a", b->generation));
    auto hbA = m_broker->heartbeat("rr", "a", b->generation);
    auto hbB = m_broker->heartbeat("rr", "b", b->generation);
    EDDY_VERIFY_OK(hbA);
    EDDY_VERIFY_OK(hbB);
    // Sorted partitions t1/0 t1/1 t1/2 t2/0 t2/1 dealt to a, b, a, b, a.
    QCOMPARE(fmt(hbA->assigned), QString("t1/0 t1/2 t2/1"));
    QCOMPARE(fmt(hbB->assigned), QString("t1/1 t2/0"));
    QCOMPARE(m_broker->describeGroup("rr")->assignor, AssignorKind::RoundRobin);

    // Differing subscriptions: members skip partitions of topics they do not subscribe to,
    // as Kafka's RoundRobinAssignor does.
    auto x = join("rr2", "x", {"t1", "t2"}, AssignorKind::RoundRobin);
    EDDY_VERIFY_OK(x);
    auto y = join("rr2", "y", {"t2"}, AssignorKind::RoundRobin);
    EDDY_VERIFY_OK(y);
    auto hbX = m_broker->heartbeat("rr2", "x", y->generation);
    EDDY_VERIFY_OK(hbX);
    auto hbY = m_broker->heartbeat("rr2", "y", y->generation);
    EDDY_VERIFY_OK(hbY);
    QCOMPARE(fmt(hbX->assigned), QString("t1/0 t1/1 t1/2 t2/1"));
    QCOMPARE(fmt(hbY->assigned), QString("t2/0"));
    // The assignor of an existing group is the one it was created with.
    auto z = join("rr2", "z", {"t1"}, AssignorKind::Range);
    EDDY_VERIFY_OK(z);
    QCOMPARE(m_broker->describeGroup("rr2")->assignor, AssignorKind::RoundRobin);
}

void TestBrokerGroups::leaveRebalances()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"six", 6, {}}));
    EDDY_VERIFY_OK(join("g", "a", {"six"}));
    auto b = join("g", "b", {"six"});
    EDDY_VERIFY_OK(b);
    EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", 2));
    auto hbB = m_broker->heartbeat("g", "b", 2);
    EDDY_VERIFY_OK(hbB);
    QCOMPARE(fmt(hbB->assigned), range("six", 3, 5));

    EDDY_VERIFY_OK(m_broker->leaveGroup("g", "b"));
    // Leaving releases at once: a gets everything without waiting on b.
    auto hbA = m_broker->heartbeat("g", "a", 2);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(hbA->generation, 3);
    QCOMPARE(fmt(hbA->assigned), range("six", 0, 5));
    QVERIFY(hbA->pending.empty());
    EDDY_VERIFY_ERR(m_broker->heartbeat("g", "b", 3), Errc::UnknownMember);
    EDDY_VERIFY_ERR(m_broker->leaveGroup("g", "b"), Errc::UnknownMember);
    EDDY_VERIFY_ERR(m_broker->leaveGroup("nogroup", "a"), Errc::UnknownGroup);
    QCOMPARE(m_broker->describeGroup("g")->members.size(), std::size_t(1));

    // A member that left mid-rebalance also releases what was pending for others.
    auto c = join("g", "c", {"six"});
    EDDY_VERIFY_OK(c);
    QCOMPARE(fmt(c->pending), range("six", 3, 5));
    EDDY_VERIFY_OK(m_broker->leaveGroup("g", "a"));
    auto hbC = m_broker->heartbeat("g", "c", c->generation);
    EDDY_VERIFY_OK(hbC);
    QCOMPARE(fmt(hbC->assigned), range("six", 0, 5));
}

void TestBrokerGroups::sessionTimeoutEvicts()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"six", 6, {}}));
    auto a = join("g", "a", {"six"}, AssignorKind::Range, 5000);
    EDDY_VERIFY_OK(a);
    auto b = join("g", "b", {"six"}, AssignorKind::Range, 200);
    EDDY_VERIFY_OK(b);
    int32_t gen = b->generation;
    EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", gen));
    auto hbB = m_broker->heartbeat("g", "b", gen);
    EDDY_VERIFY_OK(hbB);
    QCOMPARE(fmt(hbB->assigned), range("six", 3, 5));
    QCOMPARE(hbB->heartbeatIntervalMs, 200 / 3);

    // b keeps its session while it heartbeats.
    for (int i = 0; i < 6; ++i) {
        QTest::qWait(60);
        EDDY_VERIFY_OK(m_broker->heartbeat("g", "b", gen));
        EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", gen));
    }
    QCOMPARE(m_broker->describeGroup("g")->members.size(), std::size_t(2));

    // b stops; a keeps heartbeating and eventually gets all six partitions.
    QString last;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                 auto hb = m_broker->heartbeat("g", "a", gen);
                                 if (!hb)
                                     return false;
                                 gen = hb->generation;
                                 last = fmt(hb->assigned);
                                 return last == range("six", 0, 5);
                             }()),
                             3000);
    QVERIFY(gen > b->generation);
    EDDY_VERIFY_ERR(m_broker->heartbeat("g", "b", b->generation), Errc::UnknownMember);
    auto desc = m_broker->describeGroup("g");
    EDDY_VERIFY_OK(desc);
    QCOMPARE(desc->members.size(), std::size_t(1));
    QCOMPARE(desc->members[0].memberId, std::string("a"));
    // A commit by the evicted member is refused.
    CommitRequest commit;
    commit.group = "g";
    commit.memberId = "b";
    commit.generation = gen;
    commit.offsets.push_back({"six", 3, 0, {}});
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(commit), Errc::UnknownMember);
}

void TestBrokerGroups::groupStates()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 2, {}}));
    EDDY_VERIFY_ERR(m_broker->describeGroup("g"), Errc::UnknownGroup);
    QVERIFY(m_broker->listGroups().empty());
    auto a = join("g", "a", {"t"});
    EDDY_VERIFY_OK(a);
    QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Stable);
    auto b = join("g", "b", {"t"});
    EDDY_VERIFY_OK(b);
    QCOMPARE(b->state, GroupState::Rebalancing);
    QCOMPARE(m_broker->describeGroup("g")->state, GroupState::Rebalancing);
    auto list = m_broker->listGroups();
    QCOMPARE(list.size(), std::size_t(1));
    QCOMPARE(list[0].group, std::string("g"));
    QCOMPARE(list[0].state, GroupState::Rebalancing);
    QCOMPARE(list[0].members, 2);
    QCOMPARE(list[0].generation, 2);
    auto hbA = m_broker->heartbeat("g", "a", 2);
    EDDY_VERIFY_OK(hbA);
    QCOMPARE(hbA->state, GroupState::Stable);
    QCOMPARE(m_broker->listGroups()[0].state, GroupState::Stable);
    EDDY_VERIFY_OK(m_broker->leaveGroup("g", "a"));
    EDDY_VERIFY_OK(m_broker->leaveGroup("g", "b"));
    auto desc = m_broker->describeGroup("g");
    EDDY_VERIFY_OK(desc);
    QCOMPARE(desc->state, GroupState::Empty);
    QVERIFY(desc->members.empty());
    QCOMPARE(m_broker->listGroups()[0].state, GroupState::Empty);
    QCOMPARE(m_broker->listGroups()[0].members, 0);
    // Group names are exact.
    EDDY_VERIFY_ERR(m_broker->describeGroup("G"), Errc::UnknownGroup);
}

void TestBrokerGroups::joinValidation()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 1, {}}));
    EDDY_VERIFY_ERR(join("", "a", {"t"}), Errc::InvalidGroupId);
    EDDY_VERIFY_ERR(join(std::string(256, 'g'), "a", {"t"}), Errc::InvalidGroupId);
    EDDY_VERIFY_ERR(join("bad\ngroup", "a", {"t"}), Errc::InvalidGroupId);
    EDDY_VERIFY_ERR(join("g", "a", {}), Errc::InvalidRequest);
    EDDY_VERIFY_ERR(join("g", "a", {"bad topic"}), Errc::InvalidTopicName);
    EDDY_VERIFY_ERR(join("g", "a", {"t"}, AssignorKind::Range, 49), Errc::InvalidSessionTimeout);
    EDDY_VERIFY_ERR(join("g", "a", {"t"}, AssignorKind::Range, 300001),
                    Errc::InvalidSessionTimeout);
    // None of the failures created the group.
    QVERIFY(m_broker->listGroups().empty());
    // A generated member id is unique.
    auto x = join("g", "", {"t"});
    auto y = join("g", "", {"t"});
    EDDY_VERIFY_OK(x);
    EDDY_VERIFY_OK(y);
    QVERIFY(!x->memberId.empty());
    QVERIFY(x->memberId != y->memberId);
    QCOMPARE(m_broker->describeGroup("g")->members.size(), std::size_t(2));
    // Re-joining with the same subscription is not a membership change.
    auto again = join("g", x->memberId, {"t"});
    EDDY_VERIFY_OK(again);
    QCOMPARE(again->generation, y->generation);
}

void TestBrokerGroups::heartbeatErrors()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"t", 1, {}}));
    EDDY_VERIFY_ERR(m_broker->heartbeat("nogroup", "a", 1), Errc::UnknownGroup);
    auto a = join("g", "a", {"t"});
    EDDY_VERIFY_OK(a);
    EDDY_VERIFY_ERR(m_broker->heartbeat("g", "zz", 1), Errc::UnknownMember);
    EDDY_VERIFY_ERR(m_broker->heartbeat("g", "a", a->generation + 1), Errc::InvalidRequest);
    EDDY_VERIFY_ERR(m_broker->heartbeat("g", "a", -1), Errc::InvalidRequest);
    EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", a->generation));
}

void TestBrokerGroups::topicCreatedAfterJoin()
{
    auto a = join("g", "a", {"later"});
    EDDY_VERIFY_OK(a);
    QVERIFY(a->assigned.empty());
    QVERIFY(a->pending.empty());
    EDDY_VERIFY_OK(m_broker->createTopic({"later", 2, {}}));
    auto hb = m_broker->heartbeat("g", "a", a->generation);
    EDDY_VERIFY_OK(hb);
    QVERIFY(hb->generation > a->generation);
    QCOMPARE(fmt(hb->assigned), range("later", 0, 1));
    // Added partitions rebalance too.
    EDDY_VERIFY_OK(m_broker->alterPartitions("later", 3));
    auto hb2 = m_broker->heartbeat("g", "a", hb->generation);
    EDDY_VERIFY_OK(hb2);
    QVERIFY(hb2->generation > hb->generation);
    QCOMPARE(fmt(hb2->assigned), range("later", 0, 2));
    // And deleting the topic takes the partitions away.
    EDDY_VERIFY_OK(m_broker->deleteTopic("later"));
    auto hb3 = m_broker->heartbeat("g", "a", hb2->generation);
    EDDY_VERIFY_OK(hb3);
    QVERIFY(hb3->generation > hb2->generation);
    QVERIFY(hb3->assigned.empty());
}

void TestBrokerGroups::pollWithOnlyPendingPartitionsAnswers()
{
    // A long poll by a member whose every partition is still pending hand-over waits on no
    // partition; it must still answer (empty) once the wait ends rather than never.
    EDDY_VERIFY_OK(m_broker->createTopic({"p", 2, {}}));
    produceN("p", 1, 3);
    auto a = join("g", "a", {"p"}, AssignorKind::Range, 600);
    EDDY_VERIFY_OK(a);
    auto b = join("g", "b", {"p"}, AssignorKind::Range, 600);
    EDDY_VERIFY_OK(b);
    QVERIFY(b->assigned.empty());
    QCOMPARE(fmt(b->pending), QString("p/1"));

    PollRequest poll;
    poll.group = "g";
    poll.memberId = "b";
    poll.generation = b->generation;
    poll.waitMs = 3000;
    auto promise = std::make_shared<std::promise<Result<PollResult>>>();
    auto future = promise->get_future();
    QElapsedTimer timer;
    timer.start();
    m_broker->poll(poll, [promise](Result<PollResult> r) { promise->set_value(std::move(r)); });
    QVERIFY2(future.wait_for(std::chrono::milliseconds(5000)) == std::future_status::ready,
             "the poll never answered");
    auto r = future.get();
    EDDY_VERIFY_OK(r);
    QVERIFY(r->records.empty());
    QCOMPARE(fmt(r->assignment.pending), QString("p/1"));
    QVERIFY2(timer.elapsed() < 3500, qPrintable(QString::number(timer.elapsed())));

    // Once a acknowledges the generation, b's poll reads its partition.
    EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", b->generation));
    poll.waitMs = 0;
    auto next = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(next);
    QCOMPARE(fmt(next->assignment.assigned), QString("p/1"));
    QCOMPARE(next->records.size(), std::size_t(3));
    QCOMPARE(next->records[0].partition, 1);
    QCOMPARE(next->records[0].record.offset, 0);
}

QTEST_GUILESS_MAIN(TestBrokerGroups)
#include "tst_broker_groups.moc"
