// Unit tests of PartitionLog (engine/partition_log.h) driven directly: idempotent producers
// (duplicate retries return the original offsets without appending, a retry with another count
// is rejected, gaps give OutOfOrderSequence, sequences older than the last five batches give
// DuplicateSequence, producers are independent, restored producer state, sequence wrap-around
// as in Kafka) and truncateToPersisted rolling the LEO back and starting a new epoch so stale
// markPersisted and truncateToPersisted calls are ignored, forgetting the dropped batches of
// producers and keeping the log start within the log. Append, read, waiters and the tail cache:
// tst_unit_partition_log.cpp.
#include "partition_log_fixture.h"

#include <QtTest>

using namespace eddy;
using namespace eddy::test;

namespace {

Result<AppendOutcome> appendIdem(PartitionLog &log, int64_t pid, int32_t seq, int n, Sink &sink)
{
    return log.append(records(n, tagged(tagged("p", pid) + "s", seq)), kNowUs,
                      ProducerStamp{pid, seq}, sink.fn());
}

} // namespace

class TestUnitPartitionLogIdempotence : public QObject
{
    Q_OBJECT

private slots:
    void idempotentRetryReturnsOriginalOffsets();
    void idempotentRetryWithOtherCountRejected();
    void sequenceGapIsOutOfOrder();
    void sequenceOlderThanLastFiveIsDuplicate();
    void producersAreIndependent();
    void idempotentStampNeedsSequence();
    void restoredProducerState();
    void sequenceWrapsAroundLikeKafka();
    void truncateToPersistedRollsBack();
    void truncateWithStaleEpochIgnored();
    void truncateForgetsDroppedProducerBatches();
    void truncateKeepsLogStartWithinLog();
};

void TestUnitPartitionLogIdempotence::idempotentRetryReturnsOriginalOffsets()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    QVERIFY(appendPlain(log, records(2), sink).ok()); // offsets 0-1, not idempotent
    auto first = appendIdem(log, 7, 0, 3, sink);      // offsets 2-4
    QVERIFY(first.ok());
    QCOMPARE(first->baseOffset, int64_t(2));
    auto second = appendIdem(log, 7, 3, 2, sink);     // offsets 5-6
    QVERIFY(second.ok());
    QCOMPARE(second->baseOffset, int64_t(5));
    QCOMPARE(second->batch->producerId, int64_t(7));
    QCOMPARE(second->batch->baseSequence, 3);
    const std::size_t handedOff = sink.batches.size();
    const uint64_t recordsIn = log.counters().recordsIn.load();

    for (int round = 0; round < 2; ++round) {
        auto retryFirst = appendIdem(log, 7, 0, 3, sink);
        QVERIFY(retryFirst.ok());
        QVERIFY(retryFirst->duplicate);
        QCOMPARE(retryFirst->baseOffset, int64_t(2));
        QCOMPARE(retryFirst->count, 3);
        QVERIFY(!retryFirst->batch);
        auto retrySecond = appendIdem(log, 7, 3, 2, sink);
        QVERIFY(retrySecond.ok());
        QVERIFY(retrySecond->duplicate);
        QCOMPARE(retrySecond->baseOffset, int64_t(5));
        QCOMPARE(retrySecond->count, 2);
    }
    // Nothing was appended or handed to the store.
    QCOMPARE(log.logEndOffset(), int64_t(7));
    QCOMPARE(sink.batches.size(), handedOff);
    QCOMPARE(log.counters().recordsIn.load(), recordsIn);

    // The next sequence appends normally.
    auto third = appendIdem(log, 7, 5, 1, sink);
    QVERIFY(third.ok());
    QVERIFY(!third->duplicate);
    QCOMPARE(third->baseOffset, int64_t(7));
    QCOMPARE(log.producerSnapshot().at(7).baseSequence, 5);
    QCOMPARE(log.producerSnapshot().at(7).baseOffset, int64_t(7));
}

void TestUnitPartitionLogIdempotence::idempotentRetryWithOtherCountRejected()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    QVERIFY(appendIdem(log, 1, 0, 3, sink).ok());
    auto r = appendIdem(log, 1, 0, 2, sink);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::InvalidRequest);
    QCOMPARE(log.logEndOffset(), int64_t(3));
}

