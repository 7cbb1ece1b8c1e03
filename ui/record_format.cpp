// How the message browser turns broker records into text: table cells, the detail pane's
// pretty-printed JSON, filter matching and the produce dialog's header syntax. Pure functions,
// shared by the paged model, the scan results and the dialogs.
#include "record_format.h"

#include "base64.h"
#include "errc.h"
#include "json_codec.h"

#include <QDateTime>
#include <QStringList>

namespace eddy::ui {

namespace {

constexpr int kCellPreviewChars = 160;

QString timeText(int64_t ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString("yyyy-MM-dd HH:mm:ss.zzz");
}

bool containsText(const std::string &bytes, const QString &text)
{
    // Binary bytes cannot contain typed text meaningfully; compare their UTF-8 reading anyway
    // so a filter on an ASCII fragment of a binary value still finds it.
    return QString::fromUtf8(bytes.data(), static_cast<qsizetype>(bytes.size()))
        .contains(text, Qt::CaseInsensitive);
}

QString fullText(const std::string &bytes)
{
    if (net::isValidUtf8(bytes))
        return QString::fromUtf8(bytes.data(), static_cast<qsizetype>(bytes.size()));
    return "base64:" + QString::fromStdString(net::base64Encode(bytes));
}

} // namespace

QString errorMessage(const Error &error)
{
    return QString::fromStdString(std::string(errcName(error.code)) + ": " + error.message);
}

Result<Record> browsedRecordFromJson(const nlohmann::json &j)
{
    auto record = net::recordFromJson(j);
    if (!record)
        return record.error();
    if (!j.contains("offset") || !j["offset"].is_number_integer())
        return makeError(Errc::MalformedRequest, "a fetched record has no offset");
    record->offset = j["offset"].get<int64_t>();
    record->timestamp = j.value("timestamp", int64_t{0});
    return record;
}

nlohmann::json fetchRequest(const std::string &topic, int partition, int64_t offset,
                            int64_t maxRecords, int64_t maxBytes, int waitMs)
{
    nlohmann::json request = {{"op", "fetch"},         {"topic", topic},
                              {"partition", partition}, {"offset", offset},
                              {"max_records", maxRecords}, {"max_bytes", maxBytes}};
    if (waitMs > 0)
        request["wait_ms"] = waitMs;
    return request;
}

nlohmann::json recordToProduceJson(const Record &record)
{
    auto j = net::recordToJson(record);
    j.erase("offset");
    j.erase("timestamp");
    if (!record.key)
        j.erase("key");
    return j;
}

QString bytesPreview(const std::string &bytes, int maxChars)
{
    if (!net::isValidUtf8(bytes)) {
        const std::string head = bytes.substr(0, static_cast<size_t>(maxChars / 2));
        QString hex = "0x" + QString::fromLatin1(QByteArray(head.data(),
                                                            static_cast<qsizetype>(head.size()))
                                                     .toHex());
        if (head.size() < bytes.size())
            hex += "…";
        return hex;
    }
    // Only the head is decoded: a 1 MiB value must not cost a 1 MiB conversion per paint.
    const size_t headBytes = static_cast<size_t>(maxChars) * 4;
    QString text = QString::fromUtf8(bytes.data(),
                                     static_cast<qsizetype>(std::min(bytes.size(), headBytes)));
    bool cut = bytes.size() > headBytes;
    if (text.size() > maxChars) {
        text.truncate(maxChars);
        cut = true;
    }
    for (auto &c : text)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    return cut ? text + "…" : text;
}

QString headersPreview(const std::vector<Header> &headers)
{
    QStringList parts;
    for (const auto &h : headers)
        parts << bytesPreview(h.key, 40) + "=" + bytesPreview(h.value, 40);
    return parts.join(", ");
}

QVariant recordCell(const Record &record, int column, int role)
{
    if (role == Qt::TextAlignmentRole)
        return column == OffsetColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                                      : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    switch (column) {
    case OffsetColumn: return QString::number(record.offset);
    case TimeColumn: return timeText(record.timestamp);
    case KeyColumn: return record.key ? bytesPreview(*record.key, 60) : QString("(none)");
    case HeadersColumn: return headersPreview(record.headers);
    case ValueColumn: return bytesPreview(record.value, kCellPreviewChars);
    default: return {};
    }
}

QVariant recordHeader(int section)
{
    switch (section) {
    case OffsetColumn: return QString("Offset");
    case TimeColumn: return QString("Time");
    case KeyColumn: return QString("Key");
    case HeadersColumn: return QString("Headers");
    case ValueColumn: return QString("Value");
    default: return {};
    }
}

QString recordDetailText(const Record &record, const QString &topic, int partition)
{
    QString out;
    out += QString("%1 / partition %2 / offset %3\n").arg(topic).arg(partition).arg(record.offset);
    out += "time     " + timeText(record.timestamp) + "  (" + QString::number(record.timestamp)
           + " ms)\n";
    out += "key      " + (record.key ? fullText(*record.key) : QString("(none)")) + "\n";
    if (record.headers.empty()) {
        out += "headers  (none)\n";
    } else {
        out += "headers\n";
        for (const auto &h : record.headers)
            out += "  " + fullText(h.key) + " = " + fullText(h.value) + "\n";
    }
    out += QString("value    %1 bytes").arg(record.value.size());
    const auto json = nlohmann::json::parse(record.value, nullptr, false);
    // A bare number or string parses as JSON too; only pretty-print structured values.
    if (!json.is_discarded() && (json.is_object() || json.is_array())) {
        const auto pretty = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        out += ", JSON\n" + QString::fromStdString(pretty);
    } else {
        out += "\n" + fullText(record.value);
    }
    return out;
}

bool recordMatches(const Record &record, const QString &text, FilterField field)
{
    if (text.isEmpty())
        return true;
    const bool any = field == FilterField::Any;
    if ((any || field == FilterField::Key) && record.key && containsText(*record.key, text))
        return true;
    if (any || field == FilterField::Headers)
        for (const auto &h : record.headers)
            if (containsText(h.key, text) || containsText(h.value, text))
                return true;
    return (any || field == FilterField::Value) && containsText(record.value, text);
}

Result<std::vector<Header>> parseHeaderLines(const QString &text)
{
    std::vector<Header> headers;
    const auto lines = text.split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QString line = lines[i].trimmed();
        if (line.isEmpty())
            continue;
        const auto eq = line.indexOf('=');
        if (eq <= 0)
            return makeError(Errc::InvalidRequest,
                             "header line " + std::to_string(i + 1)
                                 + " must be key=value with a non-empty key");
        headers.push_back({line.left(eq).trimmed().toStdString(),
                           line.mid(eq + 1).toStdString()});
    }
    return headers;
}

} // namespace eddy::ui
