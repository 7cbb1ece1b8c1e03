// The group-less reader behind `eddy consume` without --group. A read is one fetch per
// partition, all in flight at once; the first pass does not wait, and only when it found nothing
// does a second pass long-poll, returning as soon as any partition answers with records. Answers
// that come later are dropped unread (their partition's position did not move, so the records are
// fetched again next time), which keeps a quiet partition from delaying a busy one.
#include "reader.h"

#include "binary_codec.h"
#include "json_codec.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>

namespace eddy::client {

std::optional<StartPosition> StartPosition::parse(const std::string &text)
{
    if (text == "earliest" || text == "beginning")
        return StartPosition{Kind::Earliest, 0};
    if (text == "latest" || text == "end")
        return StartPosition{Kind::Latest, 0};
    int64_t offset = 0;
    const char *end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, offset);
    if (text.empty() || ec != std::errc() || ptr != end || offset < 0)
        return std::nullopt;
    return StartPosition{Kind::Offset, offset};
}

Result<std::unique_ptr<Reader>> Reader::open(const ReaderOptions &options)
{
    auto connection = Connection::open(options);
    if (!connection)
        return connection.error();
    auto described = (*connection)->call({{"op", "describe_topic"}, {"topic", options.topic}},
                                         options.requestTimeoutMs);
    if (!described)
        return described.error();
    auto info = net::topicInfoFromJson(described->value("topic", Json::object()));
    if (!info)
        return info.error();
    std::unique_ptr<Reader> reader(new Reader(options, std::move(*connection)));
    for (const auto &p : info->partitionInfo) {
        if (!options.partitions.empty()
            && std::find(options.partitions.begin(), options.partitions.end(), p.partition)
                   == options.partitions.end())
            continue;
        int64_t start = p.logStartOffset;
        if (options.start.kind == StartPosition::Kind::Latest)
            start = p.highWatermark;
        else if (options.start.kind == StartPosition::Kind::Offset)
            start = std::max(options.start.offset, p.logStartOffset);
        reader->m_positions[p.partition] = start;
        reader->m_highWatermarks[p.partition] = p.highWatermark;
    }
    for (int32_t p : options.partitions)
        if (!reader->m_positions.count(p))
            return makeError(Errc::UnknownPartition, "topic '" + options.topic
                                                         + "' has no partition "
                                                         + std::to_string(p));
    return reader;
}

Reader::Reader(ReaderOptions options, std::shared_ptr<Connection> connection)
    : m_options(std::move(options))
    , m_connection(std::move(connection))
{
}

bool Reader::caughtUp() const
{
    for (const auto &[p, pos] : m_positions)
        if (pos < m_highWatermarks.at(p))
            return false;
    return true;
}

Result<std::vector<ConsumerRecord>> Reader::read(int waitMs)
{
    auto now = fetchAll(0);
    if (!now || !now->empty() || waitMs <= 0)
        return now;
    return fetchAll(waitMs);
}

Result<std::vector<ConsumerRecord>> Reader::fetchAll(int waitMs)
{
    struct Gather {
        std::mutex mutex;
        std::condition_variable cv;
        std::map<int32_t, Result<FetchResult>> results;
        bool anyRecords = false;
    };
    auto gather = std::make_shared<Gather>();
    for (const auto &[partition, offset] : m_positions) {
        FetchRequest req;
        req.topic = m_options.topic;
        req.partition = partition;
        req.offset = offset;
        req.maxRecords = m_options.maxRecords;
        req.maxBytes = m_options.maxBytes;
        req.waitMs = waitMs;
        const int32_t p = partition;
        m_connection->requestAsync(net::encodeFetchRequest(req),
                                   waitMs + m_options.requestTimeoutMs,
                                   [gather, p](Result<std::string> reply) {
                                       auto r = reply ? net::decodeFetchReply(*reply)
                                                      : Result<FetchResult>(reply.error());
                                       std::lock_guard lock(gather->mutex);
                                       gather->anyRecords = gather->anyRecords
                                                            || (r && !r->records.empty());
                                       gather->results.emplace(p, std::move(r));
                                       gather->cv.notify_all();
                                   });
    }
    std::map<int32_t, Result<FetchResult>> results;
    {
        std::unique_lock lock(gather->mutex);
        gather->cv.wait(lock, [&] {
            return gather->anyRecords || gather->results.size() == m_positions.size();
        });
        results = std::move(gather->results);
    }
    std::vector<ConsumerRecord> out;
    for (auto &[partition, r] : results) {
        if (!r)
            return r.error();
        m_highWatermarks[partition] = r->highWatermark;
        for (auto &rec : r->records) {
            m_positions[partition] = rec.offset + 1;
            out.push_back({m_options.topic, partition, std::move(rec)});
        }
    }
    return out;
}

} // namespace eddy::client
