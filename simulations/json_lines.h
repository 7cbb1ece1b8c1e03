#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace eddy::sim {

// Positions in JSON text, which nlohmann::json does not keep for values: a scanner mapping JSON
// pointers to lines, and the line and column of a syntax error nlohmann reports as a byte offset.

// Thrown by LineIndex for text nlohmann accepts but we refuse (a duplicate key, nesting deeper
// than 200 levels); the message reads "line N: <what is wrong>".
struct JsonLinesError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// `token` escaped for use in a JSON pointer: '~' as "~0", '/' as "~1".
std::string escapePointerToken(const std::string &token);

// Maps JSON pointers to the line where the member's key (or the array element's value) starts.
// Runs only on text nlohmann already accepted, so it can assume valid JSON and stay small; it
// also reports duplicate keys, which nlohmann silently merges.
class LineIndex
{
public:
    explicit LineIndex(std::string_view text);

    // The line of `pointer`, or of its nearest recorded ancestor (a missing field is reported at
    // the object that lacks it).
    int line(std::string pointer) const;

private:
    static constexpr int kMaxDepth = 200;

    char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }

    void skipWhitespace();

    // Reads a string token starting at '"' and returns it unescaped (keys must match nlohmann's).
    std::string readString();
    uint32_t hex4();
    void value(const std::string &pointer, int depth);

    std::string_view m_text;
    std::size_t m_pos = 0;
    int m_line = 1;
    std::unordered_map<std::string, int> m_lines;
};

// nlohmann's byte position (1-based, the last character read) as "line L, column C". When the
// parser rejects a whole token ("unexpected string literal"), that is the token's last character;
// people look for where the token starts, so move back to it.
std::string lineColumn(const std::string &text, std::size_t byte, const std::string &detail);

} // namespace eddy::sim
