// libFuzzer harness for the binary frames of the wire protocol (engine/net/binary_codec.h). The
// first input byte picks a decoder (the server's request decoders, the client's reply decoders);
// the rest is its frame. A request that decodes must encode back to a frame that decodes to the
// same request. Nothing may crash, over-allocate or trip a sanitizer.
#include "batch_codec.h"
#include "binary_codec.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace eddy;
using namespace eddy::net;

namespace {

// The encoders write the 3-byte frame header; the request decoders take the body after it.
std::string_view body(const std::string &frame)
{
    EDDY_FUZZ_CHECK(frame.size() >= 3);
    return std::string_view(frame).substr(3);
}

void produce(std::string_view frame)
{
    auto req = decodeProduceRequest(frame);
    // An explicit negative partition decodes as -1 and re-encodes as "unset": not a round trip.
    if (!req || req->partition == -1)
        return;
    auto again = decodeProduceRequest(body(encodeProduceRequest(*req)));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(again->topic == req->topic && again->partition == req->partition
                    && again->records == req->records && again->acks == req->acks
                    && again->producerId == req->producerId
                    && again->baseSequence == req->baseSequence);
}

// A produce_batch body carries its batch unread: it must come back byte for byte, and walking
// it (as the broker checks it) must end at its end or at a reported failure.
void produceBatch(std::string_view frame)
{
    auto req = decodeProduceBatchRequest(frame);
    if (!req || !req->partition || *req->partition < 0)
        return;
    auto again = decodeProduceBatchRequest(body(encodeProduceRequest(*req)));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(again->topic == req->topic && again->partition == req->partition
                    && again->encoded == req->encoded && again->acks == req->acks
                    && again->producerId == req->producerId
                    && again->baseSequence == req->baseSequence);
    BatchCursor cursor(req->encoded, 0);
    RecordView view;
    uint64_t n = 0;
    while (cursor.next(view))
        ++n;
    EDDY_FUZZ_CHECK(cursor.failure() || n == cursor.count());
}

void fetch(std::string_view frame)
{
    auto req = decodeFetchRequest(frame);
    if (!req)
        return;
    auto again = decodeFetchRequest(body(encodeFetchRequest(*req)));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(again->topic == req->topic && again->partition == req->partition
                    && again->offset == req->offset && again->maxRecords == req->maxRecords
                    && again->maxBytes == req->maxBytes && again->waitMs == req->waitMs
                    && again->group == req->group);
}

void poll(std::string_view frame)
{
    auto req = decodePollRequest(frame);
    if (!req)
        return;
    auto again = decodePollRequest(body(encodePollRequest(*req)));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(again->group == req->group && again->memberId == req->memberId
                    && again->generation == req->generation
                    && again->maxRecords == req->maxRecords && again->maxBytes == req->maxBytes
                    && again->waitMs == req->waitMs && again->positions == req->positions);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string_view frame(reinterpret_cast<const char *>(data) + 1, size - 1);
    switch (data[0] % 8) {
    case 0:
        produce(frame);
        break;
    case 1:
        fetch(frame);
        break;
    case 2:
        poll(frame);
        break;
    case 3:
        if (auto reply = decodeProduceReply(frame); reply)
            (void)encodeProduceReply(*reply);
        break;
    case 4:
        if (auto reply = decodeFetchReply(frame); reply)
            (void)encodeFetchReply(*reply);
        break;
    case 5:
        if (auto reply = decodePollReply(frame); reply)
            (void)encodePollReply(*reply);
        break;
    case 6:
        (void)decodeJsonReply(frame);
        break;
    case 7:
        produceBatch(frame);
        break;
    }
    return 0;
}
