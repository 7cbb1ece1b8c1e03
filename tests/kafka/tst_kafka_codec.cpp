// Kafka's primitives and the v2 record batch: known checksums, round trips, and every way a
// produce request's record set can be wrong (truncated at every byte, bad CRC, lies about
// lengths and counts, compression, old formats, transactional batches), each refused with the
// error code Kafka's broker uses rather than crashing or accepting garbage.
#include "kafka_codec.h"
#include "kafka_records.h"

#include <QtTest>

using namespace eddy;
using namespace eddy::kafka;

class TestKafkaCodec : public QObject
{
    Q_OBJECT

private slots:
    void crc32cKnownVectors();
    void primitivesRoundTrip();
    void readerRefusesLies();
    void recordBatchRoundTrip();
    void twoBatchesInOneSet();
    void everyTruncationIsRefused();
    void corruptionIsRefused();
    void unsupportedBatchesAreRefusedWithKafkasCodes();
};

namespace {

std::vector<Record> sampleRecords()
{
    std::vector<Record> records(3);
    records[0].offset = 40;
    records[0].timestamp = 1700000000000;
    records[0].key = std::string("k\0ey", 4);
    records[0].value = "first";
    records[0].headers = {{"trace", "abc"}, {"trace", ""}};
    records[1].offset = 41;
    records[1].timestamp = 1699999999000; // older than the first: a negative delta
    records[1].value = std::string(300, 'x');
    records[2].offset = 42;
    records[2].timestamp = 1700000000500;
    records[2].key = std::string();
    return records;
}

std::string batchOf(const std::vector<Record> &records)
{
    std::string out;
    appendRecordBatch(out, records, 0, records.size());
    return out;
}

// Rewrites the batch's CRC after a deliberate change, so the change itself is what is tested.
void fixCrc(std::string &batch)
{
    const uint32_t crc = crc32c(std::string_view(batch).substr(21));
    KafkaWriter(batch).patchU32(17, crc);
}

} // namespace

void TestKafkaCodec::crc32cKnownVectors()
{
    // RFC 3720's check value, and the empty string.
    QCOMPARE(crc32c("123456789"), 0xE3069283u);
    QCOMPARE(crc32c(""), 0u);
    // Continuing a checksum over a split buffer gives the checksum of the whole (the slicing
    // path over 8 bytes and the byte loop agree).
    const std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
    const std::string_view all(text);
    QCOMPARE(crc32c(all.substr(13), crc32c(all.substr(0, 13))), crc32c(text));
    QCOMPARE(crc32c("The quick brown fox jumps over the lazy dog"), 0x22620404u);
}

void TestKafkaCodec::primitivesRoundTrip()
{
    std::string out;
    KafkaWriter w(out);
    w.i16(-2);
    w.i32(-300000);
    w.i64(INT64_MIN);
    w.string("abc");
    w.nullableString(std::nullopt);
    w.compactString("xy");
    w.compactNullableString(std::nullopt);
    w.nullableBytes(std::string_view("\x00\x01", 2));
    w.varint(-1);
    w.varint(INT64_MAX);
    w.uvarint(300);
    w.compactArrayLength(2);
    w.noTaggedFields();
    KafkaReader r(out);
    QCOMPARE(r.i16(), int16_t(-2));
    QCOMPARE(r.i32(), -300000);
    QCOMPARE(r.i64(), INT64_MIN);
    QCOMPARE(std::string(r.string()), std::string("abc"));
    QVERIFY(!r.nullableString());
    QCOMPARE(std::string(r.compactString()), std::string("xy"));
    QVERIFY(!r.compactNullableString());
    QCOMPARE(std::string(*r.nullableBytes()), std::string("\x00\x01", 2));
    QCOMPARE(r.varint(), int64_t(-1));
    QCOMPARE(r.varint(), INT64_MAX);
    QCOMPARE(r.uvarint(), uint64_t(300));
    // Two elements of at least one byte do not fit the one byte (the tagged fields) left.
    KafkaReader copy = r;
    QCOMPARE(copy.compactArrayLength(1), 0);
    QVERIFY(!copy.ok());
    r.uvarint();
    r.skipTaggedFields();
    QVERIFY(r.ok());
    QVERIFY(r.atEnd());
    // Reading past the end fails and stays failed.
    r.i8();
    QVERIFY(!r.ok());
    QVERIFY(r.failure() != nullptr);
}

void TestKafkaCodec::readerRefusesLies()
{
    {
        std::string out;
        KafkaWriter(out).i16(50); // a 50-byte string with 2 bytes behind it
        out += "ab";
        KafkaReader r(out);
        r.string();
        QVERIFY(!r.ok());
    }
    {
        std::string out;
        KafkaWriter(out).i32(1 << 30); // a billion-element array in a 4-byte frame
        KafkaReader r(out);
        QCOMPARE(r.arrayLength(4), 0);
        QVERIFY(!r.ok());
    }
    {
        std::string out;
        KafkaWriter(out).i32(-1);
        KafkaReader nullable(out);
        QCOMPARE(nullable.arrayLength(4, true), -1);
        QVERIFY(nullable.ok());
        KafkaReader required(out);
        required.arrayLength(4, false);
        QVERIFY(!required.ok());
    }
    {
        const std::string eleven(11, '\xff'); // a varint that never ends
        KafkaReader r(eleven);
        r.uvarint();
        QVERIFY(!r.ok());
    }
    {
        std::string out;
        KafkaWriter(out).uvarint(0); // null where a compact string is required
        KafkaReader r(out);
        r.compactString();
        QVERIFY(!r.ok());
    }
    {
        std::string out;
        KafkaWriter w(out);
        w.uvarint(1); // one tagged field
        w.uvarint(0);
        w.uvarint(100); // of 100 bytes, with none behind it
        KafkaReader r(out);
        r.skipTaggedFields();
        QVERIFY(!r.ok());
    }
}

