// Integration tests of consumer-group offsets through eddy::Broker: commit validation (inside
// and outside membership, generations), lag, offset resets (to earliest, latest, a timestamp or
// an offset; only while the group is inactive), group deletion with its committed offsets, and
// polls served from the positions the client really reached. Placement and hand-over:
// tst_broker_groups.cpp.
#include "groups_fixture.h"

#include <QtTest>

using namespace eddy;
using namespace eddy::test;

class TestBrokerOffsets : public QObject, GroupsFixture
{
    Q_OBJECT

private slots:
    void init() { openBroker(); }
    void cleanup() { closeBroker(); }

    void commitRules();
    void commitOutsideMembership();
    void lag();
    void resetOffsets();
    void resetOffsetsRequiresInactiveGroup();
    void deleteGroup();
    void pollFromClientPositionsRedeliversALostReply();
};

void TestBrokerOffsets::commitRules()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"c", 2, {}}));
    produceN("c", 0, 10);
    produceN("c", 1, 10);
    auto a = join("g", "a", {"c"});
    EDDY_VERIFY_OK(a);
    CommitRequest req;
    req.group = "g";
    req.memberId = "a";
    req.generation = a->generation;
    auto commit = [&](int32_t partition, int64_t offset) {
        auto r = req;
        r.offsets = {{"c", partition, offset, "meta-" + std::to_string(offset)}};
        return m_broker->commitOffsetsSync(r);
    };
    EDDY_VERIFY_OK(commit(0, 5));
    EDDY_VERIFY_OK(commit(0, 5)); // the same offset again is not a regression
    EDDY_VERIFY_ERR(commit(0, 4), Errc::OffsetRegression);
    EDDY_VERIFY_ERR(commit(0, 11), Errc::OffsetOutOfRange);
    EDDY_VERIFY_ERR(commit(0, -1), Errc::InvalidOffset);
    EDDY_VERIFY_ERR(commit(2, 0), Errc::UnknownPartition);
    EDDY_VERIFY_OK(commit(0, 10)); // the HW itself: everything consumed
    EDDY_VERIFY_OK(commit(1, 0));
    auto offsets = m_broker->committedOffsets("g", "c");
    EDDY_VERIFY_OK(offsets);
    QCOMPARE(offsets->size(), std::size_t(2));
    QCOMPARE(offsets->at(0).offset, 10);
    QCOMPARE(offsets->at(0).metadata, std::string("meta-10"));
    QVERIFY(offsets->at(0).commitMs > 0);
    QCOMPARE(offsets->at(1).offset, 0);

    // A commit with a bad entry stores none of the entries.
    auto mixed = req;
    mixed.offsets = {{"c", 1, 3, {}}, {"c", 0, 2, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(mixed), Errc::OffsetRegression);
    QCOMPARE(m_broker->committedOffsets("g", "c")->at(1).offset, 0);
    auto empty = req;
    empty.offsets.clear();
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(empty), Errc::InvalidRequest);

    // b joins: generation 2. Until a acknowledges it, a may still commit at the generation it
    // acknowledged (1) for what it owns -- including partition 1, which it is handing over to b
    // -- as KIP-848 accepts commits at the member's own epoch. Other generations are stale.
    auto b = join("g", "b", {"c"});
    EDDY_VERIFY_OK(b);
    EDDY_VERIFY_OK(commit(0, 10));
    EDDY_VERIFY_OK(commit(1, 1));
    req.generation = 0;
    EDDY_VERIFY_ERR(commit(0, 10), Errc::StaleGeneration);
    req.generation = b->generation + 5;
    EDDY_VERIFY_ERR(commit(0, 10), Errc::StaleGeneration);
    req.generation = b->generation;
    EDDY_VERIFY_OK(commit(0, 10));
    EDDY_VERIFY_ERR(commit(1, 5), Errc::NotAssigned);
    auto bReq = req;
    bReq.memberId = "b";
    bReq.offsets = {{"c", 0, 10, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(bReq), Errc::NotAssigned);
    bReq.offsets = {{"c", 1, 5, {}}};
    EDDY_VERIFY_OK(m_broker->heartbeat("g", "a", b->generation));
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(bReq));
    QCOMPARE(m_broker->committedOffsets("g", "c")->at(1).offset, 5);
    // Once a acknowledged generation 2, its generation-1 commits are stale, even for the
    // partition it kept.
    req.generation = a->generation;
    EDDY_VERIFY_ERR(commit(0, 10), Errc::StaleGeneration);
    EDDY_VERIFY_ERR(commit(1, 6), Errc::StaleGeneration);
    QCOMPARE(m_broker->committedOffsets("g", "c")->at(1).offset, 5);
    req.generation = b->generation;

    auto unknown = req;
    unknown.memberId = "nobody";
    unknown.offsets = {{"c", 0, 10, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(unknown), Errc::UnknownMember);
    auto noGroup = unknown;
    noGroup.memberId = "a";
    noGroup.group = "ghost";
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(noGroup), Errc::UnknownGroup);
    EDDY_VERIFY_ERR(m_broker->committedOffsets("ghost"), Errc::UnknownGroup);
    auto badGroup = unknown;
    badGroup.group = "";
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(badGroup), Errc::InvalidGroupId);
}

