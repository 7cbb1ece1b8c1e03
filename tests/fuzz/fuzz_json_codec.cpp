// libFuzzer harness for the JSON side of the wire protocol (engine/net/json_codec.h): any bytes
// go through parseRequest, and a request that parses goes through every decoder a JSON op uses
// (typed fields, records, topic specs, assignments, acks). A record that decodes must survive
// recordToJson -> recordFromJson unchanged. Nothing may crash, hang or trip a sanitizer.
#include "fuzz_check.h"
#include "json_codec.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace eddy;
using namespace eddy::net;

namespace {

void decodeRecord(const Json &j)
{
    auto record = recordFromJson(j);
    if (!record)
        return;
    auto again = recordFromJson(recordToJson(*record));
    EDDY_FUZZ_CHECK(again.ok());
    EDDY_FUZZ_CHECK(*again == *record);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    auto parsed = parseRequest(text);
    if (!parsed)
        return 0;
    const Json &request = *parsed;
    (void)stringField(request, "op");
    (void)optionalString(request, "group", "");
    (void)intField(request, "partition");
    (void)optionalInt(request, "wait_ms", 0);
    (void)optionalBool(request, "durable", false);
    (void)getBytes(request, "key");
    if (auto acks = optionalString(request, "acks", "leader"); acks)
        (void)parseAcks(*acks);
    decodeRecord(request);
    if (auto records = request.find("records"); records != request.end() && records->is_array())
        for (const auto &r : *records)
            decodeRecord(r);
    if (auto topic = topicInfoFromJson(request); topic)
        (void)topicInfoToJson(*topic).dump();
    if (auto assignment = assignmentFromJson(request); assignment)
        (void)assignmentToJson(*assignment).dump();
    if (auto client = clientInfoFromJson(request); client)
        (void)clientInfoToJson(*client).dump();
    // What the server does with every reply: dump with invalid UTF-8 replaced.
    (void)request.dump(-1, ' ', false, Json::error_handler_t::replace);
    return 0;
}
