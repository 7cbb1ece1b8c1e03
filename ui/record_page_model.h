#pragma once

#include "record.h"

#include <QAbstractTableModel>
#include <QString>

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace eddy::ui {

class BrokerBridge;

// The records of one partition, [log start, high watermark), as a table that never loads them
// all: a row whose page is not cached shows a placeholder and asks the broker for that page
// (kPageSize records, one `fetch`) on a worker thread; the reply fills the page and repaints
// its rows. At most kMaxPages pages stay cached, the least recently used go first. Rows are
// oldest first or newest first. Bounds move with setBounds (the browser's refresh and live
// tail): records appended become new rows, records removed by retention drop out.
class RecordPageModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    static constexpr int kPageSize = 200;
    static constexpr int kMaxPages = 64;

    explicit RecordPageModel(BrokerBridge *bridge, QObject *parent = nullptr);

    // Shows topic/partition: clears the cache and asks the broker for the bounds (empty until
    // they arrive). An empty topic shows nothing.
    void setSource(const QString &topic, int partition);
    QString topic() const { return m_topic; }
    int partition() const { return m_partition; }

    // Newest record in row 0 (true) or oldest (false, the default).
    void setNewestFirst(bool newestFirst);
    bool newestFirst() const { return m_newestFirst; }

    // Moves the window to [logStart, highWatermark): rows appear and disappear at the matching
    // end without resetting the view; anything else (the log shrank: topic recreated) resets.
    void setBounds(int64_t logStart, int64_t highWatermark);
    // Asks the broker for the current bounds (describe_topic) and applies them when they come.
    void refreshBounds();
    int64_t logStart() const { return m_logStart; }
    int64_t highWatermark() const { return m_highWatermark; }

    // The offset shown in row, and the row showing offset (-1 when outside the window).
    int64_t offsetAt(int row) const;
    int rowOf(int64_t offset) const;
    // The record of row when its page is cached, else null (and the page is requested).
    const Record *recordAt(int row) const;
    // Caches records that came from elsewhere (the live tail) so their rows need no fetch.
    void addRecords(const std::vector<Record> &records);

    // How many fetch requests pages have cost so far, and how many pages are cached: the
    // evidence that browsing a long log loads only what is looked at.
    int fetchRequests() const { return m_fetchRequests; }
    int cachedPages() const { return static_cast<int>(m_pages.size()); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

signals:
    // A fetch or describe failed (the text names the broker's code).
    void errorOccurred(const QString &message);
    // The bounds changed (logStart(), highWatermark()).
    void boundsChanged();

private:
    struct Page {
        std::vector<std::optional<Record>> entries; // kPageSize, index = offset - page start
        std::list<int64_t>::iterator lru;
    };
    Page &pageFor(int64_t pageIndex) const;
    void requestPage(int64_t pageIndex, int64_t fromOffset) const;
    void pageArrived(int64_t pageIndex, int64_t generation, const std::vector<Record> &records);
    void repaintOffsets(int64_t first, int64_t last);
    void evictBelow(int64_t offset);

    BrokerBridge *m_bridge;
    QString m_topic;
    int m_partition = 0;
    bool m_newestFirst = false;
    int64_t m_logStart = 0;
    int64_t m_highWatermark = 0;
    int64_t m_generation = 0; // bumped by setSource so late replies of the old source are dropped
    mutable std::unordered_map<int64_t, Page> m_pages;
    mutable std::list<int64_t> m_lru; // page indexes, most recently used first
    mutable std::set<int64_t> m_inFlight;
    mutable int m_fetchRequests = 0;
};

} // namespace eddy::ui
