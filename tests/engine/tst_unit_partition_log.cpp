// Unit tests of PartitionLog (engine/partition_log.h) driven directly, in fast visibility (HW =
// LEO) and durable visibility (HW = persisted end). Covers contiguous offsets across appends (also
// from a non-zero start and from several threads, with the store hand-off in offset order),
// timestamps of 0 replaced by the append time, read limits (maxRecords, maxBytes with at least one
// record, reads starting mid-batch), reads at the HW returning nothing, OffsetOutOfRange outside
// [logStart, HW] and InvalidOffset for negative offsets, the HW moving only on markPersisted in
// durable mode, waiters firing on append (fast) or markPersisted (durable) exactly once, and cache
// eviction making read() ask the store (needsStore) for persisted offsets once the tail budget
// (TailCache) is over its limit, while unpersisted batches are never evicted; the budget spans
// partitions (oldest batch first, whichever log holds it) and a log's memory returns to it on
// retention and destruction. Idempotent producers and truncation:
// tst_unit_partition_log_idempotence.cpp.
#include "partition_log_fixture.h"

#include "batch_codec.h"

#include <QtTest>

#include <atomic>
#include <thread>

using namespace eddy;
using namespace eddy::test;

namespace {

constexpr int64_t kNowMs = kNowUs / 1000;

// The records of an appended batch, decoded from its encoded form.
std::vector<Record> decoded(const BatchPtr &batch)
{
    std::vector<Record> out;
    if (!decodeBatchRecords(batch->encoded, batch->baseOffset, out))
        out.clear();
    return out;
}

struct Counter {
    std::atomic<int> fires{0};
    std::atomic<int> timeouts{0};
    WaiterPtr make()
    {
        return std::make_shared<Waiter>([this](bool timedOut) {
            fires.fetch_add(1);
            if (timedOut)
                timeouts.fetch_add(1);
        });
    }
};

} // namespace

class TestUnitPartitionLog : public QObject
{
    Q_OBJECT

private slots:
    void contiguousOffsetsAcrossAppends();
    void startsAtStoredEndOffset();
    void emptyAppendRejected();
    void zeroTimestampsBecomeAppendTime();
    void readLimits();
    void readBounds();
    void advanceLogStart();
    void durableHighWatermarkFollowsPersistence();
    void fastModeTracksPersistedEndSeparately();
    void waitersFireOnAppendInFastMode();
    void waitersFireOnPersistInDurableMode();
    void waiterFiredElsewhereIsNotFiredAgain();
    void cacheEvictionNeedsStore();
    void cacheEvictionDurable();
    void cacheBudgetIsBrokerWide();
    void concurrentAppendsStayContiguous();
};

