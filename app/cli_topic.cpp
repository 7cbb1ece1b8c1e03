// `eddy topic create|list|describe|alter|delete`: argument parsing and printing around the
// client library's Admin.
#include "admin.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "json_codec.h"

#include <cstdio>

namespace eddy::cli {

namespace {

constexpr const char *kTopicCommand = "topic";

std::string retentionText(const RetentionPolicy &r)
{
    std::string out;
    if (r.maxRecords)
        out += std::to_string(r.maxRecords) + " records";
    if (r.maxBytes)
        out += (out.empty() ? "" : ", ") + formatBytes(r.maxBytes);
    if (r.maxAgeMs)
        out += (out.empty() ? "" : ", ") + std::to_string(r.maxAgeMs) + " ms";
    return out.empty() ? "unlimited" : out;
}

int64_t recordCount(const TopicInfo &t)
{
    int64_t n = 0;
    for (const auto &p : t.partitionInfo)
        n += p.highWatermark - p.logStartOffset;
    return n;
}

int64_t sizeBytes(const TopicInfo &t)
{
    int64_t n = 0;
    for (const auto &p : t.partitionInfo)
        n += p.sizeBytes;
    return n;
}

void printTopics(const std::vector<TopicInfo> &topics, bool json)
{
    if (json) {
        for (const auto &t : topics)
            printJson(net::topicInfoToJson(t));
        return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto &t : topics)
        rows.push_back({t.name, std::to_string(t.partitions), std::to_string(recordCount(t)),
                        formatBytes(sizeBytes(t)), retentionText(t.retention)});
    printTable({"TOPIC", "PARTITIONS", "RECORDS", "SIZE", "RETENTION"}, rows);
}

void printTopic(const TopicInfo &t, bool json)
{
    if (json)
        return printJson(net::topicInfoToJson(t));
    std::printf("Topic: %s\nPartitions: %d\nRetention: %s\nRecords: %lld\nSize: %s\n\n",
                t.name.c_str(), t.partitions, retentionText(t.retention).c_str(),
                static_cast<long long>(recordCount(t)), formatBytes(sizeBytes(t)).c_str());
    std::vector<std::vector<std::string>> rows;
    for (const auto &p : t.partitionInfo)
        rows.push_back({std::to_string(p.partition), std::to_string(p.logStartOffset),
                        std::to_string(p.highWatermark), formatBytes(p.sizeBytes)});
    printTable({"PARTITION", "LOG-START", "HIGH-WATERMARK", "SIZE"}, rows);
}

} // namespace

int runTopic(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Manages topics: create, list, describe, alter, delete.");
    parser.addHelpOption();
    parser.addPositionalArgument("action", "create | list | describe | alter | delete");
    parser.addPositionalArgument("name", "Topic name (all actions but list).", "[name]");
    CommonOptions common;
    common.addTo(parser);
    QCommandLineOption partitions({"p", "partitions"}, "Partition count (create, alter).", "n");
    QCommandLineOption records("retention-records", "Keep at most this many records per "
                                                    "partition (0: no limit).", "n");
    QCommandLineOption bytes("retention-bytes", "Keep at most this many payload bytes per "
                                                "partition (0: no limit).", "n");
    QCommandLineOption ms("retention-ms", "Keep records at most this long (0: no limit).", "ms");
    parser.addOptions({partitions, records, bytes, ms});
    parser.process(args);

    const QStringList pos = parser.positionalArguments();
    if (pos.isEmpty())
        return usage(kTopicCommand,
                     "an action is required: create, list, describe, alter or delete");
    const QString action = pos.at(0);
    const bool json = parser.isSet(common.json);
    if (action != "list" && pos.size() < 2)
        return usage(kTopicCommand, action.toStdString() + " needs a topic name");
    const std::string name = pos.size() > 1 ? pos.at(1).toStdString() : std::string();

    // Retention limits as given; unset ones keep the topic's current value on alter.
    std::optional<int64_t> limits[3];
    const QCommandLineOption *limitOptions[3] = {&records, &bytes, &ms};
    for (int i = 0; i < 3; ++i) {
        if (!parser.isSet(*limitOptions[i]))
            continue;
        limits[i] = parseCount(parser.value(*limitOptions[i]));
        if (!limits[i])
            return usage(kTopicCommand, "--" + limitOptions[i]->names().front().toStdString()
                                       + " needs a non-negative integer");
    }
    const bool retentionSet = limits[0] || limits[1] || limits[2];
    const auto retentionFrom = [&limits](RetentionPolicy base) {
        base.maxRecords = limits[0].value_or(base.maxRecords);
        base.maxBytes = limits[1].value_or(base.maxBytes);
        base.maxAgeMs = limits[2].value_or(base.maxAgeMs);
        return base;
    };
    std::optional<int64_t> partitionCount;
    if (parser.isSet(partitions)) {
        partitionCount = parseCount(parser.value(partitions));
        if (!partitionCount || *partitionCount < 1 || *partitionCount > INT32_MAX)
            return usage(kTopicCommand, "--partitions needs a positive integer");
    }

    auto admin = client::Admin::open(common.connection(parser));
    if (!admin)
        return fail(kTopicCommand, admin.error());
    auto &a = **admin;

    if (action == "create") {
        auto r = a.createTopic(name, static_cast<int32_t>(partitionCount.value_or(1)),
                               retentionFrom({}));
        if (!r)
            return fail(kTopicCommand, r.error());
        if (json)
            printJson(net::topicInfoToJson(*r));
        else
            std::printf("Created topic '%s' with %d partition%s.\n", r->name.c_str(),
                        r->partitions, r->partitions == 1 ? "" : "s");
        return 0;
    }
    if (action == "list") {
        auto r = a.listTopics();
        if (!r)
            return fail(kTopicCommand, r.error());
        printTopics(*r, json);
        return 0;
    }
    if (action == "describe") {
        auto r = a.describeTopic(name);
        if (!r)
            return fail(kTopicCommand, r.error());
        printTopic(*r, json);
        return 0;
    }
    if (action == "alter") {
        if (!partitionCount && !retentionSet)
            return usage(kTopicCommand, "alter needs --partitions or a --retention-* option");
        Result<TopicInfo> r = makeError(Errc::Internal, "nothing altered");
        if (partitionCount)
            r = a.alterPartitions(name, static_cast<int32_t>(*partitionCount));
        if ((!partitionCount || r) && retentionSet) {
            auto current = a.describeTopic(name);
            if (!current)
                return fail(kTopicCommand, current.error());
            r = a.alterRetention(name, retentionFrom(current->retention));
        }
        if (!r)
            return fail(kTopicCommand, r.error());
        printTopic(*r, json);
        return 0;
    }
    if (action == "delete") {
        auto r = a.deleteTopic(name);
        if (!r)
            return fail(kTopicCommand, r.error());
        if (json)
            printJson({{"deleted", name}});
        else
            std::printf("Deleted topic '%s'.\n", name.c_str());
        return 0;
    }
    return usage(kTopicCommand, "unknown action '" + action.toStdString()
                               + "'; use create, list, describe, alter or delete");
}

} // namespace eddy::cli
