// Unit tests of the record-batch blob format (engine/batch_codec.h). Covers round trips of
// batches with null and empty keys, binary keys/values/headers containing NUL and high-bit bytes,
// repeated header keys, negative timestamp deltas, extreme timestamps and a large value; that
// EVERY strict prefix of a valid blob fails with Errc::CorruptStore (never crashes, never yields
// records); trailing bytes, a wrong version byte, non-contiguous offsets, out-of-range lengths and
// random byte corruption are rejected or at least handled without crashing; BatchMerger joining
// contiguous batches into one blob that decodes to the same records (append time and timestamp
// the latest, bytes summed), refusing a gap, a producer's batch and a corrupt blob without
// changing what it holds, and cutting a stored batch to its tail. ByteWriter/ByteReader:
// tst_unit_byte_codec.cpp.
#include "batch_codec.h"
#include "errc_string.h"
#include "byte_codec.h"
#include "codec_bytes.h"

#include <QtTest>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

using namespace eddy;
using namespace eddy::test;

namespace {

// Decoded records with their base offset: what encodeBatchRecords takes and decodeBatchRecords
// gives back.
struct Batch {
    int64_t baseOffset = 0;
    std::size_t bytes = 0;
    std::vector<Record> records;
};

std::string encode(const Batch &batch)
{
    return encodeBatchRecords(batch.baseOffset, batch.records);
}

Result<void> decode(std::string_view blob, Batch &out)
{
    return decodeBatchRecords(blob, out.baseOffset, out.records);
}

// Assigns offsets baseOffset.. and the payload byte count, as PartitionLog::append does.
Batch makeBatch(int64_t baseOffset, std::vector<Record> records)
{
    Batch batch;
    batch.baseOffset = baseOffset;
    int64_t offset = baseOffset;
    for (auto &r : records) {
        r.offset = offset++;
        batch.bytes += recordPayloadBytes(r);
    }
    batch.records = std::move(records);
    return batch;
}

Record rec(int64_t ts, std::optional<std::string> key, std::string value,
           std::vector<Header> headers = {})
{
    Record r;
    r.timestamp = ts;
    r.key = std::move(key);
    r.value = std::move(value);
    r.headers = std::move(headers);
    return r;
}

// A batch exercising every field shape the format has.
Batch richBatch()
{
    std::vector<Record> records;
    records.push_back(rec(1'700'000'000'000, std::nullopt, "no key"));
    records.push_back(rec(1'700'000'000'005, std::string(), "empty key"));
    records.push_back(rec(1'699'999'999'000, bin({0x00, 0xff, 0x00, 0x80}),
                          bin({0x00, 0x01, 0x00, 0xfe, 0xff}),
                          {{"trace", "a"}, {"trace", "b"}, {std::string("\0k", 2), bin({0x00})},
                           {"", ""}}));
    records.push_back(rec(1'700'000'000'001, std::string("k"), std::string()));
    records.push_back(rec(5, std::string(300, 'x'), std::string(200, '\0'), {{"h", ""}}));
    return makeBatch(1000, std::move(records));
}

void compareRecords(const std::vector<Record> &actual, const std::vector<Record> &expected)
{
    QCOMPARE(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const Record &a = actual[i];
        const Record &e = expected[i];
        QCOMPARE(a.offset, e.offset);
        QCOMPARE(a.timestamp, e.timestamp);
        QCOMPARE(a.key.has_value(), e.key.has_value());
        if (e.key)
            QCOMPARE(qb(*a.key), qb(*e.key));
        QCOMPARE(qb(a.value), qb(e.value));
        QCOMPARE(a.headers.size(), e.headers.size());
        for (std::size_t h = 0; h < a.headers.size(); ++h) {
            QCOMPARE(qb(a.headers[h].key), qb(e.headers[h].key));
            QCOMPARE(qb(a.headers[h].value), qb(e.headers[h].value));
        }
        QVERIFY(a == e);
    }
}

} // namespace

