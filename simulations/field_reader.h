#pragma once

// Checked reading of the fields of a JSON document, for the scenario reader: each check fails
// with "line N: <field path> <what is wrong>", naming the closest allowed word on a typo. A
// failure is thrown as ScenarioError, which only the scenario reader's public functions catch
// (they turn it into an eddy::Result), so no exception leaves simulations/.

#include "json_lines.h"
#include "scenario_json.h"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace eddy::sim {

// A problem in a scenario document, with its line in the message. Caught by parseScenario.
struct ScenarioError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A field's location both as shown to people ("services[1].rate") and as a JSON pointer.
struct Path {
    std::string display;
    std::string pointer;

    // The member `name` of this object; names other than [A-Za-z0-9_-]+ display quoted.
    Path key(const std::string &name) const;
    // The element `i` of this array.
    Path index(std::size_t i) const;
};

// "; did you mean "x"?" for the closest candidate within a few typos, else "".
std::string didYouMean(const std::string &word, const std::vector<std::string> &candidates);
// "\"a\", \"b\" or \"c\"".
std::string quotedList(const std::vector<std::string> &items);
// What a value is, for "(got ...)": scalars as written (cut at 40 characters), containers by kind.
std::string describe(const Json &v);
// "a consumer", "an exponential": for messages that name a kind.
std::string withArticle(const std::string &word);

// Reads values of one document, each checked, failing with the value's line (from `lines`, which
// must outlive the reader).
class Reader
{
public:
    explicit Reader(const LineIndex &lines) : m_lines(lines) {}

    // The line of the value at `path` (the closest enclosing value the index knows).
    int line(const Path &path) const { return m_lines.line(path.pointer); }
    // Throws ScenarioError "line N: <path> <what>".
    [[noreturn]] void fail(const Path &path, const std::string &what) const;

    // Checks that `v` is an object whose keys are all in `allowed`; `what` names the object in
    // the message about a key that is not ("a field of a uniform distribution").
    void requireObject(const Json &v, const Path &path, const std::vector<std::string> &allowed,
                       const std::string &what = "a known field") const;
    // `v` itself, checked to be an array.
    const Json &requireArray(const Json &v, const Path &path) const;
    // A string; empty only when allowEmpty.
    std::string string(const Json &v, const Path &path, bool allowEmpty = true) const;
    // A string that is one of `choices`.
    std::string oneOf(const Json &v, const Path &path,
                      const std::vector<std::string> &choices) const;
    // A number satisfying `ok`, described by `rule` (e.g. "> 0") in the message.
    double number(const Json &v, const Path &path, const std::string &rule,
                  const std::function<bool(double)> &ok) const;
    // An integer in [min, max], described by `rule`; integral floats (3.0) are accepted.
    int64_t integer(const Json &v, const Path &path, int64_t min, int64_t max,
                    const std::string &rule) const;
    // true or false.
    bool boolean(const Json &v, const Path &path) const;

private:
    const LineIndex &m_lines;
};

// The member `key` of `object`, or nullptr when it has none.
inline const Json *member(const Json &object, const char *key)
{
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

// Finite and > 0 / >= 0: the rules of most scenario numbers.
inline bool positive(double d) { return std::isfinite(d) && d > 0; }
inline bool nonNegative(double d) { return std::isfinite(d) && d >= 0; }

} // namespace eddy::sim
