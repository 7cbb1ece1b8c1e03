// The correctness checker against hand-made histories whose faults are known exactly: losses,
// duplicates, reorderings, dead letters, phantom ids, unacknowledged records, rebalances, groups
// sharing a topic, at-most-once mode, sample capping, and a 200k-record history for scale. Every
// expectation is a concrete count or id list, so a checker that miscounts fails here.
#include "history.h"

#include <QtTest>

#include <algorithm>
#include <string>
#include <vector>

using namespace eddy::sim;

namespace {

// Ids as simulated producers write them: "<service>#<instance>:<seq>".
std::string idOf(int seq, const std::string &producer = "orders#0")
{
    return producer + ":" + std::to_string(seq);
}

ProduceEvent produce(const std::string &id, const std::string &topic, int32_t partition,
                     int64_t offset, bool acknowledged = true)
{
    ProduceEvent event;
    event.recordId = id;
    event.topic = topic;
    event.partition = acknowledged ? partition : -1;
    event.offset = acknowledged ? offset : -1;
    event.acknowledged = acknowledged;
    return event;
}

ConsumeEvent consume(const std::string &id, const std::string &group, const std::string &consumer,
                     const std::string &topic, int32_t partition, int64_t offset,
                     int32_t generation = 1)
{
    ConsumeEvent event;
    event.recordId = id;
    event.group = group;
    event.consumer = consumer;
    event.topic = topic;
    event.partition = partition;
    event.offset = offset;
    event.generation = generation;
    return event;
}

DeadLetterEvent deadLetter(const std::string &id, const std::string &group)
{
    DeadLetterEvent event;
    event.recordId = id;
    event.group = group;
    event.deadLetterTopic = "orders.dlq";
    event.attempts = 3;
    return event;
}

// `count` acknowledged records on one partition of `topic`, offsets 0..count-1, ids by seq.
void produceRun(History &history, const std::string &topic, int count)
{
    for (int i = 0; i < count; ++i)
        history.produced.push_back(produce(idOf(i), topic, 0, i));
}

// One consumer of `group` receiving the records of produceRun in order, skipping `skip`.
void consumeRun(History &history, const std::string &group, const std::string &topic, int count,
                const std::vector<int> &skip = {})
{
    for (int i = 0; i < count; ++i) {
        if (std::find(skip.begin(), skip.end(), i) == skip.end())
            history.consumed.push_back(consume(idOf(i), group, "billing#0", topic, 0, i));
    }
}

QStringList toList(const std::vector<std::string> &ids)
{
    QStringList list;
    for (const std::string &id : ids)
        list << QString::fromStdString(id);
    return list;
}

QStringList idList(std::initializer_list<int> seqs)
{
    std::vector<std::string> ids;
    for (int seq : seqs)
        ids.push_back(idOf(seq));
    return toList(ids);
}

const GroupVerdict *findGroup(const Verdict &verdict, const std::string &name)
{
    for (const GroupVerdict &group : verdict.groups) {
        if (group.group == name)
            return &group;
    }
    return nullptr;
}

} // namespace

class TestChecker : public QObject
{
    Q_OBJECT

private slots:
    void emptyHistory();
    void completeInOrderHistoryIsOk();
    void knownLosses();
    void finalReadSeparatesBacklogFromLoss();
    void groupsOnlyExpectTheirTopics();
    void duplicatesAreCountedButAllowedAtLeastOnce();
    void duplicatesAreErrorsAtMostOnce();
    void reorderWithinAGeneration();
    void partitionsAndConsumersAreOrderedIndependently();
    void rebalanceRestartIsDuplicateNotReorder();
    void deadLettersAreNotLost();
    void unknownIdsArePhantoms();
    void twoGroupsOnTheSameTopic();
    void unacknowledgedRecordsPromiseNothing();
    void retriedProduceCountsOnce();
    void unsubscribedGroupStillChecked();
    void samplesAreCappedAndSorted();
    void summaryLines();
    void twoHundredThousandRecords();
};

