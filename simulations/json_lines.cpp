// Generic position machinery for JSON text. nlohmann::json parses well and reports syntax errors
// as a byte offset, but keeps no positions for the values it returns. LineIndex walks text that
// nlohmann already accepted and maps every JSON pointer ("/services/1/rate/per_second") to the
// line where it starts, so a validator can say which line a bad value is on; it also refuses
// duplicate keys (which nlohmann silently merges) and absurd nesting. lineColumn turns
// nlohmann's byte offset of a syntax error into "line L, column C" at the start of the bad token.
#include "json_lines.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace eddy::sim {

// ---------------------------------------------------------------------------------------------
// Line index

std::string escapePointerToken(const std::string &token)
{
    std::string out;
    for (char c : token) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

namespace {

void appendUtf8(std::string &out, uint32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

} // namespace

LineIndex::LineIndex(std::string_view text) : m_text(text)
{
    // nlohmann skips a UTF-8 byte order mark; so must we.
    if (m_text.substr(0, 3) == "\xEF\xBB\xBF")
        m_pos = 3;
    skipWhitespace();
    m_lines[""] = m_line;
    value("", 0);
}

int LineIndex::line(std::string pointer) const
{
    for (;;) {
        if (auto it = m_lines.find(pointer); it != m_lines.end())
            return it->second;
        const auto slash = pointer.rfind('/');
        if (slash == std::string::npos)
            return 1;
        pointer.resize(slash);
    }
}

void LineIndex::skipWhitespace()
{
    while (m_pos < m_text.size()) {
        const char c = m_text[m_pos];
        if (c == '\n')
            ++m_line;
        else if (c != ' ' && c != '\t' && c != '\r')
            break;
        ++m_pos;
    }
}

std::string LineIndex::readString()
{
    std::string out;
    ++m_pos; // opening quote
    while (m_pos < m_text.size() && m_text[m_pos] != '"') {
        char c = m_text[m_pos++];
        if (c != '\\') {
            out += c;
            continue;
        }
        c = m_text[m_pos++];
        switch (c) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xD800 && cp < 0xDC00 && m_text.substr(m_pos, 2) == "\\u") {
                m_pos += 2;
                const uint32_t low = hex4();
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            appendUtf8(out, cp);
            break;
        }
        default: out += c; break; // '"', '\\', '/'
        }
    }
    ++m_pos; // closing quote
    return out;
}

uint32_t LineIndex::hex4()
{
    uint32_t v = 0;
    for (int i = 0; i < 4 && m_pos < m_text.size(); ++i) {
        const char c = m_text[m_pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
    }
    return v;
}

void LineIndex::value(const std::string &pointer, int depth)
{
    if (depth > kMaxDepth)
        throw JsonLinesError("line " + std::to_string(m_line) + ": JSON nested deeper than "
                             + std::to_string(kMaxDepth) + " levels");
    const char c = peek();
    if (c == '{') {
        ++m_pos;
        std::set<std::string> seen;
        skipWhitespace();
        if (peek() == '}') {
            ++m_pos;
            return;
        }
        for (;;) {
            skipWhitespace();
            const int keyLine = m_line;
            const std::string key = readString();
            const std::string child = pointer + "/" + escapePointerToken(key);
            if (!seen.insert(key).second)
                throw JsonLinesError("line " + std::to_string(keyLine) + ": duplicate key \""
                                     + key + "\"");
            m_lines[child] = keyLine;
            skipWhitespace();
            ++m_pos; // ':'
            skipWhitespace();
            value(child, depth + 1);
            skipWhitespace();
            if (peek() == ',') {
                ++m_pos;
                continue;
            }
            ++m_pos; // '}'
            return;
        }
    }
    if (c == '[') {
        ++m_pos;
        skipWhitespace();
        if (peek() == ']') {
            ++m_pos;
            return;
        }
        for (std::size_t index = 0;; ++index) {
            skipWhitespace();
            const std::string child = pointer + "/" + std::to_string(index);
            m_lines[child] = m_line;
            value(child, depth + 1);
            skipWhitespace();
            if (peek() == ',') {
                ++m_pos;
                continue;
            }
            ++m_pos; // ']'
            return;
        }
    }
    if (c == '"') {
        readString();
        return;
    }
    // Number or literal: runs to the next delimiter.
    while (m_pos < m_text.size()) {
        const char d = m_text[m_pos];
        if (d == ',' || d == ']' || d == '}' || d == ' ' || d == '\t' || d == '\r'
            || d == '\n')
            break;
        ++m_pos;
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax errors

// nlohmann's byte position (1-based, the last character read) as "line L, column C". When the
// parser rejects a whole token ("unexpected string literal"), that is the token's last character;
// people look for where the token starts, so move back to it.
std::string lineColumn(const std::string &text, std::size_t byte, const std::string &detail)
{
    std::size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
    const bool wholeToken = detail.find("unexpected") != std::string::npos
                            && detail.find(" literal") != std::string::npos;
    if (wholeToken && at < text.size() && text[at] == '"'
        && detail.find("string literal") != std::string::npos) {
        // Back to the opening quote: a quote preceded by an even number of backslashes.
        for (std::size_t j = at; j-- > 0;) {
            if (text[j] == '\n')
                break;
            std::size_t slashes = 0;
            while (j >= slashes + 1 && text[j - slashes - 1] == '\\')
                ++slashes;
            if (text[j] == '"' && slashes % 2 == 0) {
                at = j;
                break;
            }
        }
    } else if (wholeToken) {
        // Numbers and true/false/null.
        while (at > 0 && at <= text.size()
               && (std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '-'
                   || text[at - 1] == '+' || text[at - 1] == '.'))
            --at;
    }
    int line = 1;
    std::size_t lineStart = 0;
    for (std::size_t i = 0; i < at; ++i) {
        if (text[i] == '\n') {
            ++line;
            lineStart = i + 1;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(at - lineStart + 1);
}

} // namespace eddy::sim
