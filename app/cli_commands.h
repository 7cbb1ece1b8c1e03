#pragma once

#include <QStringList>

// The eddy subcommands. Each takes the command line without the subcommand word (args[0] is
// the program) and returns the process exit status: 0 on success, 1 when the broker or the
// connection failed, 2 for a usage error.
namespace eddy::cli {

int runBroker(const QStringList &args);
int runTopic(const QStringList &args);
int runProduce(const QStringList &args);
int runConsume(const QStringList &args);
int runGroup(const QStringList &args);
int runSimulate(const QStringList &args);
int runFault(const QStringList &args);
int runBench(const QStringList &args);

} // namespace eddy::cli