void TestChecker::emptyHistory()
{
    const Verdict verdict = checkHistory(History{}, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.produced, 0);
    QCOMPARE(verdict.acknowledged, 0);
    QCOMPARE(verdict.lost, 0);
    QCOMPARE(verdict.duplicates, 0);
    QCOMPARE(verdict.reordered, 0);
    QCOMPARE(verdict.deadLettered, 0);
    QCOMPARE(verdict.unknown, 0);
    QVERIFY(verdict.groups.empty());
    QVERIFY(checkHistory(History{}, false).ok);
    QCOMPARE(verdictSummary(verdict), std::string());

    // A subscribed group that received nothing from nothing is fine, and still reported.
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    const Verdict idle = checkHistory(history, false);
    QVERIFY(idle.ok);
    QCOMPARE(idle.groups.size(), size_t(1));
    QCOMPARE(idle.groups[0].group, std::string("billing"));
    QCOMPARE(idle.groups[0].expected, 0);
}

void TestChecker::completeInOrderHistoryIsOk()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 100);
    consumeRun(history, "billing", "orders", 100);

    for (const bool atLeastOnce : {true, false}) {
        const Verdict verdict = checkHistory(history, atLeastOnce);
        QVERIFY(verdict.ok);
        QCOMPARE(verdict.atLeastOnce, atLeastOnce);
        QCOMPARE(verdict.produced, 100);
        QCOMPARE(verdict.acknowledged, 100);
        QCOMPARE(verdict.groups.size(), size_t(1));
        const GroupVerdict &group = verdict.groups[0];
        QCOMPARE(group.expected, 100);
        QCOMPARE(group.consumed, 100);
        QCOMPARE(group.lost, 0);
        QCOMPARE(group.duplicates, 0);
        QCOMPARE(group.reordered, 0);
        QCOMPARE(group.unknown, 0);
        QVERIFY(group.lostSamples.empty());
        QVERIFY(group.duplicateSamples.empty());
        QVERIFY(group.reorderSamples.empty());
        QVERIFY(group.unknownSamples.empty());
    }
}

void TestChecker::finalReadSeparatesBacklogFromLoss()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    consumeRun(history, "billing", "orders", 6); // 6..9 never reached
    // The log still holds 6, 7 and 9; record 8 vanished from it.
    history.finalRead["orders"] = {idOf(0), idOf(1), idOf(2), idOf(3), idOf(4), idOf(5),
                                   idOf(6), idOf(7), idOf(9)};
    const Verdict verdict = checkHistory(history, true);
    QCOMPARE(verdict.lost, 1);
    QCOMPARE(verdict.unconsumed, 3);
    QCOMPARE(toList(verdict.groups[0].lostSamples), idList({8}));
    QVERIFY(!verdict.ok);
    // With everything in the log, nothing is lost: the group merely had not caught up.
    history.finalRead["orders"].insert(idOf(8));
    const Verdict caughtUp = checkHistory(history, true);
    QCOMPARE(caughtUp.lost, 0);
    QCOMPARE(caughtUp.unconsumed, 4);
    QVERIFY(caughtUp.ok);
}

void TestChecker::knownLosses()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 100);
    consumeRun(history, "billing", "orders", 100, {3, 17, 50});

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.lost, 3);
    const GroupVerdict &group = verdict.groups[0];
    QCOMPARE(group.expected, 100);
    QCOMPARE(group.consumed, 97);
    QCOMPARE(group.lost, 3);
    // Sorted as strings: "…:17" < "…:3" < "…:50".
    QCOMPARE(toList(group.lostSamples), idList({17, 3, 50}));
    // Skipping offsets is a loss, not a reordering: the offsets that did arrive still grow.
    QCOMPARE(group.reordered, 0);
}

void TestChecker::groupsOnlyExpectTheirTopics()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    // Records on a topic nobody subscribes to are produced and acknowledged, but not expected.
    for (int i = 0; i < 5; ++i)
        history.produced.push_back(produce(idOf(i, "audit#0"), "audit", 0, i));
    consumeRun(history, "billing", "orders", 10);

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.produced, 15);
    QCOMPARE(verdict.acknowledged, 15);
    QCOMPARE(verdict.groups[0].expected, 10);
    QCOMPARE(verdict.lost, 0);

    // Subscribing to both topics makes the audit records expected, and missing.
    history.subscriptions = {{"billing", {"orders", "audit"}}};
    const Verdict both = checkHistory(history, true);
    QVERIFY(!both.ok);
    QCOMPARE(both.groups[0].expected, 15);
    QCOMPARE(both.lost, 5);
}

