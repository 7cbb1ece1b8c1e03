#pragma once

#include <QWidget>

class QTableWidget;
class QLabel;

namespace eddy::ui {

class BrokerBridge;

// The broker's connected peers as the bridge last polled them: address, whether the studio's
// own session, its simulated clients (inproc://) or an external program, the principal it
// authenticated as (when the engine reports one), role, client id, connection time, requests
// and request rate, records produced (in) and received (out) with their rates over the last
// full second, last operation. Follows BrokerBridge::clientsUpdated.
class ClientsView : public QWidget
{
    Q_OBJECT

public:
    enum Column { IdColumn, AddressColumn, KindColumn, PrincipalColumn, RoleColumn,
                  ClientIdColumn, ConnectedColumn, RequestsColumn, RateColumn, RecordsInColumn,
                  RecordsInRateColumn, RecordsOutColumn, RecordsOutRateColumn, LastOpColumn,
                  ColumnCount };

    explicit ClientsView(BrokerBridge *bridge, QWidget *parent = nullptr);

    QTableWidget *table() const { return m_table; }

private:
    void showClients();

    BrokerBridge *m_bridge;
    QTableWidget *m_table;
    QLabel *m_summary;
};

} // namespace eddy::ui
