// The filter scan walks a partition block by block. Matching runs on the worker that fetched
// the block, so the GUI thread only ever sees the (few) matches and the progress, and one block
// in flight at a time keeps the scan from crowding out the browser's page fetches.
#include "record_scan.h"

#include "broker_bridge.h"
#include "record_format.h"

#include <algorithm>

namespace eddy::ui {

namespace {

struct BlockResult {
    std::vector<Record> matches;
    int64_t next = 0;      // where the following block starts
    int64_t logStart = -1; // set when retention moved the log start past the position
    QString error;
};

} // namespace

RecordScan::RecordScan(BrokerBridge *bridge, QObject *parent)
    : QObject(parent)
    , m_bridge(bridge)
{}

void RecordScan::start(const QString &topic, int partition, const QString &text,
                       FilterField field, int64_t from, int64_t to)
{
    if (m_running)
        cancel();
    ++m_generation;
    m_topic = topic;
    m_partition = partition;
    m_text = text;
    m_field = field;
    m_from = from;
    m_to = std::max(from, to);
    m_position = from;
    m_scanned = 0;
    m_matches = 0;
    m_running = true;
    emit progress(0, total());
    next();
}

void RecordScan::cancel()
{
    if (!m_running)
        return;
    ++m_generation;
    m_running = false;
    emit finished("cancelled");
}

void RecordScan::next()
{
    if (m_position >= m_to) {
        m_running = false;
        emit finished({});
        return;
    }
    const std::string topic = m_topic.toStdString();
    const int partition = m_partition;
    const QString text = m_text;
    const FilterField field = m_field;
    const int64_t position = m_position;
    const int64_t count = std::min<int64_t>(kBlock, m_to - m_position);
    const int64_t generation = m_generation;
    m_bridge->submit<BlockResult>(
        this,
        [=](BrokerSession &s) {
            BlockResult out;
            auto reply =
                s.connection->call(fetchRequest(topic, partition, position, count, 8 << 20), 15000);
            if (!reply) {
                if (reply.code() == Errc::OffsetOutOfRange) {
                    // Retention removed the records ahead of the scan; go on from the new start.
                    if (auto info = s.admin->describeTopic(topic))
                        for (const auto &p : info->partitionInfo)
                            if (p.partition == partition && p.logStartOffset > position)
                                out.logStart = p.logStartOffset;
                }
                if (out.logStart < 0)
                    out.error = errorMessage(reply.error());
                return out;
            }
            out.next = position;
            for (const auto &j : (*reply)["records"]) {
                auto record = browsedRecordFromJson(j);
                if (!record) {
                    out.error = errorMessage(record.error());
                    return out;
                }
                out.next = record->offset + 1;
                if (recordMatches(*record, text, field))
                    out.matches.push_back(std::move(*record));
            }
            if (out.next == position) // nothing came back: the log ends before the range does
                out.next = position + count;
            return out;
        },
        [this, generation](BlockResult result) {
            if (generation != m_generation)
                return;
            if (!result.error.isEmpty()) {
                m_running = false;
                emit finished(result.error);
                return;
            }
            if (result.logStart >= 0) {
                m_scanned += result.logStart - m_position;
                m_position = result.logStart;
            } else {
                m_scanned += result.next - m_position;
                m_position = result.next;
            }
            if (!result.matches.empty()) {
                const int room = kMaxMatches - m_matches;
                if (static_cast<int>(result.matches.size()) > room)
                    result.matches.resize(static_cast<size_t>(room));
                m_matches += static_cast<int>(result.matches.size());
                emit matchesFound(result.matches);
            }
            emit progress(m_scanned, total());
            if (m_matches >= kMaxMatches) {
                m_running = false;
                emit finished(QString("stopped at %L1 matches").arg(kMaxMatches));
                return;
            }
            next();
        });
}

} // namespace eddy::ui