void TestChecker::duplicatesAreCountedButAllowedAtLeastOnce()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    for (int i = 0; i < 10; ++i) {
        history.produced.push_back(produce(idOf(i), "orders", 0, i));
        // Record 5 delivered three times and record 7 twice, each redelivery at the same offset
        // right away: duplicates, but the offset never goes backwards.
        const int times = i == 5 ? 3 : i == 7 ? 2 : 1;
        for (int t = 0; t < times; ++t)
            history.consumed.push_back(consume(idOf(i), "billing", "billing#0", "orders", 0, i));
    }

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.duplicates, 3);
    const GroupVerdict &group = verdict.groups[0];
    QCOMPARE(group.duplicates, 3);
    QCOMPARE(group.consumed, 10);
    QCOMPARE(group.reordered, 0);
    QCOMPARE(group.lost, 0);
    QCOMPARE(toList(group.duplicateSamples), idList({5, 7}));
}

void TestChecker::duplicatesAreErrorsAtMostOnce()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    consumeRun(history, "billing", "orders", 10);
    QVERIFY(checkHistory(history, false).ok);

    history.consumed.push_back(consume(idOf(9), "billing", "billing#0", "orders", 0, 9));
    const Verdict verdict = checkHistory(history, false);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.atLeastOnce, false);
    QCOMPARE(verdict.duplicates, 1);
    QCOMPARE(verdict.lost, 0);
    QCOMPARE(verdict.reordered, 0);
    QVERIFY(checkHistory(history, true).ok);
}

void TestChecker::reorderWithinAGeneration()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 8);
    // Offsets 0 1 2 5 3 4 6 7: 3 and 4 arrive after 5, so two deliveries went backwards. 6 is
    // compared with 5 (the highest), not with 4, so it is in order.
    for (const int offset : {0, 1, 2, 5, 3, 4, 6, 7})
        history.consumed.push_back(consume(idOf(offset), "billing", "billing#0", "orders", 0,
                                           offset));

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.reordered, 2);
    const GroupVerdict &group = verdict.groups[0];
    QCOMPARE(group.reordered, 2);
    QCOMPARE(toList(group.reorderSamples), idList({3, 4}));
    QCOMPARE(group.lost, 0);
    QCOMPARE(group.duplicates, 0);
}

void TestChecker::partitionsAndConsumersAreOrderedIndependently()
{
    History history;
    history.subscriptions = {{"billing", {"orders", "refunds"}}};
    // Two partitions of orders and one of refunds, all using offsets 0..9.
    for (int i = 0; i < 10; ++i) {
        history.produced.push_back(produce(idOf(i, "p0"), "orders", 0, i));
        history.produced.push_back(produce(idOf(i, "p1"), "orders", 1, i));
        history.produced.push_back(produce(idOf(i, "r0"), "refunds", 0, i));
    }
    // Consumer a owns orders/0 and refunds/0, consumer b owns orders/1; their deliveries
    // interleave, so the global offset sequence jumps around but no single stream goes back.
    for (int i = 0; i < 10; ++i) {
        history.consumed.push_back(consume(idOf(i, "p0"), "billing", "a", "orders", 0, i));
        history.consumed.push_back(consume(idOf(9 - i, "p1"), "billing", "b", "orders", 1, 9 - i));
        history.consumed.push_back(consume(idOf(i, "r0"), "billing", "a", "refunds", 0, i));
    }
    Verdict verdict = checkHistory(history, true);
    // b read orders/1 backwards: nine deliveries lower than 9. Everything else is in order.
    QCOMPARE(verdict.reordered, 9);
    QCOMPARE(verdict.lost, 0);

    // Read forwards, b is in order too, whatever a does on its own streams.
    for (ConsumeEvent &event : history.consumed) {
        if (event.consumer == "b") {
            event.offset = 9 - event.offset;
            event.recordId = idOf(int(event.offset), "p1");
        }
    }
    verdict = checkHistory(history, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.reordered, 0);
    QCOMPARE(verdict.groups[0].expected, 30);
    QCOMPARE(verdict.groups[0].consumed, 30);
}

