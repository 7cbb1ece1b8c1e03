// Unit tests of the broker-side assignors (engine/assignor.h). The expected placements are those of
// Kafka's RangeAssignor and RoundRobinAssignor (including cases taken from Kafka's own
// RangeAssignorTest/RoundRobinAssignorTest: two consumers x two topics of three partitions, and
// three consumers with mixed subscriptions), plus 3 members x 7 partitions, members subscribing to
// different topics, more members than partitions, subscriptions to topics that do not exist, the
// round-robin cursor carrying over from one topic to the next, lexicographic member ordering, and
// determinism whatever the order of members and of their topic lists. A randomized property test
// checks that every existing subscribed partition is assigned exactly once, only to a subscriber,
// and that range/round-robin keep the per-topic (range) or overall (round-robin, equal
// subscriptions) counts within one of each other.
#include "assignor.h"

#include <QtTest>

#include <algorithm>
#include <random>
#include <set>

using namespace eddy;

namespace {

// prefix followed by n in decimal. (Spelled out rather than `"lit" + std::to_string(n)`, which
// trips a GCC 12 -Wrestrict false positive at -O2 and above.)
std::string tagged(const std::string &prefix, long long n)
{
    std::string out = prefix;
    out += std::to_string(n);
    return out;
}

using Assignment = std::map<std::string, std::vector<TopicPartition>>;
using Parts = std::vector<TopicPartition>;

QString describe(const Parts &parts)
{
    QStringList out;
    for (const auto &tp : parts)
        out << QStringLiteral("%1-%2").arg(QString::fromStdString(tp.topic)).arg(tp.partition);
    return out.join(QLatin1Char(','));
}

QString describe(const Assignment &a)
{
    QStringList out;
    for (const auto &[member, parts] : a)
        out << QString::fromStdString(member) + QLatin1Char('=') + describe(parts);
    return out.join(QLatin1Char(' '));
}

Parts tps(const std::string &topic, std::initializer_list<int32_t> partitions)
{
    Parts out;
    for (int32_t p : partitions)
        out.push_back({topic, p});
    return out;
}

Parts concat(std::initializer_list<Parts> lists)
{
    Parts out;
    for (const auto &l : lists)
        out.insert(out.end(), l.begin(), l.end());
    return out;
}

} // namespace

class TestUnitAssignor : public QObject
{
    Q_OBJECT

private slots:
    void rangeThreeMembersSevenPartitions();
    void roundRobinThreeMembersSevenPartitions();
    void kafkaTwoConsumersTwoTopicsSixPartitions();
    void kafkaMultipleConsumersMixedTopics();
    void roundRobinCursorCarriesAcrossTopics();
    void membersSubscribingToDifferentTopics();
    void moreMembersThanPartitions();
    void nonexistentAndEmptyTopics();
    void noMembers();
    void membersOrderedLexicographically();
    void deterministicWhateverInputOrder();
    void randomizedInvariants();
};

void TestUnitAssignor::rangeThreeMembersSevenPartitions()
{
    const std::vector<AssignorMember> members = {{"m1", {"t"}}, {"m2", {"t"}}, {"m3", {"t"}}};
    const Assignment a = assignPartitions(AssignorKind::Range, members, {{"t", 7}});
    const Assignment expected = {
        {"m1", tps("t", {0, 1, 2})}, {"m2", tps("t", {3, 4})}, {"m3", tps("t", {5, 6})}};
    QCOMPARE(describe(a), describe(expected));
    QVERIFY(a == expected);
}

void TestUnitAssignor::roundRobinThreeMembersSevenPartitions()
{
    const std::vector<AssignorMember> members = {{"m1", {"t"}}, {"m2", {"t"}}, {"m3", {"t"}}};
    const Assignment a = assignPartitions(AssignorKind::RoundRobin, members, {{"t", 7}});
    const Assignment expected = {
        {"m1", tps("t", {0, 3, 6})}, {"m2", tps("t", {1, 4})}, {"m3", tps("t", {2, 5})}};
    QCOMPARE(describe(a), describe(expected));
    QVERIFY(a == expected);
}

