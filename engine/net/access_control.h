#pragma once

// Token authentication and per-principal access rules for the request endpoint
// (docs/security.md). Private to the network layer apart from AuthConfig and its loader, which
// BrokerServerOptions and `eddy broker --auth FILE` use.

#include "json_codec.h"
#include "result.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::net {

using TokenHash = std::array<uint8_t, 32>; // SHA-256

// What one principal may do. Patterns are globs over the whole name: '*' matches any run of
// characters (also none), '?' exactly one; "orders.*" matches "orders.eu" but not "orders".
struct AccessRules {
    std::vector<std::string> produce; // topics it may produce to (and describe)
    std::vector<std::string> consume; // topics it may fetch from, join and commit (and describe)
    std::vector<std::string> groups;  // consumer groups it may join, poll, commit and describe
    bool admin = false;               // every op, including the administrative ones
};

struct Principal {
    std::string name;
    TokenHash tokenHash{}; // SHA-256 of the token; the token itself is not kept
    AccessRules rules;
};

// Failed `auth` attempts are counted per client host (the address without its port). After
// maxFailures within windowMs the host is locked out for lockoutMs, doubled for each lockout
// that follows another within windowMs of its end (at most maxLockoutMs); while locked out every
// `auth` from it is refused with AUTH_RATE_LIMITED without looking at the token.
struct AuthRateLimit {
    int maxFailures = 5;
    int64_t windowMs = 60'000;
    int64_t lockoutMs = 30'000;
    int64_t maxLockoutMs = 3'600'000;
};

// Access control for a broker: when given, every connection must authenticate with a token and
// everything its principal is not allowed is refused.
struct AuthConfig {
    std::vector<Principal> principals;
    AuthRateLimit rateLimit;
    // Receives one line per refused `auth`, lockout and forbidden op (address, principal, op;
    // never a token). Empty: the lines go to stderr.
    std::function<void(const std::string &line)> log;
};

// Parses an auth file (the JSON format of docs/security.md). InvalidConfig names the offending
// principal or field: a missing name or token, a token given both ways, a malformed
// token_sha256, duplicate names or tokens, a non-string pattern, an unknown field.
Result<AuthConfig> parseAuthConfig(std::string_view json);
// Reads and parses an auth file; InvalidConfig when it cannot be read.
Result<AuthConfig> loadAuthConfig(const std::string &path);

// SHA-256 of bytes, raw and as lower-case hex.
TokenHash sha256(std::string_view bytes);
std::string sha256Hex(std::string_view bytes);
// Compares two equal-sized byte arrays in time independent of where they differ.
bool constantTimeEqual(const TokenHash &a, const TokenHash &b);
// Glob match over the whole text ('*' any run, '?' one character; nothing else is special).
bool globMatch(std::string_view pattern, std::string_view text);
// The rate-limiting key of a peer address: "tcp://10.0.0.5:53122" -> "tcp://10.0.0.5";
// addresses without a port (ipc, inproc) are their own key.
std::string addressHost(std::string_view address);

// The principal a token belongs to, or nullptr. The token is hashed once and compared with
// every principal's hash in constant time, without stopping at a match, so neither the timing
// nor the order of principals tells an attacker anything about the token.
const Principal *findPrincipal(const AuthConfig &config, std::string_view token);

// Whether principal p may run the JSON op `op` with this request (fields name the topic and
// group). Ok, or Forbidden naming the op and the topic/group that is not allowed. hello and
// auth are not checked here: any connection may send them. list_topics and list_groups are
// allowed to everyone; their replies are filtered with mayDescribeTopic / mayUseGroup.
Result<void> authorizeOp(const Principal &p, std::string_view op, const Json &request);
// The binary data-plane ops, after decoding.
Result<void> authorizeProduce(const Principal &p, const std::string &topic);
Result<void> authorizeFetch(const Principal &p, const std::string &topic, const std::string &group);
Result<void> authorizePoll(const Principal &p, const std::string &group);
// May p see this topic (produce or consume rights) / use this group?
bool mayDescribeTopic(const Principal &p, std::string_view topic);
bool mayUseGroup(const Principal &p, std::string_view group);

// The lockout bookkeeping of AuthRateLimit, per host. Thread-safe. Times are passed in so tests
// can drive it without sleeping.
class AuthLimiter
{
public:
    explicit AuthLimiter(AuthRateLimit limit);
    // False while host is locked out.
    bool mayTry(const std::string &host, int64_t nowMs);
    // Counts a failed attempt; true when it starts a lockout.
    bool recordFailure(const std::string &host, int64_t nowMs);
    // A successful attempt forgets the host's failures (not a lockout in force).
    void recordSuccess(const std::string &host);

private:
    struct Entry {
        std::vector<int64_t> failures; // times of failures within the window
        int64_t lockedUntilMs = 0;
        int64_t lastLockoutMs = 0;     // length of the last lockout, for doubling
    };
    void prune(int64_t nowMs);

    AuthRateLimit m_limit;
    std::mutex m_mutex;
    std::map<std::string, Entry> m_hosts;
};

} // namespace eddy::net