void TestChecker::rebalanceRestartIsDuplicateNotReorder()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    // Generation 1 reads 0..9 but commits only up to 5; after the rebalance the same consumer,
    // now in generation 2, restarts from the committed offset and reads 5..9 again.
    consumeRun(history, "billing", "orders", 10);
    for (int i = 5; i < 10; ++i)
        history.consumed.push_back(consume(idOf(i), "billing", "billing#0", "orders", 0, i, 2));

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.reordered, 0);
    QCOMPARE(verdict.duplicates, 5);
    QCOMPARE(verdict.groups[0].consumed, 10);
    QCOMPARE(toList(verdict.groups[0].duplicateSamples), idList({5, 6, 7, 8, 9}));
    // The redeliveries are still duplicates, so at-most-once fails.
    QVERIFY(!checkHistory(history, false).ok);

    // The same restart without a new generation is a step backwards.
    for (ConsumeEvent &event : history.consumed)
        event.generation = 1;
    const Verdict sameGeneration = checkHistory(history, true);
    QVERIFY(!sameGeneration.ok);
    QCOMPARE(sameGeneration.reordered, 4); // 5..8 fall below the highest (9); 9 equals it
    QCOMPARE(toList(sameGeneration.groups[0].reorderSamples), idList({5, 6, 7, 8}));
}

void TestChecker::deadLettersAreNotLost()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    // 2 and 4 were given up on before their delivery was reported; 6 was delivered, failed and
    // then dead-lettered (reported twice, counted once).
    consumeRun(history, "billing", "orders", 10, {2, 4});
    history.deadLettered = {deadLetter(idOf(2), "billing"), deadLetter(idOf(4), "billing"),
                            deadLetter(idOf(6), "billing"), deadLetter(idOf(6), "billing")};

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.lost, 0);
    QCOMPARE(verdict.deadLettered, 3);
    QCOMPARE(verdict.groups[0].deadLettered, 3);
    QCOMPARE(verdict.groups[0].consumed, 8);

    // Another group's dead letters excuse nothing here.
    history.deadLettered = {deadLetter(idOf(2), "analytics"), deadLetter(idOf(4), "billing")};
    const Verdict other = checkHistory(history, true);
    QVERIFY(!other.ok);
    const GroupVerdict *billing = findGroup(other, "billing");
    QVERIFY(billing);
    QCOMPARE(billing->lost, 1);
    QCOMPARE(billing->deadLettered, 1);
    QCOMPARE(toList(billing->lostSamples), idList({2}));
}

void TestChecker::unknownIdsArePhantoms()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 5);
    consumeRun(history, "billing", "orders", 5);
    QVERIFY(checkHistory(history, true).ok);

    // A delivery of an id no producer ever wrote (twice), and a dead letter of another.
    history.consumed.push_back(consume("ghost#0:1", "billing", "billing#0", "orders", 0, 5));
    history.consumed.push_back(consume("ghost#0:1", "billing", "billing#0", "orders", 0, 5));
    history.deadLettered.push_back(deadLetter("ghost#0:2", "billing"));

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.unknown, 2);
    const GroupVerdict &group = verdict.groups[0];
    QCOMPARE(group.unknown, 2);
    QCOMPARE(toList(group.unknownSamples), QStringList({"ghost#0:1", "ghost#0:2"}));
    QCOMPARE(group.consumed, 6);
    QCOMPARE(group.deadLettered, 1);
    QCOMPARE(group.duplicates, 1);
    QCOMPARE(group.lost, 0);
    QCOMPARE(group.reordered, 0);
}

void TestChecker::twoGroupsOnTheSameTopic()
{
    History history;
    // Listed out of order: the verdict sorts groups by name.
    history.subscriptions = {{"billing", {"orders"}}, {"analytics", {"orders"}}};
    produceRun(history, "orders", 50);
    for (int i = 0; i < 50; ++i) {
        history.consumed.push_back(consume(idOf(i), "analytics", "analytics#0", "orders", 0, i));
        if (i != 10 && i != 20)
            history.consumed.push_back(consume(idOf(i), "billing", "billing#0", "orders", 0, i));
    }

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.groups.size(), size_t(2));
    QCOMPARE(verdict.groups[0].group, std::string("analytics"));
    QCOMPARE(verdict.groups[1].group, std::string("billing"));
    QCOMPARE(verdict.groups[0].expected, 50);
    QCOMPARE(verdict.groups[0].consumed, 50);
    QCOMPARE(verdict.groups[0].lost, 0);
    QCOMPARE(verdict.groups[1].expected, 50);
    QCOMPARE(verdict.groups[1].consumed, 48);
    QCOMPARE(verdict.groups[1].lost, 2);
    QCOMPARE(toList(verdict.groups[1].lostSamples), idList({10, 20}));
    QCOMPARE(verdict.lost, 2);
    // One group's deliveries are never another's duplicates.
    QCOMPARE(verdict.duplicates, 0);
}

