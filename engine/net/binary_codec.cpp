// Binary frames of the wire protocol. Every decoder treats its input as hostile: lengths are
// checked against what is left before anything is allocated, counts are bounded by the bytes
// that could hold them, and a frame must be consumed exactly.
#include "binary_codec.h"

namespace eddy::net {

namespace {

Error malformed(const std::string &what)
{
    return makeError(Errc::MalformedRequest, "binary frame: " + what);
}

void header(ByteWriter &w, uint8_t op)
{
    w.u8(kBinaryMagic);
    w.u8(kBinaryVersion);
    w.u8(op);
}

// Checks the reply header; on status 1 decodes the error.
Result<ByteReader> openReply(std::string_view frame, BinaryOp op, BinaryOp alsoOp)
{
    ByteReader r(frame);
    const uint8_t magic = r.u8(), version = r.u8(), rop = r.u8(), status = r.u8();
    if (!r.ok() || magic != kBinaryMagic || version != kBinaryVersion
        || (rop != (static_cast<uint8_t>(op) | kReplyBit)
            && rop != (static_cast<uint8_t>(alsoOp) | kReplyBit)))
        return malformed("unexpected reply header");
    if (status != 0) {
        auto code = r.bytes();
        auto message = r.bytes();
        if (!r.ok())
            return malformed("truncated error reply");
        return makeError(errcFromName(code), std::string(message));
    }
    return r;
}

Result<ByteReader> openReply(std::string_view frame, BinaryOp op)
{
    return openReply(frame, op, op);
}

} // namespace

Errc errcFromName(std::string_view name)
{
    for (int i = 0; i <= static_cast<int>(kLastErrc); ++i)
        if (errcName(static_cast<Errc>(i)) == name)
            return static_cast<Errc>(i);
    return Errc::Internal;
}

void writeRecord(ByteWriter &w, const Record &r, bool withOffset)
{
    if (withOffset)
        w.vari(r.offset);
    w.vari(r.timestamp);
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

bool readRecord(ByteReader &r, Record &rec, bool withOffset)
{
    if (withOffset)
        rec.offset = r.vari();
    rec.timestamp = r.vari();
    const int64_t keyLen = r.vari();
    if (keyLen >= 0) {
        if (static_cast<uint64_t>(keyLen) > r.remaining())
            return false;
        rec.key = std::string(r.raw(static_cast<std::size_t>(keyLen)));
    } else if (keyLen != -1) {
        return false;
    }
    const uint64_t headers = r.varu();
    if (!r.ok() || headers > r.remaining() / 2)
        return false;
    rec.headers.reserve(headers);
    for (uint64_t i = 0; i < headers; ++i) {
        auto k = r.bytes();
        auto v = r.bytes();
        rec.headers.push_back({std::string(k), std::string(v)});
    }
    rec.value = std::string(r.bytes());
    return r.ok();
}

std::string encodeProduceRequest(const ProduceRequest &req)
{
    std::string out;
    const bool batch = !req.encoded.empty();
    if (batch)
        out.reserve(req.topic.size() + req.encoded.size() + 32);
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(batch ? BinaryOp::ProduceBatch : BinaryOp::Produce));
    w.bytes(req.topic);
    w.vari(req.partition ? *req.partition : -1);
    w.u8(static_cast<uint8_t>(req.acks));
    w.vari(req.producerId);
    w.vari(req.baseSequence);
    if (batch) {
        w.raw(req.encoded);
        return out;
    }
    w.varu(req.records.size());
    for (const auto &r : req.records)
        writeRecord(w, r, false);
    return out;
}

std::string encodeFetchRequest(const FetchRequest &req)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Fetch));
    w.bytes(req.topic);
    w.vari(req.partition);
    w.vari(req.offset);
    w.varu(req.maxRecords);
    w.varu(req.maxBytes);
    w.varu(static_cast<uint64_t>(std::max(0, req.waitMs)));
    w.bytes(req.group);
    return out;
}

std::string encodePollRequest(const PollRequest &req)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Poll));
    w.bytes(req.group);
    w.bytes(req.memberId);
    w.vari(req.generation);
    w.varu(req.maxRecords);
    w.varu(req.maxBytes);
    w.varu(static_cast<uint64_t>(std::max(0, req.waitMs)));
    w.varu(req.positions.size());
    for (const auto &[tp, offset] : req.positions) {
        w.bytes(tp.topic);
        w.vari(tp.partition);
        w.vari(offset);
    }
    return out;
}

std::string encodeJsonFrame(std::string_view json)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Json));
    w.raw(json);
    return out;
}

