// Byte-string helpers shared by the codec unit tests (tst_unit_codec.cpp: the record-batch blob
// format; tst_unit_byte_codec.cpp: ByteWriter/ByteReader): binary strings from byte lists, and
// std::string as QByteArray so QCOMPARE prints the bytes.
#pragma once

#include <QByteArray>

#include <initializer_list>
#include <string>

namespace eddy::test {

inline QByteArray qb(const std::string &s)
{
    return QByteArray(s.data(), static_cast<qsizetype>(s.size()));
}

inline std::string bin(std::initializer_list<unsigned char> bytes)
{
    std::string out;
    for (unsigned char b : bytes)
        out.push_back(static_cast<char>(b));
    return out;
}

} // namespace eddy::test