void TestUnitAssignor::kafkaTwoConsumersTwoTopicsSixPartitions()
{
    // RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions and
    // RoundRobinAssignorTest.testTwoDynamicConsumersTwoTopicsSixPartitions.
    const std::vector<AssignorMember> members = {{"consumer1", {"topic1", "topic2"}},
                                                 {"consumer2", {"topic1", "topic2"}}};
    const std::map<std::string, int32_t> counts = {{"topic1", 3}, {"topic2", 3}};

    const Assignment range = assignPartitions(AssignorKind::Range, members, counts);
    const Assignment rangeExpected = {
        {"consumer1", concat({tps("topic1", {0, 1}), tps("topic2", {0, 1})})},
        {"consumer2", concat({tps("topic1", {2}), tps("topic2", {2})})}};
    QCOMPARE(describe(range), describe(rangeExpected));

    const Assignment rr = assignPartitions(AssignorKind::RoundRobin, members, counts);
    const Assignment rrExpected = {
        {"consumer1", concat({tps("topic1", {0, 2}), tps("topic2", {1})})},
        {"consumer2", concat({tps("topic1", {1}), tps("topic2", {0, 2})})}};
    QCOMPARE(describe(rr), describe(rrExpected));
}

void TestUnitAssignor::kafkaMultipleConsumersMixedTopics()
{
    // testMultipleConsumersMixedTopics in both Kafka test classes: the same expected result.
    const std::vector<AssignorMember> members = {{"consumer1", {"topic1"}},
                                                 {"consumer2", {"topic1", "topic2"}},
                                                 {"consumer3", {"topic1"}}};
    const std::map<std::string, int32_t> counts = {{"topic1", 3}, {"topic2", 2}};
    const Assignment expected = {
        {"consumer1", tps("topic1", {0})},
        {"consumer2", concat({tps("topic1", {1}), tps("topic2", {0, 1})})},
        {"consumer3", tps("topic1", {2})}};
    QCOMPARE(describe(assignPartitions(AssignorKind::Range, members, counts)), describe(expected));
    QCOMPARE(describe(assignPartitions(AssignorKind::RoundRobin, members, counts)),
             describe(expected));
}

void TestUnitAssignor::roundRobinCursorCarriesAcrossTopics()
{
    // Round-robin deals the sorted list of all partitions, so the member after the one that got
    // the last partition of topic "a" gets the first partition of topic "b"; range restarts at the
    // first member for every topic.
    const std::vector<AssignorMember> members = {{"m1", {"a", "b"}}, {"m2", {"a", "b"}},
                                                 {"m3", {"a", "b"}}};
    const std::map<std::string, int32_t> counts = {{"a", 2}, {"b", 2}};
    const Assignment rrExpected = {{"m1", concat({tps("a", {0}), tps("b", {1})})},
                                   {"m2", tps("a", {1})},
                                   {"m3", tps("b", {0})}};
    QCOMPARE(describe(assignPartitions(AssignorKind::RoundRobin, members, counts)),
             describe(rrExpected));
    const Assignment rangeExpected = {{"m1", concat({tps("a", {0}), tps("b", {0})})},
                                      {"m2", concat({tps("a", {1}), tps("b", {1})})},
                                      {"m3", {}}};
    QCOMPARE(describe(assignPartitions(AssignorKind::Range, members, counts)),
             describe(rangeExpected));
}

void TestUnitAssignor::membersSubscribingToDifferentTopics()
{
    // Disjoint and overlapping subscriptions: a member only ever receives its own topics.
    const std::vector<AssignorMember> members = {
        {"a", {"orders"}}, {"b", {"orders", "payments"}}, {"c", {"payments"}}, {"d", {"audit"}}};
    const std::map<std::string, int32_t> counts = {{"audit", 2}, {"orders", 4}, {"payments", 3}};

    const Assignment range = assignPartitions(AssignorKind::Range, members, counts);
    const Assignment rangeExpected = {
        {"a", tps("orders", {0, 1})},
        {"b", concat({tps("orders", {2, 3}), tps("payments", {0, 1})})},
        {"c", tps("payments", {2})},
        {"d", tps("audit", {0, 1})}};
    QCOMPARE(describe(range), describe(rangeExpected));

    // Round-robin over audit-0, audit-1, orders-0..3, payments-0..2 with members a, b, c, d.
    // audit-0: a,b,c skipped -> d; audit-1: a,b,c skipped -> d; orders-0: a; orders-1: b;
    // orders-2: c skipped, d skipped -> a; orders-3: b; payments-0: c; payments-1: d, a skipped
    // -> b; payments-2: c.
    const Assignment rr = assignPartitions(AssignorKind::RoundRobin, members, counts);
    const Assignment rrExpected = {
        {"a", tps("orders", {0, 2})},
        {"b", concat({tps("orders", {1, 3}), tps("payments", {1})})},
        {"c", tps("payments", {0, 2})},
        {"d", tps("audit", {0, 1})}};
    QCOMPARE(describe(rr), describe(rrExpected));
}