void TestUnitPartitionLog::contiguousOffsetsAcrossAppends()
{
    PartitionLog log(3, 0, 0, 0, false, bigCache());
    QCOMPARE(log.partition(), 3);
    Sink sink;
    int64_t expectedBase = 0;
    std::size_t expectedBytes = 0;
    for (int n : {3, 1, 5, 2}) {
        auto r = appendPlain(log, records(n, tagged("b", n)), sink);
        QVERIFY(r.ok());
        QCOMPARE(r->baseOffset, expectedBase);
        QCOMPARE(r->count, n);
        QVERIFY(!r->duplicate);
        QVERIFY(r->batch);
        QCOMPARE(r->batch->baseOffset, expectedBase);
        QCOMPARE(r->batch->lastOffset(), expectedBase + n - 1);
        QCOMPARE(r->batch->appendTimeUs, kNowUs);
        const auto recs = decoded(r->batch);
        QCOMPARE(recs.size(), static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            QCOMPARE(recs[static_cast<std::size_t>(i)].offset, expectedBase + i);
        QCOMPARE(r->epoch, uint64_t(0));
        expectedBase += n;
        expectedBytes += r->batch->bytes;
    }
    QCOMPARE(log.logEndOffset(), int64_t(11));
    QCOMPARE(log.highWatermark(), int64_t(11));
    QCOMPARE(log.persistedEnd(), int64_t(0));
    QCOMPARE(log.logStartOffset(), int64_t(0));
    QCOMPARE(log.sizeBytes(), static_cast<int64_t>(expectedBytes));
    QCOMPARE(log.counters().recordsIn.load(), uint64_t(11));
    QCOMPARE(log.counters().bytesIn.load(), static_cast<uint64_t>(expectedBytes));

    // The store saw every batch once, in offset order, with the current epoch.
    QCOMPARE(sink.batches.size(), std::size_t(4));
    int64_t next = 0;
    for (const auto &[batch, epoch] : sink.batches) {
        QCOMPARE(batch->baseOffset, next);
        QCOMPARE(epoch, uint64_t(0));
        next = batch->endOffset();
    }

    // Reading everything gives offsets 0..10 in order with the original values.
    auto read = log.read(0, 1000, kNoLimit);
    QVERIFY(read.ok());
    QCOMPARE(read->records.size(), std::size_t(11));
    QCOMPARE(read->appendTimesUs.size(), std::size_t(11));
    for (std::size_t i = 0; i < read->records.size(); ++i)
        QCOMPARE(read->records[i].offset, static_cast<int64_t>(i));
    QCOMPARE(QByteArray::fromStdString(read->records[0].value), QByteArray("b3-0"));
    QCOMPARE(QByteArray::fromStdString(read->records[3].value), QByteArray("b1-0"));
    QCOMPARE(QByteArray::fromStdString(read->records[10].value), QByteArray("b2-1"));
    QCOMPARE(read->highWatermark, int64_t(11));
    QVERIFY(!read->needsStore);
}

void TestUnitPartitionLog::startsAtStoredEndOffset()
{
    // A log reopened from the store continues at its end offset; older offsets live in the store.
    PartitionLog log(0, 100, 150, 4096, false, bigCache());
    QCOMPARE(log.logStartOffset(), int64_t(100));
    QCOMPARE(log.highWatermark(), int64_t(150));
    QCOMPARE(log.persistedEnd(), int64_t(150));
    QCOMPARE(log.sizeBytes(), int64_t(4096));
    Sink sink;
    auto r = appendPlain(log, records(2), sink);
    QVERIFY(r.ok());
    QCOMPARE(r->baseOffset, int64_t(150));
    QCOMPARE(log.logEndOffset(), int64_t(152));

    auto old = log.read(120, 10, kNoLimit);
    QVERIFY(old.ok());
    QVERIFY(old->needsStore);
    QVERIFY(old->records.empty());
    QCOMPARE(old->storeTo, int64_t(150));
    auto fresh = log.read(150, 10, kNoLimit);
    QVERIFY(fresh.ok());
    QVERIFY(!fresh->needsStore);
    QCOMPARE(fresh->records.size(), std::size_t(2));
    QCOMPARE(log.read(99, 10, kNoLimit).code(), Errc::OffsetOutOfRange);
}

void TestUnitPartitionLog::emptyAppendRejected()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto r = appendPlain(log, {}, sink);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::EmptyBatch);
    QVERIFY(sink.batches.empty());
    QCOMPARE(log.logEndOffset(), int64_t(0));
}

void TestUnitPartitionLog::zeroTimestampsBecomeAppendTime()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    std::vector<Record> recs = records(3);
    recs[1].timestamp = 1'600'000'000'000; // producer-supplied, kept
    auto r = appendPlain(log, std::move(recs), sink);
    QVERIFY(r.ok());
    const auto recs3 = decoded(r->batch);
    QCOMPARE(recs3.size(), std::size_t(3));
    QCOMPARE(recs3[0].timestamp, kNowMs);
    QCOMPARE(recs3[1].timestamp, int64_t(1'600'000'000'000));
    QCOMPARE(recs3[2].timestamp, kNowMs);
    QCOMPARE(r->batch->maxTimestamp, kNowMs);

    auto read = log.read(0, 10, kNoLimit);
    QVERIFY(read.ok());
    QCOMPARE(read->records[0].timestamp, kNowMs);
    QCOMPARE(read->records[1].timestamp, int64_t(1'600'000'000'000));
    QCOMPARE(read->appendTimesUs[0], kNowUs);

    // A later append at another time stamps with its own time.
    auto later = appendPlain(log, records(1), sink, kNowUs + 5'000'000);
    QVERIFY(later.ok());
    QCOMPARE(decoded(later->batch).at(0).timestamp, kNowMs + 5000);
    QCOMPARE(later->batch->maxTimestamp, kNowMs + 5000);
}

