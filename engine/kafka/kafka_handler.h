#pragma once

#include "broker.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace eddy::kafka {

class KafkaReader;

// Kafka's API keys that the listener serves, and the versions of each (none of them flexible
// except ApiVersions v3, which every current client sends first).
enum class ApiKey : int16_t {
    Produce = 0,
    Fetch = 1,
    ListOffsets = 2,
    Metadata = 3,
    ApiVersions = 18,
    CreateTopics = 19,
};

struct ApiRange {
    ApiKey key;
    int16_t minVersion;
    int16_t maxVersion;
};

// Every API the listener serves with its version range, as ApiVersions announces it.
const std::vector<ApiRange> &supportedApis();

// What the connection does with a request once it is handled.
struct KafkaOutcome {
    enum class Kind {
        Respond,    // send bytes (the response frame, size prefix included), then read on
        NoResponse, // read on (a produce with acks=0 has no response)
        Close,      // close the connection: the request could not be answered in Kafka's
                    // protocol (malformed, unknown API or version); reason says why
    };
    Kind kind = Kind::Respond;
    std::string bytes;
    std::string reason;
};

// Called exactly once per request, maybe before handle() returns, maybe later from an engine
// thread; must not block.
using KafkaRespond = std::function<void(KafkaOutcome)>;

// The broker address Metadata announces: where clients reach this listener.
struct Advertised {
    std::string host;
    int32_t port = 0;
};

// Answers Kafka protocol requests (kafka.apache.org/protocol) from a Broker: ApiVersions,
// Metadata, Produce, Fetch, ListOffsets and CreateTopics, as a single-node cluster whose node 0
// leads every partition. Stateless per connection and thread-safe; the broker must outlive it.
class KafkaHandler
{
public:
    KafkaHandler(Broker &broker, std::string clusterId);

    // Handles one request frame (the bytes after its int32 size). The connection reads its next
    // request only after respond was called: Kafka answers a connection's requests in order.
    void handle(std::string_view frame, const Advertised &self, KafkaRespond respond);

private:
    // The request header (v1, or v2 with tagged fields for flexible versions).
    struct Header {
        ApiKey key = ApiKey::Produce;
        int16_t version = 0;
        int32_t correlationId = 0;
        std::string clientId;
    };
    // A response frame's start: room for the size and the correlation id (header v0).
    static std::string beginResponse(const Header &h);
    // Patches the size into a response begun by beginResponse.
    static KafkaOutcome finishResponse(std::string bytes);
    // Ends the parse of a request body: true when r read it whole; otherwise closes the
    // connection through respond with what was wrong.
    static bool parsedWhole(const char *api, KafkaReader &r, KafkaRespond &respond);
    void apiVersions(const Header &h, KafkaReader &r, KafkaRespond &respond);
    void metadata(const Header &h, KafkaReader &r, const Advertised &self,
                  KafkaRespond &respond);
    void listOffsets(const Header &h, KafkaReader &r, KafkaRespond &respond);
    void createTopics(const Header &h, KafkaReader &r, KafkaRespond &respond);
    void produce(const Header &h, KafkaReader &r, KafkaRespond &respond);
    void fetch(const Header &h, KafkaReader &r, KafkaRespond &respond);

    Broker &m_broker;
    std::string m_clusterId;
};

} // namespace eddy::kafka