void TestUnitAssignor::moreMembersThanPartitions()
{
    std::vector<AssignorMember> members;
    for (const char *id : {"m1", "m2", "m3", "m4", "m5"})
        members.push_back({id, {"t"}});
    for (AssignorKind kind : {AssignorKind::Range, AssignorKind::RoundRobin}) {
        const Assignment a = assignPartitions(kind, members, {{"t", 3}});
        // Every member appears, the last two with nothing.
        QCOMPARE(a.size(), std::size_t(5));
        const Assignment expected = {{"m1", tps("t", {0})}, {"m2", tps("t", {1})},
                                     {"m3", tps("t", {2})}, {"m4", {}}, {"m5", {}}};
        QCOMPARE(describe(a), describe(expected));
        QVERIFY(a == expected);
    }
}

void TestUnitAssignor::nonexistentAndEmptyTopics()
{
    // A topic that is subscribed but absent from partitionCounts is skipped; an unsubscribed
    // topic is not handed out; a member with no subscription gets nothing.
    const std::vector<AssignorMember> members = {
        {"m1", {"t", "missing"}}, {"m2", {}}, {"m3", {"missing"}}};
    const std::map<std::string, int32_t> counts = {{"t", 2}, {"other", 3}};
    for (AssignorKind kind : {AssignorKind::Range, AssignorKind::RoundRobin}) {
        const Assignment a = assignPartitions(kind, members, counts);
        const Assignment expected = {{"m1", tps("t", {0, 1})}, {"m2", {}}, {"m3", {}}};
        QCOMPARE(describe(a), describe(expected));
    }
}

void TestUnitAssignor::noMembers()
{
    for (AssignorKind kind : {AssignorKind::Range, AssignorKind::RoundRobin})
        QVERIFY(assignPartitions(kind, {}, {{"t", 4}}).empty());
}

void TestUnitAssignor::membersOrderedLexicographically()
{
    // Kafka sorts member ids as strings: "m10" comes before "m2", whatever the input order.
    const std::vector<AssignorMember> members = {{"m2", {"t"}}, {"m10", {"t"}}, {"m1", {"t"}}};
    const Assignment range = assignPartitions(AssignorKind::Range, members, {{"t", 3}});
    QCOMPARE(describe(range), describe(Assignment{{"m1", tps("t", {0})},
                                                   {"m10", tps("t", {1})},
                                                   {"m2", tps("t", {2})}}));
    const Assignment rr = assignPartitions(AssignorKind::RoundRobin, members, {{"t", 5}});
    QCOMPARE(describe(rr), describe(Assignment{{"m1", tps("t", {0, 3})},
                                                {"m10", tps("t", {1, 4})},
                                                {"m2", tps("t", {2})}}));
}

void TestUnitAssignor::deterministicWhateverInputOrder()
{
    std::vector<AssignorMember> members = {{"alpha", {"x", "y"}},
                                           {"bravo", {"y"}},
                                           {"charlie", {"x", "y", "z"}},
                                           {"delta", {"z", "x"}}};
    const std::map<std::string, int32_t> counts = {{"x", 5}, {"y", 4}, {"z", 3}};
    for (AssignorKind kind : {AssignorKind::Range, AssignorKind::RoundRobin}) {
        const Assignment reference = assignPartitions(kind, members, counts);
        auto perm = members;
        std::sort(perm.begin(), perm.end(),
                  [](const auto &a, const auto &b) { return a.memberId < b.memberId; });
        int permutations = 0;
        do {
            // Also reverse each member's topic list: subscription order must not matter.
            auto shuffled = perm;
            if (permutations % 2)
                for (auto &m : shuffled)
                    std::reverse(m.topics.begin(), m.topics.end());
            QCOMPARE(describe(assignPartitions(kind, shuffled, counts)), describe(reference));
            ++permutations;
        } while (std::next_permutation(
            perm.begin(), perm.end(),
            [](const auto &a, const auto &b) { return a.memberId < b.memberId; }));
        QCOMPARE(permutations, 24);
    }
}

