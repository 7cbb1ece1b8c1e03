// The event log keeps events in a QStandardItemModel behind a filter proxy. The bridge only
// signals events that arrive after it opened, so the log first asks the broker for its recent
// history (the `events` op) and places those before whatever arrived live meanwhile, skipping
// the ones it already shows.
#include "event_log.h"

#include "broker_bridge.h"

#include <QDateTime>
#include <QHeaderView>
#include <QLineEdit>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace eddy::ui {

namespace {

enum Column { TimeColumn, KindColumn, SubjectColumn, DetailColumn, ColumnCount };

} // namespace

EventLog::EventLog(BrokerBridge *bridge, QWidget *parent)
    : QWidget(parent)
    , m_bridge(bridge)
    , m_model(new QStandardItemModel(0, ColumnCount, this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_filter(new QLineEdit(this))
    , m_table(new QTableView(this))
{
    m_model->setHorizontalHeaderLabels({"Time", "Kind", "Subject", "Detail"});
    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_filter->setObjectName("eventFilter");
    m_filter->setPlaceholderText("Filter events");
    m_filter->setClearButtonEnabled(true);
    m_table->setModel(m_proxy);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(TimeColumn, 170);
    m_table->setColumnWidth(KindColumn, 130);
    m_table->setColumnWidth(SubjectColumn, 140);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_filter);
    layout->addWidget(m_table, 1);
    connect(m_filter, &QLineEdit::textChanged, this, &EventLog::setFilterText);
    connect(bridge, &BrokerBridge::eventsArrived, this, &EventLog::appendEvents);
    loadHistory();
}

void EventLog::setFilterText(const QString &text)
{
    if (m_filter->text() != text)
        m_filter->setText(text); // comes back here through textChanged
    else
        m_proxy->setFilterFixedString(text);
}

int EventLog::eventCount() const
{
    return m_model->rowCount();
}

int EventLog::visibleCount() const
{
    return m_proxy->rowCount();
}

void EventLog::insertRows(int at, const std::vector<BrokerEvent> &events)
{
    for (const auto &e : events) {
        QList<QStandardItem *> row{
            new QStandardItem(
                QDateTime::fromMSecsSinceEpoch(e.timestampMs).toString("yyyy-MM-dd HH:mm:ss.zzz")),
            new QStandardItem(QString::fromStdString(e.kind)),
            new QStandardItem(QString::fromStdString(e.subject)),
            new QStandardItem(QString::fromStdString(e.detail))};
        // The raw event rides along on the time cell so history can be matched against it.
        row[TimeColumn]->setData(QVariant::fromValue<qint64>(e.timestampMs), Qt::UserRole);
        m_model->insertRow(at++, row);
    }
    if (m_model->rowCount() > kMaxRows)
        m_model->removeRows(0, m_model->rowCount() - kMaxRows);
}

void EventLog::appendEvents(const std::vector<BrokerEvent> &incoming)
{
    std::vector<BrokerEvent> events = incoming;
    if (!m_historyTail.empty()) {
        std::erase_if(events, [this](const BrokerEvent &e) {
            return std::any_of(m_historyTail.begin(), m_historyTail.end(),
                               [&](const BrokerEvent &h) { return e == h; });
        });
        m_historyTail.clear();
    }
    if (events.empty())
        return;
    QScrollBar *bar = m_table->verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    insertRows(m_model->rowCount(), events);
    if (atEnd)
        m_table->scrollToBottom();
}

void EventLog::loadHistory()
{
    if (!m_bridge->isOpen())
        return;
    m_bridge->submit<std::vector<BrokerEvent>>(
        this,
        [](BrokerSession &s) {
            std::vector<BrokerEvent> out;
            auto reply = s.connection->call({{"op", "events"}}, 10000);
            if (reply && (*reply)["events"].is_array())
                for (const auto &e : (*reply)["events"])
                    out.push_back({e.value("timestamp_ms", int64_t{0}),
                                   e.value("kind", std::string()),
                                   e.value("subject", std::string()),
                                   e.value("detail", std::string())});
            return out;
        },
        [this](std::vector<BrokerEvent> history) {
            // Drop from the history whatever arrived live already: everything from the first
            // event the log shows onwards.
            if (m_model->rowCount() > 0) {
                const BrokerEvent first{
                    m_model->item(0, TimeColumn)->data(Qt::UserRole).toLongLong(),
                    m_model->item(0, KindColumn)->text().toStdString(),
                    m_model->item(0, SubjectColumn)->text().toStdString(),
                    m_model->item(0, DetailColumn)->text().toStdString()};
                auto it = std::find_if(history.begin(), history.end(),
                                       [&](const BrokerEvent &e) { return e == first; });
                history.erase(it, history.end());
            }
            const size_t tail = std::min<size_t>(history.size(), 50);
            m_historyTail.assign(history.end() - static_cast<std::ptrdiff_t>(tail), history.end());
            insertRows(0, history);
            m_table->scrollToBottom();
        });
}

} // namespace eddy::ui
