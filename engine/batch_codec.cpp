// The on-disk record-batch format. Batches are stored as one blob per batch rather than one row
// per record: it cuts SQLite's per-row cost (b-tree insert, index update) by the batch size,
// which is what makes durable produce of large batches cheap.
#include "batch_codec.h"

#include "byte_codec.h"

namespace eddy {

namespace {
constexpr uint8_t kBatchFormatVersion = 1;
}

std::size_t recordPayloadBytes(const Record &record)
{
    std::size_t n = record.value.size() + (record.key ? record.key->size() : 0);
    for (const auto &h : record.headers)
        n += h.key.size() + h.value.size();
    return n;
}

std::string encodeBatchRecords(const RecordBatch &batch)
{
    std::string out;
    out.reserve(batch.bytes + batch.records.size() * 8 + 8);
    ByteWriter w(out);
    w.u8(kBatchFormatVersion);
    w.varu(batch.records.size());
    const int64_t baseTs = batch.records.empty() ? 0 : batch.records.front().timestamp;
    w.vari(baseTs);
    for (const auto &r : batch.records) {
        w.varu(static_cast<uint64_t>(r.offset - batch.baseOffset));
        w.vari(r.timestamp - baseTs);
        if (r.key) {
            w.vari(static_cast<int64_t>(r.key->size()));
            w.raw(*r.key);
        } else {
            w.vari(-1);
        }
        w.varu(r.headers.size());
        for (const auto &h : r.headers) {
            w.bytes(h.key);
            w.bytes(h.value);
        }
        w.bytes(r.value);
    }
    return out;
}

Result<void> decodeBatchRecords(std::string_view blob, RecordBatch &batch)
{
    ByteReader r(blob);
    const auto corrupt = [&](const char *what) {
        return makeError(Errc::CorruptStore, std::string("record batch at offset ")
                                                 + std::to_string(batch.baseOffset) + ": " + what);
    };
    if (r.u8() != kBatchFormatVersion || !r.ok())
        return corrupt("unknown batch format version");
    const uint64_t count = r.varu();
    if (!r.ok() || count > blob.size())
        return corrupt("bad record count");
    const int64_t baseTs = r.vari();
    batch.records.clear();
    batch.records.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        Record rec;
        const uint64_t delta = r.varu();
        if (delta != i)
            return corrupt("non-contiguous offsets");
        rec.offset = batch.baseOffset + static_cast<int64_t>(delta);
        rec.timestamp = baseTs + r.vari();
        const int64_t keyLen = r.vari();
        if (keyLen < -1)
            return corrupt("bad key length");
        if (keyLen >= 0) {
            if (static_cast<uint64_t>(keyLen) > r.remaining())
                return corrupt("key longer than the blob");
            rec.key = std::string(r.raw(static_cast<std::size_t>(keyLen)));
        }
        const uint64_t headerCount = r.varu();
        if (!r.ok() || headerCount > r.remaining())
            return corrupt("bad header count");
        rec.headers.reserve(headerCount);
        for (uint64_t h = 0; h < headerCount; ++h) {
            auto k = r.bytes();
            auto v = r.bytes();
            rec.headers.push_back({std::string(k), std::string(v)});
        }
        rec.value = std::string(r.bytes());
        if (!r.ok())
            return corrupt("truncated record");
        batch.records.push_back(std::move(rec));
    }
    if (!r.atEnd())
        return corrupt("trailing bytes");
    return {};
}

} // namespace eddy