void TestUnitPartitionLog::readLimits()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    // Three batches of 4 records, each value exactly 10 bytes: offsets 0..11.
    for (int b = 0; b < 3; ++b)
        QVERIFY(appendPlain(log, records(4, tagged("v", b), 10), sink).ok());
    QCOMPARE(log.highWatermark(), int64_t(12));

    auto byCount = log.read(0, 3, kNoLimit);
    QVERIFY(byCount.ok());
    QCOMPARE(byCount->records.size(), std::size_t(3));
    QCOMPARE(byCount->bytes, std::size_t(30));

    // maxBytes stops before the record that would exceed it.
    auto byBytes = log.read(0, 100, 25);
    QVERIFY(byBytes.ok());
    QCOMPARE(byBytes->records.size(), std::size_t(2));
    QCOMPARE(byBytes->bytes, std::size_t(20));
    auto exact = log.read(0, 100, 30);
    QCOMPARE(exact->records.size(), std::size_t(3));

    // At least one record even when it alone exceeds maxBytes.
    for (std::size_t maxBytes : {std::size_t(0), std::size_t(1), std::size_t(9)}) {
        auto one = log.read(5, 100, maxBytes);
        QVERIFY(one.ok());
        QCOMPARE(one->records.size(), std::size_t(1));
        QCOMPARE(one->records[0].offset, int64_t(5));
    }

    // Reads start mid-batch and cross batch boundaries.
    auto mid = log.read(2, 5, kNoLimit);
    QVERIFY(mid.ok());
    QCOMPARE(mid->records.size(), std::size_t(5));
    for (std::size_t i = 0; i < 5; ++i)
        QCOMPARE(mid->records[i].offset, int64_t(2 + static_cast<int64_t>(i)));
    QCOMPARE(QByteArray::fromStdString(mid->records[2].value), QByteArray("v1-0......"));

    // maxRecords of 0 reads nothing.
    auto none = log.read(0, 0, kNoLimit);
    QVERIFY(none.ok());
    QVERIFY(none->records.empty());

    // The tail: fewer records than asked for.
    auto tail = log.read(10, 100, kNoLimit);
    QCOMPARE(tail->records.size(), std::size_t(2));
}

void TestUnitPartitionLog::readBounds()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    // Empty log: offset 0 is the HW, so it reads nothing but is valid.
    auto empty = log.read(0, 10, kNoLimit);
    QVERIFY(empty.ok());
    QVERIFY(empty->records.empty());
    QVERIFY(!empty->needsStore);

    QVERIFY(appendPlain(log, records(5), sink).ok());
    auto atHw = log.read(5, 10, kNoLimit);
    QVERIFY(atHw.ok());
    QVERIFY(atHw->records.empty());
    QVERIFY(!atHw->needsStore);
    QCOMPARE(atHw->highWatermark, int64_t(5));

    auto past = log.read(6, 10, kNoLimit);
    QVERIFY(!past.ok());
    QCOMPARE(past.code(), Errc::OffsetOutOfRange);
    QCOMPARE(log.read(std::numeric_limits<int64_t>::max(), 10, kNoLimit).code(),
             Errc::OffsetOutOfRange);

    auto negative = log.read(-1, 10, kNoLimit);
    QVERIFY(!negative.ok());
    QCOMPARE(negative.code(), Errc::InvalidOffset);
    QCOMPARE(log.read(std::numeric_limits<int64_t>::min(), 10, kNoLimit).code(),
             Errc::InvalidOffset);

    // Below the log start (which only moves over what the store holds).
    QCOMPARE(log.advanceLogStart(2), int64_t(0));
    log.markPersisted(log.epoch(), log.logEndOffset());
    QCOMPARE(log.advanceLogStart(2), int64_t(2));
    QCOMPARE(log.read(1, 10, kNoLimit).code(), Errc::OffsetOutOfRange);
    QCOMPARE(log.read(-1, 10, kNoLimit).code(), Errc::InvalidOffset);
    auto atStart = log.read(2, 10, kNoLimit);
    QVERIFY(atStart.ok());
    QCOMPARE(atStart->records.size(), std::size_t(3));
    QCOMPARE(atStart->records.front().offset, int64_t(2));
    QCOMPARE(atStart->logStartOffset, int64_t(2));
}

