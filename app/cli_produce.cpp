// `eddy produce TOPIC`: one record from --value, or one per line of stdin, sent through the
// client library's Producer (batched, idempotent); prints where they landed.
#include "cli_commands.h"
#include "cli_common.h"
#include "json_codec.h"
#include "producer.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <string>

namespace eddy::cli {

namespace {

constexpr const char *kProduceCommand = "produce";

} // namespace

int runProduce(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Produces records to a topic: --value, or one record per "
                                     "line of standard input.");
    parser.addHelpOption();
    parser.addPositionalArgument("topic", "Topic to produce to.");
    CommonOptions common;
    common.addTo(parser);
    QCommandLineOption key({"k", "key"}, "Key of every record.", "key");
    QCommandLineOption keySeparator("key-separator", "Split each stdin line at the first SEP "
                                                     "into key and value.", "sep");
    QCommandLineOption partition({"p", "partition"}, "Partition (default: by key, else "
                                                     "round-robin).", "n");
    QCommandLineOption value("value", "The value of a single record (stdin is not read).", "text");
    QCommandLineOption header({"H", "header"}, "Header key=value (repeatable).", "key=value");
    QCommandLineOption acks("acks", "none, leader or durable (default leader).", "acks", "leader");
    parser.addOptions({key, keySeparator, partition, value, header, acks});
    parser.process(args);

    const QStringList pos = parser.positionalArguments();
    if (pos.size() != 1)
        return usage(kProduceCommand, "exactly one topic is required");
    const std::string topic = pos.at(0).toStdString();
    auto acksValue = net::parseAcks(parser.value(acks).toStdString());
    if (!acksValue)
        return usage(kProduceCommand, "--acks must be none, leader or durable");
    std::optional<int32_t> explicitPartition;
    if (parser.isSet(partition)) {
        auto p = parseCount(parser.value(partition));
        if (!p || *p > INT32_MAX)
            return usage(kProduceCommand, "--partition needs a non-negative integer");
        explicitPartition = static_cast<int32_t>(*p);
    }
    std::vector<Header> headers;
    for (const QString &h : parser.values(header)) {
        const auto eq = h.indexOf('=');
        if (eq <= 0)
            return usage(kProduceCommand, "--header needs key=value");
        headers.push_back({h.left(eq).toStdString(), h.mid(eq + 1).toStdString()});
    }
    const std::string separator = parser.value(keySeparator).toStdString();

    client::ProducerOptions options;
    static_cast<client::ConnectionOptions &>(options) = common.connection(parser);
    options.acks = *acksValue;
    options.clientId = "eddy-cli";
    auto producer = client::Producer::open(options);
    if (!producer)
        return fail(kProduceCommand, producer.error());

    std::vector<std::future<Result<client::DeliveryReport>>> pending;
    const auto send = [&](std::string line) {
        Record r;
        if (parser.isSet(key))
            r.key = parser.value(key).toStdString();
        if (!separator.empty()) {
            const auto at = line.find(separator);
            if (at != std::string::npos) {
                r.key = line.substr(0, at);
                line.erase(0, at + separator.size());
            }
        }
        r.value = std::move(line);
        r.headers = headers;
        pending.push_back((*producer)->send(topic, std::move(r), explicitPartition));
    };
    if (parser.isSet(value)) {
        send(parser.value(value).toStdString());
    } else {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            send(std::move(line));
        }
    }
    (*producer)->close();

    int failed = 0;
    std::map<int32_t, std::pair<int64_t, int64_t>> ranges; // partition -> first, last offset
    for (auto &f : pending) {
        auto r = f.get();
        if (!r) {
            if (failed++ == 0)
                fail(kProduceCommand, r.error());
            continue;
        }
        if (parser.isSet(common.json)) {
            printJson({{"topic", r->topic}, {"partition", r->partition}, {"offset", r->offset}});
            continue;
        }
        auto [it, inserted] = ranges.emplace(r->partition, std::pair{r->offset, r->offset});
        if (!inserted) {
            it->second.first = std::min(it->second.first, r->offset);
            it->second.second = std::max(it->second.second, r->offset);
        }
    }
    if (!parser.isSet(common.json)) {
        const std::size_t ok = pending.size() - static_cast<std::size_t>(failed);
        std::printf("Produced %zu record%s to '%s'.\n", ok, ok == 1 ? "" : "s", topic.c_str());
        if (*acksValue != Acks::None && !ranges.empty()) {
            std::vector<std::vector<std::string>> rows;
            for (const auto &[p, range] : ranges)
                rows.push_back({std::to_string(p), std::to_string(range.first),
                                std::to_string(range.second)});
            printTable({"PARTITION", "FIRST-OFFSET", "LAST-OFFSET"}, rows);
        }
    }
    if (failed) {
        std::fprintf(stderr, "eddy produce: %d of %zu records failed\n", failed, pending.size());
        return 1;
    }
    return 0;
}

} // namespace eddy::cli
