#pragma once

#include "admin.h"

#include <QWidget>

#include <optional>
#include <vector>

class QLabel;
class QPushButton;
class QTableWidget;
class QTimer;

namespace eddy::ui {

class BrokerBridge;

// Consumer groups: the list of groups; for the selected one its members (member id, client
// id, assigned and pending partitions) and, per partition, the committed offset, high
// watermark and lag. Refreshes every second through the bridge. "Reset offsets…" opens the
// preview-then-confirm ResetOffsetsDialog for the selected group.
class GroupsView : public QWidget
{
    Q_OBJECT

public:
    explicit GroupsView(BrokerBridge *bridge, QWidget *parent = nullptr);

    // Selects group (shown once the broker lists it).
    void setGroup(const QString &group);
    QString group() const { return m_group; }
    // Asks the broker now instead of at the next tick.
    void refresh();
    // Opens the reset dialog for the selected group (nothing without one).
    void openResetDialog();

    // The selected group as last described (empty before the first answer).
    const std::optional<client::GroupInfo> &groupInfo() const { return m_info; }
    QTableWidget *groupsTable() const { return m_groups; }
    QTableWidget *membersTable() const { return m_members; }
    QTableWidget *offsetsTable() const { return m_offsets; }

signals:
    // A refresh answered (the tables show it).
    void refreshed();

private:
    struct Snapshot;
    void showSnapshot(const Snapshot &snapshot);

    BrokerBridge *m_bridge;
    QString m_group;
    std::optional<client::GroupInfo> m_info;
    QTableWidget *m_groups;
    QLabel *m_summary;
    QTableWidget *m_members;
    QTableWidget *m_offsets;
    QPushButton *m_resetButton;
    QLabel *m_error;
    QTimer *m_timer;
    bool m_refreshing = false;
};

} // namespace eddy::ui
