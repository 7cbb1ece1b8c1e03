// The raw NNG peer of tests/bench/peers.sh: the message pattern of `eddy bench produce` (REQ
// clients, each keeping `inflight` requests of `batch` records' worth of bytes in flight, to a
// REP server of async work items on a loopback tcp port, all in one process) with no broker
// logic at all: the server answers every request with a small fixed reply. Its message rate and
// round-trip latency are the ceiling of the transport Eddy runs on.
//
// With --rate R, one connection sends one request every 1/R s instead (open loop, from the
// main thread) and latency counts from the moment each was due: the idle round trip that
// `eddy bench e2e --rate R` is compared with, paced the same way.
//
// usage: eddy_nng_peer [--requests N] [--size BYTES] [--batch N] [--connections N]
//                      [--inflight N] [--reply BYTES] [--rate R] [--json]
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    long long requests = 100000;
    std::size_t size = 100;
    int batch = 1;
    int connections = 1;
    int inflight = 1;
    std::size_t reply = 16;
    double rate = 0;
    bool json = false;
};

void check(int rv, const char *what)
{
    if (rv != 0) {
        std::fprintf(stderr, "eddy_nng_peer: %s: %s\n", what, nng_strerror(rv));
        std::exit(1);
    }
}

// A server work item: receive on its context, answer with the fixed reply, receive again.
struct Worker {
    nng_aio *aio = nullptr;
    nng_ctx ctx;
    bool sending = false;
    std::size_t reply = 16;
};

void onWorker(void *arg)
{
    auto *w = static_cast<Worker *>(arg);
    if (nng_aio_result(w->aio) != 0) {
        if (w->sending) {
            nng_msg_free(nng_aio_get_msg(w->aio));
            w->sending = false;
        }
        return; // closed
    }
    if (w->sending) {
        w->sending = false;
        nng_ctx_recv(w->ctx, w->aio);
        return;
    }
    nng_msg *msg = nng_aio_get_msg(w->aio);
    // The same work a broker does at the least: look at the request, build a reply.
    nng_msg_clear(msg);
    nng_msg_realloc(msg, w->reply);
    std::memset(nng_msg_body(msg), 0, w->reply);
    nng_aio_set_msg(w->aio, msg);
    w->sending = true;
    nng_ctx_send(w->ctx, w->aio);
}

struct Run;

// A client request chain: send, receive, record the latency, send the next.
struct Flight {
    Run *run = nullptr;
    nng_aio *aio = nullptr;
    nng_ctx ctx;
    bool sending = false;
    Clock::time_point sentAt;
    std::vector<int64_t> latenciesNs;
};

struct Run {
    Options o;
    std::string payload;
    std::atomic<long long> claimed{0};
    std::atomic<long long> done{0};
    std::atomic<int> active{0};
    std::mutex mutex;
    std::condition_variable cv;
};

void startNext(Flight *f)
{
    Run *run = f->run;
    if (run->claimed.fetch_add(1) >= run->o.requests) {
        if (--run->active == 0) {
            std::lock_guard lock(run->mutex);
            run->cv.notify_all();
        }
        return;
    }
    nng_msg *msg = nullptr;
    check(nng_msg_alloc(&msg, run->payload.size()), "nng_msg_alloc");
    std::memcpy(nng_msg_body(msg), run->payload.data(), run->payload.size());
    nng_aio_set_msg(f->aio, msg);
    f->sending = true;
    f->sentAt = Clock::now();
    nng_ctx_send(f->ctx, f->aio);
}

void onFlight(void *arg)
{
    auto *f = static_cast<Flight *>(arg);
    const int rv = nng_aio_result(f->aio);
    if (rv != 0) {
        std::fprintf(stderr, "eddy_nng_peer: request failed: %s\n", nng_strerror(rv));
        std::exit(1);
    }
    if (f->sending) {
        f->sending = false;
        nng_ctx_recv(f->ctx, f->aio);
        return;
    }
    nng_msg_free(nng_aio_get_msg(f->aio));
    f->latenciesNs.push_back((Clock::now() - f->sentAt).count());
    ++f->run->done;
    startNext(f);
}

double pct(const std::vector<int64_t> &sorted, double p)
{
    if (sorted.empty())
        return 0;
    const auto rank = std::min(sorted.size() - 1,
                               static_cast<std::size_t>(p * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[rank]) / 1000.0;
}

} // namespace

