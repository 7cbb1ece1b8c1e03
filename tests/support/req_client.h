#pragma once

// A minimal blocking NNG REQ client for tests: what any external program in any language with
// an NNG binding would do, with no Eddy client code in between, except for its close: that goes
// through the engine's bounded close, so that a test cannot hang in NNG 1.5.2's close wedge
// (docs/reliability.md) when it closes a client mid-transfer.

#include "bounded_close.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

class ReqClient
{
public:
    explicit ReqClient(const std::string &url, int timeoutMs = 5000)
    {
        if (nng_req0_open(&m_socket) != 0)
            return;
        nng_socket_set_ms(m_socket, NNG_OPT_RECVTIMEO, timeoutMs);
        nng_socket_set_ms(m_socket, NNG_OPT_SENDTIMEO, timeoutMs);
        nng_socket_set_ms(m_socket, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        m_ok = nng_dial(m_socket, url.c_str(), nullptr, 0) == 0;
    }
    // NNG 1.5.2 can wait forever closing a connection with a frame half written or half read (a
    // request the broker refused mid-frame, a reply still arriving), and then every later close
    // in the process waits too: the close is bounded (5 s; past it, left to its own thread).
    // (Shutting the sockets down first, as the server does for a slow client, left NNG objects
    // unfreed at exit under LeakSanitizer, in every run; why was not pinned down.)
    ~ReqClient() { eddy::closeSocketBounded(m_socket, 5000); }
    ReqClient(const ReqClient &) = delete;
    ReqClient &operator=(const ReqClient &) = delete;

    bool connected() const { return m_ok; }

    // Sends raw bytes, returns the raw reply (nullopt on timeout or error).
    std::optional<std::string> raw(const std::string &bytes)
    {
        if (nng_send(m_socket, const_cast<char *>(bytes.data()), bytes.size(), 0) != 0)
            return std::nullopt;
        char *buf = nullptr;
        size_t size = 0;
        if (nng_recv(m_socket, &buf, &size, NNG_FLAG_ALLOC) != 0)
            return std::nullopt;
        std::string out(buf, size);
        nng_free(buf, size);
        return out;
    }

    // Sends a JSON request, returns the parsed reply (a null json on failure).
    nlohmann::json call(const nlohmann::json &request)
    {
        auto reply = raw(request.dump());
        if (!reply)
            return nullptr;
        return nlohmann::json::parse(*reply, nullptr, false);
    }

    // The error code of a reply, or "" for ok replies.
    static std::string code(const nlohmann::json &reply)
    {
        if (!reply.is_object() || reply.value("ok", false))
            return "";
        return reply["error"].value("code", "?");
    }

private:
    nng_socket m_socket = NNG_SOCKET_INITIALIZER;
    bool m_ok = false;
};