void TestUnitPartitionLog::advanceLogStart()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    QVERIFY(appendPlain(log, records(3), sink).ok());
    QVERIFY(appendPlain(log, records(3), sink).ok());
    // Never past the persisted end, never backwards, never past the HW.
    QCOMPARE(log.advanceLogStart(4), int64_t(0));
    log.markPersisted(log.epoch(), log.logEndOffset());
    QCOMPARE(log.advanceLogStart(4), int64_t(4));
    QCOMPARE(log.advanceLogStart(1), int64_t(4));
    QCOMPARE(log.advanceLogStart(100), int64_t(6));
    QCOMPARE(log.logStartOffset(), int64_t(6));
    auto r = log.read(6, 10, kNoLimit);
    QVERIFY(r.ok());
    QVERIFY(r->records.empty());
    // Appends continue after the HW.
    auto next = appendPlain(log, records(1), sink);
    QCOMPARE(next->baseOffset, int64_t(6));
    QCOMPARE(log.read(6, 10, kNoLimit)->records.size(), std::size_t(1));

    // In durable mode the log start cannot pass the (persisted) HW either.
    PartitionLog durable(0, 0, 0, 0, true, bigCache());
    auto a = appendPlain(durable, records(4), sink);
    QCOMPARE(durable.advanceLogStart(3), int64_t(0));
    durable.markPersisted(a->epoch, 4);
    QCOMPARE(durable.advanceLogStart(3), int64_t(3));
}

void TestUnitPartitionLog::durableHighWatermarkFollowsPersistence()
{
    PartitionLog log(0, 0, 0, 0, true, bigCache());
    Sink sink;
    auto a = appendPlain(log, records(3, "a"), sink);
    QVERIFY(a.ok());
    QCOMPARE(a->baseOffset, int64_t(0));
    QCOMPARE(log.logEndOffset(), int64_t(3));
    QCOMPARE(log.highWatermark(), int64_t(0));
    // Nothing is visible yet: offset 0 is the HW, offset 1 is past it.
    auto r0 = log.read(0, 10, kNoLimit);
    QVERIFY(r0.ok());
    QVERIFY(r0->records.empty());
    QCOMPARE(log.read(1, 10, kNoLimit).code(), Errc::OffsetOutOfRange);

    auto b = appendPlain(log, records(2, "b"), sink);
    QCOMPARE(b->baseOffset, int64_t(3));
    QCOMPARE(log.highWatermark(), int64_t(0));

    log.markPersisted(a->epoch, 3);
    QCOMPARE(log.persistedEnd(), int64_t(3));
    QCOMPARE(log.highWatermark(), int64_t(3));
    auto r1 = log.read(0, 10, kNoLimit);
    QVERIFY(r1.ok());
    QCOMPARE(r1->records.size(), std::size_t(3)); // b is appended but not yet visible
    QCOMPARE(r1->highWatermark, int64_t(3));
    QCOMPARE(QByteArray::fromStdString(r1->records[2].value), QByteArray("a-2"));

    // A stale or repeated persistence report does not move anything.
    log.markPersisted(a->epoch, 2);
    log.markPersisted(a->epoch, 3);
    QCOMPARE(log.highWatermark(), int64_t(3));

    // A report beyond the LEO is clamped to it.
    log.markPersisted(b->epoch, 1000);
    QCOMPARE(log.persistedEnd(), int64_t(5));
    QCOMPARE(log.highWatermark(), int64_t(5));
    QCOMPARE(log.read(3, 10, kNoLimit)->records.size(), std::size_t(2));
}

void TestUnitPartitionLog::fastModeTracksPersistedEndSeparately()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto a = appendPlain(log, records(4), sink);
    QCOMPARE(log.highWatermark(), int64_t(4));
    QCOMPARE(log.persistedEnd(), int64_t(0));
    log.markPersisted(a->epoch, 4);
    QCOMPARE(log.persistedEnd(), int64_t(4));
    QCOMPARE(log.highWatermark(), int64_t(4));
}