int main(int argc, char **argv)
{
    Run run;
    Options &o = run.o;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--json") {
            o.json = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "eddy_nng_peer: %s needs a value\n", k.c_str());
            return 2;
        }
        const char *v = argv[++i];
        if (k == "--requests") o.requests = std::atoll(v);
        else if (k == "--size") o.size = static_cast<std::size_t>(std::atoll(v));
        else if (k == "--batch") o.batch = std::max(1, std::atoi(v));
        else if (k == "--connections") o.connections = std::max(1, std::atoi(v));
        else if (k == "--inflight") o.inflight = std::max(1, std::atoi(v));
        else if (k == "--reply") o.reply = static_cast<std::size_t>(std::atoll(v));
        else if (k == "--rate") o.rate = std::atof(v);
        else {
            std::fprintf(stderr, "eddy_nng_peer: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    // A record on Eddy's wire is its value plus about 4 bytes of varints; a request adds ~20.
    run.payload.assign(static_cast<std::size_t>(o.batch) * (o.size + 4) + 20, 'x');

    nng_socket rep;
    check(nng_rep0_open(&rep), "nng_rep0_open");
    nng_listener listener;
    check(nng_listen(rep, "tcp://127.0.0.1:0", &listener, 0), "nng_listen");
    nng_sockaddr addr;
    check(nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &addr), "local address");
    const std::string url = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.s_in.sa_port));
    const int workers = std::max(256, o.connections * o.inflight + 16);
    std::vector<std::unique_ptr<Worker>> pool;
    for (int i = 0; i < workers; ++i) {
        auto w = std::make_unique<Worker>();
        w->reply = o.reply;
        check(nng_aio_alloc(&w->aio, onWorker, w.get()), "nng_aio_alloc");
        check(nng_ctx_open(&w->ctx, rep), "nng_ctx_open");
        nng_ctx_recv(w->ctx, w->aio);
        pool.push_back(std::move(w));
    }

    std::vector<nng_socket> clients(static_cast<std::size_t>(o.connections));
    std::vector<std::unique_ptr<Flight>> flights;
    for (auto &s : clients) {
        check(nng_req0_open(&s), "nng_req0_open");
        nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        check(nng_dial(s, url.c_str(), nullptr, 0), "nng_dial");
        for (int i = 0; i < o.inflight; ++i) {
            auto f = std::make_unique<Flight>();
            f->run = &run;
            f->latenciesNs.reserve(static_cast<std::size_t>(o.requests / o.connections + 16));
            check(nng_aio_alloc(&f->aio, onFlight, f.get()), "nng_aio_alloc");
            check(nng_ctx_open(&f->ctx, s), "nng_ctx_open");
            flights.push_back(std::move(f));
        }
    }
    run.active = static_cast<int>(flights.size());
    const auto start = Clock::now();
    if (o.rate > 0) {
        // Paced: synchronous requests on the first socket, each timed from its due moment.
        Flight &f = *flights.front();
        for (long long k = 0; k < o.requests; ++k) {
            const auto due = start + std::chrono::nanoseconds(
                                 static_cast<long long>(static_cast<double>(k) * 1e9 / o.rate));
            std::this_thread::sleep_until(due);
            nng_msg *msg = nullptr;
            check(nng_msg_alloc(&msg, run.payload.size()), "nng_msg_alloc");
            std::memcpy(nng_msg_body(msg), run.payload.data(), run.payload.size());
            check(nng_sendmsg(clients.front(), msg, 0), "nng_sendmsg");
            check(nng_recvmsg(clients.front(), &msg, 0), "nng_recvmsg");
            nng_msg_free(msg);
            f.latenciesNs.push_back((Clock::now() - due).count());
            ++run.done;
        }
    } else {
        for (auto &f : flights)
            startNext(f.get());
        std::unique_lock lock(run.mutex);
        run.cv.wait(lock, [&] { return run.active.load() == 0; });
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto &s : clients)
        nng_close(s);
    nng_close(rep);
    std::vector<int64_t> all;
    for (auto &f : flights) {
        nng_aio_free(f->aio);
        all.insert(all.end(), f->latenciesNs.begin(), f->latenciesNs.end());
    }
    for (auto &w : pool)
        nng_aio_free(w->aio);
    std::sort(all.begin(), all.end());

    const double msgs = static_cast<double>(run.done.load());
    const double records = msgs * o.batch;
    const double mb = records * static_cast<double>(o.size) / 1e6;
    if (o.json) {
        std::printf("{\"workload\":\"nng\",\"requests\":%.0f,\"records\":%.0f,\"seconds\":%.4f,"
                    "\"requests_per_s\":%.1f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f,"
                    "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
                    msgs, records, seconds, msgs / seconds, records / seconds, mb / seconds,
                    pct(all, 0.5), pct(all, 0.99), pct(all, 0.999),
                    all.empty() ? 0.0 : static_cast<double>(all.back()) / 1000.0);
    } else {
        std::printf("raw nng %s: %d connection(s) x %d in flight, %zu B requests\n", url.c_str(),
                    o.connections, o.inflight, run.payload.size());
        std::printf("requests/s %.0f  records/s %.0f  p50 %.1f us  p99 %.1f us  max %.1f us\n",
                    msgs / seconds, records / seconds, pct(all, 0.5), pct(all, 0.99),
                    all.empty() ? 0.0 : static_cast<double>(all.back()) / 1000.0);
    }
    return 0;
}