void TestUnitPartitionLogIdempotence::sequenceGapIsOutOfOrder()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    QVERIFY(appendIdem(log, 4, 0, 3, sink).ok()); // next expected sequence: 3
    const std::size_t handedOff = sink.batches.size();
    for (int32_t seq : {4, 10, std::numeric_limits<int32_t>::max()}) {
        auto r = appendIdem(log, 4, seq, 1, sink);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::OutOfOrderSequence);
    }
    QCOMPARE(log.logEndOffset(), int64_t(3));
    QCOMPARE(sink.batches.size(), handedOff);
    // The expected sequence still works after the rejected ones.
    auto ok = appendIdem(log, 4, 3, 1, sink);
    QVERIFY(ok.ok());
    QCOMPARE(ok->baseOffset, int64_t(3));
}

void TestUnitPartitionLogIdempotence::sequenceOlderThanLastFiveIsDuplicate()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    // Six one-record batches, sequences 0..5 at offsets 0..5; the log keeps the last five (1..5).
    for (int32_t seq = 0; seq < 6; ++seq)
        QVERIFY(appendIdem(log, 9, seq, 1, sink).ok());
    auto old = appendIdem(log, 9, 0, 1, sink);
    QVERIFY(!old.ok());
    QCOMPARE(old.code(), Errc::DuplicateSequence);
    // The five kept batches still dedupe to their offsets.
    for (int32_t seq = 1; seq < 6; ++seq) {
        auto r = appendIdem(log, 9, seq, 1, sink);
        QVERIFY(r.ok());
        QVERIFY(r->duplicate);
        QCOMPARE(r->baseOffset, static_cast<int64_t>(seq));
    }
    // A sequence inside a kept batch but not at its start is a duplicate too, not a new batch.
    QVERIFY(appendIdem(log, 9, 6, 4, sink).ok()); // sequences 6..9 at offsets 6..9
    auto inside = appendIdem(log, 9, 8, 1, sink);
    QVERIFY(!inside.ok());
    QCOMPARE(inside.code(), Errc::DuplicateSequence);
    QCOMPARE(log.logEndOffset(), int64_t(10));
}

void TestUnitPartitionLogIdempotence::producersAreIndependent()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto a = appendIdem(log, 1, 0, 2, sink);
    auto b = appendIdem(log, 2, 0, 2, sink); // same sequence, other producer: not a duplicate
    QVERIFY(a.ok() && b.ok());
    QVERIFY(!b->duplicate);
    QCOMPARE(b->baseOffset, int64_t(2));
    // Non-idempotent appends never dedupe.
    auto p1 = appendPlain(log, records(1), sink);
    auto p2 = appendPlain(log, records(1), sink);
    QCOMPARE(p1->baseOffset, int64_t(4));
    QCOMPARE(p2->baseOffset, int64_t(5));
    QVERIFY(!p2->duplicate);
    const auto snapshot = log.producerSnapshot();
    QCOMPARE(snapshot.size(), std::size_t(2));
    QCOMPARE(snapshot.at(1).baseOffset, int64_t(0));
    QCOMPARE(snapshot.at(2).baseOffset, int64_t(2));
    QCOMPARE(snapshot.at(2).count, 2);
}

void TestUnitPartitionLogIdempotence::idempotentStampNeedsSequence()
{
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto r = log.append(records(1), kNowUs, ProducerStamp{5, -1}, sink.fn());
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::InvalidRequest);
    QCOMPARE(log.logEndOffset(), int64_t(0));
}

