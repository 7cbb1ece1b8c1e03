#pragma once

#include "request_sink.h"
#include "result.h"

#include <functional>
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

// Why a slow client's connection was closed, for the broker's event log.
using SlowClientHandler = std::function<void(const Peer &peer, const std::string &why)>;

struct ServerOptions {
    // tcp://, ipc://, inproc://, tls+tcp://
    std::vector<std::string> listen{"tcp://127.0.0.1:7650"};
    int workers = 256;                   // requests in flight at once (parked long-polls included)
    std::size_t maxMessageBytes = 68 << 20; // NNG_OPT_RECVMAXSZ: larger frames close the pipe
    TlsOptions tls;
    // Slow consumers (docs/reliability.md): a request that takes a connection past this many in
    // flight (received, reply not yet handed to the transport; parked long-polls included)
    // closes that connection instead of taking another worker when its replies go unread (64 KiB
    // or more waiting in its TCP socket; over inproc/ipc, always), so one client that pipelines
    // without reading cannot starve the others, while one that reads may pipeline further. Keep
    // it well below `workers`; 0 = no cap.
    int maxInFlightPerConnection = 64;
    // A TCP (or TLS) connection whose client leaves replies sent to it untaken this long closes:
    // its socket holds bytes the client has not acknowledged and the count of bytes it did
    // acknowledge has not moved for this many ms (the client is not reading). Checked by a sweep
    // every tenth of it (at most 250 ms), so a connection closes within about this plus two
    // sweeps. A client that keeps taking bytes, however slowly, is not closed by it, but the
    // same sweep closes one whose socket held reply bytes for 10 s (empty at no two looks in a
    // row) while it took less than 16 KiB/s of them (fixed values; no sweep, so no such rule,
    // when this is 0);
    // ipc:// and inproc:// connections are bounded by the cap only. 0 = no such bound.
    int sendTimeoutMs = 5000;
    // Told (on an NNG thread or the stall sweep's, no lock held) about every connection closed
    // for either reason.
    SlowClientHandler onSlowClient;
    // stop() waits at most this long for NNG to close the socket (see closeAbandoned()).
    int closeTimeoutMs = 5000;
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
    static Result<std::unique_ptr<NngServer>> start(const ServerOptions &options,
                                                    RequestSink &sink);
    ~NngServer();
    // Closes the socket; requests still being handled are answered into the void. Idempotent.
    // Returns within ServerOptions::closeTimeoutMs even when NNG's close does not (NNG 1.5.2
    // can hang closing a connection to a client that reads slowly; docs/reliability.md).
    void stop();
    // Whether stop() gave up waiting for NNG's close, leaving it to a thread of its own.
    bool closeAbandoned() const;
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
