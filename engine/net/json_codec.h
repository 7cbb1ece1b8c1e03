#pragma once

#include "broker.h"
#include "result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eddy::net {

using Json = nlohmann::json;

// Protocol version spoken by this build (docs/protocol.md).
inline constexpr int kProtocolVersion = 1;
// Deepest JSON nesting accepted; deeper requests are refused before parsing.
inline constexpr int kMaxJsonDepth = 32;

// Most topic names a connection's ClientInfo keeps per direction: the first ones it used, so a
// client that touches thousands of topics costs the broker a bounded amount of memory.
inline constexpr std::size_t kMaxClientTopics = 32;

// A connected client as the `clients` op reports it. The per-second rates count what happened
// in the last full (steady-clock) second, so they fall to 0 a second after the client stops.
struct ClientInfo {
    uint32_t id = 0;
    std::string address;
    std::string role;          // "producer", "consumer", "producer+consumer", "admin", "idle"
    int64_t connectedMs = 0;
    uint64_t requests = 0;
    double requestsPerSec = 0;
    std::string lastOp;
    std::string clientId;      // from hello or join_group, when given
    std::string principal;     // who the connection authenticated as (the `auth` op); empty
                               // when it has not, or when the broker runs without access control
    uint64_t recordsIn = 0;    // records of its produce requests the broker accepted (with
                               // acks none: every record sent, since no error comes back)
    uint64_t recordsOut = 0;   // records the broker returned to its fetch and poll requests
    double recordsInPerSec = 0;
    double recordsOutPerSec = 0;
    // Sorted names of the topics it produced to / fetched or polled from (assigned topics
    // count even while empty), at most kMaxClientTopics each.
    std::vector<std::string> producedTopics;
    std::vector<std::string> consumedTopics;
};

// Parses a request object, refusing invalid JSON, non-objects and excessive nesting with
// MalformedRequest.
Result<Json> parseRequest(std::string_view text);

// Typed field access that names the offending field in its error.
Result<std::string> stringField(const Json &j, const char *name);
Result<std::string> optionalString(const Json &j, const char *name, std::string fallback);
Result<int64_t> intField(const Json &j, const char *name);
Result<int64_t> optionalInt(const Json &j, const char *name, int64_t fallback);
Result<bool> optionalBool(const Json &j, const char *name, bool fallback);

// For decoders that catch Json::exception (replies, descriptions): v as an integer of type T.
// nlohmann's own get<T>() casts a floating-point value unchecked, which is undefined behaviour
// when it is out of T's range; this accepts only integers that fit and throws Json::type_error or
// Json::out_of_range otherwise.
template<typename T>
T integerValue(const Json &v)
{
    if (!v.is_number_integer())
        throw Json::type_error::create(302, std::string("an integer is required, not ")
                                                + v.type_name(), &v);
    const bool fits = v.is_number_unsigned() ? std::in_range<T>(v.get<uint64_t>())
                                             : std::in_range<T>(v.get<int64_t>());
    if (!fits)
        throw Json::out_of_range::create(406, "integer " + v.dump() + " out of range", &v);
    return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>())
                                  : static_cast<T>(v.get<int64_t>());
}

// j[name] as integerValue<T>; throws Json::out_of_range when absent (as Json::at).
template<typename T>
T integerAt(const Json &j, const char *name)
{
    return integerValue<T>(j.at(name));
}

// j[name] as integerValue<T>, fallback when absent or null.
template<typename T>
T integerOr(const Json &j, const char *name, T fallback)
{
    if (!j.is_object())
        throw Json::type_error::create(306, "an object is required", &j);
    const auto it = j.find(name);
    return it == j.end() || it->is_null() ? fallback : integerValue<T>(*it);
}

// {"ok":false,"error":{"code":...,"message":...}}
Json errorReply(const Error &error);
Json okReply();

// Bytes to JSON: "value" when UTF-8, else "value_base64" (same for key and header values).
void putBytes(Json &j, const char *name, std::string_view bytes);
// Reads "name" (UTF-8 string) or "name_base64"; absent gives nullopt.
Result<std::optional<std::string>> getBytes(const Json &j, const char *name);

Json recordToJson(const Record &record);
// A record from a produce request: key/key_base64, value/value_base64, headers as an array of
// {"key","value"|"value_base64"} or an object of strings, optional timestamp.
Result<Record> recordFromJson(const Json &j);

Json topicInfoToJson(const TopicInfo &info);
Result<TopicInfo> topicInfoFromJson(const Json &j);
Json assignmentToJson(const MemberAssignment &a);
Result<MemberAssignment> assignmentFromJson(const Json &j);
Json committedToJson(const CommittedOffset &c);
Json groupDescriptionToJson(const GroupDescription &d);
Json groupListingToJson(const GroupListing &g);
Json metricsToJson(const MetricsSnapshot &snapshot);
// The inverse of metricsToJson, for a client that watches a remote broker. Missing numbers read
// as 0; a reply that is not a snapshot object at all is MalformedRequest.
Result<MetricsSnapshot> metricsFromJson(const Json &j);
Json eventToJson(const BrokerEvent &event);
// One entry of the `clients` reply (docs/protocol.md), and its inverse for a client watching a
// remote broker: absent fields read as empty or 0 (an older broker), a wrongly typed one makes
// the entry MalformedRequest.
Json clientInfoToJson(const ClientInfo &info);
Result<ClientInfo> clientInfoFromJson(const Json &j);
Json latencyToJson(const LatencySummary &l);
Json ratesToJson(const Rates &r);

std::string_view acksName(Acks acks);
Result<Acks> parseAcks(std::string_view text);

} // namespace eddy::net
