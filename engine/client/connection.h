#pragma once

#include "result.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace eddy::client {

using Json = nlohmann::json;

// How to reach a broker. TLS settings apply to tls+tcp:// URLs only (PEM files).
struct ConnectionOptions {
    std::string url = "tcp://127.0.0.1:7650"; // tcp://, ipc://, inproc:// or tls+tcp://
    std::string tlsCaFile;      // verify the broker against this CA; empty: no verification
    std::string tlsCertFile;    // client certificate for mutual TLS (with tlsKeyFile)
    std::string tlsKeyFile;
    std::string tlsServerName;  // name to verify in the broker certificate; default: the URL's
                                // host name (an IP address literal is not verified by name)
    std::string token;          // access-control token (docs/security.md); empty: none
    // How long close() waits for NNG to close the socket before leaving the close to a thread
    // of its own (NNG 1.5.2 can hang closing a connection with a transfer in progress). 0 waits
    // not at all (tests use it to abandon a close on purpose).
    int closeTimeoutMs = 30000;
};

class ConnectionImpl;

// One NNG REQ socket dialled to a broker. Requests run on their own NNG context each, so any
// number may be in flight at once from any threads. REQ's automatic resend is disabled: the
// producer and consumer decide what may be retried (a blind resend of a produce would write it
// twice). After the first connection NNG redials on its own whenever the broker goes away.
// With a token the connection authenticates when it opens, and again whenever the broker
// answers UNAUTHENTICATED (a redialled connection is a new, unauthenticated one): it sends
// `auth` and then the refused request once more, which is safe because a refused request
// changed nothing. Each of those steps gets the request's full timeout. Thread-safe.
class Connection
{
public:
    // Dials options.url and waits for the connection. Fails with Timeout naming the URL and
    // NNG's reason when the broker cannot be reached (refused, unreachable), and with
    // InvalidConfig for a malformed URL, unreadable TLS files or a failed TLS handshake, and
    // with the broker's UNAUTHENTICATED / AUTH_RATE_LIMITED when options.token is refused.
    static Result<std::shared_ptr<Connection>> open(const ConnectionOptions &options);
    // Shorthand for open() with default options but the URL.
    static Result<std::shared_ptr<Connection>> open(const std::string &url);
    ~Connection();

    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    // Sends one frame and waits up to timeoutMs for the reply, which is returned as raw bytes.
    // Fails with Timeout when no reply came in time (the request may still have been executed)
    // and ShuttingDown once close() was called.
    Result<std::string> request(std::string_view frame, int timeoutMs);
    // The same, asynchronously: done runs exactly once, on an NNG thread (it must not block or
    // destroy this connection), or inline when the request cannot be started. frame is copied
    // into the request before this returns (a connection with a token keeps its own copy for
    // the resend after authenticating), so the caller's buffer may go or be reused at once.
    void requestAsync(std::string_view frame, int timeoutMs,
                      std::function<void(Result<std::string>)> done);

    // Sends a JSON op and returns the reply object when it says {"ok":true}; {"ok":false} becomes
    // an Error with the broker's code and message; an unparsable reply is MalformedRequest.
    Result<Json> call(const Json &request, int timeoutMs);

    // Aborts requests in flight (they fail with ShuttingDown) and closes the socket, waiting
    // for NNG at most options.closeTimeoutMs. True when the socket closed in time; false when
    // the close was left to finish on its own thread (the connection is closed either way, and
    // destroying it then still frees every request it holds). Idempotent: a later call returns
    // the first one's answer. The destructor calls it.
    bool close();
    // The URL this connection dials.
    const std::string &url() const;

private:
    explicit Connection(std::unique_ptr<ConnectionImpl> impl);
    std::unique_ptr<ConnectionImpl> m_impl;
};

// Maps a JSON reply to its value or the broker's error (shared by call() and the binary
// tunnel).
Result<Json> parseReply(std::string_view text);

} // namespace eddy::client
