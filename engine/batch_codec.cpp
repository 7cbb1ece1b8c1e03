// The record-batch format. Batches are stored as one blob per batch rather than one row per
// record: it cuts SQLite's per-row cost (b-tree insert, index update) by the batch size, which
// is what makes durable produce of large batches cheap. The same blob is what the broker keeps
// in memory for the tail and the store queue: a few bytes per record over the payload instead
// of a decoded Record (about 140 bytes of fields and allocations), and nothing to encode again
// when the batch is written. A stored row may hold several batches (BatchMerger: the store
// writer joins small ones) or the tail of one (retention cut it): the format is the same.
#include "batch_codec.h"

#include <algorithm>
#include <cassert>

namespace eddy {

namespace {
constexpr uint8_t kBatchFormatVersion = 1;

Error corruptBatch(int64_t baseOffset, const char *what)
{
    return makeError(Errc::CorruptStore,
                     "record batch at offset " + std::to_string(baseOffset) + ": " + what);
}
} // namespace

std::size_t recordPayloadBytes(const Record &record)
{
    std::size_t n = record.value.size() + (record.key ? record.key->size() : 0);
    for (const auto &h : record.headers)
        n += h.key.size() + h.value.size();
    return n;
}

namespace {
std::size_t varuSize(uint64_t v)
{
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

std::size_t variSize(int64_t v)
{
    return varuSize((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

// The batch header: format version, record count, base timestamp.
void writeBatchHeader(ByteWriter &w, uint64_t count, int64_t baseTs)
{
    w.u8(kBatchFormatVersion);
    w.varu(count);
    w.vari(baseTs);
}

std::size_t batchHeaderSize(uint64_t count, int64_t baseTs)
{
    return 1 + varuSize(count) + variSize(baseTs);
}

// A whole blob: the header, then records already encoded against offset 0 and baseTs.
std::string assembleBatch(uint64_t count, int64_t baseTs, std::string_view records)
{
    std::string out;
    out.reserve(batchHeaderSize(count, baseTs) + records.size());
    ByteWriter w(out);
    writeBatchHeader(w, count, baseTs);
    w.raw(records);
    return out;
}

// A record's fields up to its headers: offset delta, timestamp delta, key (-1 = no key).
void writeRecordHead(ByteWriter &w, int64_t offsetDelta, int64_t timestampDelta,
                     std::optional<std::string_view> key)
{
    w.varu(static_cast<uint64_t>(offsetDelta));
    w.vari(timestampDelta);
    if (key) {
        w.vari(static_cast<int64_t>(key->size()));
        w.raw(*key);
    } else {
        w.vari(-1);
    }
}

// A whole record: its head, then its headers and value.
void writeRecord(ByteWriter &w, int64_t offsetDelta, int64_t timestampDelta, const Record &r)
{
    writeRecordHead(w, offsetDelta, timestampDelta,
                    r.key ? std::optional<std::string_view>(*r.key) : std::nullopt);
    w.varu(r.headers.size());
    for (const auto &h : r.headers) {
        w.bytes(h.key);
        w.bytes(h.value);
    }
    w.bytes(r.value);
}

} // namespace

std::string encodeBatchRecords(int64_t baseOffset, const std::vector<Record> &records)
{
    const int64_t baseTs = records.empty() ? 0 : records.front().timestamp;
    // The exact size first: the blob is allocated once, with no slack, because batches stay in
    // memory (the tail) and a copy to shrink it would fragment the heap.
    std::size_t size = batchHeaderSize(records.size(), baseTs);
    for (const auto &r : records) {
        size += varuSize(static_cast<uint64_t>(r.offset - baseOffset));
        size += variSize(r.timestamp - baseTs);
        size += r.key ? variSize(static_cast<int64_t>(r.key->size())) + r.key->size() : 1;
        size += varuSize(r.headers.size());
        for (const auto &h : r.headers)
            size += varuSize(h.key.size()) + h.key.size() + varuSize(h.value.size())
                    + h.value.size();
        size += varuSize(r.value.size()) + r.value.size();
    }
    std::string out;
    out.reserve(size);
    ByteWriter w(out);
    writeBatchHeader(w, records.size(), baseTs);
    for (const auto &r : records)
        writeRecord(w, r.offset - baseOffset, r.timestamp - baseTs, r);
    return out;
}

uint64_t batchRecordCount(std::string_view blob)
{
    ByteReader r(blob);
    const uint8_t version = r.u8();
    const uint64_t count = r.varu();
    return r.ok() && version == kBatchFormatVersion ? count : 0;
}

std::string withBaseTimestamp(std::string_view blob, int64_t baseTs)
{
    ByteReader r(blob);
    const uint8_t version = r.u8();
    const uint64_t count = r.varu();
    r.vari();
    if (!r.ok() || version != kBatchFormatVersion)
        return {};
    return assembleBatch(count, baseTs, blob.substr(blob.size() - r.remaining()));
}

void BatchBuilder::add(const Record &record)
{
    if (m_count == 0)
        m_baseTs = record.timestamp;
    ByteWriter w(m_body);
    writeRecord(w, static_cast<int64_t>(m_count), record.timestamp - m_baseTs, record);
    ++m_count;
    m_bytes += recordPayloadBytes(record);
}

std::string BatchBuilder::take()
{
    std::string out = assembleBatch(m_count, m_baseTs, m_body);
    *this = BatchBuilder();
    return out;
}

Result<void> decodeBatchRecords(std::string_view blob, int64_t baseOffset,
                                std::vector<Record> &out)
{
    out.clear();
    BatchCursor cursor(blob, baseOffset);
    out.reserve(static_cast<std::size_t>(cursor.count()));
    RecordView view;
    while (cursor.next(view))
        out.push_back(view.toRecord());
    if (auto e = cursor.error())
        return *e;
    return {};
}

Record RecordView::toRecord() const
{
    Record r;
    r.offset = offset;
    r.timestamp = timestamp;
    if (key)
        r.key = std::string(*key);
    if (headerCount > 0) {
        // The cursor already checked these bytes, so the reads cannot fail.
        ByteReader h(headers);
        r.headers.reserve(static_cast<std::size_t>(headerCount));
        for (uint64_t i = 0; i < headerCount; ++i) {
            auto k = h.bytes();
            auto v = h.bytes();
            r.headers.push_back({std::string(k), std::string(v)});
        }
    }
    r.value = std::string(value);
    return r;
}

BatchCursor::BatchCursor(std::string_view blob, int64_t baseOffset)
    : m_blob(blob)
    , m_reader(blob)
    , m_baseOffset(baseOffset)
{
    if (m_reader.u8() != kBatchFormatVersion || !m_reader.ok()) {
        fail("unknown batch format version");
        return;
    }
    const uint64_t count = m_reader.varu();
    // Every record takes at least five bytes, so a larger count cannot be true.
    if (!m_reader.ok() || count > blob.size()) {
        fail("bad record count");
        return;
    }
    m_baseTs = m_reader.vari();
    if (!m_reader.ok()) {
        fail("truncated header");
        return;
    }
    m_count = count;
}

bool BatchCursor::fail(const char *what)
{
    if (!m_error)
        m_error = what;
    m_count = 0;
    return false;
}

std::optional<Error> BatchCursor::error() const
{
    if (!m_error)
        return std::nullopt;
    return corruptBatch(m_baseOffset, m_error);
}

bool BatchCursor::next(RecordView &view)
{
    if (m_error)
        return false;
    if (m_index == m_count) {
        if (!m_reader.atEnd())
            return fail("trailing bytes");
        return false;
    }
    ByteReader &r = m_reader;
    const uint64_t delta = r.varu();
    if (delta != m_index)
        return fail("non-contiguous offsets");
    view.offset = m_baseOffset + static_cast<int64_t>(delta);
    view.timestamp = m_baseTs + r.vari();
    const int64_t keyLen = r.vari();
    if (!r.ok() || keyLen < -1)
        return fail("bad key length");
    std::size_t payload = 0;
    view.key.reset();
    if (keyLen >= 0) {
        if (static_cast<uint64_t>(keyLen) > r.remaining())
            return fail("key longer than the blob");
        view.key = r.raw(static_cast<std::size_t>(keyLen));
        payload += static_cast<std::size_t>(keyLen);
    }
    const uint64_t headerCount = r.varu();
    if (!r.ok() || headerCount > r.remaining())
        return fail("bad header count");
    const std::size_t headersStart = position();
    for (uint64_t h = 0; h < headerCount; ++h) {
        payload += r.bytes().size();
        payload += r.bytes().size();
    }
    if (!r.ok())
        return fail("truncated header");
    view.headerCount = headerCount;
    view.headers = m_blob.substr(headersStart, position() - headersStart);
    view.value = r.bytes();
    if (!r.ok())
        return fail("truncated record");
    view.payloadBytes = payload + view.value.size();
    ++m_index;
    return true;
}

bool BatchMerger::appendRecords(std::string_view blob, int64_t baseOffset, int64_t fromOffset,
                                uint64_t expected, uint64_t &taken, std::size_t &bytes)
{
    BatchCursor cursor(blob, baseOffset);
    const std::size_t mark = m_body.size();
    const bool first = empty();
    taken = 0;
    bytes = 0;
    RecordView view;
    ByteWriter w(m_body);
    while (cursor.next(view)) {
        if (view.offset < fromOffset)
            continue;
        if (first && taken == 0) {
            m_baseOffset = view.offset;
            m_baseTs = view.timestamp;
        }
        ++taken;
        bytes += view.payloadBytes;
        writeRecordHead(w, view.offset - m_baseOffset, view.timestamp - m_baseTs, view.key);
        w.varu(view.headerCount);
        w.raw(view.headers);
        w.bytes(view.value);
    }
    if (cursor.error() || (expected > 0 && taken != expected)) {
        // Checked as it is read: nothing of a corrupt batch (or one whose record count
        // disagrees with its blob) is kept.
        m_body.resize(mark);
        taken = 0;
        return false;
    }
    return true;
}

bool BatchMerger::append(const RecordBatch &batch)
{
    if (batch.producerId >= 0 || batch.count <= 0 || (!empty() && batch.baseOffset != endOffset()))
        return false;
    const bool first = empty();
    uint64_t taken = 0;
    std::size_t bytes = 0;
    if (!appendRecords(batch.encoded, batch.baseOffset, batch.baseOffset,
                       static_cast<uint64_t>(batch.count), taken, bytes))
        return false;
    m_count += taken;
    m_appendTimeUs = first ? batch.appendTimeUs : std::max(m_appendTimeUs, batch.appendTimeUs);
    m_maxTimestamp = first ? batch.maxTimestamp : std::max(m_maxTimestamp, batch.maxTimestamp);
    m_bytes += batch.bytes;
    return true;
}

Result<void> BatchMerger::takeTail(std::string_view blob, int64_t baseOffset, int64_t fromOffset,
                                   int64_t maxTimestamp, int64_t appendTimeUs)
{
    assert(empty());
    uint64_t taken = 0;
    std::size_t bytes = 0;
    if (!appendRecords(blob, baseOffset, fromOffset, 0, taken, bytes))
        return corruptBatch(baseOffset, "unreadable while trimming it");
    if (taken == 0)
        return makeError(Errc::OffsetOutOfRange, "record batch at offset "
                                                     + std::to_string(baseOffset)
                                                     + " has no record at or after "
                                                     + std::to_string(fromOffset));
    m_count = taken;
    m_bytes = bytes;
    m_maxTimestamp = maxTimestamp;
    m_appendTimeUs = appendTimeUs;
    return {};
}

RecordBatch BatchMerger::take()
{
    RecordBatch out;
    out.baseOffset = m_baseOffset;
    out.appendTimeUs = m_appendTimeUs;
    out.maxTimestamp = m_maxTimestamp;
    out.count = static_cast<int32_t>(m_count);
    out.bytes = m_bytes;
    out.encoded = assembleBatch(m_count, m_baseTs, m_body);
    *this = BatchMerger();
    return out;
}

} // namespace eddy