void TestUnitPartitionLogIdempotence::restoredProducerState()
{
    // After a restart the store's last batch per producer answers retries and fixes the next
    // expected sequence.
    PartitionLog log(0, 0, 42, 0, false, bigCache());
    log.restoreProducer(5, ProducerBatchMeta{10, 2, 40});
    Sink sink;
    auto retry = appendIdem(log, 5, 10, 2, sink);
    QVERIFY(retry.ok());
    QVERIFY(retry->duplicate);
    QCOMPARE(retry->baseOffset, int64_t(40));
    QCOMPARE(appendIdem(log, 5, 15, 1, sink).code(), Errc::OutOfOrderSequence);
    QCOMPARE(appendIdem(log, 5, 9, 1, sink).code(), Errc::DuplicateSequence);
    auto next = appendIdem(log, 5, 12, 3, sink);
    QVERIFY(next.ok());
    QVERIFY(!next->duplicate);
    QCOMPARE(next->baseOffset, int64_t(42));
    QCOMPARE(log.producerSnapshot().at(5).baseSequence, 12);
}

void TestUnitPartitionLogIdempotence::sequenceWrapsAroundLikeKafka()
{
    // Kafka's sequence numbers are int32 and wrap: after a batch ending at Integer.MAX_VALUE the
    // next expected sequence is 0 (ProducerAppendInfo.inSequence). Without the wrap, an
    // idempotent producer that has sent 2^31 records can never produce again.
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    const int32_t nearMax = std::numeric_limits<int32_t>::max() - 1;
    QVERIFY(appendIdem(log, 3, nearMax, 2, sink).ok()); // sequences MAX-1 and MAX
    auto wrapped = appendIdem(log, 3, 0, 1, sink);
    QVERIFY(wrapped.ok());
}

void TestUnitPartitionLogIdempotence::truncateToPersistedRollsBack()
{
    PartitionLog log(0, 0, 0, 0, true, bigCache());
    Sink sink;
    auto a = appendPlain(log, records(3, "a", 10), sink);
    QCOMPARE(a->epoch, uint64_t(0));
    log.markPersisted(a->epoch, 3);
    const int64_t bytesAfterA = log.sizeBytes();
    auto b = appendPlain(log, records(2, "b", 10), sink);
    QCOMPARE(b->epoch, uint64_t(0));
    QCOMPARE(log.logEndOffset(), int64_t(5));
    QCOMPARE(log.sizeBytes(), bytesAfterA + 20);

    // The store failed to persist b.
    log.truncateToPersisted(b->epoch);
    QCOMPARE(log.epoch(), uint64_t(1));
    QCOMPARE(log.logEndOffset(), int64_t(3));
    QCOMPARE(log.highWatermark(), int64_t(3));
    QCOMPARE(log.persistedEnd(), int64_t(3));
    QCOMPARE(log.sizeBytes(), bytesAfterA);

    // A late success report for the old epoch is ignored.
    log.markPersisted(b->epoch, 5);
    QCOMPARE(log.persistedEnd(), int64_t(3));
    QCOMPARE(log.highWatermark(), int64_t(3));

    // The next append reuses b's offsets in the new epoch.
    auto c = appendPlain(log, records(2, "c", 10), sink);
    QVERIFY(c.ok());
    QCOMPARE(c->baseOffset, int64_t(3));
    QCOMPARE(c->epoch, uint64_t(1));
    QCOMPARE(sink.batches.back().second, uint64_t(1));
    log.markPersisted(b->epoch, 5); // still stale
    QCOMPARE(log.highWatermark(), int64_t(3));
    log.markPersisted(c->epoch, 5);
    QCOMPARE(log.highWatermark(), int64_t(5));
    auto read = log.read(3, 10, kNoLimit);
    QVERIFY(read.ok());
    QCOMPARE(read->records.size(), std::size_t(2));
    QCOMPARE(QByteArray::fromStdString(read->records[0].value), QByteArray("c-0......."));

    // Fast mode: readers saw b, but the rollback still drops it and the HW follows the LEO.
    PartitionLog fast(0, 0, 0, 0, false, bigCache());
    auto fa = appendPlain(fast, records(2), sink);
    fast.markPersisted(fa->epoch, 2);
    QVERIFY(appendPlain(fast, records(3), sink).ok());
    QCOMPARE(fast.highWatermark(), int64_t(5));
    fast.truncateToPersisted(fa->epoch);
    QCOMPARE(fast.logEndOffset(), int64_t(2));
    QCOMPARE(fast.highWatermark(), int64_t(2));
    QCOMPARE(fast.epoch(), uint64_t(1));
    QCOMPARE(fast.read(3, 10, kNoLimit).code(), Errc::OffsetOutOfRange);
    QCOMPARE(appendPlain(fast, records(1), sink)->baseOffset, int64_t(2));
}