class TestUnitCodec : public QObject
{
    Q_OBJECT

private slots:
    void roundTripRichBatch();
    void builderWritesWhatEncodeWrites();
    void baseTimestampMovesEveryRecord();
    void roundTripSingleAndEmptyBatches();
    void roundTripExtremeTimestamps();
    void roundTripLargeValue();
    void decodeReplacesPreviousRecords();
    void cursorViewsRecordsInPlace();
    void cursorReportsCorruption();
    void everyTruncationIsCorrupt();
    void trailingBytesRejected();
    void wrongVersionRejected();
    void nonContiguousOffsetsRejected();
    void lengthsPastEndRejected();
    void negativeKeyLengthOtherThanMinusOneRejected();
    void randomCorruptionNeverCrashes();
    void mergerJoinsContiguousBatches();
    void mergerRefusesWhatItCannotJoin();
    void takeTailKeepsRecordsFromOffset();
};

void TestUnitCodec::roundTripRichBatch()
{
    const Batch in = richBatch();
    const std::string blob = encode(in);
    QCOMPARE(static_cast<uint8_t>(blob.front()), uint8_t(1)); // format version

    Batch out;
    out.baseOffset = in.baseOffset;
    const auto r = decode(blob, out);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    compareRecords(out.records, in.records);
    if (QTest::currentTestFailed())
        return;
    // The third record's timestamp is below the first's: a negative delta survived.
    QVERIFY(out.records[2].timestamp < out.records[0].timestamp);
    QVERIFY(!out.records[0].key.has_value());
    QVERIFY(out.records[1].key.has_value() && out.records[1].key->empty());
    // Repeated header keys keep their order.
    QCOMPARE(qb(out.records[2].headers[0].value), QByteArray("a"));
    QCOMPARE(qb(out.records[2].headers[1].value), QByteArray("b"));
}

void TestUnitCodec::builderWritesWhatEncodeWrites()
{
    // Offsets of the records given are ignored: the builder numbers them from 0.
    const Batch in = richBatch();
    BatchBuilder builder;
    for (const auto &r : in.records)
        builder.add(r);
    QCOMPARE(builder.count(), uint64_t(in.records.size()));
    QCOMPARE(builder.payloadBytes(), in.bytes);
    const std::string built = builder.take();
    QCOMPARE(qb(built), qb(encodeBatchRecords(in.baseOffset, in.records)));
    QCOMPARE(batchRecordCount(built), uint64_t(in.records.size()));
    // take() leaves it empty, ready for the next batch.
    QCOMPARE(builder.count(), uint64_t(0));
    QCOMPARE(builder.payloadBytes(), std::size_t(0));
    builder.add(in.records[1]);
    Batch one;
    QVERIFY(decode(builder.take(), one).ok());
    QCOMPARE(one.records.size(), std::size_t(1));
    QCOMPARE(one.records[0].value, in.records[1].value);
    QCOMPARE(one.records[0].timestamp, in.records[1].timestamp);
    QCOMPARE(batchRecordCount("not a batch"), uint64_t(0));
}

void TestUnitCodec::baseTimestampMovesEveryRecord()
{
    const Batch in = richBatch();
    const std::string blob = encode(in);
    const int64_t base = in.records[0].timestamp;
    const std::string moved = withBaseTimestamp(blob, base + 1'000'000);
    Batch out;
    out.baseOffset = in.baseOffset;
    QVERIFY(decode(moved, out).ok());
    QCOMPARE(out.records.size(), in.records.size());
    for (std::size_t i = 0; i < in.records.size(); ++i) {
        QCOMPARE(out.records[i].timestamp, in.records[i].timestamp + 1'000'000);
        QCOMPARE(out.records[i].value, in.records[i].value);
    }
    QVERIFY(withBaseTimestamp(bin({0x07}), 5).empty()); // not a batch: nothing
}

