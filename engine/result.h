#pragma once

#include "errc.h"

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace eddy {

// An engine failure: a code from the fixed list plus a human sentence naming the culprit.
struct Error {
    Errc code = Errc::Internal;
    std::string message;
};

inline Error makeError(Errc code, std::string message)
{
    return Error{code, std::move(message)};
}

// A value or an Error. Engine APIs return this instead of throwing; reading value() of an
// error (or error() of a value) is a programmer error and asserts.
template<typename T>
class [[nodiscard]] Result
{
public:
    Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_state(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_state.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { assert(ok()); return std::get<0>(m_state); }
    const T &value() const & { assert(ok()); return std::get<0>(m_state); }
    T &&value() && { assert(ok()); return std::get<0>(std::move(m_state)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() { return value(); }
    const T &operator*() const { return value(); }

    const Error &error() const { assert(!ok()); return std::get<1>(m_state); }
    Errc code() const { return error().code; }

private:
    std::variant<T, Error> m_state;
};

template<>
class [[nodiscard]] Result<void>
{
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_ok(false) {}

    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const { assert(!m_ok); return m_error; }
    Errc code() const { return error().code; }

private:
    Error m_error;
    bool m_ok = true;
};

} // namespace eddy