namespace {

// The fields both produce ops start with: topic, partition, acks, producer id, sequence.
Result<void> readProduceHeader(ByteReader &r, ProduceRequest &req)
{
    req.topic = std::string(r.bytes());
    const int64_t partition = r.vari();
    if (partition >= 0) {
        if (partition > INT32_MAX)
            return malformed("partition out of range");
        req.partition = static_cast<int32_t>(partition);
    } else if (partition != -1) {
        req.partition = -1; // explicit negative partition: UNKNOWN_PARTITION from the broker
    }
    const uint8_t acks = r.u8();
    if (acks > 2)
        return malformed("acks must be 0, 1 or 2");
    req.acks = static_cast<Acks>(acks);
    req.producerId = r.vari();
    const int64_t seq = r.vari();
    if (seq < -1 || seq > INT32_MAX)
        return malformed("sequence out of range");
    req.baseSequence = static_cast<int32_t>(seq);
    if (!r.ok())
        return malformed("truncated");
    return {};
}

} // namespace

Result<ProduceRequest> decodeProduceRequest(std::string_view body)
{
    ByteReader r(body);
    ProduceRequest req;
    if (auto h = readProduceHeader(r, req); !h)
        return h.error();
    const uint64_t count = r.varu();
    // Every record takes at least 4 bytes (timestamp, key length, header count, value length).
    if (!r.ok() || count > r.remaining() / 4)
        return malformed("record count larger than the frame");
    req.records.resize(count);
    for (auto &rec : req.records)
        if (!readRecord(r, rec, false))
            return malformed("truncated record");
    if (!r.ok() || !r.atEnd())
        return malformed(r.ok() ? "trailing bytes" : "truncated");
    return req;
}

Result<ProduceRequest> decodeProduceBatchRequest(std::string_view body)
{
    ByteReader r(body);
    ProduceRequest req;
    if (auto h = readProduceHeader(r, req); !h)
        return h.error();
    if (r.atEnd())
        return malformed("produce_batch without a batch");
    req.encoded = std::string(r.raw(r.remaining()));
    return req;
}

Result<FetchRequest> decodeFetchRequest(std::string_view body)
{
    ByteReader r(body);
    FetchRequest req;
    req.topic = std::string(r.bytes());
    const int64_t partition = r.vari();
    req.offset = r.vari();
    req.maxRecords = static_cast<std::size_t>(r.varu());
    req.maxBytes = static_cast<std::size_t>(r.varu());
    const uint64_t wait = r.varu();
    req.group = std::string(r.bytes());
    if (!r.ok() || !r.atEnd())
        return malformed(r.ok() ? "trailing bytes" : "truncated");
    if (partition < INT32_MIN || partition > INT32_MAX || wait > 600000)
        return malformed("partition or wait_ms out of range");
    req.partition = static_cast<int32_t>(partition);
    req.waitMs = static_cast<int32_t>(wait);
    return req;
}

Result<PollRequest> decodePollRequest(std::string_view body)
{
    ByteReader r(body);
    PollRequest req;
    req.group = std::string(r.bytes());
    req.memberId = std::string(r.bytes());
    const int64_t generation = r.vari();
    req.maxRecords = static_cast<std::size_t>(r.varu());
    req.maxBytes = static_cast<std::size_t>(r.varu());
    const uint64_t wait = r.varu();
    // Each position takes at least 3 bytes: a count beyond that is a lie, refused before
    // anything is reserved for it.
    const uint64_t count = r.varu();
    if (r.ok() && count > r.remaining() / 3)
        return malformed("position count larger than the frame");
    for (uint64_t i = 0; i < count && r.ok(); ++i) {
        TopicPartition tp;
        tp.topic = std::string(r.bytes());
        const int64_t partition = r.vari();
        const int64_t offset = r.vari();
        if (!r.ok())
            break;
        if (partition < 0 || partition > INT32_MAX || offset < 0)
            return malformed("position partition or offset out of range");
        tp.partition = static_cast<int32_t>(partition);
        req.positions.emplace_back(std::move(tp), offset);
    }
    if (!r.ok() || !r.atEnd())
        return malformed(r.ok() ? "trailing bytes" : "truncated");
    if (generation < INT32_MIN || generation > INT32_MAX || wait > 600000)
        return malformed("generation or wait_ms out of range");
    req.generation = static_cast<int32_t>(generation);
    req.waitMs = static_cast<int32_t>(wait);
    return req;
}

std::string encodeErrorReply(BinaryOp op, const Error &error)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(op) | kReplyBit);
    w.u8(1);
    w.bytes(errcName(error.code));
    w.bytes(error.message);
    return out;
}

std::string encodeProduceReply(const ProduceResult &result)
{
    std::string out;
    encodeProduceReply(result, out);
    return out;
}

void encodeProduceReply(const ProduceResult &result, std::string &out, BinaryOp op)
{
    out.clear();
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(op) | kReplyBit);
    w.u8(0);
    w.varu(result.placements.size());
    for (const auto &p : result.placements) {
        w.vari(p.partition);
        w.vari(p.baseOffset);
        w.varu(static_cast<uint64_t>(p.count));
        w.u8(p.duplicate ? 1 : 0);
    }
    w.varu(result.offsets.size());
    for (const auto &[partition, offset] : result.offsets) {
        w.vari(partition);
        w.vari(offset);
    }
}

