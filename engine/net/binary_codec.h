#pragma once

#include "broker.h"
#include "byte_codec.h"
#include "result.h"

#include <string>
#include <string_view>

namespace eddy::net {

// The compact binary encoding (docs/protocol.md, "Binary frames"): a 3-byte header
// (magic 0xEB, version, op) then the op's body in varints and length-prefixed bytes.
inline constexpr uint8_t kBinaryMagic = 0xEB;
inline constexpr uint8_t kBinaryVersion = 1;

enum class BinaryOp : uint8_t {
    Produce = 1,
    Fetch = 2,
    Poll = 3,
    ProduceBatch = 4, // a produce whose records travel as one batch in the store's format
    Json = 0x7F, // body is a JSON request; the reply body is the JSON reply
};

inline constexpr uint8_t kReplyBit = 0x80;

// Record bodies as they travel in produce requests (no offset) and fetch/poll replies (offset).
void writeRecord(ByteWriter &w, const Record &record, bool withOffset);
bool readRecord(ByteReader &r, Record &record, bool withOffset);

// Request encoders used by the client library. A request whose encoded batch is set is a
// ProduceBatch frame (records ignored), any other a Produce frame.
std::string encodeProduceRequest(const ProduceRequest &request);
std::string encodeFetchRequest(const FetchRequest &request);
std::string encodePollRequest(const PollRequest &request);
std::string encodeJsonFrame(std::string_view json);

// Request decoders used by the server. A frame whose lengths run past its end, with trailing
// bytes, or with counts larger than the frame could hold fails with MalformedRequest.
Result<ProduceRequest> decodeProduceRequest(std::string_view body);
// A ProduceBatch body: the batch (the rest of the body) goes to encoded, unchecked (the broker
// checks it record by record as it would records); a partition of -1 is left unset.
Result<ProduceRequest> decodeProduceBatchRequest(std::string_view body);
Result<FetchRequest> decodeFetchRequest(std::string_view body);
Result<PollRequest> decodePollRequest(std::string_view body);

// Replies.
std::string encodeErrorReply(BinaryOp op, const Error &error);
std::string encodeProduceReply(const ProduceResult &result);
// The same into out (cleared first, its capacity kept): for a caller reusing one buffer. op is
// the request's: Produce or ProduceBatch, which have the same reply.
void encodeProduceReply(const ProduceResult &result, std::string &out,
                        BinaryOp op = BinaryOp::Produce);
std::string encodeFetchReply(const FetchResult &result);
std::string encodePollReply(const PollResult &result);
std::string encodeJsonReply(std::string_view json);

// Reply decoders used by the client: the error when status is 1. decodeProduceReply reads the
// reply to either produce op.
Result<ProduceResult> decodeProduceReply(std::string_view frame);
Result<FetchResult> decodeFetchReply(std::string_view frame);
Result<PollResult> decodePollReply(std::string_view frame);
Result<std::string> decodeJsonReply(std::string_view frame);

// Maps an error code name back to the enum (Internal when unknown).
Errc errcFromName(std::string_view name);

} // namespace eddy::net
