#pragma once

#include "broker.h"

#include <QWidget>

#include <vector>

class QLineEdit;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;

namespace eddy::ui {

class BrokerBridge;

// The broker's events (topics created and deleted, partitions added, group changes, faults)
// as a table of time, kind, subject and detail, newest at the bottom, with a filter box that
// matches any column. Keeps the last kMaxRows events. Starts with the broker's recent history
// and then follows BrokerBridge::eventsArrived.
class EventLog : public QWidget
{
    Q_OBJECT

public:
    static constexpr int kMaxRows = 10000;

    explicit EventLog(BrokerBridge *bridge, QWidget *parent = nullptr);

    // Appends events (oldest first), dropping the oldest rows beyond kMaxRows.
    void appendEvents(const std::vector<BrokerEvent> &events);
    // Shows only rows containing text (case-insensitive) in any column.
    void setFilterText(const QString &text);

    // All rows kept, and the rows the filter lets through.
    int eventCount() const;
    int visibleCount() const;
    QTableView *table() const { return m_table; }

private:
    void loadHistory();
    void insertRows(int at, const std::vector<BrokerEvent> &events);

    BrokerBridge *m_bridge;
    QStandardItemModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_filter;
    QTableView *m_table;
    // The end of the loaded history: the first live batch may repeat it (it was fetched while
    // the bridge's poll was between rounds), so matching events are skipped once.
    std::vector<BrokerEvent> m_historyTail;
};

} // namespace eddy::ui
