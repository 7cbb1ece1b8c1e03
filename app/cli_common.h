#pragma once

#include "connection.h"
#include "result.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QString>
#include <QStringList>

#include <optional>
#include <string>
#include <vector>

// Shared plumbing of the eddy subcommands: the options every client command takes, error
// reporting and output formatting. Nothing here knows the wire protocol.
namespace eddy::cli {

// --broker, --json, --token and the TLS options, registered on a parser.
struct CommonOptions {
    QCommandLineOption broker{"broker", "Broker URL (default tcp://127.0.0.1:7650).", "url",
                              "tcp://127.0.0.1:7650"};
    QCommandLineOption json{"json", "Print JSON (one object per line) instead of tables."};
    QCommandLineOption tlsCa{"tls-ca", "tls+tcp://: PEM CA to verify the broker with.", "file"};
    QCommandLineOption tlsCert{"tls-cert", "tls+tcp://: PEM client certificate.", "file"};
    QCommandLineOption tlsKey{"tls-key", "tls+tcp://: PEM client private key.", "file"};
    QCommandLineOption token{"token", "Access-control token (default: $EDDY_TOKEN).", "token"};

    void addTo(QCommandLineParser &parser) const;
    // The connection settings the options describe.
    client::ConnectionOptions connection(const QCommandLineParser &parser) const;
};

// The value of a --token option, else $EDDY_TOKEN, else empty. The environment variable keeps the
// token out of the process list.
std::string tokenValue(const QCommandLineParser &parser, const QCommandLineOption &option);

// Prints "eddy <command>: CODE: message" to stderr and returns the exit status 1.
int fail(const char *command, const Error &error);
// Prints "eddy <command>: message" to stderr and returns the usage exit status 2.
int usage(const char *command, const std::string &message);

// Prints rows under a header with columns padded to their widest cell.
void printTable(const std::vector<std::string> &header,
                const std::vector<std::vector<std::string>> &rows);
// Prints one JSON value on one line.
void printJson(const client::Json &value);

// A byte count as "12.3 KiB".
std::string formatBytes(int64_t bytes);
// Parses a non-negative integer option value; nullopt when it is not one.
std::optional<int64_t> parseCount(const QString &text);

} // namespace eddy::cli
