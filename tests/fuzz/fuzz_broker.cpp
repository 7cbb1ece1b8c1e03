// libFuzzer harness for the whole broker behind its request endpoint: each input is a short
// session of requests, separated by kSeparator, sent one after another through a real NNG REQ
// socket to a BrokerServer (inproc transport) in front of a fresh Broker in a fresh data
// directory. Requests may be JSON or binary frames; whatever they say (create topics, produce,
// join groups, inject faults), the broker must answer or time out and shut down cleanly, never
// crash or trip a sanitizer. A fresh broker per input keeps every crash reproducible from its
// input alone.
#include "broker.h"
#include "broker_server.h"
#include "fuzz_check.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

using namespace eddy;

namespace {

constexpr std::string_view kSeparator = "\n--\n";
// Bounds on one input, so a session stays a few hundred milliseconds at most.
constexpr std::size_t kMaxRequests = 8;
// A request the broker parks (long poll, stall fault) is abandoned after this long.
constexpr int kReplyTimeoutMs = 100;

std::vector<std::string_view> splitRequests(std::string_view input)
{
    std::vector<std::string_view> out;
    while (out.size() < kMaxRequests) {
        const auto at = input.find(kSeparator);
        out.push_back(input.substr(0, at));
        if (at == std::string_view::npos)
            break;
        input.remove_prefix(at + kSeparator.size());
    }
    return out;
}

// Sends one request and waits for its reply; a timeout is an acceptable answer (parked or
// deliberately dropped requests), a failure to send is not.
void exchange(nng_socket socket, std::string_view request)
{
    std::string bytes(request);
    EDDY_FUZZ_CHECK(nng_send(socket, bytes.data(), bytes.size(), 0) == 0);
    char *buf = nullptr;
    std::size_t size = 0;
    const int rv = nng_recv(socket, &buf, &size, NNG_FLAG_ALLOC);
    EDDY_FUZZ_CHECK(rv == 0 || rv == NNG_ETIMEDOUT);
    if (rv == 0) {
        // Every protocol reply is non-empty (docs/protocol.md).
        EDDY_FUZZ_CHECK(size > 0);
        nng_free(buf, size);
    }
}

std::filesystem::path dataDir()
{
    return std::filesystem::temp_directory_path()
           / ("eddy-fuzz-broker-" + std::to_string(::getpid()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size)
{
    const auto dir = dataDir();
    std::filesystem::remove_all(dir);
    BrokerConfig config;
    config.dataDir = dir.string();
    config.flushIntervalMs = 5;
    config.metricsIntervalMs = 20;
    auto broker = Broker::open(config);
    EDDY_FUZZ_CHECK(broker.ok());

    net::BrokerServerOptions options;
    options.requests.listen = {"inproc://eddy-fuzz-broker"};
    options.requests.workers = 8;
    options.publish = {};
    // Present so the fault op's network kinds (latency, drop, disconnect) reach a real endpoint.
    options.faultyListen = {"inproc://eddy-fuzz-broker-faulty"};
    options.metricsPublishMs = 20;
    auto server = net::BrokerServer::start(**broker, options);
    EDDY_FUZZ_CHECK(server.ok());

    nng_socket socket = NNG_SOCKET_INITIALIZER;
    EDDY_FUZZ_CHECK(nng_req0_open(&socket) == 0);
    nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, kReplyTimeoutMs);
    nng_socket_set_ms(socket, NNG_OPT_SENDTIMEO, kReplyTimeoutMs);
    nng_socket_set_ms(socket, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    EDDY_FUZZ_CHECK(nng_dial(socket, "inproc://eddy-fuzz-broker", nullptr, 0) == 0);

    const std::string_view input(reinterpret_cast<const char *>(data), size);
    for (auto request : splitRequests(input))
        exchange(socket, request);

    nng_close(socket);
    (*server)->stop();
    server->reset();
    broker->reset();
    std::filesystem::remove_all(dir);
    return 0;
}