void TestChecker::unacknowledgedRecordsPromiseNothing()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 10);
    // Five acks=none (or failed) sends: 100 and 101 reached the log and were consumed, the rest
    // never showed up. Neither case is a loss.
    for (int i = 100; i < 105; ++i)
        history.produced.push_back(produce(idOf(i), "orders", 0, 0, false));
    consumeRun(history, "billing", "orders", 10);
    history.consumed.push_back(consume(idOf(100), "billing", "billing#0", "orders", 0, 10));
    history.consumed.push_back(consume(idOf(101), "billing", "billing#0", "orders", 0, 11));

    const Verdict verdict = checkHistory(history, false);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.produced, 15);
    QCOMPARE(verdict.acknowledged, 10);
    QCOMPARE(verdict.lost, 0);
    QCOMPARE(verdict.unknown, 0);
    QCOMPARE(verdict.groups[0].expected, 10);
    QCOMPARE(verdict.groups[0].consumed, 12);
}

void TestChecker::retriedProduceCountsOnce()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    // A timed-out send retried with the same id: the second attempt was acknowledged.
    history.produced.push_back(produce(idOf(0), "orders", 0, 0, false));
    history.produced.push_back(produce(idOf(0), "orders", 0, 0, true));

    Verdict verdict = checkHistory(history, true);
    QCOMPARE(verdict.produced, 2);
    QCOMPARE(verdict.acknowledged, 1);
    QCOMPARE(verdict.groups[0].expected, 1);
    QCOMPARE(verdict.lost, 1);

    history.consumed.push_back(consume(idOf(0), "billing", "billing#0", "orders", 0, 0));
    verdict = checkHistory(history, false);
    QVERIFY(verdict.ok);
    QCOMPARE(verdict.groups[0].expected, 1);
    QCOMPARE(verdict.groups[0].consumed, 1);
}

void TestChecker::unsubscribedGroupStillChecked()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}};
    produceRun(history, "orders", 3);
    consumeRun(history, "billing", "orders", 3);
    // A group the scenario did not declare: it expects nothing, but its phantom counts.
    history.consumed.push_back(consume("ghost#0:9", "rogue", "rogue#0", "orders", 0, 0));

    const Verdict verdict = checkHistory(history, true);
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.groups.size(), size_t(2));
    const GroupVerdict *rogue = findGroup(verdict, "rogue");
    QVERIFY(rogue);
    QCOMPARE(rogue->expected, 0);
    QCOMPARE(rogue->unknown, 1);
    QCOMPARE(findGroup(verdict, "billing")->lost, 0);
}

void TestChecker::samplesAreCappedAndSorted()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}, {"analytics", {"orders"}}};
    produceRun(history, "orders", 100);
    std::vector<std::string> all;
    for (int i = 0; i < 100; ++i)
        all.push_back(idOf(i));
    std::sort(all.begin(), all.end());
    const std::vector<std::string> firstTen(all.begin(), all.begin() + 10);

    // billing: everything delivered twice, the second time all in reverse within the same
    // generation, so 99 reorderings (all but offset 99, which equals the highest) and 100
    // duplicates. analytics: nothing delivered, 100 lost.
    consumeRun(history, "billing", "orders", 100);
    for (int i = 99; i >= 0; --i)
        history.consumed.push_back(consume(idOf(i), "billing", "billing#0", "orders", 0, i));

    const Verdict verdict = checkHistory(history, true);
    const GroupVerdict *billing = findGroup(verdict, "billing");
    const GroupVerdict *analytics = findGroup(verdict, "analytics");
    QVERIFY(billing && analytics);
    QCOMPARE(billing->duplicates, 100);
    QCOMPARE(billing->reordered, 99);
    QCOMPARE(analytics->lost, 100);

    QCOMPARE(toList(billing->duplicateSamples), toList(firstTen));
    QCOMPARE(toList(analytics->lostSamples), toList(firstTen));
    std::vector<std::string> reorderedIds;
    for (int i = 0; i < 99; ++i)
        reorderedIds.push_back(idOf(i));
    std::sort(reorderedIds.begin(), reorderedIds.end());
    reorderedIds.resize(10);
    QCOMPARE(toList(billing->reorderSamples), toList(reorderedIds));

    // Samples do not depend on the order the history lists events in.
    std::reverse(history.produced.begin(), history.produced.end());
    const Verdict reversed = checkHistory(history, true);
    QCOMPARE(toList(findGroup(reversed, "analytics")->lostSamples), toList(firstTen));
    QCOMPARE(toList(findGroup(reversed, "billing")->duplicateSamples), toList(firstTen));
}

