// Kafka's primitive types, written and read. The reader never trusts a length: every string,
// byte string and array count is checked against the bytes left before anything is allocated
// for it, so a hostile frame costs at most its own size.
#include "kafka_codec.h"

#include <algorithm>
#include <array>
#include <limits>

namespace eddy::kafka {

namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial 0x82F63B78.
struct Crc32cTables {
    std::array<std::array<uint32_t, 256>, 8> t{};
    Crc32cTables()
    {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (std::size_t s = 1; s < 8; ++s)
                t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};

const Crc32cTables &tables()
{
    static const Crc32cTables instance;
    return instance;
}

} // namespace

uint32_t crc32c(std::string_view data, uint32_t crc)
{
    const auto &t = tables().t;
    auto p = reinterpret_cast<const unsigned char *>(data.data());
    std::size_t n = data.size();
    crc = ~crc;
    while (n >= 8) {
        const uint32_t lo = crc ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16
                                   | uint32_t(p[3]) << 24);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24]
              ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void KafkaWriter::uvarint(uint64_t v)
{
    while (v >= 0x80) {
        m_out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    m_out.push_back(static_cast<char>(v));
}

void KafkaWriter::string(std::string_view s)
{
    i16(static_cast<int16_t>(s.size()));
    m_out.append(s);
}

void KafkaWriter::nullableString(const std::optional<std::string_view> &s)
{
    if (!s)
        return i16(-1);
    string(*s);
}

void KafkaWriter::compactString(std::string_view s)
{
    uvarint(s.size() + 1);
    m_out.append(s);
}

void KafkaWriter::compactNullableString(const std::optional<std::string_view> &s)
{
    if (!s)
        return uvarint(0);
    compactString(*s);
}

void KafkaWriter::bytes(std::string_view b)
{
    i32(static_cast<int32_t>(b.size()));
    m_out.append(b);
}

void KafkaWriter::nullableBytes(const std::optional<std::string_view> &b)
{
    if (!b)
        return i32(-1);
    bytes(*b);
}

void KafkaWriter::compactBytes(std::string_view b)
{
    uvarint(b.size() + 1);
    m_out.append(b);
}

void KafkaWriter::patchU32(std::size_t pos, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        m_out[pos + i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}

void KafkaWriter::patchI32(std::size_t pos, int32_t v)
{
    patchU32(pos, static_cast<uint32_t>(v));
}

void KafkaReader::fail(const char *why)
{
    if (!m_failure)
        m_failure = why;
}

bool KafkaReader::need(std::size_t n, const char *what)
{
    if (m_failure)
        return false;
    if (n > remaining()) {
        fail(what);
        return false;
    }
    return true;
}

uint64_t KafkaReader::uvarint()
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!need(1, "truncated varint"))
            return 0;
        const auto b = static_cast<uint8_t>(m_in[m_pos++]);
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail("varint longer than 10 bytes");
    return 0;
}

int64_t KafkaReader::varint()
{
    const uint64_t u = uvarint();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

int32_t KafkaReader::varint32()
{
    const int64_t v = varint();
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        fail("varint out of int32 range");
        return 0;
    }
    return static_cast<int32_t>(v);
}

std::string_view KafkaReader::raw(std::size_t n)
{
    if (!need(n, "truncated bytes"))
        return {};
    auto s = m_in.substr(m_pos, n);
    m_pos += n;
    return s;
}

std::string_view KafkaReader::string()
{
    const int16_t n = i16();
    if (n < 0) {
        fail("null where a string is required");
        return {};
    }
    return raw(static_cast<std::size_t>(n));
}

std::optional<std::string_view> KafkaReader::nullableString()
{
    const int16_t n = i16();
    if (!ok())
        return {};
    if (n == -1)
        return std::nullopt;
    if (n < 0) {
        fail("negative string length");
        return {};
    }
    return raw(static_cast<std::size_t>(n));
}

std::string_view KafkaReader::compactString()
{
    const uint64_t n = uvarint();
    if (ok() && n == 0) {
        fail("null where a compact string is required");
        return {};
    }
    if (n - 1 > remaining()) {
        fail("compact string longer than the frame");
        return {};
    }
    return raw(static_cast<std::size_t>(n - 1));
}

std::optional<std::string_view> KafkaReader::compactNullableString()
{
    const uint64_t n = uvarint();
    if (!ok())
        return {};
    if (n == 0)
        return std::nullopt;
    if (n - 1 > remaining()) {
        fail("compact string longer than the frame");
        return {};
    }
    return raw(static_cast<std::size_t>(n - 1));
}

std::optional<std::string_view> KafkaReader::nullableBytes()
{
    const int32_t n = i32();
    if (!ok())
        return {};
    if (n == -1)
        return std::nullopt;
    if (n < 0) {
        fail("negative bytes length");
        return {};
    }
    return raw(static_cast<std::size_t>(n));
}

std::string_view KafkaReader::compactBytes()
{
    const uint64_t n = uvarint();
    if (ok() && (n == 0 || n - 1 > remaining())) {
        fail("compact bytes null or longer than the frame");
        return {};
    }
    return raw(static_cast<std::size_t>(n - 1));
}

int32_t KafkaReader::checkedCount(int64_t n, std::size_t minElementBytes, bool nullable)
{
    if (!ok())
        return 0;
    if (n == -1 && nullable)
        return -1;
    if (n < 0) {
        fail("negative array length");
        return 0;
    }
    // Each element takes at least minElementBytes, so a count the frame cannot hold is a lie
    // that would otherwise make the decoder reserve memory for it.
    if (static_cast<uint64_t>(n) * std::max<std::size_t>(1, minElementBytes) > remaining()) {
        fail("array longer than the frame");
        return 0;
    }
    return static_cast<int32_t>(n);
}

int32_t KafkaReader::arrayLength(std::size_t minElementBytes, bool nullable)
{
    return checkedCount(i32(), minElementBytes, nullable);
}

int32_t KafkaReader::compactArrayLength(std::size_t minElementBytes, bool nullable)
{
    const uint64_t n = uvarint();
    if (!ok())
        return 0;
    if (n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        fail("array longer than the frame");
        return 0;
    }
    return checkedCount(static_cast<int64_t>(n) - 1, minElementBytes, nullable);
}

void KafkaReader::skipTaggedFields()
{
    const uint64_t count = uvarint();
    for (uint64_t i = 0; ok() && i < count; ++i) {
        uvarint(); // tag
        const uint64_t size = uvarint();
        if (ok() && size > remaining()) {
            fail("tagged field longer than the frame");
            return;
        }
        raw(static_cast<std::size_t>(size));
    }
}

} // namespace eddy::kafka
