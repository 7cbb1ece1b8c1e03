// Checked reading of JSON fields for the scenario reader (field_reader.h): paths as people read
// them and as JSON pointers (for the line index), the "did you mean" hint (Levenshtein distance
// within a third of the word), and the typed reads that fail with the value's line.

#include "field_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace eddy::sim {

namespace {

std::size_t editDistance(const std::string &a, const std::string &b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                               diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

} // namespace

Path Path::key(const std::string &name) const
{
    const bool plain = !name.empty()
                       && std::all_of(name.begin(), name.end(), [](unsigned char c) {
                              return std::isalnum(c) || c == '_' || c == '-';
                          });
    Path p;
    if (plain)
        p.display = display.empty() ? name : display + "." + name;
    else
        p.display = display + "[" + Json(name).dump() + "]";
    p.pointer = pointer + "/" + escapePointerToken(name);
    return p;
}

Path Path::index(std::size_t i) const
{
    return {display + "[" + std::to_string(i) + "]", pointer + "/" + std::to_string(i)};
}

std::string didYouMean(const std::string &word, const std::vector<std::string> &candidates)
{
    std::string best;
    std::size_t bestDistance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto &c : candidates) {
        const std::size_t d = editDistance(word, c);
        if (d < bestDistance) {
            bestDistance = d;
            best = c;
        }
    }
    return best.empty() ? std::string() : "; did you mean \"" + best + "\"?";
}

std::string quotedList(const std::vector<std::string> &items)
{
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += i + 1 == items.size() ? " or " : ", ";
        out += "\"" + items[i] + "\"";
    }
    return out;
}

std::string describe(const Json &v)
{
    if (v.is_object())
        return "an object";
    if (v.is_array())
        return "an array";
    std::string text = v.dump();
    if (text.size() > 40)
        text = text.substr(0, 37) + "...";
    return text;
}

std::string withArticle(const std::string &word)
{
    const bool vowel = !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
    return (vowel ? "an " : "a ") + word;
}

void Reader::fail(const Path &path, const std::string &what) const
{
    throw ScenarioError("line " + std::to_string(line(path)) + ": " + path.display + " "
                        + what);
}

void Reader::requireObject(const Json &v, const Path &path,
                           const std::vector<std::string> &allowed, const std::string &what) const
{
    if (!v.is_object())
        fail(path, "must be an object (got " + describe(v) + ")");
    for (const auto &item : v.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
            fail(path.key(item.key()), "is not " + what + didYouMean(item.key(), allowed));
    }
}

const Json &Reader::requireArray(const Json &v, const Path &path) const
{
    if (!v.is_array())
        fail(path, "must be an array (got " + describe(v) + ")");
    return v;
}

std::string Reader::string(const Json &v, const Path &path, bool allowEmpty) const
{
    if (!v.is_string())
        fail(path, "must be a string (got " + describe(v) + ")");
    std::string s = v.get<std::string>();
    if (!allowEmpty && s.empty())
        fail(path, "must not be empty");
    return s;
}

std::string Reader::oneOf(const Json &v, const Path &path,
                          const std::vector<std::string> &choices) const
{
    const std::string s = v.is_string() ? v.get<std::string>() : std::string();
    if (!v.is_string() || std::find(choices.begin(), choices.end(), s) == choices.end())
        fail(path, "must be one of " + quotedList(choices) + " (got " + describe(v)
                       + (v.is_string() ? didYouMean(s, choices) : std::string()) + ")");
    return s;
}

double Reader::number(const Json &v, const Path &path, const std::string &rule,
                      const std::function<bool(double)> &ok) const
{
    if (!v.is_number() || !ok(v.get<double>()))
        fail(path, "must be a number" + (rule.empty() ? "" : " " + rule) + " (got "
                       + describe(v) + ")");
    return v.get<double>();
}

int64_t Reader::integer(const Json &v, const Path &path, int64_t min, int64_t max,
                        const std::string &rule) const
{
    bool ok = false;
    int64_t n = 0;
    if (v.is_number_integer() && !v.is_number_unsigned()) {
        n = v.get<int64_t>();
        ok = true;
    } else if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        ok = u <= static_cast<uint64_t>(INT64_MAX);
        n = static_cast<int64_t>(u);
    } else if (v.is_number_float()) {
        const double d = v.get<double>();
        ok = std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15;
        // Only once it fits: converting an out-of-range double is undefined behaviour.
        if (ok)
            n = static_cast<int64_t>(d);
    }
    if (!ok || n < min || n > max)
        fail(path, "must be an integer " + rule + " (got " + describe(v) + ")");
    return n;
}

bool Reader::boolean(const Json &v, const Path &path) const
{
    if (!v.is_boolean())
        fail(path, "must be true or false (got " + describe(v) + ")");
    return v.get<bool>();
}

} // namespace eddy::sim
