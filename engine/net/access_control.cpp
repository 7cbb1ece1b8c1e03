// Access control of the request endpoint: the auth file, token matching, the op -> permission
// map and the per-host lockout of failed attempts. Tokens are kept only as SHA-256 hashes (the
// file may hold either) and a presented token is hashed before any comparison, so comparing
// fixed-size digests in constant time leaks nothing about the token. The permission map is
// default-deny: an op this file does not name needs admin rights.
#include "access_control.h"

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace eddy::net {

TokenHash sha256(std::string_view bytes)
{
    TokenHash out{};
    const auto *in = reinterpret_cast<const unsigned char *>(bytes.data());
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256(in, bytes.size(), out.data(), 0);
#else
    mbedtls_sha256_ret(in, bytes.size(), out.data(), 0);
#endif
    return out;
}

std::string sha256Hex(std::string_view bytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : sha256(bytes)) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

bool constantTimeEqual(const TokenHash &a, const TokenHash &b)
{
    // Accumulate every difference instead of returning at the first one; volatile keeps the
    // compiler from turning the loop into an early-exit memcmp.
    volatile uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

bool globMatch(std::string_view pattern, std::string_view text)
{
    // Iterative matcher with one backtrack point (the last '*'): linear in practice and free of
    // the exponential blow-up of a naive recursive one.
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::string addressHost(std::string_view address)
{
    if (address.rfind("tcp://", 0) != 0)
        return std::string(address);
    const auto colon = address.rfind(':');
    const auto close = address.rfind(']');
    const bool inBrackets = close != std::string_view::npos && colon < close;
    if (colon == std::string_view::npos || colon < 6 || inBrackets)
        return std::string(address);
    return std::string(address.substr(0, colon));
}

namespace {

Result<TokenHash> parseHex(const std::string &hex, const std::string &who)
{
    TokenHash out{};
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    if (hex.size() != 64)
        return makeError(Errc::InvalidConfig, who + ": token_sha256 must be 64 hex digits");
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return makeError(Errc::InvalidConfig, who + ": token_sha256 must be 64 hex digits");
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}

Result<std::vector<std::string>> patterns(const Json &j, const char *name, const std::string &who)
{
    std::vector<std::string> out;
    auto it = j.find(name);
    if (it == j.end())
        return out;
    if (!it->is_array())
        return makeError(Errc::InvalidConfig,
                         who + ": '" + name + "' must be an array of patterns");
    for (const auto &e : *it) {
        if (!e.is_string() || e.get<std::string>().empty())
            return makeError(Errc::InvalidConfig, who + ": '" + name
                                                      + "' must be an array of non-empty patterns");
        out.push_back(e.get<std::string>());
    }
    return out;
}

Result<int64_t> positive(const Json &j, const char *name, int64_t fallback)
{
    auto it = j.find(name);
    if (it == j.end())
        return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < 1)
        return makeError(Errc::InvalidConfig, std::string("rate_limit.") + name
                                                  + " must be a positive integer");
    return it->get<int64_t>();
}

} // namespace

Result<AuthConfig> parseAuthConfig(std::string_view json)
{
    const Json root = Json::parse(json.begin(), json.end(), nullptr, false);
    if (root.is_discarded() || !root.is_object())
        return makeError(Errc::InvalidConfig, "auth file: not a JSON object");
    for (const auto &[key, value] : root.items())
        if (key != "principals" && key != "rate_limit")
            return makeError(Errc::InvalidConfig, "auth file: unknown field '" + key + "'");
    auto list = root.find("principals");
    if (list == root.end() || !list->is_array() || list->empty())
        return makeError(Errc::InvalidConfig, "auth file: 'principals' must be a non-empty array");
    AuthConfig config;
    std::set<std::string> names;
    for (const auto &pj : *list) {
        const std::string who = "principal #" + std::to_string(config.principals.size() + 1);
        if (!pj.is_object())
            return makeError(Errc::InvalidConfig, who + ": must be an object");
        for (const auto &[key, value] : pj.items())
            if (key != "name" && key != "token" && key != "token_sha256" && key != "produce"
                && key != "consume" && key != "groups" && key != "admin")
                return makeError(Errc::InvalidConfig, who + ": unknown field '" + key + "'");
        Principal p;
        auto name = pj.find("name");
        if (name == pj.end() || !name->is_string() || name->get<std::string>().empty())
            return makeError(Errc::InvalidConfig, who + ": 'name' must be a non-empty string");
        p.name = name->get<std::string>();
        const std::string named = "principal '" + p.name + "'";
        if (!names.insert(p.name).second)
            return makeError(Errc::InvalidConfig, named + " is listed twice");
        const auto token = pj.find("token");
        const auto hash = pj.find("token_sha256");
        if ((token == pj.end()) == (hash == pj.end()))
            return makeError(Errc::InvalidConfig, named + ": give exactly one of 'token' and "
                                                          "'token_sha256'");
        if (token != pj.end()) {
            if (!token->is_string() || token->get<std::string>().empty())
                return makeError(Errc::InvalidConfig,
                                 named + ": 'token' must be a non-empty string");
            p.tokenHash = sha256(token->get<std::string>());
        } else {
            if (!hash->is_string())
                return makeError(Errc::InvalidConfig,
                                 named + ": token_sha256 must be 64 hex digits");
            auto h = parseHex(hash->get<std::string>(), named);
            if (!h)
                return h.error();
            p.tokenHash = *h;
        }
        for (const auto &other : config.principals)
            if (constantTimeEqual(other.tokenHash, p.tokenHash))
                return makeError(Errc::InvalidConfig, named + " has the same token as principal '"
                                                          + other.name + "'");
        auto produce = patterns(pj, "produce", named);
        auto consume = patterns(pj, "consume", named);
        auto groups = patterns(pj, "groups", named);
        for (const auto *r : {&produce, &consume, &groups})
            if (!*r)
                return r->error();
        p.rules.produce = *produce;
        p.rules.consume = *consume;
        p.rules.groups = *groups;
        if (auto admin = pj.find("admin"); admin != pj.end()) {
            if (!admin->is_boolean())
                return makeError(Errc::InvalidConfig, named + ": 'admin' must be true or false");
            p.rules.admin = admin->get<bool>();
        }
        config.principals.push_back(std::move(p));
    }
    if (auto rl = root.find("rate_limit"); rl != root.end()) {
        if (!rl->is_object())
            return makeError(Errc::InvalidConfig, "auth file: 'rate_limit' must be an object");
        for (const auto &[key, value] : rl->items())
            if (key != "max_failures" && key != "window_ms" && key != "lockout_ms"
                && key != "max_lockout_ms")
                return makeError(Errc::InvalidConfig, "rate_limit: unknown field '" + key + "'");
        auto &r = config.rateLimit;
        auto maxFailures = positive(*rl, "max_failures", r.maxFailures);
        auto window = positive(*rl, "window_ms", r.windowMs);
        auto lockout = positive(*rl, "lockout_ms", r.lockoutMs);
        auto maxLockout = positive(*rl, "max_lockout_ms", r.maxLockoutMs);
        for (const auto *v : {&maxFailures, &window, &lockout, &maxLockout})
            if (!*v)
                return v->error();
        r.maxFailures = static_cast<int>(std::min<int64_t>(*maxFailures, 1'000'000));
        r.windowMs = *window;
        r.lockoutMs = *lockout;
        r.maxLockoutMs = std::max(*maxLockout, *lockout);
    }
    return config;
}

Result<AuthConfig> loadAuthConfig(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return makeError(Errc::InvalidConfig, "cannot read the auth file " + path);
    const std::string text(std::istreambuf_iterator<char>(in), {});
    auto config = parseAuthConfig(text);
    if (!config)
        return makeError(Errc::InvalidConfig, path + ": " + config.error().message);
    return config;
}

const Principal *findPrincipal(const AuthConfig &config, std::string_view token)
{
    const TokenHash presented = sha256(token);
    const Principal *found = nullptr;
    for (const auto &p : config.principals) {
        // No early exit: every principal is compared whatever matched before.
        const bool match = constantTimeEqual(p.tokenHash, presented);
        found = match ? &p : found;
    }
    return found;
}

namespace {

bool anyMatch(const std::vector<std::string> &patterns, std::string_view name)
{
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string &pattern) { return globMatch(pattern, name); });
}

Error forbidden(const Principal &p, std::string_view op, const std::string &what)
{
    return makeError(Errc::Forbidden, "principal '" + p.name + "' may not " + std::string(op)
                                          + (what.empty() ? std::string() : " " + what));
}

// A name field of a request; absent or not a string reads as "", which no pattern but "*"
// matches (the op itself then refuses the request as invalid).
std::string nameField(const Json &j, const char *field)
{
    auto it = j.find(field);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<void> needConsume(const Principal &p, std::string_view op, const std::string &topic)
{
    if (p.rules.admin || anyMatch(p.rules.consume, topic))
        return {};
    return forbidden(p, op, "topic '" + topic + "'");
}

Result<void> needGroup(const Principal &p, std::string_view op, const std::string &group)
{
    if (mayUseGroup(p, group))
        return {};
    return forbidden(p, op, "group '" + group + "'");
}

} // namespace

bool mayDescribeTopic(const Principal &p, std::string_view topic)
{
    return p.rules.admin || anyMatch(p.rules.produce, topic) || anyMatch(p.rules.consume, topic);
}

bool mayUseGroup(const Principal &p, std::string_view group)
{
    return p.rules.admin || anyMatch(p.rules.groups, group);
}

Result<void> authorizeProduce(const Principal &p, const std::string &topic)
{
    if (p.rules.admin || anyMatch(p.rules.produce, topic))
        return {};
    return forbidden(p, "produce", "to topic '" + topic + "'");
}

Result<void> authorizeFetch(const Principal &p, const std::string &topic, const std::string &group)
{
    if (auto r = needConsume(p, "fetch", topic); !r)
        return r;
    // The group of a fetch only attributes the read in metrics, but that is still its data.
    return group.empty() ? Result<void>() : needGroup(p, "fetch", group);
}

Result<void> authorizePoll(const Principal &p, const std::string &group)
{
    return needGroup(p, "poll", group);
}

Result<void> authorizeOp(const Principal &p, std::string_view op, const Json &request)
{
    if (p.rules.admin)
        return {};
    if (op == "list_topics" || op == "list_groups")
        return {}; // the handler filters their replies
    if (op == "produce")
        return authorizeProduce(p, nameField(request, "topic"));
    if (op == "init_producer") {
        if (!p.rules.produce.empty())
            return {};
        return forbidden(p, op, "(it may produce to no topic)");
    }
    if (op == "fetch")
        return authorizeFetch(p, nameField(request, "topic"), nameField(request, "group"));
    if (op == "describe_topic" || op == "list_offsets") {
        const std::string topic = nameField(request, "topic");
        if (mayDescribeTopic(p, topic))
            return {};
        return forbidden(p, op, "topic '" + topic + "'");
    }
    if (op == "heartbeat" || op == "leave_group" || op == "poll" || op == "committed"
        || op == "describe_group")
        return needGroup(p, op, nameField(request, "group"));
    if (op == "join_group" || op == "seek" || op == "commit") {
        if (auto r = needGroup(p, op, nameField(request, "group")); !r)
            return r;
        std::vector<std::string> topics;
        if (op == "seek") {
            topics.push_back(nameField(request, "topic"));
        } else {
            // join_group's "topics" are names; commit's "offsets" are objects naming one each.
            const auto list = request.find(op == "join_group" ? "topics" : "offsets");
            if (list != request.end() && list->is_array())
                for (const auto &e : *list)
                    topics.push_back(e.is_string()   ? e.get<std::string>()
                                     : e.is_object() ? nameField(e, "topic")
                                                     : std::string());
        }
        for (const auto &topic : topics)
            if (auto r = needConsume(p, op, topic); !r)
                return r;
        return {};
    }
    // Topic and group administration, fault injection and the broker-wide views (metrics,
    // history, events, clients) are admin-only, and so is any op not named above.
    return forbidden(p, op, "(an administrative op)");
}

AuthLimiter::AuthLimiter(AuthRateLimit limit) : m_limit(limit) {}

bool AuthLimiter::mayTry(const std::string &host, int64_t nowMs)
{
    std::lock_guard lock(m_mutex);
    auto it = m_hosts.find(host);
    return it == m_hosts.end() || it->second.lockedUntilMs <= nowMs;
}

bool AuthLimiter::recordFailure(const std::string &host, int64_t nowMs)
{
    std::lock_guard lock(m_mutex);
    if (m_hosts.size() > 4096)
        prune(nowMs);
    auto &e = m_hosts[host];
    auto &f = e.failures;
    f.erase(f.begin(), std::find_if(f.begin(), f.end(),
                                    [&](int64_t t) { return t > nowMs - m_limit.windowMs; }));
    f.push_back(nowMs);
    if (static_cast<int>(f.size()) < m_limit.maxFailures)
        return false;
    // A lockout soon after the previous one ended doubles it: a patient attacker gets slower.
    const bool repeat = e.lastLockoutMs > 0 && nowMs - e.lockedUntilMs < m_limit.windowMs;
    const int64_t length = repeat ? std::min(e.lastLockoutMs * 2, m_limit.maxLockoutMs)
                                  : m_limit.lockoutMs;
    e.lockedUntilMs = nowMs + length;
    e.lastLockoutMs = length;
    f.clear();
    return true;
}

void AuthLimiter::recordSuccess(const std::string &host)
{
    std::lock_guard lock(m_mutex);
    auto it = m_hosts.find(host);
    if (it != m_hosts.end())
        it->second.failures.clear();
}

void AuthLimiter::prune(int64_t nowMs)
{
    // Bounded memory under a spray of addresses: forget hosts with nothing left to remember.
    for (auto it = m_hosts.begin(); it != m_hosts.end();) {
        const Entry &e = it->second;
        const bool idle = e.lockedUntilMs + m_limit.windowMs <= nowMs
                          && (e.failures.empty() || e.failures.back() <= nowMs - m_limit.windowMs);
        it = idle ? m_hosts.erase(it) : std::next(it);
    }
}

} // namespace eddy::net