void TestUnitPartitionLog::waitersFireOnAppendInFastMode()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    Counter atZero;
    Counter atThree;
    log.addWaiter(0, atZero.make());
    log.addWaiter(3, atThree.make());
    QCOMPARE(atZero.fires.load(), 0);

    QVERIFY(appendPlain(log, records(2), sink).ok()); // HW 2: passes 0, not 3
    QCOMPARE(atZero.fires.load(), 1);
    QCOMPARE(atZero.timeouts.load(), 0);
    QCOMPARE(atThree.fires.load(), 0);

    QVERIFY(appendPlain(log, records(1), sink).ok()); // HW 3: offset 3 still not readable
    QCOMPARE(atThree.fires.load(), 0);
    QVERIFY(appendPlain(log, records(1), sink).ok()); // HW 4
    QCOMPARE(atThree.fires.load(), 1);

    // Exactly once, however many appends follow.
    for (int i = 0; i < 5; ++i)
        QVERIFY(appendPlain(log, records(1), sink).ok());
    QCOMPARE(atZero.fires.load(), 1);
    QCOMPARE(atThree.fires.load(), 1);

    // A waiter for data that is already there fires at once; one at the HW does not.
    Counter already;
    log.addWaiter(2, already.make());
    QCOMPARE(already.fires.load(), 1);
    Counter atHw;
    log.addWaiter(log.highWatermark(), atHw.make());
    QCOMPARE(atHw.fires.load(), 0);
    QVERIFY(appendPlain(log, records(1), sink).ok());
    QCOMPARE(atHw.fires.load(), 1);
}

void TestUnitPartitionLog::waitersFireOnPersistInDurableMode()
{
    PartitionLog log(0, 0, 0, 0, true, bigCache());
    Sink sink;
    Counter waiter;
    log.addWaiter(0, waiter.make());
    auto a = appendPlain(log, records(2), sink);
    QVERIFY(a.ok());
    QCOMPARE(waiter.fires.load(), 0); // appended, but not visible
    // A waiter registered now (offset 0 == HW) waits as well.
    Counter late;
    log.addWaiter(0, late.make());
    QCOMPARE(late.fires.load(), 0);

    log.markPersisted(a->epoch, 2);
    QCOMPARE(waiter.fires.load(), 1);
    QCOMPARE(late.fires.load(), 1);
    QCOMPARE(waiter.timeouts.load(), 0);

    // Further persistence does not fire it again.
    auto b = appendPlain(log, records(1), sink);
    log.markPersisted(b->epoch, 3);
    QCOMPARE(waiter.fires.load(), 1);

    // Waiting beyond the HW: only the persistence that passes it fires.
    Counter far;
    log.addWaiter(4, far.make());
    auto c = appendPlain(log, records(1), sink);
    auto d = appendPlain(log, records(1), sink);
    log.markPersisted(c->epoch, 4);
    QCOMPARE(far.fires.load(), 0);
    log.markPersisted(d->epoch, 5);
    QCOMPARE(far.fires.load(), 1);
}

void TestUnitPartitionLog::waiterFiredElsewhereIsNotFiredAgain()
{
    // The scheduler fires timed-out waiters; the log must not run them a second time.
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    Counter c;
    auto w = c.make();
    log.addWaiter(0, w);
    w->fire(true);
    QCOMPARE(c.fires.load(), 1);
    QCOMPARE(c.timeouts.load(), 1);
    QVERIFY(appendPlain(log, records(1), sink).ok());
    QCOMPARE(c.fires.load(), 1);
    QCOMPARE(c.timeouts.load(), 1);

    // Many timed-out waiters are pruned without firing anything.
    std::vector<WaiterPtr> parked;
    Counter many;
    for (int i = 0; i < 200; ++i) {
        auto pw = many.make();
        log.addWaiter(100, pw);
        pw->fire(true);
        parked.push_back(pw);
    }
    QCOMPARE(many.fires.load(), 200);
    QVERIFY(appendPlain(log, records(1), sink).ok());
    QCOMPARE(many.fires.load(), 200);
}

