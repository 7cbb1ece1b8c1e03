#pragma once

#include "request_sink.h"
#include "result.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::net {

// TLS settings for tls+tcp:// listeners (PEM files).
struct TlsOptions {
    std::string certFile;    // server certificate chain
    std::string keyFile;     // its private key
    std::string caFile;      // CA to verify clients with (mutual TLS when requireClientCert)
    bool requireClientCert = false;
};

struct ServerOptions {
    std::vector<std::string> listen{"tcp://127.0.0.1:7650"}; // tcp://, ipc://, inproc://, tls+tcp://
    int workers = 256;                   // requests in flight at once (parked long-polls included)
    std::size_t maxMessageBytes = 68 << 20; // NNG_OPT_RECVMAXSZ: larger frames close the pipe
    TlsOptions tls;
};

class NngServerImpl;

// The request endpoint: an NNG REP socket served by a pool of work items, each with its own
// nng_aio + nng_ctx and a state machine (INIT -> RECV -> HANDLE -> SEND -> RECV), the shape of
// nng's demo/async/server.c. A request parks its work item while the sink works on it, so a
// long-poll holds no thread.
class NngServer
{
public:
    // Opens the socket and starts every listener; fails with InvalidConfig naming the URL that
    // could not be listened on.
    static Result<std::unique_ptr<NngServer>> start(const ServerOptions &options, RequestSink &sink);
    ~NngServer();
    // Closes the socket; requests still being handled are answered into the void. Idempotent.
    void stop();
    // The URLs actually listened on (tcp port 0 resolved to the bound port).
    std::vector<std::string> urls() const;

private:
    explicit NngServer(std::unique_ptr<NngServerImpl> impl);
    std::unique_ptr<NngServerImpl> m_impl;
};

// Formats an NNG socket address as a URL-ish string ("tcp://127.0.0.1:5000").
std::string formatAddress(const void *nngSockaddr);

// Whether a listen URL is reachable from this machine only: inproc://, ipc://, or a host that is
// "localhost", an IPv4 address in 127.0.0.0/8 or [::1]. Anything else (0.0.0.0, a name, another
// address) counts as remote; the CLI and the studio ask for an explicit flag before binding it.
bool isLoopbackUrl(std::string_view url);

} // namespace eddy::net
