#pragma once

#include "record.h"
#include "result.h"

#include <nlohmann/json.hpp>

#include <QString>
#include <QVariant>

#include <optional>
#include <vector>

namespace eddy::ui {

// The columns every record table of the message browser shows.
enum RecordColumn { OffsetColumn, TimeColumn, KeyColumn, HeadersColumn, ValueColumn,
                    RecordColumnCount };

// "CODE: message" for an engine or broker error, as shown to the user.
QString errorMessage(const Error &error);

// A record of a fetch or poll reply (offset, timestamp, key, headers, value in plain or _base64
// form). Fails with the codec's error for a malformed record.
Result<Record> browsedRecordFromJson(const nlohmann::json &j);
// The same record as produce takes it: key, headers and value (plain when UTF-8, else
// _base64), without offset and timestamp, so the broker stamps a copy as new.
nlohmann::json recordToProduceJson(const Record &record);
// The `fetch` request every data view sends: maxRecords from offset of one partition, replies
// capped at maxBytes; with waitMs > 0 a long poll that the broker answers on the first append.
nlohmann::json fetchRequest(const std::string &topic, int partition, int64_t offset,
                            int64_t maxRecords, int64_t maxBytes = 16 << 20, int waitMs = 0);

// Bytes as one line of at most maxChars characters: text when UTF-8 (line breaks shown as
// spaces), else "0x…" hex of the first bytes.
QString bytesPreview(const std::string &bytes, int maxChars);
// The header column text: "k=v, k2=v2" previews.
QString headersPreview(const std::vector<Header> &headers);
// What a record table shows in column for role (DisplayRole, ToolTipRole, TextAlignmentRole).
QVariant recordCell(const Record &record, int column, int role);
// The header labels of the record columns.
QVariant recordHeader(int section);

// The detail pane's text: offset, timestamp, key, every header, and the value pretty-printed
// when it is JSON (else as text, or base64 when binary).
QString recordDetailText(const Record &record, const QString &topic, int partition);

// Where a filter looks for its text.
enum class FilterField { Any, Key, Headers, Value };
// True when the record contains text (case-insensitive) in the given field(s). Header keys and
// values both count.
bool recordMatches(const Record &record, const QString &text, FilterField field);

// Parses the produce dialog's header box: one "key=value" per line, blank lines ignored, the
// value may be empty and may contain '='. Fails with InvalidRequest naming the first line
// without '=' or with an empty key.
Result<std::vector<Header>> parseHeaderLines(const QString &text);

} // namespace eddy::ui
