// Option handling and output shared by the eddy client subcommands: one place decides how errors
// read on stderr and how tables line up, so every command looks and fails the same way.
#include "cli_common.h"

#include <algorithm>
#include <cstdio>

namespace eddy::cli {

void CommonOptions::addTo(QCommandLineParser &parser) const
{
    parser.addOptions({broker, json, tlsCa, tlsCert, tlsKey, token});
}

client::ConnectionOptions CommonOptions::connection(const QCommandLineParser &parser) const
{
    client::ConnectionOptions o;
    o.url = parser.value(broker).toStdString();
    o.tlsCaFile = parser.value(tlsCa).toStdString();
    o.tlsCertFile = parser.value(tlsCert).toStdString();
    o.tlsKeyFile = parser.value(tlsKey).toStdString();
    o.token = tokenValue(parser, token);
    return o;
}

std::string tokenValue(const QCommandLineParser &parser, const QCommandLineOption &option)
{
    if (parser.isSet(option))
        return parser.value(option).toStdString();
    return qEnvironmentVariable("EDDY_TOKEN").toStdString();
}

int fail(const char *command, const Error &error)
{
    std::fprintf(stderr, "eddy %s: %s: %s\n", command, std::string(errcName(error.code)).c_str(),
                 error.message.c_str());
    return 1;
}

int usage(const char *command, const std::string &message)
{
    std::fprintf(stderr, "eddy %s: %s\n", command, message.c_str());
    return 2;
}

void printTable(const std::vector<std::string> &header,
                const std::vector<std::vector<std::string>> &rows)
{
    std::vector<std::size_t> widths(header.size(), 0);
    for (std::size_t i = 0; i < header.size(); ++i)
        widths[i] = header[i].size();
    for (const auto &row : rows)
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    const auto printRow = [&](const std::vector<std::string> &row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        std::printf("%s\n", line.c_str());
    };
    printRow(header);
    for (const auto &row : rows)
        printRow(row);
}

void printJson(const client::Json &value)
{
    std::printf("%s\n", value.dump(-1, ' ', false, client::Json::error_handler_t::replace).c_str());
}

std::string formatBytes(int64_t bytes)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int unit = 0;
    while (v >= 1024 && unit < 4) {
        v /= 1024;
        ++unit;
    }
    char buf[32];
    if (unit == 0)
        std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
    return buf;
}

std::optional<int64_t> parseCount(const QString &text)
{
    bool ok = false;
    const qlonglong v = text.toLongLong(&ok);
    if (!ok || v < 0)
        return std::nullopt;
    return static_cast<int64_t>(v);
}

} // namespace eddy::cli