// Memory one batch of one record with a 20-byte value takes in the tail (all such batches
// take the same).
std::size_t oneBatchMemory()
{
    PartitionLog probe(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto r = appendPlain(probe, records(1, "m", 20), sink);
    return r ? r->batch->memoryBytes() : 0;
}

void TestUnitPartitionLog::cacheEvictionNeedsStore()
{
    // Room for two and a half batches of one 20-byte record each.
    const std::size_t m = oneBatchMemory();
    QVERIFY(m > 20);
    auto budget = std::make_shared<TailCache>(m * 5 / 2);
    auto log = std::make_shared<PartitionLog>(0, 0, 0, 0, false, budget);
    Sink sink;
    std::vector<AppendOutcome> outcomes;
    for (int i = 0; i < 5; ++i) {
        auto r = appendPlain(*log, records(1, tagged("x", i), 20), sink);
        QVERIFY(r.ok());
        QCOMPARE(r->batch->memoryBytes(), m);
        outcomes.push_back(*r);
    }
    // Five batches cached, over the limit, but nothing is persisted so nothing may leave memory.
    QCOMPARE(budget->usedBytes(), 5 * m);
    QCOMPARE(log->cachedMemoryBytes(), 5 * m);
    auto all = log->read(0, 100, kNoLimit);
    QVERIFY(all.ok());
    QVERIFY(!all->needsStore);
    QCOMPARE(all->records.size(), std::size_t(5));

    // Persisting 0..2 lets the budget evict the oldest batches until it is under the limit.
    log->markPersisted(outcomes[2].epoch, 3);
    QCOMPARE(budget->usedBytes(), 2 * m);
    for (int64_t offset : {0, 1, 2}) {
        auto r = log->read(offset, 100, kNoLimit);
        QVERIFY(r.ok());
        QVERIFY2(r->needsStore, qPrintable(QString::number(offset)));
        QVERIFY(r->records.empty());
        QCOMPARE(r->storeTo, int64_t(3));
        QCOMPARE(r->highWatermark, int64_t(5));
    }
    auto cached = log->read(3, 100, kNoLimit);
    QVERIFY(cached.ok());
    QVERIFY(!cached->needsStore);
    QCOMPARE(cached->records.size(), std::size_t(2));
    QCOMPARE(QByteArray::fromStdString(cached->records[0].value).left(2), QByteArray("x3"));

    // Under the limit, persisted batches stay cached.
    auto roomyBudget = std::make_shared<TailCache>(10 * m);
    auto roomy = std::make_shared<PartitionLog>(0, 0, 0, 0, false, roomyBudget);
    for (int i = 0; i < 5; ++i)
        QVERIFY(appendPlain(*roomy, records(1, "y", 20), sink).ok());
    roomy->markPersisted(0, 5);
    auto stillCached = roomy->read(0, 100, kNoLimit);
    QVERIFY(!stillCached->needsStore);
    QCOMPARE(stillCached->records.size(), std::size_t(5));

    // The log start passing a batch evicts it regardless of the limit, and gives its memory back.
    roomy->advanceLogStart(2);
    auto afterStart = roomy->read(2, 100, kNoLimit);
    QVERIFY(!afterStart->needsStore);
    QCOMPARE(afterStart->records.size(), std::size_t(3));
    QCOMPARE(roomyBudget->usedBytes(), 3 * m);
    // So does a log going away (a deleted topic).
    roomy.reset();
    QCOMPARE(roomyBudget->usedBytes(), std::size_t(0));
}

void TestUnitPartitionLog::cacheEvictionDurable()
{
    const std::size_t m = oneBatchMemory();
    auto budget = std::make_shared<TailCache>(m * 3 / 2);
    auto log = std::make_shared<PartitionLog>(0, 0, 0, 0, true, budget);
    Sink sink;
    std::vector<AppendOutcome> outcomes;
    for (int i = 0; i < 4; ++i)
        outcomes.push_back(*appendPlain(*log, records(1, tagged("d", i), 20), sink));
    // Not persisted: not visible, not evictable.
    QCOMPARE(log->highWatermark(), int64_t(0));
    log->markPersisted(outcomes[1].epoch, 2);
    // Four batches cached, 0..1 persisted: both go (two left is over the limit, but unpersisted).
    auto old = log->read(0, 10, kNoLimit);
    QVERIFY(old.ok());
    QVERIFY(old->needsStore);
    QCOMPARE(old->storeTo, int64_t(2));
    // Offset 2 is the HW: nothing to read, and not a store read either.
    auto atHw = log->read(2, 10, kNoLimit);
    QVERIFY(atHw.ok());
    QVERIFY(!atHw->needsStore);
    QVERIFY(atHw->records.empty());
    log->markPersisted(outcomes[3].epoch, 4);
    // Now 2 is evicted too, 3 stays (one batch is within the limit).
    auto two = log->read(2, 10, kNoLimit);
    QVERIFY(two->needsStore);
    QCOMPARE(two->storeTo, int64_t(3));
    auto three = log->read(3, 10, kNoLimit);
    QVERIFY(!three->needsStore);
    QCOMPARE(three->records.size(), std::size_t(1));
}

void TestUnitPartitionLog::cacheBudgetIsBrokerWide()
{
    // Two partitions share room for two and a half batches: the oldest batches go first,
    // whichever partition holds them, so an idle partition does not keep its tail forever.
    const std::size_t m = oneBatchMemory();
    auto budget = std::make_shared<TailCache>(m * 5 / 2);
    auto a = std::make_shared<PartitionLog>(0, 0, 0, 0, false, budget);
    auto b = std::make_shared<PartitionLog>(1, 0, 0, 0, false, budget);
    Sink sink;
    for (int i = 0; i < 2; ++i)
        QVERIFY(appendPlain(*a, records(1, tagged("a", i), 20), sink).ok());
    a->markPersisted(0, 2);
    QCOMPARE(budget->usedBytes(), 2 * m);
    for (int i = 0; i < 2; ++i)
        QVERIFY(appendPlain(*b, records(1, tagged("b", i), 20), sink).ok());
    // Four batches, nothing of b persisted yet: a's two (the oldest) are evicted.
    QCOMPARE(budget->usedBytes(), 2 * m);
    QCOMPARE(a->cachedMemoryBytes(), std::size_t(0));
    QCOMPARE(b->cachedMemoryBytes(), 2 * m);
    auto fromA = a->read(0, 10, kNoLimit);
    QVERIFY(fromA.ok());
    QVERIFY(fromA->needsStore);
    QCOMPARE(fromA->storeTo, int64_t(2));
    // a appends again: b's batches are oldest but unpersisted, so the budget waits for them.
    QVERIFY(appendPlain(*a, records(1, "a2", 20), sink).ok());
    QCOMPARE(budget->usedBytes(), 3 * m);
    b->markPersisted(0, 2);
    QCOMPARE(budget->usedBytes(), 2 * m);
    QCOMPARE(b->cachedMemoryBytes(), m);
    auto fromB = b->read(1, 10, kNoLimit);
    QVERIFY(fromB.ok());
    QVERIFY(!fromB->needsStore);
    QCOMPARE(QByteArray::fromStdString(fromB->records.at(0).value).left(4), QByteArray("b1-0"));
}

void TestUnitPartitionLog::concurrentAppendsStayContiguous()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    const int threads = 4;
    const int perThread = 300;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < perThread; ++i)
                (void)log.append(records(1 + (i % 3), tagged("t", t)), kNowUs,
                                 ProducerStamp{}, sink.fn());
        });
    for (auto &w : workers)
        w.join();
    // Every batch handed to the store follows the previous one with no gap or overlap.
    QCOMPARE(sink.batches.size(), std::size_t(threads * perThread));
    int64_t next = 0;
    for (const auto &[batch, epoch] : sink.batches) {
        QCOMPARE(batch->baseOffset, next);
        next = batch->endOffset();
    }
    QCOMPARE(log.logEndOffset(), next);
    QCOMPARE(log.highWatermark(), next);
    QCOMPARE(log.counters().recordsIn.load(), static_cast<uint64_t>(next));
}

QTEST_GUILESS_MAIN(TestUnitPartitionLog)
#include "tst_unit_partition_log.moc"
