// The message browser's wiring. The partition is shown through RecordPageModel (lazy pages),
// filter results through RecordListModel fed by RecordScan; the table switches between the two.
// Bounds follow the bridge's metric snapshots (every 100 ms, no extra requests); the live tail
// is a chain of long-poll fetches from the high watermark, each one started when the previous
// one answered, so at most one bridge worker waits for new records.
#include "message_browser.h"

#include "broker_bridge.h"
#include "produce_dialog.h"
#include "record_list_model.h"
#include "record_format.h"
#include "record_page_model.h"
#include "record_scan.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPalette>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QRegularExpressionValidator>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>

namespace eddy::ui {

namespace {

constexpr int kTailWaitMs = 1000;
constexpr int kMaxRepublish = 10000;
constexpr int kProduceBatch = 500;

struct TailReply {
    int64_t generation = 0;
    std::vector<Record> records;
    int64_t logStart = -1;
    int64_t highWatermark = -1;
    QString error;
};

struct RepublishResult {
    int copied = 0;
    QString error;
};

// Fetches the given offsets of topic/partition (sorted) and produces their key, headers and
// value to target in batches. Runs on a bridge worker.
RepublishResult republish(BrokerSession &s, const std::string &topic, int partition,
                          const std::vector<int64_t> &offsets, const std::string &target)
{
    RepublishResult out;
    nlohmann::json batch = nlohmann::json::array();
    const auto flush = [&]() -> bool {
        if (batch.empty())
            return true;
        auto reply = s.connection->call(
            {{"op", "produce"}, {"topic", target}, {"records", batch}}, 15000);
        if (!reply) {
            out.error = errorMessage(reply.error());
            return false;
        }
        out.copied += static_cast<int>(batch.size());
        batch = nlohmann::json::array();
        return true;
    };
    size_t i = 0;
    while (i < offsets.size()) {
        // One fetch covers a run of consecutive selected offsets.
        size_t j = i + 1;
        while (j < offsets.size() && offsets[j] == offsets[j - 1] + 1 && j - i < 1000)
            ++j;
        const int64_t first = offsets[i];
        const int64_t count = static_cast<int64_t>(j - i);
        auto reply = s.connection->call(fetchRequest(topic, partition, first, count), 15000);
        if (!reply) {
            out.error = errorMessage(reply.error());
            return out;
        }
        int64_t next = first;
        for (const auto &jr : (*reply)["records"]) {
            auto record = browsedRecordFromJson(jr);
            if (!record) {
                out.error = errorMessage(record.error());
                return out;
            }
            if (record->offset >= first + count)
                break;
            next = record->offset + 1;
            batch.push_back(recordToProduceJson(*record));
            if (batch.size() >= static_cast<size_t>(kProduceBatch) && !flush())
                return out;
        }
        if (next == first) {
            out.error = QString("offset %1 is no longer in the log").arg(first);
            break;
        }
        // A fetch may stop early (max_bytes): continue the run where it stopped.
        i += static_cast<size_t>(next - first);
    }
    flush();
    return out;
}

} // namespace

MessageBrowser::MessageBrowser(BrokerBridge *bridge, QWidget *parent)
    : QWidget(parent)
    , m_bridge(bridge)
    , m_pageModel(new RecordPageModel(bridge, this))
    , m_matchModel(new RecordListModel(this))
    , m_scan(new RecordScan(bridge, this))
    , m_topicBox(new QComboBox(this))
    , m_partitionBox(new QSpinBox(this))
    , m_newestFirstBox(new QCheckBox("Newest first", this))
    , m_tailBox(new QCheckBox("Live tail", this))
    , m_boundsLabel(new QLabel(this))
    , m_offsetEdit(new QLineEdit(this))
    , m_filterEdit(new QLineEdit(this))
    , m_filterField(new QComboBox(this))
    , m_scanButton(new QPushButton("Filter", this))
    , m_clearButton(new QPushButton("Show all", this))
    , m_progress(new QProgressBar(this))
    , m_table(new QTableView(this))
    , m_detail(new QPlainTextEdit(this))
    , m_produceButton(new QPushButton("Produce…", this))
    , m_republishButton(new QPushButton("Republish selected…", this))
    , m_message(new QLabel(this))
{
    m_topicBox->setObjectName("topic");
    m_topicBox->setEditable(true);
    m_topicBox->setInsertPolicy(QComboBox::NoInsert);
    m_topicBox->setMinimumContentsLength(16);
    m_partitionBox->setObjectName("partition");
    m_boundsLabel->setObjectName("bounds");
    m_partitionBox->setRange(0, 0);
    m_filterEdit->setObjectName("filterText");
    m_filterEdit->setPlaceholderText("Filter: text in key, header or value");
    m_filterEdit->setClearButtonEnabled(true);
    m_filterField->addItem("Anywhere", static_cast<int>(FilterField::Any));
    m_filterField->addItem("Key", static_cast<int>(FilterField::Key));
    m_filterField->addItem("Headers", static_cast<int>(FilterField::Headers));
    m_filterField->addItem("Value", static_cast<int>(FilterField::Value));
    m_offsetEdit->setObjectName("goToOffset");
    m_offsetEdit->setPlaceholderText("Go to offset");
    m_offsetEdit->setMaximumWidth(120);
    m_offsetEdit->setValidator(
        new QRegularExpressionValidator(QRegularExpression("\\d{1,18}"), m_offsetEdit));
    m_progress->setMaximumWidth(160);
    m_progress->setVisible(false);
    m_clearButton->setVisible(false);

    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    // Fixed row heights and no content-based sizing: anything else makes the view ask the model
    // about every row, which would fetch the whole partition.
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setStretchLastSection(true);

    m_detail->setReadOnly(true);
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_detail->setPlaceholderText("Select a record to see it in full");
    m_detail->setLineWrapMode(QPlainTextEdit::NoWrap);

    auto *top = new QHBoxLayout;
    top->addWidget(new QLabel("Topic", this));
    top->addWidget(m_topicBox, 1);
    top->addWidget(new QLabel("Partition", this));
    top->addWidget(m_partitionBox);
    top->addWidget(m_newestFirstBox);
    top->addWidget(m_tailBox);
    top->addWidget(m_offsetEdit);
    top->addWidget(m_boundsLabel);
    top->addStretch(1); // the bounds label has a fixed size (updateStatus)

    auto *filter = new QHBoxLayout;
    filter->addWidget(m_filterEdit, 1);
    filter->addWidget(m_filterField);
    filter->addWidget(m_scanButton);
    filter->addWidget(m_clearButton);
    filter->addWidget(m_progress);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_table);
    splitter->addWidget(m_detail);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);

    auto *bottom = new QHBoxLayout;
    bottom->addWidget(m_produceButton);
    bottom->addWidget(m_republishButton);
    bottom->addWidget(m_message, 1);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addLayout(filter);
    layout->addWidget(splitter, 1);
    layout->addLayout(bottom);

    // A chosen list entry or a typed name once Return or focus-out ends the edit: not every
    // keystroke, which would ask the broker about each prefix of the name.
    connect(m_topicBox, &QComboBox::activated, this, [this] { sourceChanged(); });
    connect(m_topicBox->lineEdit(), &QLineEdit::editingFinished, this,
            [this] { sourceChanged(); });
    connect(m_partitionBox, &QSpinBox::valueChanged, this, [this] { sourceChanged(); });
    connect(m_newestFirstBox, &QCheckBox::toggled, this, &MessageBrowser::setNewestFirst);
    connect(m_tailBox, &QCheckBox::toggled, this, &MessageBrowser::setLiveTail);
    connect(m_scanButton, &QPushButton::clicked, this, [this] {
        if (m_scan->isRunning()) {
            m_scan->cancel();
            return;
        }
        startFilter(m_filterEdit->text(),
                    static_cast<FilterField>(m_filterField->currentData().toInt()));
    });
    connect(m_filterEdit, &QLineEdit::returnPressed, m_scanButton, &QPushButton::click);
    connect(m_offsetEdit, &QLineEdit::returnPressed, this, [this] {
        if (!goToOffset(m_offsetEdit->text().toLongLong()))
            showMessage(QString("offset %1 is not in %2 [%L3, %L4)")
                            .arg(m_offsetEdit->text(), m_pageModel->topic())
                            .arg(m_pageModel->logStart())
                            .arg(m_pageModel->highWatermark()),
                        true);
    });
    connect(m_clearButton, &QPushButton::clicked, this, &MessageBrowser::clearFilter);
    connect(m_produceButton, &QPushButton::clicked, this, &MessageBrowser::openProduceDialog);
    connect(m_republishButton, &QPushButton::clicked, this,
            &MessageBrowser::chooseRepublishTarget);

    connect(m_pageModel, &RecordPageModel::boundsChanged, this, &MessageBrowser::updateStatus);
    connect(m_pageModel, &RecordPageModel::errorOccurred, this,
            [this](const QString &e) { showMessage(e, true); });
    connect(m_pageModel, &QAbstractItemModel::dataChanged, this, [this] {
        if (!filtering() && m_detail->toPlainText().isEmpty())
            updateDetail();
    });
    connect(m_scan, &RecordScan::matchesFound, m_matchModel, &RecordListModel::append);
    connect(m_scan, &RecordScan::progress, this, [this](qint64 scanned, qint64 total) {
        // QProgressBar takes ints: show per-mille.
        m_progress->setRange(0, 1000);
        m_progress->setValue(total > 0 ? static_cast<int>(scanned * 1000 / total) : 1000);
        m_progress->setFormat(QString("%L1 matches").arg(m_scan->matches()));
    });
    connect(m_scan, &RecordScan::finished, this, [this](const QString &why) {
        m_scanButton->setText("Filter");
        m_progress->setFormat(QString("%L1 matches").arg(m_scan->matches()));
        showMessage(why.isEmpty() ? QString("filter: %L1 matches in %L2 records")
                                        .arg(m_scan->matches())
                                        .arg(m_scan->scanned())
                                  : "filter " + why,
                    !why.isEmpty() && why != "cancelled"
                        && !why.startsWith("stopped"));
    });
    connect(bridge, &BrokerBridge::snapshotUpdated, this,
            [this](const MetricsSnapshotPtr &snap) { showSnapshot(*snap); });

    showModel(m_pageModel);
    if (auto snap = bridge->snapshot())
        showSnapshot(*snap);
    updateStatus();
}

