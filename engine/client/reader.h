#pragma once

#include "broker.h"
#include "connection.h"
#include "consumer.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy::client {

// Where a Reader starts on each partition.
struct StartPosition {
    enum class Kind { Earliest, Latest, Offset };
    Kind kind = Kind::Earliest;
    int64_t offset = 0; // for Kind::Offset

    // Parses "earliest", "latest" or a non-negative offset; nullopt when it is none of them.
    static std::optional<StartPosition> parse(const std::string &text);
};

// Reader settings; the ConnectionOptions part says how to reach the broker.
struct ReaderOptions : ConnectionOptions {
    std::string topic;
    std::vector<int32_t> partitions; // empty: every partition of the topic
    StartPosition start;
    std::size_t maxRecords = 500;    // per partition and read
    std::size_t maxBytes = 1 << 20;  // per partition and read
    int requestTimeoutMs = 30000;
};

// Reads a topic's partitions directly by offset, outside any consumer group: nothing is
// committed and no other reader is affected. Positions start where the options say (the
// watermarks are read once, at open) and move past what read() returns. Not thread-safe.
class Reader
{
public:
    // Dials the broker and reads the topic's partitions and watermarks. Fails with
    // UnknownTopic / UnknownPartition for a topic or partition that does not exist.
    static Result<std::unique_ptr<Reader>> open(const ReaderOptions &options);

    // Returns the records available now on any partition; when there are none, waits up to
    // waitMs for some to arrive (long-polling every partition at once). Records of one
    // partition are in offset order.
    Result<std::vector<ConsumerRecord>> read(int waitMs);
    // True when every partition's position has reached its high watermark as last seen.
    bool caughtUp() const;
    // The next offset to read per partition.
    std::map<int32_t, int64_t> positions() const { return m_positions; }

private:
    Reader(ReaderOptions options, std::shared_ptr<Connection> connection);
    Result<std::vector<ConsumerRecord>> fetchAll(int waitMs);

    const ReaderOptions m_options;
    std::shared_ptr<Connection> m_connection;
    std::map<int32_t, int64_t> m_positions;
    std::map<int32_t, int64_t> m_highWatermarks;
};

} // namespace eddy::client