void TestBrokerOffsets::commitOutsideMembership()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"c", 1, {}}));
    produceN("c", 0, 5);
    CommitRequest req;
    req.group = "offline";
    req.offsets = {{"c", 0, 3, {}}};
    // No members: a tool may commit (creates the group).
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(req));
    QCOMPARE(m_broker->committedOffsets("offline")->at(0).offset, 3);
    req.offsets = {{"c", 0, 2, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(req), Errc::OffsetRegression);

    auto a = join("offline", "a", {"c"});
    EDDY_VERIFY_OK(a);
    req.offsets = {{"c", 0, 4, {}}};
    EDDY_VERIFY_ERR(m_broker->commitOffsetsSync(req), Errc::GroupNotEmpty);
    QCOMPARE(m_broker->committedOffsets("offline")->at(0).offset, 3);
    EDDY_VERIFY_OK(m_broker->leaveGroup("offline", "a"));
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(req));
    QCOMPARE(m_broker->committedOffsets("offline")->at(0).offset, 4);
}

void TestBrokerOffsets::lag()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"l", 3, {}}));
    produceN("l", 0, 10);
    produceN("l", 1, 7);
    // partition 2 stays empty.
    CommitRequest req;
    req.group = "lagging";
    req.offsets = {{"l", 0, 4, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(req));
    auto offsets = m_broker->committedOffsets("lagging", "l");
    EDDY_VERIFY_OK(offsets);
    QCOMPARE(offsets->size(), std::size_t(3));
    QCOMPARE(offsets->at(0).offset, 4);
    QCOMPARE(offsets->at(0).highWatermark, 10);
    QCOMPARE(offsets->at(0).lag, 6);
    QCOMPARE(offsets->at(1).offset, -1);   // nothing committed
    QCOMPARE(offsets->at(1).lag, 7);       // HW - log start
    QCOMPARE(offsets->at(2).lag, 0);
    auto desc = m_broker->describeGroup("lagging");
    EDDY_VERIFY_OK(desc);
    QCOMPARE(desc->totalLag, 13);
    // Producing more raises the lag; committing lowers it.
    produceN("l", 0, 5);
    QCOMPARE(m_broker->describeGroup("lagging")->totalLag, 18);
    req.offsets = {{"l", 0, 15, {}}, {"l", 1, 7, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(req));
    QCOMPARE(m_broker->describeGroup("lagging")->totalLag, 0);
    // committedOffsets without a topic lists every topic the group committed on.
    EDDY_VERIFY_OK(m_broker->createTopic({"m", 1, {}}));
    produceN("m", 0, 2);
    req.offsets = {{"m", 0, 1, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(req));
    auto everything = m_broker->committedOffsets("lagging");
    EDDY_VERIFY_OK(everything);
    QCOMPARE(everything->size(), std::size_t(4));
    QCOMPARE(m_broker->describeGroup("lagging")->totalLag, 1);
}

void TestBrokerOffsets::resetOffsets()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"r", 2, {}}));
    // Timestamps 1000, 2000, 3000 on partition 0, as separate batches and then one batch.
    produceN("r", 0, 1, 1000);
    produceN("r", 0, 1, 2000);
    produceN("r", 0, 1, 3000);
    EDDY_VERIFY_OK(m_broker->produceSync(produceTo("r", 1,
                                                   {rec("a", std::nullopt, 1000),
                                                    rec("b", std::nullopt, 2000),
                                                    rec("c", std::nullopt, 3000)})));

    ResetOffsetsRequest req;
    req.group = "rg";
    req.topic = "r";
    req.kind = ResetKind::ToTimestamp;
    req.value = 2000;
    auto r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->size(), std::size_t(2));
    QCOMPARE(r->at(0).offset, 1);
    QCOMPARE(r->at(1).offset, 1);
    auto ts = m_broker->offsetForTimestamp("r", 0, 2000);
    EDDY_VERIFY_OK(ts);
    QCOMPARE(*ts, 1);
    QCOMPARE(*m_broker->offsetForTimestamp("r", 0, 1500), 1);
    QCOMPARE(*m_broker->offsetForTimestamp("r", 0, 0), 0);
    QCOMPARE(*m_broker->offsetForTimestamp("r", 0, 3001), 3);

    req.value = 2500;
    req.partitions = {1};
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->size(), std::size_t(1)); // only the partitions asked for
    QCOMPARE(r->at(0).partition, 1);
    QCOMPARE(r->at(0).offset, 2);
    QCOMPARE(m_broker->committedOffsets("rg", "r")->at(0).offset, 1); // partition 0 untouched

    req.partitions.clear();
    req.value = 99999;
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 3); // past every timestamp: the HW
    QCOMPARE(r->at(0).lag, 0);

    req.kind = ResetKind::Earliest;
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 0);
    QCOMPARE(r->at(0).lag, 3);

    req.kind = ResetKind::Latest;
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 3);
    QCOMPARE(r->at(1).offset, 3);

    req.kind = ResetKind::ToOffset;
    req.value = 2;
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 2);
    QCOMPARE(m_broker->committedOffsets("rg", "r")->at(0).offset, 2);
    req.value = 100; // clamped into [log start, HW]
    r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 3);
    req.value = -1;
    EDDY_VERIFY_ERR(m_broker->resetOffsets(req), Errc::InvalidOffset);
    req.value = 0;
    req.partitions = {5};
    EDDY_VERIFY_ERR(m_broker->resetOffsets(req), Errc::UnknownPartition);
    req.partitions.clear();
    req.group = "";
    EDDY_VERIFY_ERR(m_broker->resetOffsets(req), Errc::InvalidGroupId);
    QCOMPARE(m_broker->committedOffsets("rg", "r")->at(0).offset, 3);
}

