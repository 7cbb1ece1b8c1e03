// The client's transport: one REQ socket per Connection, with a pool of (aio, context) slots so
// requests from many threads overlap on the wire. A slot runs a two-step state machine (SEND,
// then RECV) in NNG's callbacks and hands the reply to a completion function; the synchronous
// request() is that plus a promise. Slots are reused rather than freed after each call because
// an aio cannot be freed from its own callback, which is where a call completes. With a token,
// a reply saying UNAUTHENTICATED (in either encoding) triggers auth and one resend.
#include "connection.h"

#include "binary_codec.h"
#include "bounded_close.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <vector>

namespace eddy::client {

// Named rather than anonymous: ConnectionImpl, which has external linkage, holds a Slot.
namespace connection_detail {

using Clock = std::chrono::steady_clock;

// How long open() waits for the broker to answer `auth`.
constexpr int kAuthTimeoutMs = 5000;

// How long the destructor gives an abandoned close to finish before it stops the aios.
constexpr int kAbandonedCloseGraceMs = 2000;

struct Slot {
    enum class Stage { Idle, Send, Recv };
    ConnectionImpl *owner = nullptr;
    nng_aio *aio = nullptr;
    nng_ctx ctx = NNG_CTX_INITIALIZER;
    Stage stage = Stage::Idle;
    int timeoutMs = 0;
    Clock::time_point deadline;
    std::function<void(Result<std::string>)> done;
};

void onSlot(void *arg);

} // namespace connection_detail

using namespace connection_detail;

class ConnectionImpl
{
public:
    std::string url;
    std::string token;
    nng_socket socket = NNG_SOCKET_INITIALIZER;
    nng_dialer dialer = NNG_DIALER_INITIALIZER;
    nng_tls_config *tls = nullptr;
    bool socketOpen = false;
    // ConnectionOptions::closeTimeoutMs (bounded_close.h). Long by default: an ordinary close
    // can take seconds on a loaded machine.
    int closeTimeoutMs = 30000;
    std::atomic<bool> closeAbandoned = false; // read by a concurrent close()
    std::shared_ptr<PendingClose> pendingClose; // the abandoned close, still running

    std::mutex mutex;
    bool closed = false;
    std::vector<std::unique_ptr<Slot>> slots; // every slot ever made; freed at destruction
    std::vector<Slot *> idle;

    ~ConnectionImpl()
    {
        close();
        // An abandoned close that is still making progress frees the socket's state while the
        // aios below are stopped, and stopping one calls into that state: NNG 1.5.2 then
        // panicked on a destroyed mutex (client_tst_client_produce
        // abandonedCloseFreesUnsentRequests, once). A close that finishes within this grace
        // period no longer races; one still running after it is stuck in NNG's reaper (see
        // bounded_close.h), which frees nothing while stuck.
        if (closeAbandoned && pendingClose)
            pendingClose->waitFor(kAbandonedCloseGraceMs);
        // After an abandoned close NNG may not have reached the contexts yet, so their
        // operations can still be pending here. Stopping an aio cancels what it has pending and
        // waits for its callback: a request NNG had not sent yet is handed back to the aio
        // (req0_ctx_cancel_send), and a stopped aio belongs to its owner again, so a message
        // still attached to it after the stop is ours to free (onSlot frees it on its way, this
        // catches one it did not reach). Nothing of NNG's touches a stopped aio again.
        for (auto &s : slots) {
            nng_aio_stop(s->aio);
            if (nng_msg *msg = nng_aio_get_msg(s->aio)) {
                nng_aio_set_msg(s->aio, nullptr);
                nng_msg_free(msg);
            }
            nng_aio_free(s->aio);
        }
        // A close still stuck in NNG may yet use the TLS config: it is leaked with the socket.
        if (tls && !closeAbandoned)
            nng_tls_config_free(tls);
    }

    // True when the socket closed within the bound (or was never open).
    bool close()
    {
        {
            std::lock_guard lock(mutex);
            if (closed)
                return !closeAbandoned;
            closed = true;
        }
        // Closing the socket completes every pending aio with NNG_ECLOSED.
        if (socketOpen && !closeSocketBounded(socket, closeTimeoutMs, {}, &pendingClose))
            closeAbandoned = true;
        return !closeAbandoned;
    }

