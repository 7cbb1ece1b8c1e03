// Unit tests of ByteWriter/ByteReader (engine/byte_codec.h), what the storage codecs are built
// on: varint/zigzag round trips and extremes, encoded sizes and little-endian fixed width, and
// ByteReader's bounds checks (over-long varint, length past the end, fixed-width reads past the
// end, sticky failure). The record-batch blob format: tst_unit_codec.cpp.
#include "byte_codec.h"
#include "codec_bytes.h"

#include <QtTest>

#include <cstdint>
#include <limits>
#include <string>

using namespace eddy;
using namespace eddy::test;

class TestUnitByteCodec : public QObject
{
    Q_OBJECT

private slots:
    void readerVarintRoundTrip();
    void readerOverlongVarintFails();
    void readerLengthPastEndFails();
    void readerFixedWidthBounds();
    void readerFailureIsSticky();
};

void TestUnitByteCodec::readerVarintRoundTrip()
{
    const std::vector<uint64_t> unsignedValues = {0, 1, 127, 128, 255, 300, 16383, 16384,
                                                  (uint64_t(1) << 32) - 1, uint64_t(1) << 35,
                                                  std::numeric_limits<uint64_t>::max()};
    const std::vector<int64_t> signedValues = {0, 1, -1, 63, -64, 64, -65,
                                               std::numeric_limits<int32_t>::min(),
                                               std::numeric_limits<int64_t>::max(),
                                               std::numeric_limits<int64_t>::min()};
    std::string s;
    ByteWriter w(s);
    for (uint64_t v : unsignedValues)
        w.varu(v);
    for (int64_t v : signedValues)
        w.vari(v);
    w.u32(0xdeadbeef);
    w.u64(0x0123456789abcdefULL);
    w.bytes(bin({0x00, 0x01}));
    w.bytes("");

    ByteReader r(s);
    for (uint64_t v : unsignedValues)
        QCOMPARE(r.varu(), v);
    for (int64_t v : signedValues)
        QCOMPARE(r.vari(), v);
    QCOMPARE(r.u32(), 0xdeadbeefu);
    QCOMPARE(r.u64(), 0x0123456789abcdefULL);
    QCOMPARE(qb(std::string(r.bytes())), QByteArray("\0\1", 2));
    QCOMPARE(r.bytes().size(), std::size_t(0));
    QVERIFY(r.ok());
    QVERIFY(r.atEnd());

    // Encoded sizes: LEB128 7 bits per byte, zigzag keeps small negatives short.
    const auto sizeOfU = [](uint64_t v) { std::string o; ByteWriter(o).varu(v); return o.size(); };
    const auto sizeOfI = [](int64_t v) { std::string o; ByteWriter(o).vari(v); return o.size(); };
    QCOMPARE(sizeOfU(127), std::size_t(1));
    QCOMPARE(sizeOfU(128), std::size_t(2));
    QCOMPARE(sizeOfU(std::numeric_limits<uint64_t>::max()), std::size_t(10));
    QCOMPARE(sizeOfI(-1), std::size_t(1));
    QCOMPARE(sizeOfI(-64), std::size_t(1));
    QCOMPARE(sizeOfI(-65), std::size_t(2));
    // Little-endian fixed width.
    std::string le;
    ByteWriter(le).u32(0x01020304);
    QCOMPARE(qb(le), QByteArray("\x04\x03\x02\x01", 4));
}

void TestUnitByteCodec::readerOverlongVarintFails()
{
    {
        // Ten continuation bytes: longer than any 64-bit varint.
        const std::string s(11, '\x80');
        ByteReader r(s);
        QCOMPARE(r.varu(), uint64_t(0));
        QVERIFY(!r.ok());
    }
    {
        const std::string s = std::string(10, '\xff') + bin({0x01});
        ByteReader r(s);
        r.varu();
        QVERIFY(!r.ok());
    }
    {
        // Nine 0xff and a final 0x01 is exactly UINT64_MAX and is fine.
        const std::string s = std::string(9, '\xff') + bin({0x01});
        ByteReader r(s);
        QCOMPARE(r.varu(), std::numeric_limits<uint64_t>::max());
        QVERIFY(r.ok());
        QVERIFY(r.atEnd());
    }
    {
        // A varint cut off in the middle.
        const std::string s = bin({0x80, 0x80});
        ByteReader r(s);
        QCOMPARE(r.varu(), uint64_t(0));
        QVERIFY(!r.ok());
    }
    {
        ByteReader r(std::string_view{});
        QCOMPARE(r.varu(), uint64_t(0));
        QVERIFY(!r.ok());
    }
}

void TestUnitByteCodec::readerLengthPastEndFails()
{
    {
        std::string s;
        ByteWriter w(s);
        w.varu(10);
        w.raw("abc");
        ByteReader r(s);
        QVERIFY(r.bytes().empty());
        QVERIFY(!r.ok());
    }
    {
        // A length of UINT64_MAX must not wrap any position arithmetic.
        std::string s;
        ByteWriter w(s);
        w.varu(std::numeric_limits<uint64_t>::max());
        w.raw("abc");
        ByteReader r(s);
        QVERIFY(r.bytes().empty());
        QVERIFY(!r.ok());
    }
    {
        ByteReader r("abc");
        QCOMPARE(r.raw(3).size(), std::size_t(3));
        QVERIFY(r.atEnd());
        QVERIFY(r.raw(1).empty());
        QVERIFY(!r.ok());
    }
    {
        ByteReader r("abc");
        QVERIFY(r.raw(std::numeric_limits<std::size_t>::max()).empty());
        QVERIFY(!r.ok());
    }
    {
        // Exactly the remaining length is fine.
        std::string s;
        ByteWriter(s).bytes("hello");
        ByteReader r(s);
        QCOMPARE(qb(std::string(r.bytes())), QByteArray("hello"));
        QVERIFY(r.ok());
        QVERIFY(r.atEnd());
        QCOMPARE(r.remaining(), std::size_t(0));
    }
}

void TestUnitByteCodec::readerFixedWidthBounds()
{
    {
        ByteReader r("abc");
        QCOMPARE(r.u32(), 0u);
        QVERIFY(!r.ok());
    }
    {
        ByteReader r("1234567");
        QCOMPARE(r.u64(), uint64_t(0));
        QVERIFY(!r.ok());
    }
    {
        ByteReader r("");
        QCOMPARE(r.u8(), uint8_t(0));
        QVERIFY(!r.ok());
    }
    {
        ByteReader r("abcd");
        QCOMPARE(r.u32(), 0x64636261u);
        QVERIFY(r.ok());
        QVERIFY(r.atEnd());
    }
}

void TestUnitByteCodec::readerFailureIsSticky()
{
    std::string s;
    ByteWriter w(s);
    w.varu(99); // a length with nothing behind it
    w.u8(7);
    w.varu(5);
    ByteReader r(s);
    QVERIFY(r.bytes().empty());
    QVERIFY(!r.ok());
    // Later reads fail even though bytes are left.
    QCOMPARE(r.u8(), uint8_t(0));
    QCOMPARE(r.varu(), uint64_t(0));
    QVERIFY(r.raw(0).empty());
    QVERIFY(!r.ok());
}

QTEST_GUILESS_MAIN(TestUnitByteCodec)
#include "tst_unit_byte_codec.moc"