void TestBrokerOffsets::resetOffsetsRequiresInactiveGroup()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"r", 1, {}}));
    produceN("r", 0, 5);
    CommitRequest commit;
    commit.group = "busy";
    commit.offsets = {{"r", 0, 4, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
    auto a = join("busy", "a", {"r"});
    EDDY_VERIFY_OK(a);
    ResetOffsetsRequest req;
    req.group = "busy";
    req.topic = "r";
    req.kind = ResetKind::Earliest;
    EDDY_VERIFY_ERR(m_broker->resetOffsets(req), Errc::GroupNotEmpty);
    QCOMPARE(m_broker->committedOffsets("busy", "r")->at(0).offset, 4);
    EDDY_VERIFY_OK(m_broker->leaveGroup("busy", "a"));
    auto r = m_broker->resetOffsets(req);
    EDDY_VERIFY_OK(r);
    QCOMPARE(r->at(0).offset, 0);
    // After a reset a lower commit is accepted again from there on.
    commit.offsets = {{"r", 0, 1, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
}

void TestBrokerOffsets::deleteGroup()
{
    EDDY_VERIFY_OK(m_broker->createTopic({"d", 1, {}}));
    produceN("d", 0, 3);
    EDDY_VERIFY_ERR(m_broker->deleteGroup("ghost"), Errc::UnknownGroup);
    auto a = join("dg", "a", {"d"});
    EDDY_VERIFY_OK(a);
    CommitRequest commit;
    commit.group = "dg";
    commit.memberId = "a";
    commit.generation = a->generation;
    commit.offsets = {{"d", 0, 2, {}}};
    EDDY_VERIFY_OK(m_broker->commitOffsetsSync(commit));
    EDDY_VERIFY_ERR(m_broker->deleteGroup("dg"), Errc::GroupNotEmpty);
    EDDY_VERIFY_OK(m_broker->describeGroup("dg"));
    EDDY_VERIFY_OK(m_broker->leaveGroup("dg", "a"));
    EDDY_VERIFY_OK(m_broker->deleteGroup("dg"));
    EDDY_VERIFY_ERR(m_broker->describeGroup("dg"), Errc::UnknownGroup);
    EDDY_VERIFY_ERR(m_broker->committedOffsets("dg"), Errc::UnknownGroup);
    QVERIFY(m_broker->listGroups().empty());
    EDDY_VERIFY_ERR(m_broker->deleteGroup("dg"), Errc::UnknownGroup);
    // A group of the same name starts from scratch, with no committed offsets; also after a
    // restart (the deletion was persisted).
    auto again = join("dg", "a", {"d"});
    EDDY_VERIFY_OK(again);
    QCOMPARE(m_broker->committedOffsets("dg")->at(0).offset, -1);
    EDDY_VERIFY_OK(m_broker->leaveGroup("dg", "a"));
    EDDY_VERIFY_OK(m_broker->deleteGroup("dg"));
    m_broker.reset();
    auto reopened = Broker::open(testConfig(m_dir->path()));
    QVERIFY2(reopened.ok(), describe(reopened).constData());
    m_broker = std::move(reopened.value());
    EDDY_VERIFY_ERR(m_broker->describeGroup("dg"), Errc::UnknownGroup);
    QVERIFY(m_broker->listGroups().empty());
}

void TestBrokerOffsets::pollFromClientPositionsRedeliversALostReply()
{
    // The broker's record of a member's position moves past what a poll returned, whether or
    // not the reply arrived. A member that sends the positions it really reached is served from
    // them: the records of a lost reply come again instead of being skipped.
    EDDY_VERIFY_OK(m_broker->createTopic({"lost", 2, {}}));
    produceN("lost", 0, 5);
    auto a = join("g", "a", {"lost"}, AssignorKind::Range, 600);
    EDDY_VERIFY_OK(a);
    PollRequest poll;
    poll.group = "g";
    poll.memberId = "a";
    poll.generation = a->generation;
    auto first = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(first);
    QCOMPARE(first->records.size(), std::size_t(5)); // this reply is "lost"
    produceN("lost", 0, 2);

    // Without positions the broker goes on from where it thinks the member is: 5.
    auto skipping = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(skipping);
    QCOMPARE(skipping->records.size(), std::size_t(2));
    QCOMPARE(skipping->records[0].record.offset, 5);

    // With what the member has really received (nothing of partition 0), all 7 come again, in
    // order; partition 1, not listed, stays where the broker had it.
    poll.positions = {{TopicPartition{"lost", 0}, 0}};
    auto again = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(again);
    QCOMPARE(again->records.size(), std::size_t(7));
    for (std::size_t i = 0; i < again->records.size(); ++i) {
        QCOMPARE(again->records[i].partition, 0);
        QCOMPARE(again->records[i].record.offset, int64_t(i));
    }
    // The broker's record followed: a poll without positions now finds nothing new.
    poll.positions.clear();
    auto after = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(after);
    QVERIFY(after->records.empty());

    // A position past the end restarts at the end, one before the log start at the start, as
    // for the broker's own positions; one for a partition the member does not own is ignored.
    poll.positions = {{TopicPartition{"lost", 0}, 1000}, {TopicPartition{"other", 0}, 0}};
    auto past = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(past);
    QVERIFY(past->records.empty());
    produceN("lost", 0, 1);
    poll.positions.clear();
    auto next = m_broker->pollSync(poll);
    EDDY_VERIFY_OK(next);
    QCOMPARE(next->records.size(), std::size_t(1));
    QCOMPARE(next->records[0].record.offset, 7);
}

QTEST_GUILESS_MAIN(TestBrokerOffsets)
#include "tst_broker_offsets.moc"
