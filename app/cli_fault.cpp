// `eddy fault start|stop KIND [TARGET] [--param name=value]...`: starts or ends a fault on a
// running broker through the `fault` op -- broker-side faults (partition-offline, broker-stall,
// disk-slow, disk-full, io-error) and the network faults of its fault-injecting endpoint (latency,
// drop, disconnect; see `eddy broker --faulty-listen`).
#include "cli_commands.h"
#include "cli_common.h"

#include "admin.h"

#include <cstdio>

namespace eddy::cli {

int runFault(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Starts or ends a fault on a running broker.\n"
        "Kinds: partition-offline (TARGET topic/partition), broker-stall (delay_ms, jitter_ms), "
        "disk-slow (commit_delay_ms), disk-full, io-error, and on the --faulty-listen endpoint: "
        "latency (latency_ms, jitter_ms), drop (probability), disconnect.");
    parser.addHelpOption();
    parser.addPositionalArgument("action", "start | stop");
    parser.addPositionalArgument("kind", "The fault kind.");
    parser.addPositionalArgument("target", "topic/partition for partition-offline.", "[target]");
    QCommandLineOption param("param", "A parameter, name=value (repeatable).", "name=value");
    CommonOptions common;
    common.addTo(parser);
    parser.addOption(param);
    parser.process(args);
    const auto positional = parser.positionalArguments();
    if (positional.size() < 2 || positional.size() > 3
        || (positional[0] != "start" && positional[0] != "stop"))
        return usage("fault", "usage: eddy fault start|stop KIND [TARGET] [--param name=value]");
    client::Json params = client::Json::object();
    for (const auto &p : parser.values(param)) {
        const auto eq = p.indexOf('=');
        bool ok = false;
        const double v = eq > 0 ? p.mid(eq + 1).toDouble(&ok) : 0;
        if (!ok)
            return usage("fault", "--param takes name=number, not '" + p.toStdString() + "'");
        params[p.left(eq).toStdString()] = v;
    }
    auto admin = client::Admin::open(common.connection(parser), 10000);
    if (!admin)
        return fail("fault", admin.error());
    const bool start = positional[0] == "start";
    auto r = (*admin)->fault(positional[1].toStdString(),
                             positional.size() == 3 ? positional[2].toStdString() : std::string(),
                             start, params);
    if (!r)
        return fail("fault", r.error());
    if (parser.isSet(common.json))
        printJson({{"ok", true}, {"kind", positional[1].toStdString()}, {"active", start}});
    else
        std::printf("%s %s.\n", start ? "Started" : "Ended", positional[1].toUtf8().constData());
    return 0;
}

} // namespace eddy::cli
