#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace eddy {

// Appends little-endian integers, unsigned LEB128 varints and zigzag varints to a byte string.
// The storage format and the binary wire protocol are both written with it.
class ByteWriter
{
public:
    explicit ByteWriter(std::string &out) : m_out(out) {}

    void u8(uint8_t v) { m_out.push_back(static_cast<char>(v)); }
    void u32(uint32_t v) { fixed(v); }
    void u64(uint64_t v) { fixed(v); }
    void varu(uint64_t v)
    {
        while (v >= 0x80) {
            m_out.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        m_out.push_back(static_cast<char>(v));
    }
    void vari(int64_t v) { varu((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
    void bytes(std::string_view b)
    {
        varu(b.size());
        m_out.append(b);
    }
    void raw(std::string_view b) { m_out.append(b); }

private:
    template<typename T>
    void fixed(T v)
    {
        for (std::size_t i = 0; i < sizeof(T); ++i)
            m_out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    std::string &m_out;
};

// Reads what ByteWriter wrote. Every read is bounds-checked: on truncation or an over-long
// varint the reader turns failed and all later reads fail too, so decoders check once at the end
// or at each length they trust.
class ByteReader
{
public:
    explicit ByteReader(std::string_view in) : m_in(in) {}

    bool ok() const { return m_ok; }
    bool atEnd() const { return m_pos == m_in.size(); }
    std::size_t remaining() const { return m_in.size() - m_pos; }

    uint8_t u8()
    {
        if (!need(1))
            return 0;
        return static_cast<uint8_t>(m_in[m_pos++]);
    }
    uint32_t u32() { return fixed<uint32_t>(); }
    uint64_t u64() { return fixed<uint64_t>(); }
    uint64_t varu()
    {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (!need(1))
                return 0;
            const auto b = static_cast<uint8_t>(m_in[m_pos++]);
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80))
                return v;
        }
        m_ok = false;
        return 0;
    }
    int64_t vari()
    {
        const uint64_t u = varu();
        return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    }
    // A length-prefixed byte string; fails when the length exceeds what is left.
    std::string_view bytes()
    {
        const uint64_t n = varu();
        if (!m_ok || n > remaining()) {
            m_ok = false;
            return {};
        }
        auto s = m_in.substr(m_pos, n);
        m_pos += n;
        return s;
    }
    std::string_view raw(std::size_t n)
    {
        if (!need(n))
            return {};
        auto s = m_in.substr(m_pos, n);
        m_pos += n;
        return s;
    }

private:
    bool need(std::size_t n)
    {
        if (!m_ok || n > remaining()) {
            m_ok = false;
            return false;
        }
        return true;
    }
    template<typename T>
    T fixed()
    {
        if (!need(sizeof(T)))
            return 0;
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v |= static_cast<T>(static_cast<uint8_t>(m_in[m_pos + i])) << (8 * i);
        m_pos += sizeof(T);
        return v;
    }
    std::string_view m_in;
    std::size_t m_pos = 0;
    bool m_ok = true;
};

} // namespace eddy