void TestUnitCodec::roundTripSingleAndEmptyBatches()
{
    {
        const Batch in = makeBatch(0, {rec(42, std::nullopt, "v")});
        Batch out;
        QVERIFY(decode(encode(in), out).ok());
        compareRecords(out.records, in.records);
    }
    {
        // A batch with no records encodes and decodes to no records.
        Batch in;
        in.baseOffset = 7;
        Batch out;
        out.baseOffset = 7;
        out.records.push_back(rec(1, std::nullopt, "stale"));
        QVERIFY(decode(encode(in), out).ok());
        QVERIFY(out.records.empty());
    }
    {
        // Decoding numbers the records from the destination's baseOffset.
        const Batch in = makeBatch(0, {rec(1, std::nullopt, "a"), rec(2, std::nullopt, "b")});
        Batch out;
        out.baseOffset = 500;
        QVERIFY(decode(encode(in), out).ok());
        QCOMPARE(out.records.size(), std::size_t(2));
        QCOMPARE(out.records[0].offset, int64_t(500));
        QCOMPARE(out.records[1].offset, int64_t(501));
    }
}

void TestUnitCodec::roundTripExtremeTimestamps()
{
    // Deltas are zigzag varints against the first timestamp: big jumps both ways survive.
    const int64_t base = int64_t(1) << 50;
    const Batch in = makeBatch(3, {rec(base, std::nullopt, "a"), rec(0, std::nullopt, "b"),
                                         rec(-base, std::nullopt, "c"),
                                         rec(base * 2, std::nullopt, "d")});
    Batch out;
    out.baseOffset = 3;
    QVERIFY(decode(encode(in), out).ok());
    compareRecords(out.records, in.records);
}

void TestUnitCodec::roundTripLargeValue()
{
    std::string value(1 << 20, '\0');
    for (std::size_t i = 0; i < value.size(); ++i)
        value[i] = static_cast<char>((i * 131) & 0xff);
    const Batch in =
        makeBatch(9, {rec(1, std::string("big"), value, {{"h", value.substr(0, 70000)}})});
    const std::string blob = encode(in);
    QVERIFY(blob.size() > value.size() + 70000);
    Batch out;
    out.baseOffset = 9;
    QVERIFY(decode(blob, out).ok());
    compareRecords(out.records, in.records);
}

void TestUnitCodec::cursorViewsRecordsInPlace()
{
    const Batch in = richBatch();
    const std::string blob = encode(in);
    BatchCursor cursor(blob, in.baseOffset);
    QCOMPARE(cursor.count(), uint64_t(in.records.size()));
    RecordView view;
    std::size_t i = 0;
    while (cursor.next(view)) {
        QVERIFY(i < in.records.size());
        const Record &e = in.records[i];
        QCOMPARE(view.offset, e.offset);
        QCOMPARE(view.timestamp, e.timestamp);
        QCOMPARE(view.key.has_value(), e.key.has_value());
        QCOMPARE(view.headerCount, uint64_t(e.headers.size()));
        QCOMPARE(view.payloadBytes, recordPayloadBytes(e));
        // The views point into the blob itself: nothing was copied.
        QVERIFY(view.value.data() >= blob.data() && view.value.data() <= blob.data() + blob.size());
        QVERIFY(view.toRecord() == e);
        ++i;
    }
    QCOMPARE(i, in.records.size());
    QVERIFY(!cursor.error());
    QVERIFY(!cursor.next(view)); // stays at the end
}

void TestUnitCodec::cursorReportsCorruption()
{
    // A cut blob stops the cursor early with CorruptStore, after the records that were whole.
    const Batch in = makeBatch(0, {rec(1, std::nullopt, "first"), rec(2, std::nullopt, "second")});
    const std::string blob = encode(in);
    BatchCursor cut(std::string_view(blob).substr(0, blob.size() - 2), 0);
    RecordView view;
    QVERIFY(cut.next(view));
    QCOMPARE(QByteArray(view.value.data(), qsizetype(view.value.size())), QByteArray("first"));
    QVERIFY(!cut.next(view));
    QVERIFY(cut.error().has_value());
    QCOMPARE(cut.error()->code, Errc::CorruptStore);
    // So does a wrong version byte, before any record.
    std::string wrong = blob;
    wrong[0] = 2;
    BatchCursor bad(wrong, 0);
    QCOMPARE(bad.count(), uint64_t(0));
    QVERIFY(!bad.next(view));
    QCOMPARE(bad.error()->code, Errc::CorruptStore);
}