void TestChecker::summaryLines()
{
    History history;
    history.subscriptions = {{"billing", {"orders"}}, {"analytics", {"orders"}}};
    produceRun(history, "orders", 10);
    consumeRun(history, "billing", "orders", 10, {4});
    consumeRun(history, "analytics", "orders", 10);
    history.consumed.push_back(consume(idOf(9), "analytics", "analytics#1", "orders", 0, 9));
    history.consumed.push_back(consume("ghost#0:1", "billing", "billing#0", "orders", 0, 10));
    history.deadLettered = {deadLetter(idOf(1), "analytics")};

    const std::string summary = verdictSummary(checkHistory(history, true));
    QCOMPARE(summary,
             std::string("analytics: 10 expected, 10 consumed, 0 lost, 1 duplicates, 0 reordered, "
                         "1 dead-lettered\n"
                         "billing: 10 expected, 10 consumed, 1 lost, 0 duplicates, 0 reordered, "
                         "0 dead-lettered, 1 unknown\n"));
}

void TestChecker::twoHundredThousandRecords()
{
    constexpr int Records = 200'000;
    constexpr int Partitions = 4;
    History history;
    history.subscriptions = {{"billing", {"orders"}}, {"analytics", {"orders"}}};
    history.produced.reserve(Records);
    history.consumed.reserve(2 * Records + Records / Partitions);
    std::vector<int64_t> nextOffset(Partitions, 0);
    std::vector<std::vector<std::pair<std::string, int64_t>>> logs(Partitions);
    for (int i = 0; i < Records; ++i) {
        const int partition = i % Partitions;
        const int64_t offset = nextOffset[partition]++;
        const std::string id = idOf(i, "orders#" + std::to_string(i % 7));
        history.produced.push_back(produce(id, "orders", partition, offset));
        logs[partition].push_back({id, offset});
    }

    // billing: two consumers in generation 1 read everything; in generation 2 consumer c0 takes
    // partition 1 over from its committed offset, 1000 records back.
    // analytics: one consumer, every 1000th record on partition 3 missing.
    int64_t analyticsLost = 0;
    for (int p = 0; p < Partitions; ++p) {
        const std::string owner = p % 2 == 0 ? "billing#0" : "billing#1";
        for (const auto &[id, offset] : logs[p]) {
            history.consumed.push_back(consume(id, "billing", owner, "orders", p, offset, 1));
            if (p == 3 && offset % 1000 == 0) {
                ++analyticsLost;
                continue;
            }
            history.consumed.push_back(
                consume(id, "analytics", "analytics#0", "orders", p, offset, 1));
        }
    }
    const auto &partition1 = logs[1];
    for (size_t i = partition1.size() - 1000; i < partition1.size(); ++i) {
        history.consumed.push_back(consume(partition1[i].first, "billing", "billing#0", "orders",
                                           1, partition1[i].second, 2));
    }

    const Verdict verdict = checkHistory(history, true);
    QCOMPARE(verdict.produced, Records);
    QCOMPARE(verdict.acknowledged, Records);
    const GroupVerdict *billing = findGroup(verdict, "billing");
    const GroupVerdict *analytics = findGroup(verdict, "analytics");
    QVERIFY(billing && analytics);
    QCOMPARE(billing->expected, Records);
    QCOMPARE(billing->consumed, Records);
    QCOMPARE(billing->lost, 0);
    QCOMPARE(billing->duplicates, 1000);
    QCOMPARE(billing->reordered, 0);
    QCOMPARE(analytics->expected, Records);
    QCOMPARE(analytics->consumed, Records - analyticsLost);
    QCOMPARE(analytics->lost, analyticsLost);
    QCOMPARE(analyticsLost, 50);
    QCOMPARE(analytics->lostSamples.size(), size_t(10));
    QVERIFY(std::is_sorted(analytics->lostSamples.begin(), analytics->lostSamples.end()));
    QVERIFY(!verdict.ok);
    QCOMPARE(verdict.lost, 50);
    QCOMPARE(verdict.duplicates, 1000);
}

QTEST_GUILESS_MAIN(TestChecker)
#include "tst_checker.moc"