void TestUnitPartitionLogIdempotence::truncateWithStaleEpochIgnored()
{
    // Two failed batches of one store transaction both report the failure: only the first
    // truncates; the second (old epoch) must not drop what was appended since.
    PartitionLog log(0, 0, 0, 0, true, bigCache());
    Sink sink;
    auto a = appendPlain(log, records(2, "a"), sink);
    auto b = appendPlain(log, records(2, "b"), sink);
    QCOMPARE(a->epoch, b->epoch);
    log.truncateToPersisted(a->epoch);
    QCOMPARE(log.epoch(), uint64_t(1));
    QCOMPARE(log.logEndOffset(), int64_t(0));
    auto c = appendPlain(log, records(3, "c"), sink);
    QCOMPARE(c->baseOffset, int64_t(0));
    log.truncateToPersisted(b->epoch); // stale: ignored
    QCOMPARE(log.epoch(), uint64_t(1));
    QCOMPARE(log.logEndOffset(), int64_t(3));
    log.markPersisted(c->epoch, 3);
    QCOMPARE(log.highWatermark(), int64_t(3));
    auto read = log.read(0, 10, kNoLimit);
    QCOMPARE(read->records.size(), std::size_t(3));
    QCOMPARE(QByteArray::fromStdString(read->records[0].value), QByteArray("c-0"));
}

void TestUnitPartitionLogIdempotence::truncateForgetsDroppedProducerBatches()
{
    PartitionLog log(0, 0, 0, 0, true, bigCache());
    Sink sink;
    auto a = appendIdem(log, 9, 0, 3, sink);
    log.markPersisted(a->epoch, 3);
    auto lost = appendIdem(log, 9, 3, 2, sink); // never persisted
    QVERIFY(lost.ok());
    log.truncateToPersisted(lost->epoch);
    // The retry of the dropped batch is appended again, not answered as a duplicate.
    auto retry = appendIdem(log, 9, 3, 2, sink);
    QVERIFY(retry.ok());
    QVERIFY(!retry->duplicate);
    QCOMPARE(retry->baseOffset, int64_t(3));
    // The persisted batch still dedupes.
    auto old = appendIdem(log, 9, 0, 3, sink);
    QVERIFY(old.ok());
    QVERIFY(old->duplicate);
    QCOMPARE(old->baseOffset, int64_t(0));

    // A producer whose only batch was dropped starts over.
    auto b = appendIdem(log, 11, 0, 1, sink);
    QVERIFY(b.ok());
    log.truncateToPersisted(b->epoch);
    QCOMPARE(log.producerSnapshot().count(11), std::size_t(0));
    QVERIFY(appendIdem(log, 11, 0, 1, sink).ok());
}

void TestUnitPartitionLogIdempotence::truncateKeepsLogStartWithinLog()
{
    // Fast mode: the HW is the LEO, but the log start never moves past the persisted end (a
    // storage failure may still roll the unstored tail back), and a rollback leaves
    // logStart <= HW <= LEO.
    PartitionLog log(0, 0, 0, 0, false, bigCache());
    Sink sink;
    auto a = appendPlain(log, records(10), sink);
    QCOMPARE(log.advanceLogStart(8), int64_t(0));
    log.markPersisted(a->epoch, 5);
    QCOMPARE(log.advanceLogStart(8), int64_t(5));
    log.truncateToPersisted(a->epoch);
    QCOMPARE(log.logEndOffset(), int64_t(5));
    QCOMPARE(log.highWatermark(), int64_t(5));
    QVERIFY(log.logStartOffset() <= log.highWatermark());
    QCOMPARE(log.logStartOffset(), int64_t(5));
}

QTEST_GUILESS_MAIN(TestUnitPartitionLogIdempotence)
#include "tst_unit_partition_log_idempotence.moc"
