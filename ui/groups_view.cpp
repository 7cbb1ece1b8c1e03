// The groups view polls list_groups and describe_group (for the selected group) in one bridge
// job per second; a tick is skipped while the previous one is still out, so a slow broker is
// never queued up with refreshes. Tables are refilled in place so selection and scroll stay.
#include "groups_view.h"

#include "broker_bridge.h"
#include "record_format.h"
#include "reset_offsets_dialog.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace eddy::ui {

namespace {

constexpr int kRefreshMs = 1000;

QTableWidget *makeTable(const QStringList &headers, QWidget *parent)
{
    auto *table = new QTableWidget(0, static_cast<int>(headers.size()), parent);
    table->setHorizontalHeaderLabels(headers);
    table->verticalHeader()->setVisible(false);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->horizontalHeader()->setStretchLastSection(true);
    table->setWordWrap(false);
    table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    return table;
}

void setCell(QTableWidget *table, int row, int column, const QString &text, bool number = false)
{
    auto *item = table->item(row, column);
    if (!item) {
        item = new QTableWidgetItem;
        table->setItem(row, column, item);
    }
    if (item->text() != text)
        item->setText(text);
    item->setTextAlignment(number ? Qt::AlignRight | Qt::AlignVCenter
                                  : Qt::AlignLeft | Qt::AlignVCenter);
}

QString partitionsText(const std::vector<TopicPartition> &partitions)
{
    QStringList parts;
    for (const auto &p : partitions)
        parts << QString::fromStdString(p.topic) + "/" + QString::number(p.partition);
    return parts.join(", ");
}

} // namespace

struct GroupsView::Snapshot {
    std::vector<client::GroupSummary> groups;
    std::optional<client::GroupInfo> info;
    QString group;
    QString error;
};

GroupsView::GroupsView(BrokerBridge *bridge, QWidget *parent)
    : QWidget(parent)
    , m_bridge(bridge)
    , m_groups(makeTable({"Group", "State", "Members"}, this))
    , m_summary(new QLabel(this))
    , m_members(makeTable({"Member", "Client id", "Assigned", "Pending"}, this))
    , m_offsets(makeTable({"Topic", "Partition", "Committed", "End (HW)", "Lag"}, this))
    , m_resetButton(new QPushButton("Reset offsets…", this))
    , m_error(new QLabel(this))
    , m_timer(new QTimer(this))
{
    m_groups->setSelectionMode(QAbstractItemView::SingleSelection);
    m_groups->horizontalHeader()->setStretchLastSection(false);
    m_groups->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_groups->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_groups->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_resetButton->setEnabled(false);
    m_error->setWordWrap(true);
    QPalette palette = m_error->palette();
    palette.setColor(QPalette::WindowText, QColor(0xd9, 0x3f, 0x3f)); // semantic error red
    m_error->setPalette(palette);

    auto *detail = new QWidget(this);
    auto *detailLayout = new QVBoxLayout(detail);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    auto *head = new QHBoxLayout;
    head->addWidget(m_summary, 1);
    head->addWidget(m_resetButton);
    detailLayout->addLayout(head);
    detailLayout->addWidget(new QLabel("Members", detail));
    detailLayout->addWidget(m_members, 1);
    detailLayout->addWidget(new QLabel("Committed offsets and lag", detail));
    detailLayout->addWidget(m_offsets, 2);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_groups);
    splitter->addWidget(detail);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 3);
    splitter->setSizes({300, 600});
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_error);

    connect(m_groups, &QTableWidget::itemSelectionChanged, this, [this] {
        const auto rows = m_groups->selectionModel()->selectedRows();
        if (rows.isEmpty())
            return;
        const QString name = m_groups->item(rows.first().row(), 0)->text();
        if (name != m_group)
            setGroup(name);
    });
    connect(m_resetButton, &QPushButton::clicked, this, &GroupsView::openResetDialog);
    connect(m_timer, &QTimer::timeout, this, &GroupsView::refresh);
    m_timer->start(kRefreshMs);
    refresh();
}

void GroupsView::setGroup(const QString &group)
{
    if (group == m_group)
        return;
    m_group = group;
    m_info.reset();
    m_members->setRowCount(0);
    m_offsets->setRowCount(0);
    m_summary->setText(group);
    m_resetButton->setEnabled(!group.isEmpty());
    // A refresh in flight describes the old group; ask again once it is back.
    m_refreshing = false;
    refresh();
}

