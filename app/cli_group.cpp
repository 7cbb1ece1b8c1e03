// `eddy group list|describe|reset-offsets|delete`: argument parsing and printing around the
// client library's Admin.
#include "cli_commands.h"
#include "cli_common.h"

#include "admin.h"
#include "json_codec.h"

#include <cstdio>

namespace eddy::cli {

namespace {

constexpr const char *kGroupCommand = "group";

std::string partitionList(const std::vector<TopicPartition> &tps)
{
    std::string out;
    for (const auto &tp : tps)
        out += (out.empty() ? "" : ",") + tp.topic + "/" + std::to_string(tp.partition);
    return out.empty() ? "-" : out;
}

void printOffsets(const std::vector<client::GroupOffset> &offsets)
{
    std::vector<std::vector<std::string>> rows;
    for (const auto &o : offsets)
        rows.push_back({o.topic, std::to_string(o.partition),
                        o.offset < 0 ? "-" : std::to_string(o.offset),
                        std::to_string(o.logStartOffset), std::to_string(o.highWatermark),
                        std::to_string(o.lag)});
    printTable({"TOPIC", "PARTITION", "COMMITTED", "LOG-START", "HIGH-WATERMARK", "LAG"}, rows);
}

void printGroup(const client::GroupInfo &g)
{
    std::printf("Group: %s\nState: %s\nAssignor: %s\nGeneration: %d\nTotal lag: %lld\n\n",
                g.group.c_str(), g.state.c_str(), g.assignor.c_str(), g.generation,
                static_cast<long long>(g.totalLag));
    if (g.members.empty()) {
        std::printf("No active members.\n\n");
    } else {
        std::vector<std::vector<std::string>> rows;
        for (const auto &m : g.members)
            rows.push_back({m.memberId, m.clientId.empty() ? "-" : m.clientId,
                            partitionList(m.assigned), partitionList(m.pending)});
        printTable({"MEMBER", "CLIENT", "ASSIGNED", "PENDING"}, rows);
        std::printf("\n");
    }
    printOffsets(g.offsets);
}

} // namespace

int runGroup(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription("Inspects consumer groups and moves their offsets.");
    parser.addHelpOption();
    parser.addPositionalArgument("action", "list | describe | reset-offsets | delete");
    parser.addPositionalArgument("group", "Group id (all actions but list).", "[group]");
    CommonOptions common;
    common.addTo(parser);
    QCommandLineOption topic({"t", "topic"}, "reset-offsets: the topic.", "topic");
    QCommandLineOption to("to", "reset-offsets: earliest, latest or an offset.", "pos");
    QCommandLineOption toTimestamp("to-timestamp", "reset-offsets: the first record at or after "
                                                   "this time (ms since the epoch).", "ms");
    QCommandLineOption partitions("partitions", "reset-offsets: comma-separated partitions "
                                                "(default all).", "list");
    parser.addOptions({topic, to, toTimestamp, partitions});
    parser.process(args);

    const QStringList pos = parser.positionalArguments();
    if (pos.isEmpty())
        return usage(kGroupCommand,
                     "an action is required: list, describe, reset-offsets or delete");
    const QString action = pos.at(0);
    const bool json = parser.isSet(common.json);
    if (action != "list" && pos.size() < 2)
        return usage(kGroupCommand, action.toStdString() + " needs a group id");
    const std::string name = pos.size() > 1 ? pos.at(1).toStdString() : std::string();

    client::ResetTarget target;
    std::vector<int32_t> partitionIds;
    if (action == "reset-offsets") {
        if (!parser.isSet(topic))
            return usage(kGroupCommand, "reset-offsets needs --topic");
        if (parser.isSet(to) == parser.isSet(toTimestamp))
            return usage(kGroupCommand,
                         "reset-offsets needs exactly one of --to and --to-timestamp");
        if (parser.isSet(toTimestamp)) {
            auto ms = parseCount(parser.value(toTimestamp));
            if (!ms)
                return usage(kGroupCommand, "--to-timestamp needs milliseconds since the epoch");
            target = {ResetKind::ToTimestamp, *ms};
        } else {
            const QString v = parser.value(to);
            if (v == "earliest") {
                target = {ResetKind::Earliest, 0};
            } else if (v == "latest") {
                target = {ResetKind::Latest, 0};
            } else if (auto offset = parseCount(v)) {
                target = {ResetKind::ToOffset, *offset};
            } else {
                return usage(kGroupCommand, "--to must be earliest, latest or an offset");
            }
        }
        if (parser.isSet(partitions)) {
            for (const QString &p : parser.value(partitions).split(',', Qt::SkipEmptyParts)) {
                auto id = parseCount(p.trimmed());
                if (!id || *id > INT32_MAX)
                    return usage(kGroupCommand,
                                 "--partitions needs comma-separated partition numbers");
                partitionIds.push_back(static_cast<int32_t>(*id));
            }
        }
    }

    auto admin = client::Admin::open(common.connection(parser));
    if (!admin)
        return fail(kGroupCommand, admin.error());
    auto &a = **admin;

    if (action == "list") {
        auto r = a.listGroups();
        if (!r)
            return fail(kGroupCommand, r.error());
        if (json) {
            for (const auto &g : *r)
                printJson(client::groupSummaryToJson(g));
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto &g : *r)
            rows.push_back({g.group, g.state, std::to_string(g.generation),
                            std::to_string(g.members)});
        printTable({"GROUP", "STATE", "GENERATION", "MEMBERS"}, rows);
        return 0;
    }
    if (action == "describe") {
        auto r = a.describeGroup(name);
        if (!r)
            return fail(kGroupCommand, r.error());
        if (json)
            printJson(client::groupInfoToJson(*r));
        else
            printGroup(*r);
        return 0;
    }
    if (action == "reset-offsets") {
        auto r = a.resetOffsets(name, parser.value(topic).toStdString(), target, partitionIds);
        if (!r)
            return fail(kGroupCommand, r.error());
        if (json) {
            for (const auto &o : *r)
                printJson(net::committedToJson(o));
            return 0;
        }
        printOffsets(*r);
        return 0;
    }
    if (action == "delete") {
        auto r = a.deleteGroup(name);
        if (!r)
            return fail(kGroupCommand, r.error());
        if (json)
            printJson({{"deleted", name}});
        else
            std::printf("Deleted group '%s'.\n", name.c_str());
        return 0;
    }
    return usage(kGroupCommand, "unknown action '" + action.toStdString()
                               + "'; use list, describe, reset-offsets or delete");
}

} // namespace eddy::cli