MessageBrowser::~MessageBrowser()
{
    // The line edit ends its edit on the focus-out that ~QWidget's hide causes, after the browser
    // part of this object is gone (UBSan: a member call on a plain QWidget).
    disconnect(m_topicBox->lineEdit(), nullptr, this, nullptr);
}

QString MessageBrowser::topic() const
{
    return m_topicBox->currentText();
}

int MessageBrowser::partition() const
{
    return m_partitionBox->value();
}

void MessageBrowser::setTopic(const QString &topic, int partition)
{
    {
        const QSignalBlocker block(m_topicBox);
        m_topicBox->setCurrentText(topic);
    }
    {
        const QSignalBlocker block(m_partitionBox);
        m_partitionBox->setMaximum(std::max(m_partitionBox->maximum(), partition));
        m_partitionBox->setValue(partition);
    }
    sourceChanged();
}

void MessageBrowser::showSnapshot(const MetricsSnapshot &snapshot)
{
    QStringList names;
    for (const auto &t : snapshot.topics)
        names << QString::fromStdString(t.name);
    if (names != m_topics) {
        m_topics = names;
        const QSignalBlocker block(m_topicBox);
        const QString current = m_topicBox->currentText();
        m_topicBox->clear();
        m_topicBox->addItems(names);
        m_topicBox->setCurrentText(current);
        if (current.isEmpty() && !names.isEmpty()) {
            m_topicBox->setCurrentIndex(0);
            sourceChanged();
        }
    }
    for (const auto &t : snapshot.topics) {
        if (QString::fromStdString(t.name) != m_pageModel->topic())
            continue;
        // Only on a change: setting a spin box's range asks the window for a relayout.
        const int last = std::max<int>(0, static_cast<int>(t.partitions.size()) - 1);
        if (m_partitionBox->maximum() != last) {
            const QSignalBlocker block(m_partitionBox);
            m_partitionBox->setMaximum(last);
        }
        for (const auto &p : t.partitions)
            if (p.partition == m_pageModel->partition())
                // A snapshot may be older than a tail reply: bounds only move forward here.
                m_pageModel->setBounds(std::max(m_pageModel->logStart(), p.logStartOffset),
                                       std::max(m_pageModel->highWatermark(), p.highWatermark));
    }
}

