#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eddy::kafka {

// The primitive types of Kafka's wire protocol (kafka.apache.org/protocol#protocol_types):
// big-endian fixed-width integers, int16-length strings and int32-length bytes, their compact
// forms (unsigned varint length + 1) of flexible versions, and zigzag varints of the record
// format. Nullable forms encode null as length -1 (compact: 0).

// CRC-32C (Castagnoli) of data, continuing from crc (0 to start): the record batch checksum.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

// Appends Kafka primitives to a byte string.
class KafkaWriter
{
public:
    explicit KafkaWriter(std::string &out) : m_out(out) {}

    void i8(int8_t v) { m_out.push_back(static_cast<char>(v)); }
    void i16(int16_t v) { fixed(static_cast<uint16_t>(v)); }
    void i32(int32_t v) { fixed(static_cast<uint32_t>(v)); }
    void i64(int64_t v) { fixed(static_cast<uint64_t>(v)); }
    void u32(uint32_t v) { fixed(v); }
    void boolean(bool v) { i8(v ? 1 : 0); }
    void uvarint(uint64_t v);
    void varint(int64_t v)
    {
        uvarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
    }
    // STRING / NULLABLE_STRING (int16 length) and their compact forms.
    void string(std::string_view s);
    void nullableString(const std::optional<std::string_view> &s);
    void compactString(std::string_view s);
    void compactNullableString(const std::optional<std::string_view> &s);
    // BYTES / NULLABLE_BYTES (int32 length) and COMPACT_BYTES.
    void bytes(std::string_view b);
    void nullableBytes(const std::optional<std::string_view> &b);
    void compactBytes(std::string_view b);
    // An array's length: int32, or (compact) unsigned varint of length + 1.
    void arrayLength(int32_t n) { i32(n); }
    void compactArrayLength(int32_t n) { uvarint(static_cast<uint64_t>(n) + 1); }
    // An empty tagged-field section (flexible versions).
    void noTaggedFields() { uvarint(0); }
    void raw(std::string_view b) { m_out.append(b); }
    // Current length of the output, and an int32 written earlier at pos overwritten (sizes and
    // lengths known only once what follows is written).
    std::size_t position() const { return m_out.size(); }
    void patchI32(std::size_t pos, int32_t v);
    void patchU32(std::size_t pos, uint32_t v);

private:
    template<typename T>
    void fixed(T v)
    {
        for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i)
            m_out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    std::string &m_out;
};

// Reads Kafka primitives. Every read is bounds-checked: on truncation, a negative length where
// none may be, or an over-long varint the reader turns failed, every later read fails too and
// returns zero/empty, so a decoder checks ok() once at the end (or before trusting a count).
// failure() names the first thing that failed.
class KafkaReader
{
public:
    explicit KafkaReader(std::string_view in) : m_in(in) {}

    bool ok() const { return m_failure == nullptr; }
    const char *failure() const { return m_failure; }
    std::size_t position() const { return m_pos; }
    std::size_t remaining() const { return m_in.size() - m_pos; }
    bool atEnd() const { return m_pos == m_in.size(); }
    // Marks the reader failed with why (keeps the first reason).
    void fail(const char *why);

    int8_t i8() { return static_cast<int8_t>(fixed<uint8_t>("int8")); }
    int16_t i16() { return static_cast<int16_t>(fixed<uint16_t>("int16")); }
    int32_t i32() { return static_cast<int32_t>(fixed<uint32_t>("int32")); }
    int64_t i64() { return static_cast<int64_t>(fixed<uint64_t>("int64")); }
    uint32_t u32() { return fixed<uint32_t>("uint32"); }
    bool boolean() { return i8() != 0; }
    uint64_t uvarint();
    int64_t varint();
    // Zigzag varint that must fit an int32 (the record format's lengths and deltas).
    int32_t varint32();
    std::string_view string();
    std::optional<std::string_view> nullableString();
    std::string_view compactString();
    std::optional<std::string_view> compactNullableString();
    std::optional<std::string_view> nullableBytes();
    std::string_view compactBytes();
    // An array's element count, checked against what is left (each element is at least
    // minElementBytes long): -1 (null) is returned as is for nullable arrays, else fails.
    int32_t arrayLength(std::size_t minElementBytes = 1, bool nullable = false);
    int32_t compactArrayLength(std::size_t minElementBytes = 1, bool nullable = false);
    // Skips a tagged-field section (flexible versions): none of them is understood here.
    void skipTaggedFields();
    std::string_view raw(std::size_t n);

private:
    bool need(std::size_t n, const char *what);
    int32_t checkedCount(int64_t n, std::size_t minElementBytes, bool nullable);
    template<typename T>
    T fixed(const char *what)
    {
        if (!need(sizeof(T), what))
            return 0;
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v = static_cast<T>((v << 8) | static_cast<uint8_t>(m_in[m_pos + i]));
        m_pos += sizeof(T);
        return v;
    }

    std::string_view m_in;
    std::size_t m_pos = 0;
    const char *m_failure = nullptr;
};

} // namespace eddy::kafka