void GroupsView::refresh()
{
    if (m_refreshing || !m_bridge->isOpen())
        return;
    m_refreshing = true;
    const std::string group = m_group.toStdString();
    const QString asked = m_group;
    m_bridge->submit<Snapshot>(
        this,
        [group, asked](BrokerSession &s) {
            Snapshot out;
            out.group = asked;
            auto groups = s.admin->listGroups();
            if (!groups) {
                out.error = errorMessage(groups.error());
                return out;
            }
            out.groups = std::move(*groups);
            if (!group.empty()) {
                auto info = s.admin->describeGroup(group);
                if (info)
                    out.info = std::move(*info);
                else if (info.code() != Errc::UnknownGroup)
                    out.error = errorMessage(info.error());
            }
            return out;
        },
        [this](Snapshot snapshot) {
            if (snapshot.group != m_group)
                return; // an answer about the previously selected group
            m_refreshing = false;
            showSnapshot(snapshot);
            emit refreshed();
        });
}

void GroupsView::showSnapshot(const Snapshot &snapshot)
{
    m_error->setText(snapshot.error);
    if (!snapshot.error.isEmpty() && snapshot.groups.empty())
        return;
    {
        const QSignalBlocker block(m_groups);
        m_groups->setRowCount(static_cast<int>(snapshot.groups.size()));
        for (int i = 0; i < static_cast<int>(snapshot.groups.size()); ++i) {
            const auto &g = snapshot.groups[static_cast<size_t>(i)];
            setCell(m_groups, i, 0, QString::fromStdString(g.group));
            setCell(m_groups, i, 1, QString::fromStdString(g.state));
            setCell(m_groups, i, 2, QString::number(g.members), true);
            if (QString::fromStdString(g.group) == m_group)
                m_groups->selectRow(i);
        }
    }
    m_info = snapshot.info;
    if (!m_info) {
        if (!m_group.isEmpty())
            m_summary->setText(m_group + " (not known to the broker)");
        return;
    }
    const auto &info = *m_info;
    m_summary->setText(QString("<b>%1</b> · %2 · %3 · generation %4 · total lag %L5")
                           .arg(QString::fromStdString(info.group).toHtmlEscaped(),
                                QString::fromStdString(info.state),
                                QString::fromStdString(info.assignor))
                           .arg(info.generation)
                           .arg(info.totalLag));
    m_members->setRowCount(static_cast<int>(info.members.size()));
    for (int i = 0; i < static_cast<int>(info.members.size()); ++i) {
        const auto &m = info.members[static_cast<size_t>(i)];
        setCell(m_members, i, 0, QString::fromStdString(m.memberId));
        setCell(m_members, i, 1, QString::fromStdString(m.clientId));
        setCell(m_members, i, 2, partitionsText(m.assigned));
        setCell(m_members, i, 3, partitionsText(m.pending));
    }
    m_offsets->setRowCount(static_cast<int>(info.offsets.size()));
    for (int i = 0; i < static_cast<int>(info.offsets.size()); ++i) {
        const auto &o = info.offsets[static_cast<size_t>(i)];
        setCell(m_offsets, i, 0, QString::fromStdString(o.topic));
        setCell(m_offsets, i, 1, QString::number(o.partition), true);
        setCell(m_offsets, i, 2, o.offset < 0 ? QString("none") : QLocale().toString(o.offset),
                true);
        setCell(m_offsets, i, 3, QLocale().toString(o.highWatermark), true);
        setCell(m_offsets, i, 4, QLocale().toString(o.lag), true);
    }
}

void GroupsView::openResetDialog()
{
    if (m_group.isEmpty())
        return;
    QStringList topics;
    if (m_info)
        for (const auto &o : m_info->offsets)
            if (!topics.contains(QString::fromStdString(o.topic)))
                topics << QString::fromStdString(o.topic);
    if (auto snap = m_bridge->snapshot())
        for (const auto &t : snap->topics)
            if (!topics.contains(QString::fromStdString(t.name)))
                topics << QString::fromStdString(t.name);
    auto *dialog = new ResetOffsetsDialog(m_bridge, m_group, topics, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ResetOffsetsDialog::applied, this, &GroupsView::refresh);
    dialog->show();
}

} // namespace eddy::ui