std::string encodeFetchReply(const FetchResult &result)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Fetch) | kReplyBit);
    w.u8(0);
    w.vari(result.highWatermark);
    w.vari(result.logStartOffset);
    w.varu(result.records.size());
    for (const auto &r : result.records)
        writeRecord(w, r, true);
    return out;
}

std::string encodePollReply(const PollResult &result)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Poll) | kReplyBit);
    w.u8(0);
    w.vari(result.assignment.generation);
    w.u8(static_cast<uint8_t>(result.assignment.state));
    w.varu(static_cast<uint64_t>(std::max(0, result.assignment.heartbeatIntervalMs)));
    w.varu(result.assignment.assigned.size());
    for (const auto &tp : result.assignment.assigned) {
        w.bytes(tp.topic);
        w.vari(tp.partition);
    }
    w.varu(result.assignment.pending.size());
    for (const auto &tp : result.assignment.pending) {
        w.bytes(tp.topic);
        w.vari(tp.partition);
    }
    w.varu(result.records.size());
    for (const auto &r : result.records) {
        w.bytes(r.topic);
        w.vari(r.partition);
        writeRecord(w, r.record, true);
    }
    return out;
}

std::string encodeJsonReply(std::string_view json)
{
    std::string out;
    ByteWriter w(out);
    header(w, static_cast<uint8_t>(BinaryOp::Json) | kReplyBit);
    w.u8(0);
    w.raw(json);
    return out;
}

Result<ProduceResult> decodeProduceReply(std::string_view frame)
{
    auto opened = openReply(frame, BinaryOp::Produce, BinaryOp::ProduceBatch);
    if (!opened)
        return opened.error();
    auto &r = *opened;
    ProduceResult out;
    const uint64_t n = r.varu();
    if (!r.ok() || n > r.remaining())
        return malformed("bad placement count");
    for (uint64_t i = 0; i < n; ++i) {
        ProduceResult::Placement p;
        p.partition = static_cast<int32_t>(r.vari());
        p.baseOffset = r.vari();
        p.count = static_cast<int32_t>(r.varu());
        p.duplicate = r.u8() != 0;
        out.placements.push_back(p);
    }
    const uint64_t m = r.varu();
    if (!r.ok() || m > r.remaining())
        return malformed("bad offset count");
    for (uint64_t i = 0; i < m; ++i) {
        const auto partition = static_cast<int32_t>(r.vari());
        out.offsets.emplace_back(partition, r.vari());
    }
    if (!r.ok())
        return malformed("truncated produce reply");
    return out;
}

Result<FetchResult> decodeFetchReply(std::string_view frame)
{
    auto opened = openReply(frame, BinaryOp::Fetch);
    if (!opened)
        return opened.error();
    auto &r = *opened;
    FetchResult out;
    out.highWatermark = r.vari();
    out.logStartOffset = r.vari();
    const uint64_t n = r.varu();
    if (!r.ok() || n > r.remaining())
        return malformed("bad record count");
    out.records.resize(n);
    for (auto &rec : out.records)
        if (!readRecord(r, rec, true))
            return malformed("truncated record");
    return out;
}

Result<PollResult> decodePollReply(std::string_view frame)
{
    auto opened = openReply(frame, BinaryOp::Poll);
    if (!opened)
        return opened.error();
    auto &r = *opened;
    PollResult out;
    out.assignment.generation = static_cast<int32_t>(r.vari());
    out.assignment.state = static_cast<GroupState>(std::min<uint8_t>(r.u8(), 3));
    out.assignment.heartbeatIntervalMs = static_cast<int32_t>(r.varu());
    for (auto *list : {&out.assignment.assigned, &out.assignment.pending}) {
        const uint64_t n = r.varu();
        if (!r.ok() || n > r.remaining())
            return malformed("bad assignment count");
        for (uint64_t i = 0; i < n; ++i) {
            TopicPartition tp;
            tp.topic = std::string(r.bytes());
            tp.partition = static_cast<int32_t>(r.vari());
            list->push_back(std::move(tp));
        }
    }
    const uint64_t n = r.varu();
    if (!r.ok() || n > r.remaining())
        return malformed("bad record count");
    out.records.resize(n);
    for (auto &pr : out.records) {
        pr.topic = std::string(r.bytes());
        pr.partition = static_cast<int32_t>(r.vari());
        if (!readRecord(r, pr.record, true))
            return malformed("truncated record");
    }
    return out;
}

Result<std::string> decodeJsonReply(std::string_view frame)
{
    auto opened = openReply(frame, BinaryOp::Json);
    if (!opened)
        return opened.error();
    return std::string(frame.substr(4));
}

} // namespace eddy::net