void MessageBrowser::sourceChanged()
{
    const QString topic = m_topicBox->currentText();
    const int partition = m_partitionBox->value();
    if (topic == m_pageModel->topic() && partition == m_pageModel->partition())
        return;
    if (m_scan->isRunning())
        m_scan->cancel();
    clearFilter();
    m_pageModel->setSource(topic, partition);
    m_detail->clear();
    m_message->clear();
    if (m_tailing) {
        ++m_tailGeneration;
        tailNext();
    }
}

void MessageBrowser::setNewestFirst(bool newestFirst)
{
    if (m_newestFirstBox->isChecked() != newestFirst) {
        m_newestFirstBox->setChecked(newestFirst); // comes back here through toggled
        return;
    }
    m_pageModel->setNewestFirst(newestFirst);
}

void MessageBrowser::setLiveTail(bool on)
{
    if (m_tailBox->isChecked() != on) {
        m_tailBox->setChecked(on);
        return;
    }
    if (on == m_tailing)
        return;
    m_tailing = on;
    ++m_tailGeneration;
    if (on)
        tailNext();
}

void MessageBrowser::tailNext()
{
    if (!m_tailing || m_pageModel->topic().isEmpty())
        return;
    const std::string topic = m_pageModel->topic().toStdString();
    const int partition = m_pageModel->partition();
    const int64_t from = m_pageModel->highWatermark();
    const int64_t generation = m_tailGeneration;
    m_bridge->submit<TailReply>(
        this,
        [topic, partition, from, generation](BrokerSession &s) {
            TailReply out;
            out.generation = generation;
            auto reply = s.connection->call(
                fetchRequest(topic, partition, from, 500, 16 << 20, kTailWaitMs),
                kTailWaitMs + 10000);
            if (!reply) {
                out.error = errorMessage(reply.error());
                return out;
            }
            out.logStart = reply->value("log_start_offset", int64_t{-1});
            out.highWatermark = reply->value("high_watermark", int64_t{-1});
            for (const auto &j : (*reply)["records"])
                if (auto record = browsedRecordFromJson(j))
                    out.records.push_back(std::move(*record));
            return out;
        },
        [this](TailReply reply) {
            if (reply.generation != m_tailGeneration)
                return;
            if (!reply.error.isEmpty()) {
                // Out of range: retention or a recreated topic; take the broker's bounds and
                // go on. Anything else ends the tail with the reason shown.
                if (reply.error.startsWith("OFFSET_OUT_OF_RANGE")) {
                    m_pageModel->refreshBounds();
                    QTimer::singleShot(kTailWaitMs, this, &MessageBrowser::tailNext);
                } else {
                    showMessage("live tail stopped: " + reply.error, true);
                    setLiveTail(false);
                }
                return;
            }
            int64_t hw = std::max(m_pageModel->highWatermark(), reply.highWatermark);
            if (!reply.records.empty())
                hw = std::max(hw, reply.records.back().offset + 1);
            m_pageModel->setBounds(std::max(m_pageModel->logStart(), reply.logStart), hw);
            m_pageModel->addRecords(reply.records);
            if (!filtering() && !reply.records.empty()) {
                if (m_pageModel->newestFirst())
                    m_table->scrollToTop();
                else
                    m_table->scrollToBottom();
            }
            tailNext();
        });
}

