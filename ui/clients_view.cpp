// The clients table is refilled from BrokerBridge::clients() whenever the bridge polled a new
// list (every 500 ms); rows are updated in place so a selection survives the refresh, and the
// columns are sized to their contents once per refill, not once per changed cell.
#include "clients_view.h"

#include "broker_bridge.h"

#include <QDateTime>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QVBoxLayout>

namespace eddy::ui {

namespace {

// Access control adds ClientInfo::principal to the engine; this view is built both with and
// without it, so the column is filled when the field exists and hidden otherwise.
template <class T>
constexpr bool kHasPrincipal = requires(const T &c) { c.principal; };

template <class T>
QString principalOf(const T &c)
{
    if constexpr (kHasPrincipal<T>)
        return QString::fromStdString(c.principal);
    else
        return {};
}

} // namespace

ClientsView::ClientsView(BrokerBridge *bridge, QWidget *parent)
    : QWidget(parent)
    , m_bridge(bridge)
    , m_table(new QTableWidget(0, ColumnCount, this))
    , m_summary(new QLabel(this))
{
    m_table->setHorizontalHeaderLabels({"Id", "Address", "Kind", "As", "Role", "Client id",
                                        "Connected", "Requests", "Req/s", "Records in", "In/s",
                                        "Records out", "Out/s", "Last op"});
    m_table->setColumnHidden(PrincipalColumn, !kHasPrincipal<net::ClientInfo>);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    // A handful of rows: sizing columns to their contents is cheap here.
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(AddressColumn, QHeaderView::Stretch);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_summary);
    connect(bridge, &BrokerBridge::clientsUpdated, this, &ClientsView::showClients);
    showClients();
}

void ClientsView::showClients()
{
    const auto &clients = m_bridge->clients();
    // Columns sized to their contents are measured again, every cell, each time one cell
    // changes (placing the changed cell resolves the header's sizes): 14 columns of a few dozen
    // clients made this refresh one of the GUI thread's costliest jobs under load. Measure
    // once, after the fill.
    auto *header = m_table->horizontalHeader();
    header->setSectionResizeMode(QHeaderView::Interactive);
    m_table->setRowCount(static_cast<int>(clients.size()));
    int simulated = 0;
    int studio = 0;
    const QLocale locale;
    for (int row = 0; row < static_cast<int>(clients.size()); ++row) {
        const auto &c = clients[static_cast<size_t>(row)];
        const QString address = QString::fromStdString(c.address);
        // The studio's own session announces kStudioClientId; other inproc:// peers can only be
        // in the studio's process too: its simulated clients.
        const bool isStudio = c.clientId == kStudioClientId;
        const bool isSimulated = !isStudio && address.startsWith("inproc://");
        simulated += isSimulated ? 1 : 0;
        studio += isStudio ? 1 : 0;
        const QStringList cells{
            QString::number(c.id),
            address,
            isStudio ? "studio" : isSimulated ? "simulated" : "external",
            principalOf(c),
            QString::fromStdString(c.role),
            QString::fromStdString(c.clientId),
            QDateTime::fromMSecsSinceEpoch(c.connectedMs).toString("HH:mm:ss"),
            locale.toString(static_cast<qulonglong>(c.requests)),
            locale.toString(c.requestsPerSec, 'f', 1),
            locale.toString(static_cast<qulonglong>(c.recordsIn)),
            locale.toString(c.recordsInPerSec, 'f', 0),
            locale.toString(static_cast<qulonglong>(c.recordsOut)),
            locale.toString(c.recordsOutPerSec, 'f', 0),
            QString::fromStdString(c.lastOp)};
        for (int column = 0; column < ColumnCount; ++column) {
            auto *item = m_table->item(row, column);
            if (!item) {
                item = new QTableWidgetItem;
                m_table->setItem(row, column, item);
            }
            item->setText(cells[column]);
            const bool number = column == IdColumn
                                || (column >= RequestsColumn && column <= RecordsOutRateColumn);
            item->setTextAlignment(number ? Qt::AlignRight | Qt::AlignVCenter
                                          : Qt::AlignLeft | Qt::AlignVCenter);
        }
    }
    header->setSectionResizeMode(QHeaderView::ResizeToContents);
    header->setSectionResizeMode(AddressColumn, QHeaderView::Stretch);
    m_summary->setText(QString("%1 connected · %2 simulated · %3 external")
                           .arg(static_cast<int>(clients.size()) - studio)
                           .arg(simulated)
                           .arg(static_cast<int>(clients.size()) - simulated - studio));
}

} // namespace eddy::ui
