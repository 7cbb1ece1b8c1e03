// Lazy paging over a partition's log. The table asks data() only for the rows on screen, so a
// miss there is the moment to fetch: one `fetch` of a page-aligned block of offsets per missing
// page, on a bridge worker, never on the GUI thread. Pages are aligned to absolute offsets (not
// rows) so retention moving the log start or new records moving the end never invalidates what
// is cached; only pages wholly below the log start are dropped.
#include "record_page_model.h"

#include "broker_bridge.h"
#include "record_format.h"

#include <QBrush>
#include <QGuiApplication>
#include <QPalette>

#include <algorithm>

namespace eddy::ui {

namespace {

// A page reply: the records or the error, tagged with the source it was asked for.
struct PageReply {
    int64_t generation = 0;
    std::vector<Record> records;
    int64_t logStart = -1;
    int64_t highWatermark = -1;
    QString error;
};

} // namespace

RecordPageModel::RecordPageModel(BrokerBridge *bridge, QObject *parent)
    : QAbstractTableModel(parent)
    , m_bridge(bridge)
{}

void RecordPageModel::setSource(const QString &topic, int partition)
{
    beginResetModel();
    m_topic = topic;
    m_partition = partition;
    m_logStart = 0;
    m_highWatermark = 0;
    ++m_generation;
    m_pages.clear();
    m_lru.clear();
    m_inFlight.clear();
    endResetModel();
    emit boundsChanged();
    refreshBounds();
}

void RecordPageModel::setNewestFirst(bool newestFirst)
{
    if (newestFirst == m_newestFirst)
        return;
    beginResetModel();
    m_newestFirst = newestFirst;
    endResetModel();
}

void RecordPageModel::setBounds(int64_t logStart, int64_t highWatermark)
{
    logStart = std::min(logStart, highWatermark);
    if (logStart == m_logStart && highWatermark == m_highWatermark)
        return;
    if (logStart < m_logStart || highWatermark < m_highWatermark) {
        // The log went backwards: a different log under the same name. Start afresh.
        beginResetModel();
        m_pages.clear();
        m_lru.clear();
        m_logStart = logStart;
        m_highWatermark = highWatermark;
        endResetModel();
        emit boundsChanged();
        return;
    }
    // Rows are capped at INT_MAX by the view API; a partition that long shows its newest part.
    const auto clampRows = [](int64_t n) {
        return static_cast<int>(std::min<int64_t>(n, INT_MAX));
    };
    if (logStart > m_logStart) {
        const int oldRows = rowCount();
        const int removed = std::min(oldRows, clampRows(logStart - m_logStart));
        if (removed > 0) {
            if (m_newestFirst)
                beginRemoveRows({}, oldRows - removed, oldRows - 1);
            else
                beginRemoveRows({}, 0, removed - 1);
        }
        m_logStart = logStart;
        if (removed > 0)
            endRemoveRows();
        evictBelow(logStart);
    }
    if (highWatermark > m_highWatermark) {
        const int oldRows = rowCount();
        const int added = clampRows(std::min<int64_t>(highWatermark - m_highWatermark,
                                                      INT_MAX - int64_t{oldRows}));
        if (added > 0) {
            if (m_newestFirst)
                beginInsertRows({}, 0, added - 1);
            else
                beginInsertRows({}, oldRows, oldRows + added - 1);
        }
        m_highWatermark = highWatermark;
        if (added > 0)
            endInsertRows();
    }
    emit boundsChanged();
}

void RecordPageModel::refreshBounds()
{
    if (m_topic.isEmpty())
        return;
    const std::string topic = m_topic.toStdString();
    const int partition = m_partition;
    const int64_t generation = m_generation;
    m_bridge->submit<PageReply>(
        this,
        [topic, partition, generation](BrokerSession &s) {
            PageReply out;
            out.generation = generation;
            auto info = s.admin->describeTopic(topic);
            if (!info) {
                out.error = errorMessage(info.error());
                return out;
            }
            for (const auto &p : info->partitionInfo)
                if (p.partition == partition) {
                    out.logStart = p.logStartOffset;
                    out.highWatermark = p.highWatermark;
                }
            if (out.highWatermark < 0)
                out.error = QString("UNKNOWN_PARTITION: %1 has no partition %2")
                                .arg(QString::fromStdString(topic))
                                .arg(partition);
            return out;
        },
        [this](PageReply reply) {
            if (reply.generation != m_generation)
                return;
            if (!reply.error.isEmpty()) {
                emit errorOccurred(reply.error);
                return;
            }
            setBounds(reply.logStart, reply.highWatermark);
        });
}

int64_t RecordPageModel::offsetAt(int row) const
{
    return m_newestFirst ? m_highWatermark - 1 - row : m_logStart + row;
}

int RecordPageModel::rowOf(int64_t offset) const
{
    if (offset < m_logStart || offset >= m_highWatermark)
        return -1;
    const int64_t row = m_newestFirst ? m_highWatermark - 1 - offset : offset - m_logStart;
    return row < rowCount() ? static_cast<int>(row) : -1;
}

RecordPageModel::Page &RecordPageModel::pageFor(int64_t pageIndex) const
{
    auto it = m_pages.find(pageIndex);
    if (it != m_pages.end()) {
        m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
        return it->second;
    }
    while (m_pages.size() >= static_cast<size_t>(kMaxPages)) {
        m_pages.erase(m_lru.back());
        m_lru.pop_back();
    }
    m_lru.push_front(pageIndex);
    Page page;
    page.entries.resize(kPageSize);
    page.lru = m_lru.begin();
    return m_pages.emplace(pageIndex, std::move(page)).first->second;
}

const Record *RecordPageModel::recordAt(int row) const
{
    if (row < 0 || row >= rowCount())
        return nullptr;
    const int64_t offset = offsetAt(row);
    const int64_t pageIndex = offset / kPageSize;
    auto &page = pageFor(pageIndex);
    auto &slot = page.entries[static_cast<size_t>(offset - pageIndex * kPageSize)];
    if (slot)
        return &*slot;
    requestPage(pageIndex, offset);
    return nullptr;
}

void RecordPageModel::requestPage(int64_t pageIndex, int64_t fromOffset) const
{
    if (m_inFlight.count(pageIndex))
        return;
    // Fetch from the first missing offset of the page (a page may be partly filled by the live
    // tail or cut short by max_bytes), but never below the log start.
    const auto &entries = m_pages.at(pageIndex).entries;
    int64_t first = std::max(pageIndex * kPageSize, m_logStart);
    while (first < fromOffset && entries[static_cast<size_t>(first - pageIndex * kPageSize)])
        ++first;
    const int64_t end = std::min((pageIndex + 1) * kPageSize, m_highWatermark);
    if (first >= end)
        return;
    m_inFlight.insert(pageIndex);
    ++m_fetchRequests;
    const std::string topic = m_topic.toStdString();
    const int partition = m_partition;
    const int64_t generation = m_generation;
    const int64_t count = end - first;
    auto *self = const_cast<RecordPageModel *>(this);
    m_bridge->submit<PageReply>(
        self,
        [topic, partition, generation, first, count](BrokerSession &s) {
            PageReply out;
            out.generation = generation;
            auto reply = s.connection->call(fetchRequest(topic, partition, first, count), 15000);
            if (!reply) {
                out.error = errorMessage(reply.error());
                return out;
            }
            out.logStart = reply->value("log_start_offset", int64_t{-1});
            out.highWatermark = reply->value("high_watermark", int64_t{-1});
            for (const auto &j : (*reply)["records"]) {
                auto record = browsedRecordFromJson(j);
                if (!record) {
                    out.error = errorMessage(record.error());
                    return out;
                }
                out.records.push_back(std::move(*record));
            }
            return out;
        },
        [self, pageIndex](PageReply reply) {
            if (reply.generation != self->m_generation)
                return;
            self->m_inFlight.erase(pageIndex);
            if (!reply.error.isEmpty()) {
                // Retention may have removed the page meanwhile: the new bounds drop its rows.
                emit self->errorOccurred(reply.error);
                self->refreshBounds();
                return;
            }
            if (reply.highWatermark >= 0)
                self->setBounds(std::max(self->m_logStart, reply.logStart),
                                std::max(self->m_highWatermark, reply.highWatermark));
            self->pageArrived(pageIndex, reply.generation, reply.records);
        });
}

void RecordPageModel::pageArrived(int64_t pageIndex, int64_t generation,
                                  const std::vector<Record> &records)
{
    if (generation != m_generation || records.empty())
        return;
    auto &page = pageFor(pageIndex);
    for (const auto &r : records) {
        const int64_t slot = r.offset - pageIndex * kPageSize;
        if (slot >= 0 && slot < kPageSize)
            page.entries[static_cast<size_t>(slot)] = r;
    }
    repaintOffsets(records.front().offset, records.back().offset);
}

void RecordPageModel::addRecords(const std::vector<Record> &records)
{
    if (records.empty())
        return;
    for (const auto &r : records) {
        if (r.offset < m_logStart)
            continue;
        const int64_t pageIndex = r.offset / kPageSize;
        pageFor(pageIndex).entries[static_cast<size_t>(r.offset - pageIndex * kPageSize)] = r;
    }
    repaintOffsets(records.front().offset, records.back().offset);
}

void RecordPageModel::repaintOffsets(int64_t first, int64_t last)
{
    int a = rowOf(std::max(first, m_logStart));
    int b = rowOf(std::min(last, m_highWatermark - 1));
    if (a < 0 || b < 0)
        return;
    if (a > b)
        std::swap(a, b);
    emit dataChanged(index(a, 0), index(b, RecordColumnCount - 1));
}

void RecordPageModel::evictBelow(int64_t offset)
{
    for (auto it = m_pages.begin(); it != m_pages.end();) {
        if ((it->first + 1) * kPageSize <= offset) {
            m_lru.erase(it->second.lru);
            it = m_pages.erase(it);
        } else {
            ++it;
        }
    }
}

int RecordPageModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid())
        return 0;
    return static_cast<int>(std::min<int64_t>(m_highWatermark - m_logStart, INT_MAX));
}

int RecordPageModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : RecordColumnCount;
}

QVariant RecordPageModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid())
        return {};
    if (index.column() == OffsetColumn && role == Qt::DisplayRole)
        return QString::number(offsetAt(index.row()));
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != Qt::TextAlignmentRole
        && role != Qt::ForegroundRole)
        return {};
    const Record *record = recordAt(index.row());
    if (!record) {
        if (role == Qt::ForegroundRole)
            return QGuiApplication::palette().brush(QPalette::PlaceholderText);
        if (role == Qt::DisplayRole && index.column() == ValueColumn)
            return QString("loading…");
        return {};
    }
    if (role == Qt::ForegroundRole)
        return {};
    return recordCell(*record, index.column(), role);
}

QVariant RecordPageModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    return recordHeader(section);
}

} // namespace eddy::ui
