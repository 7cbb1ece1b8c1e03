// Reset offsets with a preview. The preview is computed the way the broker computes the reset
// (earliest = log start, latest = high watermark, an offset clamped into [log start, HW], a
// timestamp = the first offset at or after it, else HW), from list_offsets and the group's
// current commits, so what the user confirms is what the broker then sets.
#include "reset_offsets_dialog.h"

#include "broker_bridge.h"
#include "record_format.h"

#include <QComboBox>
#include <QDateTime>
#include <QDateTimeEdit>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <set>

namespace eddy::ui {

namespace {

struct PreviewResult {
    std::vector<ResetPreviewRow> rows;
    QString error;
};

struct ApplyResult {
    std::vector<std::pair<int32_t, int64_t>> offsets;
    QString error;
};

// "all" / "" → empty (every partition); else the listed numbers. Fails on anything else.
Result<std::vector<int32_t>> parsePartitions(const QString &text)
{
    std::vector<int32_t> out;
    const QString t = text.trimmed();
    if (t.isEmpty() || t.compare("all", Qt::CaseInsensitive) == 0)
        return out;
    std::set<int32_t> seen;
    for (const auto &part : t.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int p = part.trimmed().toInt(&ok);
        if (!ok || p < 0)
            return makeError(Errc::InvalidRequest,
                             "partitions must be 'all' or numbers like 0, 2: '"
                                 + part.trimmed().toStdString() + "'");
        if (seen.insert(p).second)
            out.push_back(p);
    }
    return out;
}

QString offsetText(int64_t offset)
{
    return offset < 0 ? QString("none") : QLocale().toString(offset);
}

} // namespace

ResetOffsetsDialog::ResetOffsetsDialog(BrokerBridge *bridge, const QString &group,
                                       const QStringList &topics, QWidget *parent)
    : QDialog(parent)
    , m_bridge(bridge)
    , m_group(group)
    , m_topic(new QComboBox(this))
    , m_partitions(new QLineEdit("all", this))
    , m_target(new QComboBox(this))
    , m_offset(new QLineEdit("0", this))
    , m_time(new QDateTimeEdit(QDateTime::currentDateTime().addSecs(-3600), this))
    , m_previewButton(new QPushButton("Preview", this))
    , m_applyButton(new QPushButton("Reset offsets", this))
    , m_table(new QTableWidget(0, 4, this))
    , m_status(new QLabel(this))
{
    setWindowTitle("Reset offsets of " + group);
    m_topic->addItems(topics);
    m_topic->setEditable(true);
    m_target->addItem("Earliest (log start)", static_cast<int>(ResetKind::Earliest));
    m_target->addItem("Latest (end)", static_cast<int>(ResetKind::Latest));
    m_target->addItem("Offset", static_cast<int>(ResetKind::ToOffset));
    m_target->addItem("Timestamp", static_cast<int>(ResetKind::ToTimestamp));
    m_offset->setValidator(new QRegularExpressionValidator(QRegularExpression("\\d{1,18}"), this));
    m_time->setDisplayFormat("yyyy-MM-dd HH:mm:ss");
    m_time->setCalendarPopup(true);
    m_table->setHorizontalHeaderLabels({"Partition", "Committed now", "New offset", "Change"});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_status->setWordWrap(true);
    m_applyButton->setEnabled(false);

    auto *form = new QFormLayout;
    form->addRow("Topic", m_topic);
    form->addRow("Partitions", m_partitions);
    form->addRow("Move to", m_target);
    form->addRow("Offset", m_offset);
    form->addRow("Time", m_time);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    buttons->addButton(m_previewButton, QDialogButtonBox::ActionRole);
    buttons->addButton(m_applyButton, QDialogButtonBox::ActionRole);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(520, 440);

    const auto updateFields = [this, form] {
        form->setRowVisible(m_offset, kind() == ResetKind::ToOffset);
        form->setRowVisible(m_time, kind() == ResetKind::ToTimestamp);
        invalidatePreview();
    };
    connect(m_target, &QComboBox::currentIndexChanged, this, updateFields);
    connect(m_topic, &QComboBox::currentTextChanged, this, &ResetOffsetsDialog::invalidatePreview);
    connect(m_partitions, &QLineEdit::textChanged, this, &ResetOffsetsDialog::invalidatePreview);
    connect(m_offset, &QLineEdit::textChanged, this, &ResetOffsetsDialog::invalidatePreview);
    connect(m_time, &QDateTimeEdit::dateTimeChanged, this, &ResetOffsetsDialog::invalidatePreview);
    connect(m_previewButton, &QPushButton::clicked, this, &ResetOffsetsDialog::preview);
    connect(m_applyButton, &QPushButton::clicked, this, &ResetOffsetsDialog::apply);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    updateFields();
    showStatus("Preview shows what would change; nothing is reset before you confirm.", false);
}

void ResetOffsetsDialog::setTopic(const QString &topic)
{
    m_topic->setCurrentText(topic);
}

void ResetOffsetsDialog::setPartitions(const QString &partitions)
{
    m_partitions->setText(partitions);
}

void ResetOffsetsDialog::setTarget(ResetKind kind, int64_t value)
{
    m_target->setCurrentIndex(m_target->findData(static_cast<int>(kind)));
    if (kind == ResetKind::ToOffset)
        m_offset->setText(QString::number(value));
    else if (kind == ResetKind::ToTimestamp)
        m_time->setDateTime(QDateTime::fromMSecsSinceEpoch(value));
}

ResetKind ResetOffsetsDialog::kind() const
{
    return static_cast<ResetKind>(m_target->currentData().toInt());
}

int64_t ResetOffsetsDialog::targetValue() const
{
    if (kind() == ResetKind::ToOffset)
        return m_offset->text().toLongLong();
    if (kind() == ResetKind::ToTimestamp)
        return m_time->dateTime().toMSecsSinceEpoch();
    return 0;
}

QString ResetOffsetsDialog::statusText() const
{
    return m_status->text();
}

void ResetOffsetsDialog::invalidatePreview()
{
    ++m_generation;
    m_applyButton->setEnabled(false);
}

void ResetOffsetsDialog::preview()
{
    invalidatePreview();
    auto partitions = parsePartitions(m_partitions->text());
    if (!partitions) {
        showStatus(errorMessage(partitions.error()), true);
        emit previewReady(errorMessage(partitions.error()));
        return;
    }
    const std::string group = m_group.toStdString();
    const std::string topic = m_topic->currentText().trimmed().toStdString();
    const ResetKind kind = this->kind();
    const int64_t value = targetValue();
    const std::vector<int32_t> chosen = *partitions;
    const int64_t generation = m_generation;
    showStatus("computing…", false);
    m_bridge->submit<PreviewResult>(
        this,
        [group, topic, kind, value, chosen](BrokerSession &s) {
            PreviewResult out;
            nlohmann::json request{{"op", "list_offsets"}, {"topic", topic}};
            if (kind == ResetKind::ToTimestamp)
                request["timestamp"] = value;
            auto offsets = s.connection->call(request, 10000);
            if (!offsets) {
                out.error = errorMessage(offsets.error());
                return out;
            }
            auto commits = s.admin->committed(group, topic);
            if (!commits && commits.code() != Errc::UnknownGroup) {
                out.error = errorMessage(commits.error());
                return out;
            }
            std::set<int32_t> want(chosen.begin(), chosen.end());
            std::set<int32_t> found;
            for (const auto &p : (*offsets)["partitions"]) {
                ResetPreviewRow row;
                row.partition = p.value("partition", 0);
                if (!want.empty() && !want.count(row.partition))
                    continue;
                found.insert(row.partition);
                row.logStart = p.value("log_start_offset", int64_t{0});
                row.highWatermark = p.value("high_watermark", int64_t{0});
                switch (kind) {
                case ResetKind::Earliest: row.target = row.logStart; break;
                case ResetKind::Latest: row.target = row.highWatermark; break;
                case ResetKind::ToOffset:
                    row.target = std::clamp(value, row.logStart, row.highWatermark);
                    break;
                case ResetKind::ToTimestamp: {
                    const int64_t at = p.value("offset", int64_t{-1});
                    row.target = at < 0 ? row.highWatermark : at;
                    break;
                }
                }
                if (commits)
                    for (const auto &c : *commits)
                        if (c.topic == topic && c.partition == row.partition)
                            row.current = c.offset;
                out.rows.push_back(row);
            }
            for (int32_t p : want)
                if (!found.count(p)) {
                    out.error = QString("UNKNOWN_PARTITION: %1 has no partition %2")
                                    .arg(QString::fromStdString(topic))
                                    .arg(p);
                    out.rows.clear();
                }
            return out;
        },
        [this, generation, topic, chosen, kind, value](PreviewResult result) {
            if (generation != m_generation)
                return;
            m_rows = std::move(result.rows);
            showRows();
            if (!result.error.isEmpty()) {
                showStatus(result.error, true);
                emit previewReady(result.error);
                return;
            }
            m_previewTopic = topic;
            m_previewPartitions = chosen;
            m_previewKind = kind;
            m_previewValue = value;
            m_applyButton->setEnabled(!m_rows.empty());
            showStatus(QString("Resetting moves %1 partition(s) as shown. Confirm with "
                               "\"Reset offsets\".")
                           .arg(m_rows.size()),
                       false);
            emit previewReady({});
        });
}

void ResetOffsetsDialog::showRows()
{
    m_table->setRowCount(static_cast<int>(m_rows.size()));
    for (int i = 0; i < static_cast<int>(m_rows.size()); ++i) {
        const auto &r = m_rows[static_cast<size_t>(i)];
        const QString delta = r.current < 0
                                  ? QString("—")
                                  : (r.target >= r.current ? "+" : "")
                                        + QLocale().toString(r.target - r.current);
        const QStringList cells{QString::number(r.partition), offsetText(r.current),
                                offsetText(r.target), delta};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_table->setItem(i, c, item);
        }
    }
}