void TestUnitAssignor::randomizedInvariants()
{
    std::mt19937 rng(2024);
    const std::vector<std::string> topicNames = {"t0", "t1", "t2", "t3"};
    for (int round = 0; round < 300; ++round) {
        std::map<std::string, int32_t> counts;
        for (const auto &t : topicNames)
            if (rng() % 4 != 0)
                counts[t] = static_cast<int32_t>(rng() % 9); // 0..8 partitions
        std::vector<AssignorMember> members;
        const int memberCount = 1 + static_cast<int>(rng() % 6);
        const bool uniform = rng() % 2 == 0;
        for (int i = 0; i < memberCount; ++i) {
            AssignorMember m{tagged(tagged("member-", rng() % 1000) + "-", i),
                             {}};
            for (const auto &t : topicNames)
                if (uniform || rng() % 2)
                    m.topics.push_back(t);
            members.push_back(std::move(m));
        }
        for (AssignorKind kind : {AssignorKind::Range, AssignorKind::RoundRobin}) {
            const Assignment a = assignPartitions(kind, members, counts);
            QCOMPARE(a.size(), members.size());
            std::set<TopicPartition> seen;
            for (const auto &m : members) {
                const auto it = a.find(m.memberId);
                QVERIFY(it != a.end());
                for (const auto &tp : it->second) {
                    QVERIFY2(std::find(m.topics.begin(), m.topics.end(), tp.topic)
                                 != m.topics.end(),
                             "partition given to a member not subscribed to its topic");
                    QVERIFY(tp.partition >= 0 && tp.partition < counts.at(tp.topic));
                    QVERIFY2(seen.insert(tp).second, "partition assigned twice");
                }
                // Each member's list is sorted (topic, partition).
                QVERIFY(std::is_sorted(it->second.begin(), it->second.end()));
            }
            // Every partition of every topic someone subscribes to is assigned.
            std::size_t expectedTotal = 0;
            for (const auto &entry : counts) {
                const std::string &topic = entry.first;
                const int32_t n = entry.second;
                const bool subscribed = std::any_of(members.begin(), members.end(), [&](auto &m) {
                    return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
                });
                if (subscribed)
                    expectedTotal += static_cast<std::size_t>(n);
            }
            QCOMPARE(seen.size(), expectedTotal);

            if (kind == AssignorKind::Range) {
                // Per topic, subscribers' shares differ by at most one, larger shares first.
                for (const auto &entry : counts) {
                    const std::string &topic = entry.first;
                    std::vector<std::pair<std::string, int>> shares;
                    for (const auto &memberParts : a) {
                        const std::string &member = memberParts.first;
                        const Parts &parts = memberParts.second;
                        const auto owner =
                            std::find_if(members.begin(), members.end(),
                                         [&](auto &m) { return m.memberId == member; });
                        const auto &subs = owner->topics;
                        if (std::find(subs.begin(), subs.end(), topic) == subs.end())
                            continue;
                        const auto share =
                            std::count_if(parts.begin(), parts.end(),
                                          [&](auto &tp) { return tp.topic == topic; });
                        shares.emplace_back(member, static_cast<int>(share));
                    }
                    for (std::size_t i = 1; i < shares.size(); ++i) {
                        QVERIFY(shares[i - 1].second >= shares[i].second);
                        QVERIFY(shares[0].second - shares[i].second <= 1);
                    }
                }
            } else if (uniform) {
                // Equal subscriptions: round-robin is balanced overall.
                std::size_t lo = SIZE_MAX, hi = 0;
                for (const auto &[member, parts] : a) {
                    lo = std::min(lo, parts.size());
                    hi = std::max(hi, parts.size());
                }
                QVERIFY(hi - lo <= 1);
            }
        }
    }
}

QTEST_GUILESS_MAIN(TestUnitAssignor)
#include "tst_unit_assignor.moc"
