// In-process benchmark of the broker engine: produce (append) and fetch (read) throughput in
// both durability modes, next to a peer measured in the same run -- raw SQLite inserting the
// same records one row each, 1,000 rows per WAL transaction, with the same synchronous setting.
// The ratio engine/peer is the figure to report; absolute numbers depend on the machine.
//
// usage: eddy_engine_bench [--records N] [--size BYTES] [--batch N] [--producers N]
//                          [--durability fast|durable|both] [--dir DIR] [--sqlite-only]
//
// --sqlite-only measures just the raw SQLite peer (of --durability fast or durable) and prints
// {"records_per_s": N}: tests/bench/peers.sh uses it as the durable-store ceiling.
#include "broker.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int64_t records = 1000000;
    std::size_t size = 100;
    int batch = 1000;
    int producers = 4;
    std::string durability = "both";
    std::string dir = "/tmp/eddy-engine-bench";
    bool sqliteOnly = false;
};

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

struct Figures {
    double produce = 0; // records/s
    double fetch = 0;
    double sqlite = 0;
};

Figures runEngine(const Options &o, eddy::Durability durability)
{
    const std::string dir = o.dir
                            + (durability == eddy::Durability::Durable ? "/durable" : "/fast");
    std::filesystem::remove_all(dir);
    eddy::BrokerConfig config;
    config.dataDir = dir;
    config.durability = durability;
    auto broker = eddy::Broker::open(config);
    if (!broker) {
        std::fprintf(stderr, "open: %s\n", broker.error().message.c_str());
        std::exit(1);
    }
    auto &b = **broker;
    const int partitions = o.producers;
    (void)b.createTopic({"bench", partitions, {}});

    const std::string value(o.size, 'x');
    const int64_t perProducer = o.records / o.producers;
    std::atomic<int64_t> failures{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int p = 0; p < o.producers; ++p) {
        threads.emplace_back([&, p] {
            for (int64_t done = 0; done < perProducer; done += o.batch) {
                eddy::ProduceRequest req;
                req.topic = "bench";
                req.partition = p;
                req.acks = durability == eddy::Durability::Durable ? eddy::Acks::Durable
                                                                   : eddy::Acks::Leader;
                const int64_t n = std::min<int64_t>(o.batch, perProducer - done);
                req.records.resize(static_cast<std::size_t>(n));
                for (auto &r : req.records)
                    r.value = value;
                if (!b.produceSync(std::move(req)))
                    ++failures;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    const auto produced = Clock::now();
    Figures f;
    f.produce = static_cast<double>(perProducer * o.producers) / seconds(start, produced);

    int64_t read = 0;
    const auto fetchStart = Clock::now();
    for (int p = 0; p < partitions; ++p) {
        int64_t offset = 0;
        for (;;) {
            auto r = b.fetchSync({"bench", p, offset, 5000, 8 << 20, 0, {}});
            if (!r || r->records.empty())
                break;
            read += static_cast<int64_t>(r->records.size());
            offset = r->records.back().offset + 1;
        }
    }
    f.fetch = static_cast<double>(read) / seconds(fetchStart, Clock::now());
    b.close();
    if (failures)
        std::fprintf(stderr, "warning: %lld produce requests failed\n",
                     static_cast<long long>(failures.load()));
    return f;
}

double runSqlitePeer(const Options &o, eddy::Durability durability)
{
    const std::string path = o.dir + "/peer.db";
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    sqlite3 *db = nullptr;
    sqlite3_open(path.c_str(), &db);
    const std::string sync = durability == eddy::Durability::Durable ? "FULL" : "NORMAL";
    sqlite3_exec(db, ("PRAGMA journal_mode=WAL; PRAGMA synchronous=" + sync + ";").c_str(), nullptr,
                 nullptr, nullptr);
    sqlite3_exec(db, "CREATE TABLE r(topic INTEGER, partition INTEGER, offset INTEGER, ts INTEGER, "
                     "value BLOB, PRIMARY KEY(topic, partition, offset))",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt *s = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO r VALUES(1, 0, ?, ?, ?)", -1, &s, nullptr);
    const std::string value(o.size, 'x');
    const auto start = Clock::now();
    for (int64_t i = 0; i < o.records; i += 1000) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (int64_t k = i; k < std::min<int64_t>(i + 1000, o.records); ++k) {
            sqlite3_bind_int64(s, 1, k);
            sqlite3_bind_int64(s, 2, 1700000000000 + k);
            sqlite3_bind_blob(s, 3, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    const double rate = static_cast<double>(o.records) / seconds(start, Clock::now());
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rate;
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--sqlite-only") {
            o.sqliteOnly = true;
            --i;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s needs a value\n", k.c_str());
            return 2;
        }
        const char *v = argv[i + 1];
        if (k == "--records") o.records = std::atoll(v);
        else if (k == "--size") o.size = static_cast<std::size_t>(std::atoll(v));
        else if (k == "--batch") o.batch = std::atoi(v);
        else if (k == "--producers") o.producers = std::max(1, std::atoi(v));
        else if (k == "--durability") o.durability = v;
        else if (k == "--dir") o.dir = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    std::filesystem::create_directories(o.dir);
    if (o.sqliteOnly) {
        const auto mode = o.durability == "durable" ? eddy::Durability::Durable
                                                    : eddy::Durability::Fast;
        std::printf("{\"records_per_s\": %.1f}\n", runSqlitePeer(o, mode));
        std::filesystem::remove_all(o.dir);
        return 0;
    }
    std::printf("records %lld x %zu B, batch %d, producers %d\n",
                static_cast<long long>(o.records), o.size, o.batch, o.producers);
    std::printf("%-9s %14s %14s %16s %8s\n", "mode", "produce rec/s", "fetch rec/s",
                "sqlite peer rec/s", "ratio");
    for (auto mode : {eddy::Durability::Fast, eddy::Durability::Durable}) {
        const bool durable = mode == eddy::Durability::Durable;
        if ((o.durability == "fast" && durable) || (o.durability == "durable" && !durable))
            continue;
        const auto f = runEngine(o, mode);
        const double peer = runSqlitePeer(o, mode);
        std::printf("%-9s %14.0f %14.0f %16.0f %7.2fx\n", durable ? "durable" : "fast", f.produce,
                    f.fetch, peer, f.produce / peer);
    }
    std::filesystem::remove_all(o.dir);
    return 0;
}
