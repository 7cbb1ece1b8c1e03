#pragma once

// A minimal blocking NNG REQ client for tests: what any external program in any language with
// an NNG binding would do, with no Eddy client code in between, except for its close: that goes
// through the engine's bounded close, so that a test cannot hang in NNG 1.5.2's close wedge
// (docs/reliability.md) when it closes a client mid-transfer.

#include "bounded_close.h"
#include "pipe_socket.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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
        nng_pipe_notify(m_socket, NNG_PIPE_EV_ADD_POST, onPipe, m_pipes.get());
        nng_pipe_notify(m_socket, NNG_PIPE_EV_REM_POST, onPipe, m_pipes.get());
        m_ok = nng_dial(m_socket, url.c_str(), nullptr, 0) == 0;
    }
    // NNG 1.5.2 can wait forever closing a connection with a frame half written or half read (a
    // request the broker refused mid-frame, a reply still arriving), and then every later close
    // in the process waits too. So the client's TCP sockets are shut down first: every transfer
    // ends in an error and NNG drops the connection itself, with nothing half done. The close is
    // bounded all the same (5 s; past it, left to its own thread).
    ~ReqClient()
    {
        std::vector<nng_pipe> open;
        {
            std::lock_guard lock(m_pipes->mutex);
            open = m_pipes->open;
        }
        bool shut = false;
        for (const nng_pipe pipe : open)
            shut = eddy::net::shutdownPipeSocket(pipe) || shut;
        if (shut) {
            std::unique_lock lock(m_pipes->mutex);
            m_pipes->gone.wait_for(lock, std::chrono::seconds(1),
                                   [&] { return m_pipes->open.empty(); });
        }
        eddy::closeSocketBounded(m_socket, 5000, m_pipes);
    }
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
    // The socket's open connections, kept by NNG's pipe callbacks; shared with a close that may
    // outlive the client.
    struct Pipes {
        std::mutex mutex;
        std::condition_variable gone;
        std::vector<nng_pipe> open;
    };

    static void onPipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
    {
        auto *pipes = static_cast<Pipes *>(arg);
        std::lock_guard lock(pipes->mutex);
        auto &open = pipes->open;
        if (ev == NNG_PIPE_EV_ADD_POST) {
            open.push_back(pipe);
            return;
        }
        open.erase(std::remove_if(open.begin(), open.end(),
                                  [&](nng_pipe p) { return nng_pipe_id(p) == nng_pipe_id(pipe); }),
                   open.end());
        pipes->gone.notify_all();
    }

    std::shared_ptr<Pipes> m_pipes = std::make_shared<Pipes>();
    nng_socket m_socket = NNG_SOCKET_INITIALIZER;
    bool m_ok = false;
};
