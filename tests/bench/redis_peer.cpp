// The Redis Streams consumer side of tests/bench/peers.sh, with hiredis: reads a stream that
// redis-benchmark filled with XADD, either with plain XREAD COUNT n (the batched-fetch peer of
// `eddy bench consume`) or as a consumer group with XREADGROUP COUNT n followed by one XACK of
// the ids read (the group-consume peer). Every connection reads the whole stream, as every
// `eddy bench consume` connection reads its whole partition. Prints one JSON object with the
// same fields as `eddy bench --json`; latency is per read (XREADGROUP: read + ack).
//
// usage: eddy_redis_peer --port P [--stream KEY] [--count N] [--connections N] [--group]
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int port = 6379;
    std::string stream = "bench";
    int count = 100;
    int connections = 1;
    bool group = false;
};

struct Tally {
    long long records = 0;
    long long bytes = 0;
    std::vector<int64_t> latenciesNs;
};

redisContext *connect(const Options &o)
{
    redisContext *c = redisConnect("127.0.0.1", o.port);
    if (!c || c->err) {
        std::fprintf(stderr, "eddy_redis_peer: cannot connect to 127.0.0.1:%d: %s\n", o.port,
                     c ? c->errstr : "out of memory");
        std::exit(1);
    }
    return c;
}

redisReply *command(redisContext *c, const std::vector<std::string> &args)
{
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (const auto &a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto *r = static_cast<redisReply *>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!r || r->type == REDIS_REPLY_ERROR) {
        std::fprintf(stderr, "eddy_redis_peer: %s failed: %s\n", args.front().c_str(),
                     r ? r->str : c->errstr);
        std::exit(1);
    }
    return r;
}

// XREAD/XREADGROUP reply: [[stream, [[id, [field, value, ...]], ...]]]. Appends the entries'
// ids and returns how many entries and value bytes it held.
std::pair<long long, long long> entries(const redisReply *r, std::vector<std::string> &ids)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return {0, 0};
    const redisReply *list = r->element[0]->element[1];
    long long bytes = 0;
    for (size_t i = 0; i < list->elements; ++i) {
        const redisReply *e = list->element[i];
        ids.emplace_back(e->element[0]->str, e->element[0]->len);
        const redisReply *fields = e->element[1];
        for (size_t f = 1; f < fields->elements; f += 2)
            bytes += static_cast<long long>(fields->element[f]->len);
    }
    return {static_cast<long long>(list->elements), bytes};
}

void reader(const Options &o, int index, Tally &t)
{
    redisContext *c = connect(o);
    const std::string count = std::to_string(o.count);
    const std::string consumer = "c" + std::to_string(index);
    const std::string group = "g" + std::to_string(index); // every connection reads it all
    if (o.group)
        freeReplyObject(command(c, {"XGROUP", "CREATE", o.stream, group, "0"}));
    std::string last = "0";
    std::vector<std::string> ids;
    for (;;) {
        ids.clear();
        const auto start = Clock::now();
        redisReply *r = o.group ? command(c, {"XREADGROUP", "GROUP", group, consumer, "COUNT",
                                              count, "STREAMS", o.stream, ">"})
                                : command(c, {"XREAD", "COUNT", count, "STREAMS", o.stream, last});
        const auto [n, bytes] = entries(r, ids);
        freeReplyObject(r);
        if (n == 0)
            break;
        if (o.group) {
            std::vector<std::string> ack{"XACK", o.stream, group};
            ack.insert(ack.end(), ids.begin(), ids.end());
            freeReplyObject(command(c, ack));
        }
        t.latenciesNs.push_back((Clock::now() - start).count());
        t.records += n;
        t.bytes += bytes;
        last = ids.back();
    }
    if (o.group)
        freeReplyObject(command(c, {"XGROUP", "DESTROY", o.stream, group}));
    redisFree(c);
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
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--group") {
            o.group = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "eddy_redis_peer: %s needs a value\n", k.c_str());
            return 2;
        }
        const char *v = argv[++i];
        if (k == "--port") o.port = std::atoi(v);
        else if (k == "--stream") o.stream = v;
        else if (k == "--count") o.count = std::max(1, std::atoi(v));
        else if (k == "--connections") o.connections = std::max(1, std::atoi(v));
        else {
            std::fprintf(stderr, "eddy_redis_peer: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    std::vector<Tally> tallies(static_cast<std::size_t>(o.connections));
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int i = 0; i < o.connections; ++i)
        threads.emplace_back(reader, std::cref(o), i, std::ref(tallies[static_cast<size_t>(i)]));
    for (auto &t : threads)
        t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    long long records = 0, bytes = 0;
    std::vector<int64_t> all;
    for (auto &t : tallies) {
        records += t.records;
        bytes += t.bytes;
        all.insert(all.end(), t.latenciesNs.begin(), t.latenciesNs.end());
    }
    std::sort(all.begin(), all.end());
    std::printf("{\"workload\":\"%s\",\"records\":%lld,\"seconds\":%.4f,\"records_per_s\":%.1f,"
                "\"mb_per_s\":%.3f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
                "\"max_us\":%.1f}\n",
                o.group ? "xreadgroup+xack" : "xread", records, seconds,
                static_cast<double>(records) / seconds, static_cast<double>(bytes) / 1e6 / seconds,
                pct(all, 0.5), pct(all, 0.99), pct(all, 0.999),
                all.empty() ? 0.0 : static_cast<double>(all.back()) / 1000.0);
    return 0;
}