bool MessageBrowser::goToOffset(qint64 offset)
{
    const int row = m_pageModel->rowOf(offset);
    if (row < 0)
        return false;
    clearFilter();
    const QModelIndex index = m_pageModel->index(row, 0);
    m_table->selectionModel()->setCurrentIndex(
        index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_table->scrollTo(index, QAbstractItemView::PositionAtCenter);
    return true;
}

void MessageBrowser::showModel(QAbstractItemModel *model)
{
    // setModel makes a new selection model and leaves the old one to its owner: us.
    QItemSelectionModel *old = m_table->selectionModel();
    m_table->setModel(model);
    delete old;
    // Both models have the same columns; a new model resets the header's sections.
    const int digit = m_table->fontMetrics().horizontalAdvance('0');
    m_table->setColumnWidth(OffsetColumn, digit * 12);
    m_table->setColumnWidth(TimeColumn, m_table->fontMetrics().horizontalAdvance(
                                            "2026-01-01 00:00:00.000  "));
    m_table->setColumnWidth(KeyColumn, digit * 16);
    m_table->setColumnWidth(HeadersColumn, digit * 22);
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &MessageBrowser::updateDetail);
}

bool MessageBrowser::filtering() const
{
    return m_table->model() == m_matchModel;
}

void MessageBrowser::startFilter(const QString &text, FilterField field)
{
    if (text.isEmpty()) {
        clearFilter();
        return;
    }
    {
        const QSignalBlocker block(m_filterEdit);
        m_filterEdit->setText(text);
    }
    m_filterField->setCurrentIndex(m_filterField->findData(static_cast<int>(field)));
    m_matchModel->clear();
    if (!filtering())
        showModel(m_matchModel);
    m_detail->clear();
    m_progress->setVisible(true);
    m_clearButton->setVisible(true);
    m_scanButton->setText("Cancel");
    m_scan->start(m_pageModel->topic(), m_pageModel->partition(), text, field,
                  m_pageModel->logStart(), m_pageModel->highWatermark());
}

void MessageBrowser::clearFilter()
{
    if (m_scan->isRunning())
        m_scan->cancel();
    m_progress->setVisible(false);
    m_clearButton->setVisible(false);
    m_scanButton->setText("Filter");
    if (filtering()) {
        showModel(m_pageModel);
        m_detail->clear();
    }
    m_matchModel->clear();
}