void TestUnitCodec::decodeReplacesPreviousRecords()
{
    const Batch in = makeBatch(0, {rec(1, std::nullopt, "fresh")});
    Batch out;
    out.records.push_back(rec(9, std::nullopt, "old-1"));
    out.records.push_back(rec(9, std::nullopt, "old-2"));
    QVERIFY(decode(encode(in), out).ok());
    QCOMPARE(out.records.size(), std::size_t(1));
    QCOMPARE(qb(out.records[0].value), QByteArray("fresh"));
}

void TestUnitCodec::everyTruncationIsCorrupt()
{
    const Batch in = richBatch();
    const std::string blob = encode(in);
    QVERIFY(blob.size() > 100);
    for (std::size_t len = 0; len < blob.size(); ++len) {
        Batch out;
        out.baseOffset = in.baseOffset;
        const auto r = decode(std::string_view(blob).substr(0, len), out);
        if (r.ok())
            QFAIL(qPrintable(
                QStringLiteral("prefix of %1/%2 bytes decoded").arg(len).arg(blob.size())));
        QCOMPARE(r.code(), Errc::CorruptStore);
        QVERIFY(!r.error().message.empty());
    }
    // The same for a single-record batch with a null key and empty value (short fields).
    const std::string small = encode(makeBatch(0, {rec(1, std::nullopt, "")}));
    for (std::size_t len = 0; len < small.size(); ++len) {
        Batch out;
        const auto r = decode(std::string_view(small).substr(0, len), out);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
}

void TestUnitCodec::trailingBytesRejected()
{
    const Batch in = richBatch();
    for (const std::string &tail : {bin({0x00}), std::string("x"), std::string(16, '\xff')}) {
        const std::string blob = encode(in) + tail;
        Batch out;
        out.baseOffset = in.baseOffset;
        const auto r = decode(blob, out);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
}

void TestUnitCodec::wrongVersionRejected()
{
    std::string blob = encode(richBatch());
    for (unsigned char v : {0x00, 0x02, 0xff}) {
        blob[0] = static_cast<char>(v);
        Batch out;
        const auto r = decode(blob, out);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
}

void TestUnitCodec::nonContiguousOffsetsRejected()
{
    Batch in = makeBatch(10, {rec(1, std::nullopt, "a"), rec(2, std::nullopt, "b")});
    in.records[1].offset = 12; // a gap: the delta is written as 2 where 1 is required
    Batch out;
    out.baseOffset = 10;
    const auto r = decode(encode(in), out);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::CorruptStore);
}

void TestUnitCodec::lengthsPastEndRejected()
{
    const auto decodeBlob = [](const std::string &blob) {
        Batch out;
        return decode(blob, out);
    };
    // Hand-built blobs: version, count, baseTs, then one record.
    const auto header = [](uint64_t count) {
        std::string s;
        ByteWriter w(s);
        w.u8(1);
        w.varu(count);
        w.vari(100);
        return s;
    };
    {
        // Record count larger than the blob.
        const auto r = decodeBlob(header(1'000'000));
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
    {
        // Key length past the end.
        std::string s = header(1);
        ByteWriter w(s);
        w.varu(0);
        w.vari(0);
        w.vari(1000); // key length
        w.raw("abc");
        const auto r = decodeBlob(s);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
    {
        // Header count larger than what is left.
        std::string s = header(1);
        ByteWriter w(s);
        w.varu(0);
        w.vari(0);
        w.vari(-1);
        w.varu(50); // header count
        w.bytes("k");
        w.bytes("v");
        const auto r = decodeBlob(s);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
    {
        // Value length past the end.
        std::string s = header(1);
        ByteWriter w(s);
        w.varu(0);
        w.vari(0);
        w.vari(-1);
        w.varu(0);
        w.varu(5); // value length, but only 2 bytes follow
        w.raw("ab");
        const auto r = decodeBlob(s);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::CorruptStore);
    }
    {
        // Sanity: the same shape with consistent lengths decodes.
        std::string s = header(1);
        ByteWriter w(s);
        w.varu(0);
        w.vari(-3);
        w.vari(-1);
        w.varu(0);
        w.bytes("ab");
        Batch out;
        QVERIFY(decode(s, out).ok());
        QCOMPARE(out.records.size(), std::size_t(1));
        QCOMPARE(out.records[0].timestamp, int64_t(97));
        QCOMPARE(qb(out.records[0].value), QByteArray("ab"));
    }
}

void TestUnitCodec::negativeKeyLengthOtherThanMinusOneRejected()
{
    // The writer only ever emits -1 for "no key"; any other negative length is an inconsistency
    // that the header promises to report as CorruptStore.
    std::string s;
    ByteWriter w(s);
    w.u8(1);
    w.varu(1);
    w.vari(0);
    w.varu(0);
    w.vari(0);
    w.vari(-7); // key length
    w.varu(0);
    w.bytes("v");
    Batch out;
    const auto r = decode(s, out);
    QVERIFY(!r.ok());
}

void TestUnitCodec::randomCorruptionNeverCrashes()
{
    // Mostly structure (varints, lengths, counts) and little payload, so that most random byte
    // changes land on a field the decoder has to validate.
    std::vector<Record> many;
    for (int i = 0; i < 40; ++i)
        many.push_back(rec(1000 + (i % 7) - 3,
                           i % 3 ? std::optional<std::string>(std::string(1, 'k')) : std::nullopt,
                           std::string(static_cast<std::size_t>(i % 4), 'v'),
                           {{"h", std::string(static_cast<std::size_t>(i % 2), 'x')}}));
    const Batch in = makeBatch(77, std::move(many));
    const std::string blob = encode(in);
    std::mt19937 rng(12345);
    int rejected = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string mutated = blob;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f)
            mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
        Batch out;
        out.baseOffset = in.baseOffset;
        const auto r = decode(mutated, out);
        if (!r.ok()) {
            QCOMPARE(r.code(), Errc::CorruptStore);
            ++rejected;
        } else {
            // Whatever decodes must at least be self-consistent.
            for (std::size_t i = 0; i < out.records.size(); ++i)
                QCOMPARE(out.records[i].offset, in.baseOffset + static_cast<int64_t>(i));
        }
    }
    // Most random corruptions break the structure.
    QVERIFY2(rejected > 1500, qPrintable(QString::number(rejected)));
}

namespace {
// batch as a RecordBatch (what the store writer gets), appended at appendUs.
RecordBatch asRecordBatch(const Batch &batch, int64_t appendUs, int64_t producerId = -1)
{
    RecordBatch out;
    out.baseOffset = batch.baseOffset;
    out.appendTimeUs = appendUs;
    out.producerId = producerId;
    out.count = static_cast<int32_t>(batch.records.size());
    out.bytes = batch.bytes;
    for (const auto &r : batch.records)
        out.maxTimestamp = std::max(out.maxTimestamp, r.timestamp);
    out.encoded = encode(batch);
    return out;
}
} // namespace

void TestUnitCodec::mergerJoinsContiguousBatches()
{
    // The rich batch (offsets 1000..1004, falling and rising timestamps) and two more after it.
    const Batch a = richBatch();
    const Batch b = makeBatch(1005, {rec(3, std::nullopt, "early"), rec(1'800'000'000'000,
                                                                      std::string("k"), "late")});
    const Batch c = makeBatch(1007, {rec(7, std::string(), std::string(), {{"x", "y"}})});
    BatchMerger merger;
    QVERIFY(merger.empty());
    QVERIFY(merger.append(asRecordBatch(a, 300)));
    QVERIFY(merger.append(asRecordBatch(b, 100)));
    QVERIFY(merger.append(asRecordBatch(c, 200)));
    QCOMPARE(merger.endOffset(), int64_t(1008));
    const RecordBatch merged = merger.take();
    QVERIFY(merger.empty());
    QCOMPARE(merged.baseOffset, int64_t(1000));
    QCOMPARE(merged.count, 8);
    QCOMPARE(merged.appendTimeUs, int64_t(300));
    QCOMPARE(merged.maxTimestamp, int64_t(1'800'000'000'000));
    QCOMPARE(merged.bytes, a.bytes + b.bytes + c.bytes);
    QCOMPARE(merged.producerId, int64_t(-1));
    Batch out;
    out.baseOffset = merged.baseOffset;
    QVERIFY(decode(merged.encoded, out).ok());
    std::vector<Record> expected = a.records;
    expected.insert(expected.end(), b.records.begin(), b.records.end());
    expected.insert(expected.end(), c.records.begin(), c.records.end());
    compareRecords(out.records, expected);
    // One batch alone comes out as it went in.
    QVERIFY(merger.append(asRecordBatch(c, 9)));
    QCOMPARE(qb(merger.take().encoded), qb(encode(c)));
}

void TestUnitCodec::mergerRefusesWhatItCannotJoin()
{
    const Batch a = makeBatch(0, {rec(1, std::nullopt, "a"), rec(2, std::nullopt, "b")});
    BatchMerger merger;
    QVERIFY(merger.append(asRecordBatch(a, 1)));
    const std::size_t held = merger.size();
    // A gap, a producer's batch, a corrupt blob and a count that disagrees with the blob.
    QVERIFY(!merger.append(asRecordBatch(makeBatch(3, {rec(3, std::nullopt, "gap")}), 1)));
    QVERIFY(!merger.append(asRecordBatch(makeBatch(2, {rec(3, std::nullopt, "p")}), 1, 7)));
    RecordBatch corrupt = asRecordBatch(makeBatch(2, {rec(3, std::nullopt, "c")}), 1);
    corrupt.encoded.pop_back();
    QVERIFY(!merger.append(corrupt));
    RecordBatch miscounted = asRecordBatch(makeBatch(2, {rec(3, std::nullopt, "m")}), 1);
    miscounted.count = 2;
    QVERIFY(!merger.append(miscounted));
    QCOMPARE(merger.size(), held);
    QCOMPARE(merger.endOffset(), int64_t(2));
    Batch out;
    const RecordBatch merged = merger.take();
    QCOMPARE(merged.count, 2);
    QVERIFY(decode(merged.encoded, out).ok());
    compareRecords(out.records, a.records);
    // An empty merger refuses a producer's batch too (its state is kept per batch).
    QVERIFY(!merger.append(asRecordBatch(a, 1, 7)));
    QVERIFY(merger.empty());
}

void TestUnitCodec::takeTailKeepsRecordsFromOffset()
{
    const Batch a = richBatch(); // offsets 1000..1004
    const std::string blob = encode(a);
    BatchMerger merger;
    QVERIFY(merger.takeTail(blob, a.baseOffset, 1003, 77, 55).ok());
    const RecordBatch tail = merger.take();
    QCOMPARE(tail.baseOffset, int64_t(1003));
    QCOMPARE(tail.count, 2);
    QCOMPARE(tail.maxTimestamp, int64_t(77));
    QCOMPARE(tail.appendTimeUs, int64_t(55));
    QCOMPARE(tail.bytes, recordPayloadBytes(a.records[3]) + recordPayloadBytes(a.records[4]));
    Batch out;
    out.baseOffset = 1003;
    QVERIFY(decode(tail.encoded, out).ok());
    compareRecords(out.records, {a.records[3], a.records[4]});
    // Nothing at or after the offset, and a corrupt blob: errors, nothing taken.
    auto past = merger.takeTail(blob, a.baseOffset, 1005, 0, 0);
    QCOMPARE(past.error().code, Errc::OffsetOutOfRange);
    QVERIFY(merger.empty());
    auto bad = merger.takeTail(blob.substr(0, blob.size() - 3), a.baseOffset, 1001, 0, 0);
    QCOMPARE(bad.error().code, Errc::CorruptStore);
    QVERIFY(merger.empty());
    QCOMPARE(merger.size(), std::size_t(0));
}

QTEST_GUILESS_MAIN(TestUnitCodec)
#include "tst_unit_codec.moc"