void ResetOffsetsDialog::apply()
{
    if (!m_applyButton->isEnabled())
        return;
    m_applyButton->setEnabled(false);
    const std::string group = m_group.toStdString();
    const std::string topic = m_previewTopic;
    const auto partitions = m_previewPartitions;
    const client::ResetTarget target{m_previewKind, m_previewValue};
    showStatus("resetting…", false);
    m_bridge->submit<ApplyResult>(
        this,
        [group, topic, partitions, target](BrokerSession &s) {
            ApplyResult out;
            auto set = s.admin->resetOffsets(group, topic, target, partitions);
            if (!set) {
                out.error = errorMessage(set.error());
                return out;
            }
            for (const auto &o : *set)
                out.offsets.emplace_back(o.partition, o.offset);
            return out;
        },
        [this](ApplyResult result) {
            if (!result.error.isEmpty()) {
                showStatus("The broker refused the reset: " + result.error, true);
                m_applyButton->setEnabled(true);
                emit applied(result.error);
                return;
            }
            m_applied = std::move(result.offsets);
            showStatus(QString("Reset %1 partition(s).").arg(m_applied.size()), false);
            emit applied({});
        });
}

void ResetOffsetsDialog::showStatus(const QString &text, bool error)
{
    QPalette palette = m_status->palette();
    const QColor normal = this->palette().color(QPalette::WindowText);
    palette.setColor(QPalette::WindowText, error ? QColor(0xd9, 0x3f, 0x3f) : normal);
    m_status->setPalette(palette);
    m_status->setText(text);
}

} // namespace eddy::ui