QString MessageBrowser::detailText() const
{
    return m_detail->toPlainText();
}

void MessageBrowser::updateDetail()
{
    const int row = m_table->currentIndex().row();
    const Record *record = filtering() ? m_matchModel->recordAt(row) : m_pageModel->recordAt(row);
    if (!record) {
        m_detail->clear();
        return;
    }
    m_detail->setPlainText(
        recordDetailText(*record, m_pageModel->topic(), m_pageModel->partition()));
}

void MessageBrowser::updateStatus()
{
    const int64_t count = m_pageModel->highWatermark() - m_pageModel->logStart();
    const QString text = m_pageModel->topic().isEmpty()
                             ? QString("no topic")
                             : QString("offsets %L1 – %L2 · %L3 records")
                                   .arg(m_pageModel->logStart())
                                   .arg(m_pageModel->highWatermark())
                                   .arg(count);
    if (m_boundsLabel->text() == text)
        return;
    m_boundsLabel->setText(text);
    // The bounds change with every snapshot under load. A label whose size is not fixed asks
    // the main window for a relayout of its whole dock layout at each new text (about 10 a
    // second, 13 % of the GUI thread's time, even behind another tab); a fixed size that only
    // grows asks only when the text outgrows it.
    const QSize wanted = m_boundsLabel->sizeHint().expandedTo(m_boundsLabel->minimumSize());
    if (wanted != m_boundsLabel->minimumSize() || wanted != m_boundsLabel->maximumSize())
        m_boundsLabel->setFixedSize(wanted);
}

void MessageBrowser::showMessage(const QString &text, bool error)
{
    QPalette palette = m_message->palette();
    // Error red is semantic: it reads on both the dark and the light theme.
    palette.setColor(QPalette::WindowText, error ? QColor(0xd9, 0x3f, 0x3f)
                                                 : this->palette().color(QPalette::WindowText));
    m_message->setPalette(palette);
    m_message->setText(text);
}

std::vector<int64_t> MessageBrowser::selectedOffsets() const
{
    std::vector<int64_t> offsets;
    const auto rows = m_table->selectionModel()->selectedRows();
    for (const auto &index : rows) {
        if (filtering()) {
            if (const Record *r = m_matchModel->recordAt(index.row()))
                offsets.push_back(r->offset);
        } else {
            offsets.push_back(m_pageModel->offsetAt(index.row()));
        }
    }
    std::sort(offsets.begin(), offsets.end());
    offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
    return offsets;
}

void MessageBrowser::chooseRepublishTarget()
{
    if (m_table->selectionModel()->selectedRows().isEmpty()) {
        showMessage("select the records to republish first", true);
        return;
    }
    bool ok = false;
    const QString target = QInputDialog::getItem(this, "Republish records",
                                                 "Target topic:", m_topics, 0, true, &ok);
    if (ok && !target.isEmpty())
        republishSelected(target);
}

void MessageBrowser::republishSelected(const QString &targetTopic)
{
    auto offsets = selectedOffsets();
    if (offsets.empty()) {
        showMessage("no records selected", true);
        emit republished(0, "no records selected");
        return;
    }
    if (offsets.size() > static_cast<size_t>(kMaxRepublish)) {
        const QString why = QString("select at most %L1 records to republish").arg(kMaxRepublish);
        showMessage(why, true);
        emit republished(0, why);
        return;
    }
    showMessage(QString("republishing %L1 records to %2…").arg(offsets.size()).arg(targetTopic),
                false);
    const std::string topic = m_pageModel->topic().toStdString();
    const int partition = m_pageModel->partition();
    const std::string target = targetTopic.toStdString();
    m_bridge->submit<RepublishResult>(
        this,
        [topic, partition, offsets = std::move(offsets), target](BrokerSession &s) {
            return republish(s, topic, partition, offsets, target);
        },
        [this, targetTopic](RepublishResult result) {
            if (result.error.isEmpty())
                showMessage(QString("republished %L1 records to %2")
                                .arg(result.copied)
                                .arg(targetTopic),
                            false);
            else
                showMessage(QString("republished %L1 records to %2, then: %3")
                                .arg(result.copied)
                                .arg(targetTopic, result.error),
                            true);
            emit republished(result.copied, result.error);
        });
}

void MessageBrowser::openProduceDialog()
{
    auto *dialog = new ProduceDialog(m_bridge, m_topics, m_pageModel->topic(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
}

} // namespace eddy::ui
