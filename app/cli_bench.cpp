// `eddy bench produce|consume|roundtrip|e2e|producer`: argument handling and printing around the
// load generator of simulations/bench_load.h. By default it measures a broker embedded in this
// process and served on a loopback tcp port; --broker measures any other.
#include "bench_load.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "json_codec.h"

#include <cstdio>
#include <string>

namespace eddy::cli {

namespace {

constexpr const char *kBenchCommand = "bench";

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::optional<sim::BenchWorkload> parseWorkload(const QString &name)
{
    for (auto w : {sim::BenchWorkload::Produce, sim::BenchWorkload::Consume,
                   sim::BenchWorkload::Roundtrip, sim::BenchWorkload::E2e,
                   sim::BenchWorkload::Producer})
        if (name == sim::benchWorkloadName(w))
            return w;
    return std::nullopt;
}

void printResult(const sim::BenchOptions &o, const sim::BenchResult &r, bool json)
{
    if (json) {
        printJson({{"workload", r.workload},
                   {"transport", r.transport},
                   {"records", r.records},
                   {"bytes", r.bytes},
                   {"requests", r.requests},
                   {"errors", r.errors},
                   {"seconds", r.seconds},
                   {"records_per_s", r.recordsPerS},
                   {"mb_per_s", r.mbPerS},
                   {"p50_us", r.p50Us},
                   {"p99_us", r.p99Us},
                   {"p999_us", r.p999Us},
                   {"max_us", r.maxUs},
                   {"record_size", o.recordSize},
                   {"batch", o.batch},
                   {"acks", std::string(net::acksName(o.acks))},
                   {"partitions", o.partitions},
                   {"topics", o.topics},
                   {"connections", o.connections},
                   {"inflight", o.inflight},
                   {"linger_ms", o.lingerMs},
                   {"records_per_request",
                    r.requests > 0 ? static_cast<double>(r.records) / r.requests : 0.0}});
        return;
    }
    std::printf("%s: %s\n", r.workload.c_str(), r.transport.c_str());
    const bool producer = o.workload == sim::BenchWorkload::Producer;
    const std::string batching =
        producer ? "batches of up to " + std::to_string(o.batch) + " (linger "
                       + std::to_string(o.lingerMs) + " ms, "
                       + fixed(r.requests > 0 ? static_cast<double>(r.records) / r.requests : 0,
                               1)
                       + " per request)"
                 : std::to_string(o.batch) + " per request";
    std::printf("%lld records x %zu B, %s, acks %s, %d topic(s) x %d partition(s), "
                "%d %s, %d %s each\n",
                static_cast<long long>(r.records), o.recordSize, batching.c_str(),
                std::string(net::acksName(o.acks)).c_str(), o.topics, o.partitions,
                o.connections, producer ? "producer(s)" : "connection(s)", o.inflight,
                producer ? "records outstanding" : "in flight");
    const char *latency = r.workload == "e2e" ? "per record, due to consumed"
                          : producer          ? "per record, send() to ack"
                                              : "per request";
    printTable({"records/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "max us", "requests",
                "errors", "seconds"},
               {{fixed(r.recordsPerS, 0), fixed(r.mbPerS, 1), fixed(r.p50Us, 0),
                 fixed(r.p99Us, 0), fixed(r.p999Us, 0), fixed(r.maxUs, 0),
                 std::to_string(r.requests), std::to_string(r.errors), fixed(r.seconds, 2)}});
    std::printf("latency: %s\n", latency);
}

} // namespace

int runBench(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Measures a broker: produce (closed-loop throughput), consume (fetch throughput from a "
        "filled topic), roundtrip (one record per request: latency), e2e (produce at --rate, "
        "latency from send to consume), producer (records sent one at a time through the client "
        "library's Producer, which batches them: --inflight records outstanding per producer, "
        "--batch records per batch at most). Embedded broker on a loopback port unless "
        "--broker.");
    parser.addHelpOption();
    parser.addPositionalArgument("workload", "produce, consume, roundtrip, e2e or producer.");
    QCommandLineOption broker("broker", "Broker URL (default: an embedded broker).", "url");
    QCommandLineOption json("json", "Print one JSON object instead of a table.");
    QCommandLineOption records("records", "Records to produce (default 100000).", "n", "100000");
    QCommandLineOption size("record-size", "Value bytes per record (default 100).", "bytes",
                            "100");
    QCommandLineOption batch("batch", "Records per produce request, or at most per fetch or "
                                      "per producer batch (default 1000; roundtrip and e2e: 1).",
                             "n");
    QCommandLineOption acks("acks", "none, leader or durable (default leader).", "acks",
                            "leader");
    QCommandLineOption partitions("partitions", "Partitions per topic (default 1).", "n", "1");
    QCommandLineOption topics("topics", "Topics (default 1; several are named TOPIC-i).", "n",
                              "1");
    QCommandLineOption connections("connections", "Client connections (default 1).", "n", "1");
    QCommandLineOption inflight("inflight", "Requests in flight per connection; producer: records "
                                "outstanding per producer (default 1).", "n", "1");
    QCommandLineOption linger("linger-ms", "producer: how long a batch waits for more records "
                              "(default 5, the client library's).", "ms", "5");
    QCommandLineOption rate("rate", "e2e: records per second (default 1000).", "n", "1000");
    QCommandLineOption waitMs("wait-ms", "e2e: long-poll wait of fetches (default 500).", "ms",
                              "500");
    QCommandLineOption durability("durability", "Embedded broker: fast or durable (default "
                                                "fast).", "mode", "fast");
    QCommandLineOption dataDir("data-dir", "Embedded broker's data directory (default: a "
                                           "temporary one, removed after).", "dir");
    QCommandLineOption topic("topic", "Topic (default: a fresh one, deleted after).", "name");
    QCommandLineOption keep("keep-topic", "Do not delete the generated topic after the run.");
    QCommandLineOption quiet("quiet", "No progress lines on stderr.");
    QCommandLineOption kafka("kafka", "produce and e2e: over Kafka's wire protocol (the embedded "
                                      "broker's Kafka listener, or --kafka-bootstrap with "
                                      "--broker).");
    QCommandLineOption kafkaBootstrap("kafka-bootstrap", "--kafka with --broker: the broker's "
                                                         "Kafka listener.", "host:port");
    parser.addOptions({kafka, kafkaBootstrap});
    QCommandLineOption token("token", "--broker: access-control token (default: $EDDY_TOKEN).",
                             "token");
    parser.addOptions({broker, json, records, size, batch, acks, partitions, topics, connections,
                       inflight, linger, rate, waitMs, durability, dataDir, topic, keep, quiet,
                       token});
    parser.process(args);

    const QStringList pos = parser.positionalArguments();
    if (pos.size() != 1)
        return usage(kBenchCommand,
                     "exactly one workload is required: produce, consume, roundtrip, "
                     "e2e or producer");
    auto workload = parseWorkload(pos.at(0));
    if (!workload)
        return usage(kBenchCommand, "unknown workload '" + pos.at(0).toStdString()
                                   + "' (produce, consume, roundtrip, e2e or producer)");
    sim::BenchOptions o;
    o.workload = *workload;
    auto acksValue = net::parseAcks(parser.value(acks).toStdString());
    if (!acksValue)
        return usage(kBenchCommand, "--acks must be none, leader or durable, not '"
                                   + parser.value(acks).toStdString() + "'");
    o.acks = *acksValue;
    const QString mode = parser.value(durability);
    if (mode != "fast" && mode != "durable")
        return usage(kBenchCommand, "--durability must be fast or durable");
    o.durability = mode == "durable" ? Durability::Durable : Durability::Fast;

    struct Count {
        const QCommandLineOption &option;
        int64_t min;
        int64_t max;
    };
    const auto count = [&](const Count &c, int64_t fallback) -> std::optional<int64_t> {
        if (!parser.isSet(c.option) && c.option.defaultValues().isEmpty())
            return fallback;
        auto v = parseCount(parser.value(c.option));
        if (!v || *v < c.min || *v > c.max)
            return std::nullopt;
        return v;
    };
    const bool single = o.workload == sim::BenchWorkload::Roundtrip
                        || o.workload == sim::BenchWorkload::E2e;
    const std::pair<const char *, Count> checks[] = {
        {"records", {records, 1, INT64_MAX / 2}}, {"record-size", {size, 8, 1 << 20}},
        {"batch", {batch, 1, 100000}},           {"partitions", {partitions, 1, 100000}},
        {"connections", {connections, 1, 10000}}, {"inflight", {inflight, 1, 1024}},
        {"rate", {rate, 1, 100000000}},           {"wait-ms", {waitMs, 0, 600000}},
        {"topics", {topics, 1, 1000}},           {"linger-ms", {linger, 0, 60000}},
    };
    int64_t values[std::size(checks)];
    for (std::size_t i = 0; i < std::size(checks); ++i) {
        auto v = count(checks[i].second, single ? 1 : 1000);
        if (!v)
            return usage(kBenchCommand, std::string("--") + checks[i].first
                                            + " needs an integer from "
                                            + std::to_string(checks[i].second.min) + " to "
                                            + std::to_string(checks[i].second.max));
        values[i] = *v;
    }
    o.records = values[0];
    o.recordSize = static_cast<std::size_t>(values[1]);
    o.batch = static_cast<int>(values[2]);
    o.partitions = static_cast<int>(values[3]);
    o.connections = static_cast<int>(values[4]);
    o.inflight = static_cast<int>(values[5]);
    o.rate = static_cast<double>(values[6]);
    o.fetchWaitMs = static_cast<int>(values[7]);
    o.topics = static_cast<int>(values[8]);
    o.lingerMs = static_cast<int>(values[9]);
    if (o.workload == sim::BenchWorkload::Roundtrip && (o.batch != 1 || o.inflight != 1))
        return usage(kBenchCommand, "roundtrip sends one record per request, one at a time: use "
                               "produce for --batch or --inflight");
    o.brokerUrl = parser.value(broker).toStdString();
    if (!o.brokerUrl.empty() && (parser.isSet(durability) || parser.isSet(dataDir)))
        return usage(kBenchCommand, "--durability and --data-dir are for the embedded broker; "
                               "the broker at --broker has its own");
    o.dataDir = parser.value(dataDir).toStdString();
    if (!o.brokerUrl.empty())
        o.token = tokenValue(parser, token);
    o.topic = parser.value(topic).toStdString();
    o.keepTopic = parser.isSet(keep);
    o.kafka = parser.isSet(kafka);
    o.kafkaBootstrap = parser.value(kafkaBootstrap).toStdString();
    if (o.kafka && o.workload != eddy::sim::BenchWorkload::Produce
        && o.workload != eddy::sim::BenchWorkload::E2e)
        return usage(kBenchCommand, "--kafka measures the produce and e2e workloads");
    if (o.kafka && !o.brokerUrl.empty() && o.kafkaBootstrap.empty())
        return usage(kBenchCommand, "--kafka with --broker needs --kafka-bootstrap host:port");
    if (!parser.isSet(quiet)) {
        o.progress = [workload = pos.at(0).toStdString()](int64_t done, int64_t total,
                                                          double seconds) {
            std::fprintf(stderr, "eddy bench %s: %lld/%lld records, %.0f s\n", workload.c_str(),
                         static_cast<long long>(done), static_cast<long long>(total), seconds);
        };
    }

    auto result = sim::runBench(o);
    if (!result)
        return fail(kBenchCommand, result.error());
    if (o.workload == sim::BenchWorkload::Consume)
        o.connections = std::max(o.connections, o.partitions * o.topics);
    printResult(o, *result, parser.isSet(json));
    if (result->errors > 0) {
        std::fprintf(stderr, "eddy bench: %lld request(s) failed; first: %s\n",
                     static_cast<long long>(result->errors), result->firstError.c_str());
        return 1;
    }
    return 0;
}

} // namespace eddy::cli