void TestKafkaCodec::recordBatchRoundTrip()
{
    const auto records = sampleRecords();
    const std::string batch = batchOf(records);
    // The header says what a Kafka client checks: base offset, magic 2, last offset delta.
    KafkaReader head(batch);
    QCOMPARE(head.i64(), int64_t(40));
    QCOMPARE(static_cast<std::size_t>(head.i32()), batch.size() - 12);
    head.i32();
    QCOMPARE(head.i8(), int8_t(2));
    std::vector<Record> decoded;
    const auto e = decodeRecordSet(batch, decoded);
    QCOMPARE(int(e.code), int(KafkaError::None));
    QCOMPARE(decoded.size(), records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        QCOMPARE(decoded[i].timestamp, records[i].timestamp);
        QCOMPARE(decoded[i].key, records[i].key);
        QCOMPARE(decoded[i].value, records[i].value);
        QCOMPARE(decoded[i].headers, records[i].headers);
        QCOMPARE(decoded[i].offset, int64_t(-1)); // the broker assigns offsets
    }
    // A slice of the records starts at its own first offset.
    std::string tail;
    appendRecordBatch(tail, records, 1, 2);
    QCOMPARE(KafkaReader(tail).i64(), int64_t(41));
    std::string none;
    appendRecordBatch(none, records, 0, 0);
    QVERIFY(none.empty());
}

void TestKafkaCodec::twoBatchesInOneSet()
{
    const auto records = sampleRecords();
    const std::string set = batchOf(records) + batchOf({records[0]});
    std::vector<Record> decoded;
    QCOMPARE(int(decodeRecordSet(set, decoded).code), int(KafkaError::None));
    QCOMPARE(decoded.size(), std::size_t(4));
    QCOMPARE(decoded[3].value, std::string("first"));
}

void TestKafkaCodec::everyTruncationIsRefused()
{
    const std::string batch = batchOf(sampleRecords());
    for (std::size_t n = 0; n < batch.size(); ++n) {
        std::vector<Record> decoded;
        const auto e = decodeRecordSet(batch.substr(0, n), decoded);
        QVERIFY2(e.code == KafkaError::CorruptMessage, qPrintable(QString::number(n)));
        QVERIFY(!e.message.empty());
    }
}

void TestKafkaCodec::corruptionIsRefused()
{
    const std::string good = batchOf(sampleRecords());
    {
        std::string bad = good;
        bad[bad.size() - 3] ^= 0x01; // a value byte: the CRC no longer matches
        std::vector<Record> decoded;
        const auto e = decodeRecordSet(bad, decoded);
        QCOMPARE(int(e.code), int(KafkaError::CorruptMessage));
        QVERIFY(QString::fromStdString(e.message).contains("CRC"));
    }
    {
        std::string bad = good;
        KafkaWriter(bad).patchI32(57, 1000000); // record count far past the bytes present
        fixCrc(bad);
        std::vector<Record> decoded;
        QCOMPARE(int(decodeRecordSet(bad, decoded).code), int(KafkaError::CorruptMessage));
    }
    {
        std::string bad = good;
        KafkaWriter(bad).patchI32(23, 7); // lastOffsetDelta that does not match 3 records
        fixCrc(bad);
        std::vector<Record> decoded;
        QCOMPARE(int(decodeRecordSet(bad, decoded).code), int(KafkaError::InvalidRecord));
    }
    {
        std::string bad = good;
        KafkaWriter(bad).patchI32(8, static_cast<int32_t>(good.size())); // longer than sent
        std::vector<Record> decoded;
        QCOMPARE(int(decodeRecordSet(bad, decoded).code), int(KafkaError::CorruptMessage));
    }
    {
        // A last record whose offset delta skips one: Kafka refuses it as an invalid record.
        auto records = sampleRecords();
        records[2].offset = 43;
        std::vector<Record> decoded;
        QCOMPARE(int(decodeRecordSet(batchOf(records), decoded).code),
                 int(KafkaError::InvalidRecord));
    }
    std::vector<Record> decoded;
    QCOMPARE(int(decodeRecordSet("", decoded).code), int(KafkaError::CorruptMessage));
}

void TestKafkaCodec::unsupportedBatchesAreRefusedWithKafkasCodes()
{
    const std::string good = batchOf(sampleRecords());
    const struct {
        int16_t attributes;
        KafkaError expected;
    } cases[] = {
        {1, KafkaError::UnsupportedCompressionType}, // gzip
        {4, KafkaError::UnsupportedCompressionType}, // zstd
        {0x10, KafkaError::InvalidRecord},           // transactional
        {0x20, KafkaError::InvalidRecord},           // control
    };
    for (const auto &c : cases) {
        std::string bad = good;
        bad[21] = static_cast<char>(c.attributes >> 8);
        bad[22] = static_cast<char>(c.attributes & 0xff);
        fixCrc(bad);
        std::vector<Record> decoded;
        QCOMPARE(int(decodeRecordSet(bad, decoded).code), int(c.expected));
    }
    std::string old = good;
    old[16] = 1; // magic 1: the message set format before 0.11
    std::vector<Record> decoded;
    const auto e = decodeRecordSet(old, decoded);
    QCOMPARE(int(e.code), int(KafkaError::UnsupportedForMessageFormat));
    QVERIFY(QString::fromStdString(e.message).contains("v1"));
}

QTEST_GUILESS_MAIN(TestKafkaCodec)
#include "tst_kafka_codec.moc"