    Error failure(int rv, int timeoutMs) const
    {
        switch (rv) {
        case NNG_ETIMEDOUT:
            return makeError(Errc::Timeout, "no reply from " + url + " within "
                                                + std::to_string(timeoutMs) + " ms");
        case NNG_ECLOSED:
        case NNG_ECANCELED:
            return makeError(Errc::ShuttingDown, "the connection to " + url + " is closed");
        default:
            // Transport trouble (a broken pipe, a failed redial) is transient: report it as a
            // timeout so callers treat it as retriable.
            return makeError(Errc::Timeout, "request to " + url + " failed: " + nng_strerror(rv));
        }
    }

    Result<Slot *> acquire()
    {
        std::lock_guard lock(mutex);
        if (closed)
            return makeError(Errc::ShuttingDown, "the connection to " + url + " is closed");
        if (!idle.empty()) {
            Slot *s = idle.back();
            idle.pop_back();
            return s;
        }
        auto slot = std::make_unique<Slot>();
        slot->owner = this;
        if (int rv = nng_aio_alloc(&slot->aio, onSlot, slot.get()); rv != 0)
            return makeError(Errc::Internal, std::string("cannot allocate an aio: ")
                                                 + nng_strerror(rv));
        if (int rv = nng_ctx_open(&slot->ctx, socket); rv != 0) {
            nng_aio_free(slot->aio);
            return failure(rv, 0);
        }
        nng_ctx_set_ms(slot->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        slots.push_back(std::move(slot));
        return slots.back().get();
    }

    // Starts the slot's send or receive unless the connection is closed. Nothing may start on a
    // context while nng_close tears the socket down (NNG 1.5 then panics on a destroyed mutex),
    // so starting and close()'s setting of `closed` are serialised by the mutex: whatever
    // started before is cancelled by nng_close, nothing starts after. False when closed.
    bool start(Slot *slot)
    {
        std::lock_guard lock(mutex);
        if (closed)
            return false;
        if (slot->stage == Slot::Stage::Send)
            nng_ctx_send(slot->ctx, slot->aio);
        else
            nng_ctx_recv(slot->ctx, slot->aio);
        return true;
    }

    void release(Slot *slot)
    {
        std::lock_guard lock(mutex);
        slot->stage = Slot::Stage::Idle;
        idle.push_back(slot);
    }

    // Sends one frame on a free slot; done runs once, on an NNG thread or inline on failure.
    void send(std::string_view frame, int timeoutMs, std::function<void(Result<std::string>)> done);

    // Sends `auth` with the token; done gets ok or the broker's refusal.
    void authenticate(int timeoutMs, std::function<void(Result<void>)> done)
    {
        const std::string frame = Json{{"op", "auth"}, {"token", token}}.dump();
        send(frame, timeoutMs, [done = std::move(done)](Result<std::string> reply) {
            if (!reply)
                return done(reply.error());
            auto parsed = parseReply(*reply);
            done(parsed ? Result<void>() : Result<void>(parsed.error()));
        });
    }

    void finish(Slot *slot, Result<std::string> result)
    {
        auto done = std::move(slot->done);
        slot->done = nullptr;
        // Completion first, release after: a released slot may be restarted by another thread,
        // and its aio must not be reused while this callback still runs on it.
        done(std::move(result));
        release(slot);
    }
};

namespace connection_detail {

void onSlot(void *arg)
{
    auto *slot = static_cast<Slot *>(arg);
    ConnectionImpl *c = slot->owner;
    const int rv = nng_aio_result(slot->aio);
    if (slot->stage == Slot::Stage::Send) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(slot->aio)); // an unsent request stays ours to free
            nng_aio_set_msg(slot->aio, nullptr);
            return c->finish(slot, c->failure(rv, slot->timeoutMs));
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              slot->deadline - Clock::now())
                              .count();
        slot->stage = Slot::Stage::Recv;
        nng_aio_set_timeout(slot->aio, static_cast<nng_duration>(std::max<int64_t>(1, left)));
        if (!c->start(slot))
            return c->finish(slot, c->failure(NNG_ECLOSED, slot->timeoutMs));
        return;
    }
    if (slot->stage == Slot::Stage::Recv) {
        if (rv != 0)
            return c->finish(slot, c->failure(rv, slot->timeoutMs));
        nng_msg *msg = nng_aio_get_msg(slot->aio);
        std::string reply(static_cast<const char *>(nng_msg_body(msg)), nng_msg_len(msg));
        nng_msg_free(msg);
        nng_aio_set_msg(slot->aio, nullptr);
        return c->finish(slot, std::move(reply));
    }
}

