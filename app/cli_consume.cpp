// `eddy consume TOPIC`: without --group, reads the topic's partitions directly from a start
// position (client::Reader); with --group, joins the group, polls and commits what it printed
// (client::Consumer). Stops at the end of the log unless --follow, or after --count records.
#include "cli_commands.h"
#include "cli_common.h"
#include "admin.h"
#include "consumer.h"
#include "json_codec.h"
#include "reader.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>

namespace eddy::cli {

namespace {

constexpr const char *kConsumeCommand = "consume";

std::atomic<bool> g_interrupted{false};

void onInterrupt(int)
{
    g_interrupted = true;
}

struct Printer {
    bool json = false;
    bool keys = false;

    void print(const client::ConsumerRecord &r) const
    {
        if (json) {
            auto j = net::recordToJson(r.record);
            j["topic"] = r.topic;
            j["partition"] = r.partition;
            return printJson(j);
        }
        if (keys)
            std::printf("%s\t", r.record.key ? r.record.key->c_str() : "");
        std::fwrite(r.record.value.data(), 1, r.record.value.size(), stdout);
        std::fputc('\n', stdout);
    }
};

} // namespace

int runConsume(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Prints records of a topic, one value per line.");
    parser.addHelpOption();
    parser.addPositionalArgument("topic", "Topic to consume.");
    CommonOptions common;
    common.addTo(parser);
    QCommandLineOption group({"g", "group"}, "Consume as a member of this group and commit what "
                                             "was printed.", "group");
    QCommandLineOption from("from", "earliest, latest or an offset (default earliest; with "
                                    "--group: where partitions without a commit start).",
                            "pos", "earliest");
    QCommandLineOption partition({"p", "partition"}, "Only this partition (without --group).",
                                 "n");
    QCommandLineOption count({"n", "count"}, "Stop after this many records.", "n");
    QCommandLineOption follow({"f", "follow"}, "Keep waiting for new records (Ctrl-C stops).");
    QCommandLineOption keys("keys", "Print key<TAB>value.");
    QCommandLineOption idle("idle-ms", "With --group and without --follow: stop after this long "
                                       "without records (default 1000).", "ms", "1000");
    parser.addOptions({group, from, partition, count, follow, keys, idle});
    parser.process(args);

    const QStringList pos = parser.positionalArguments();
    if (pos.size() != 1)
        return usage(kConsumeCommand, "exactly one topic is required");
    const std::string topic = pos.at(0).toStdString();
    const auto start = client::StartPosition::parse(parser.value(from).toStdString());
    if (!start)
        return usage(kConsumeCommand, "--from must be earliest, latest or a non-negative offset");
    std::optional<int64_t> limit;
    if (parser.isSet(count)) {
        limit = parseCount(parser.value(count));
        if (!limit || *limit < 1)
            return usage(kConsumeCommand, "--count needs a positive integer");
    }
    const auto idleMs = parseCount(parser.value(idle));
    if (!idleMs)
        return usage(kConsumeCommand, "--idle-ms needs a non-negative integer");
    const bool followMode = parser.isSet(follow);
    const Printer printer{parser.isSet(common.json), parser.isSet(keys)};
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    int64_t printed = 0;
    const auto remaining = [&] { return limit ? *limit - printed : INT64_MAX; };

    if (!parser.isSet(group)) {
        client::ReaderOptions options;
        static_cast<client::ConnectionOptions &>(options) = common.connection(parser);
        options.topic = topic;
        options.start = *start;
        if (parser.isSet(partition)) {
            auto p = parseCount(parser.value(partition));
            if (!p || *p > INT32_MAX)
                return usage(kConsumeCommand, "--partition needs a non-negative integer");
            options.partitions = {static_cast<int32_t>(*p)};
        }
        auto reader = client::Reader::open(options);
        if (!reader)
            return fail(kConsumeCommand, reader.error());
        while (!g_interrupted && remaining() > 0) {
            if (!followMode && (*reader)->caughtUp())
                break;
            auto records = (*reader)->read(followMode ? 500 : 200);
            if (!records)
                return fail(kConsumeCommand, records.error());
            for (const auto &r : *records) {
                if (remaining() <= 0)
                    break;
                printer.print(r);
                ++printed;
            }
            std::fflush(stdout);
        }
        return 0;
    }

    if (parser.isSet(partition))
        return usage(kConsumeCommand, "--partition cannot be combined with --group");
    if (start->kind == client::StartPosition::Kind::Offset)
        return usage(kConsumeCommand, "with --group, --from must be earliest or latest");
    client::ConnectionOptions connection = common.connection(parser);
    {
        // Joining a group for a topic that does not exist would wait for nothing.
        auto admin = client::Admin::open(connection);
        if (!admin)
            return fail(kConsumeCommand, admin.error());
        if (auto t = (*admin)->describeTopic(topic); !t)
            return fail(kConsumeCommand, t.error());
    }
    client::ConsumerOptions options;
    static_cast<client::ConnectionOptions &>(options) = connection;
    options.group = parser.value(group).toStdString();
    options.topics = {topic};
    options.autoCommit = false;
    options.autoOffsetReset = start->kind == client::StartPosition::Kind::Latest ? "latest"
                                                                                 : "earliest";
    options.clientId = "eddy-cli";
    // Only printed records are committed; asking for no more than --count wastes nothing.
    if (limit)
        options.maxPollRecords = static_cast<std::size_t>(std::min<int64_t>(*limit, 500));
    auto consumer = client::Consumer::open(options);
    if (!consumer)
        return fail(kConsumeCommand, consumer.error());
    auto &c = **consumer;
    while (!g_interrupted && remaining() > 0) {
        auto records = c.poll(followMode ? 500 : static_cast<int>(*idleMs));
        if (!records) {
            (void)c.close();
            return fail(kConsumeCommand, records.error());
        }
        if (records->empty() && !followMode)
            break;
        std::map<TopicPartition, int64_t> done;
        for (const auto &r : *records) {
            if (remaining() <= 0)
                break;
            printer.print(r);
            ++printed;
            done[TopicPartition{r.topic, r.partition}] = r.record.offset + 1;
        }
        std::fflush(stdout);
        if (!done.empty()) {
            if (auto committed = c.commit(done); !committed) {
                (void)c.close();
                return fail(kConsumeCommand, committed.error());
            }
        }
    }
    if (auto closed = c.close(); !closed)
        return fail(kConsumeCommand, closed.error());
    return 0;
}

} // namespace eddy::cli
