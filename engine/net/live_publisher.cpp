// PUB socket for the live stream. Subscriber counting uses pipe notifications so the broker can
// skip building messages nobody would receive.
#include "live_publisher.h"

#include "nng_server.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include <cstring>

namespace eddy::net {

Result<std::unique_ptr<LivePublisher>> LivePublisher::start(const std::vector<std::string> &urls)
{
    // NNG would listen on tls+tcp:// without a certificate and every handshake would fail: say so.
    for (const auto &url : urls)
        if (url.rfind("tls+tcp://", 0) == 0)
            return makeError(Errc::InvalidConfig, "the live stream is not served over TLS (" + url
                                                      + "); use tcp://, ipc:// or inproc://");
    std::unique_ptr<LivePublisher> pub(new LivePublisher());
    nng_socket s;
    if (int rv = nng_pub0_open(&s); rv != 0)
        return makeError(Errc::InvalidConfig, std::string("cannot open the PUB socket: ")
                                                  + nng_strerror(rv));
    pub->m_socket = s.id;
    const auto notify = [](nng_pipe, nng_pipe_ev ev, void *arg) {
        auto *self = static_cast<LivePublisher *>(arg);
        if (ev == NNG_PIPE_EV_ADD_POST)
            self->m_subscribers.fetch_add(1);
        else if (ev == NNG_PIPE_EV_REM_POST)
            self->m_subscribers.fetch_sub(1);
    };
    nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, notify, pub.get());
    nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, notify, pub.get());
    for (const auto &url : urls) {
        nng_listener l;
        if (int rv = nng_listen(s, url.c_str(), &l, 0); rv != 0)
            return makeError(Errc::InvalidConfig,
                             "cannot publish on " + url + ": " + nng_strerror(rv));
        std::string bound = url;
        nng_sockaddr sa;
        if (url.find("tcp://") != std::string::npos
            && nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) == 0)
            bound = url.substr(0, url.find("://") + 3) + formatAddress(&sa).substr(6);
        pub->m_urls.push_back(bound);
    }
    return pub;
}

LivePublisher::~LivePublisher()
{
    nng_socket s;
    s.id = m_socket;
    nng_close(s);
}

void LivePublisher::publish(std::string_view prefix, std::string_view payload)
{
    nng_msg *msg = nullptr;
    const std::size_t n = prefix.size() + 1 + payload.size();
    if (nng_msg_alloc(&msg, n) != 0)
        return;
    auto *body = static_cast<char *>(nng_msg_body(msg));
    std::memcpy(body, prefix.data(), prefix.size());
    body[prefix.size()] = ' ';
    std::memcpy(body + prefix.size() + 1, payload.data(), payload.size());
    nng_socket s;
    s.id = m_socket;
    if (nng_sendmsg(s, msg, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(msg);
}

} // namespace eddy::net