// Whether a reply is the broker's UNAUTHENTICATED refusal. Binary error replies carry the code
// right after the 4-byte header; JSON ones are parsed only when the code text occurs at all.
bool isUnauthenticated(const std::string &reply)
{
    static constexpr std::string_view code = "UNAUTHENTICATED";
    const bool binary = !reply.empty() && static_cast<uint8_t>(reply.front()) == net::kBinaryMagic;
    const uint8_t tunnel = static_cast<uint8_t>(net::BinaryOp::Json) | net::kReplyBit;
    if (binary && (reply.size() < 4 || static_cast<uint8_t>(reply[2]) != tunnel))
        return reply.size() >= 5 + code.size() && reply[3] == 1
               && static_cast<std::size_t>(reply[4]) == code.size()
               && std::string_view(reply).substr(5, code.size()) == code;
    if (reply.find(code) == std::string::npos)
        return false;
    auto parsed = parseReply(binary ? std::string_view(reply).substr(4) : std::string_view(reply));
    return !parsed && parsed.code() == Errc::Unauthenticated;
}

std::string readError(const std::string &what, int rv)
{
    return what + ": " + nng_strerror(rv);
}

std::optional<std::string> readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (path.empty() || !in)
        return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace connection_detail

Result<std::shared_ptr<Connection>> Connection::open(const std::string &url)
{
    ConnectionOptions options;
    options.url = url;
    return open(options);
}

Result<std::shared_ptr<Connection>> Connection::open(const ConnectionOptions &options)
{
    auto impl = std::make_unique<ConnectionImpl>();
    impl->url = options.url;
    impl->closeTimeoutMs = options.closeTimeoutMs;
    if (int rv = nng_req0_open(&impl->socket); rv != 0)
        return makeError(Errc::Internal, readError("cannot open a REQ socket", rv));
    impl->socketOpen = true;
    nng_socket_set_ms(impl->socket, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    // Fetch and poll replies may be as large as the broker's batch limit: no client-side cap.
    nng_socket_set_size(impl->socket, NNG_OPT_RECVMAXSZ, 0);
    if (int rv = nng_dialer_create(&impl->dialer, impl->socket, options.url.c_str()); rv != 0)
        return makeError(Errc::InvalidConfig, readError("cannot dial " + options.url, rv));
    if (options.url.rfind("tls+tcp://", 0) == 0) {
        if (int rv = nng_tls_config_alloc(&impl->tls, NNG_TLS_MODE_CLIENT); rv != 0)
            return makeError(Errc::InvalidConfig, readError("TLS", rv));
        if (!options.tlsCaFile.empty()) {
            if (int rv = nng_tls_config_ca_file(impl->tls, options.tlsCaFile.c_str()); rv != 0)
                return makeError(Errc::InvalidConfig,
                                 readError("TLS CA file " + options.tlsCaFile, rv));
            nng_tls_config_auth_mode(impl->tls, NNG_TLS_AUTH_MODE_REQUIRED);
        } else {
            nng_tls_config_auth_mode(impl->tls, NNG_TLS_AUTH_MODE_NONE);
        }
        if (!options.tlsCertFile.empty()) {
            // Certificate and key come as two files; NNG takes them as two PEM strings.
            auto cert = readFile(options.tlsCertFile);
            auto key = readFile(options.tlsKeyFile);
            if (!cert || !key)
                return makeError(Errc::InvalidConfig, "cannot read TLS certificate '"
                                                          + options.tlsCertFile + "' or key '"
                                                          + options.tlsKeyFile + "'");
            if (int rv = nng_tls_config_own_cert(impl->tls, cert->c_str(), key->c_str(), nullptr);
                rv != 0)
                return makeError(Errc::InvalidConfig,
                                 readError("TLS certificate " + options.tlsCertFile, rv));
        }
        std::string host = options.tlsServerName;
        if (host.empty()) {
            host = options.url.substr(std::strlen("tls+tcp://"));
            host = host.substr(0, host.rfind(':'));
            // NNG's TLS engine matches names only, not IP addresses: for an address literal
            // the chain is still verified, the name is not (unless tlsServerName says one).
            if (host.find_first_not_of("0123456789.") == std::string::npos
                || host.front() == '[')
                host.clear();
        }
        if (!host.empty())
            nng_tls_config_server_name(impl->tls, host.c_str());
        if (int rv = nng_dialer_set_ptr(impl->dialer, NNG_OPT_TLS_CONFIG, impl->tls); rv != 0)
            return makeError(Errc::InvalidConfig, readError("TLS on " + options.url, rv));
    }
    // A blocking first dial reports why the broker is unreachable; later redials are NNG's.
    if (int rv = nng_dialer_start(impl->dialer, 0); rv != 0) {
        // A broker that is down may come back (Timeout is retriable); a TLS or address problem
        // will not fix itself.
        const bool settings = rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || rv == NNG_EADDRINVAL
                              || rv == NNG_ENOTSUP;
        return makeError(settings ? Errc::InvalidConfig : Errc::Timeout,
                         readError("cannot connect to " + options.url, rv));
    }
    impl->token = options.token;
    if (!impl->token.empty()) {
        std::promise<Result<void>> promise;
        impl->authenticate(kAuthTimeoutMs,
                           [&promise](Result<void> r) { promise.set_value(std::move(r)); });
        if (auto r = promise.get_future().get(); !r)
            return r.error();
    }
    return std::shared_ptr<Connection>(new Connection(std::move(impl)));
}

Connection::Connection(std::unique_ptr<ConnectionImpl> impl) : m_impl(std::move(impl)) {}

Connection::~Connection() = default;

bool Connection::close()
{
    return m_impl->close();
}

const std::string &Connection::url() const
{
    return m_impl->url;
}

void Connection::requestAsync(std::string_view frame, int timeoutMs,
                              std::function<void(Result<std::string>)> done)
{
    // Without a token the frame goes straight into the request's message: a producer sending
    // the same frame again (a retry, a benchmark) does not copy it first.
    if (m_impl->token.empty())
        return m_impl->send(frame, timeoutMs, std::move(done));
    // Kept for the resend; the connection's callbacks all finish before its impl goes away.
    auto kept = std::make_shared<std::string>(frame);
    ConnectionImpl *impl = m_impl.get();
    impl->send(*kept, timeoutMs, [impl, kept, timeoutMs, done = std::move(done)](
                                     Result<std::string> reply) mutable {
        if (!reply || !isUnauthenticated(*reply))
            return done(std::move(reply));
        impl->authenticate(timeoutMs, [impl, kept, timeoutMs,
                                       done = std::move(done)](Result<void> authed) mutable {
            if (!authed)
                return done(authed.error());
            impl->send(*kept, timeoutMs, std::move(done));
        });
    });
}

void ConnectionImpl::send(std::string_view frame, int timeoutMs,
                          std::function<void(Result<std::string>)> done)
{
    auto slot = acquire();
    if (!slot)
        return done(slot.error());
    Slot *s = *slot;
    nng_msg *msg = nullptr;
    if (int rv = nng_msg_alloc(&msg, frame.size()); rv != 0) {
        release(s);
        return done(makeError(Errc::Internal, readError("cannot allocate a message", rv)));
    }
    if (!frame.empty())
        std::memcpy(nng_msg_body(msg), frame.data(), frame.size());
    s->done = std::move(done);
    s->timeoutMs = std::max(1, timeoutMs);
    s->deadline = Clock::now() + std::chrono::milliseconds(s->timeoutMs);
    s->stage = Slot::Stage::Send;
    nng_aio_set_msg(s->aio, msg);
    nng_aio_set_timeout(s->aio, s->timeoutMs);
    if (!start(s)) {
        nng_aio_set_msg(s->aio, nullptr);
        nng_msg_free(msg);
        finish(s, failure(NNG_ECLOSED, s->timeoutMs));
    }
}

Result<std::string> Connection::request(std::string_view frame, int timeoutMs)
{
    std::promise<Result<std::string>> promise;
    auto future = promise.get_future();
    requestAsync(frame, timeoutMs,
                 [&promise](Result<std::string> r) { promise.set_value(std::move(r)); });
    return future.get();
}

Result<Json> Connection::call(const Json &request, int timeoutMs)
{
    std::string text;
    try {
        text = request.dump(-1, ' ', false, Json::error_handler_t::replace);
    } catch (const Json::exception &e) {
        return makeError(Errc::InvalidRequest, std::string("cannot encode request: ") + e.what());
    }
    auto reply = this->request(text, timeoutMs);
    if (!reply)
        return reply.error();
    return parseReply(*reply);
}

Result<Json> parseReply(std::string_view text)
{
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return makeError(Errc::MalformedRequest, "the broker's reply is not a JSON object");
    auto ok = j.find("ok");
    if (ok != j.end() && ok->is_boolean() && ok->get<bool>())
        return j;
    std::string code = "INTERNAL", message = "the broker reported a failure without details";
    if (auto e = j.find("error"); e != j.end() && e->is_object()) {
        if (auto c = e->find("code"); c != e->end() && c->is_string())
            code = c->get<std::string>();
        if (auto m = e->find("message"); m != e->end() && m->is_string())
            message = m->get<std::string>();
    }
    return makeError(net::errcFromName(code), message);
}

} // namespace eddy::client
