#pragma once

#include "metrics.h"
#include "record.h"
#include "record_format.h"

#include <QWidget>

#include <cstdint>
#include <vector>

class QAbstractItemModel;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace eddy::ui {

class BrokerBridge;
class RecordListModel;
class RecordPageModel;
class RecordScan;

// The message browser: pick a topic and partition and page through its records (lazily, any
// length), oldest or newest first; filter them by key, header or value text with a background
// scan; follow new records live; read one record in full (JSON pretty-printed); produce a
// message; republish selected records to another topic. Talks to the broker only through the
// bridge and never waits on it.
class MessageBrowser : public QWidget
{
    Q_OBJECT

public:
    explicit MessageBrowser(BrokerBridge *bridge, QWidget *parent = nullptr);
    // Stops the topic editor's signals: ~QWidget hides (and so unfocuses) it after this
    // destructor, when it must no longer reach the browser.
    ~MessageBrowser() override;

    // Shows topic/partition (the topic list follows the broker's topics; an unknown name is
    // shown anyway and reports the broker's error).
    void setTopic(const QString &topic, int partition = 0);
    QString topic() const;
    int partition() const;
    // Follows the end of the partition: long-polls for new records and scrolls to them.
    void setLiveTail(bool on);
    void setNewestFirst(bool newestFirst);
    // Selects and scrolls to the record at offset (leaving a filter first); false when the
    // partition does not hold it.
    bool goToOffset(qint64 offset);
    // Scans the whole partition for text in field and shows the matches as they are found;
    // clearFilter() stops the scan and shows the partition again.
    void startFilter(const QString &text, FilterField field = FilterField::Any);
    void clearFilter();
    // Copies the selected records (key, headers, value) to targetTopic, partitioned by the
    // broker; the outcome is shown in the status line and emitted as republished().
    void republishSelected(const QString &targetTopic);
    // Opens the produce dialog for the current topic.
    void openProduceDialog();

    RecordPageModel *pageModel() const { return m_pageModel; }
    RecordListModel *matchModel() const { return m_matchModel; }
    RecordScan *scan() const { return m_scan; }
    QTableView *table() const { return m_table; }
    // The detail pane's current text.
    QString detailText() const;

signals:
    // A republish ended: count records copied; error empty when all were.
    void republished(int count, const QString &error);

private:
    void showSnapshot(const MetricsSnapshot &snapshot);
    void sourceChanged();
    void tailNext();
    void updateDetail();
    void updateStatus();
    void showMessage(const QString &text, bool error);
    void chooseRepublishTarget();
    std::vector<int64_t> selectedOffsets() const;
    bool filtering() const;
    // Shows model in the table (the partition or the filter's matches).
    void showModel(QAbstractItemModel *model);

    BrokerBridge *m_bridge;
    RecordPageModel *m_pageModel;
    RecordListModel *m_matchModel;
    RecordScan *m_scan;
    QComboBox *m_topicBox;
    QSpinBox *m_partitionBox;
    QCheckBox *m_newestFirstBox;
    QCheckBox *m_tailBox;
    QLabel *m_boundsLabel;
    QLineEdit *m_offsetEdit;
    QLineEdit *m_filterEdit;
    QComboBox *m_filterField;
    QPushButton *m_scanButton;
    QPushButton *m_clearButton;
    QProgressBar *m_progress;
    QTableView *m_table;
    QPlainTextEdit *m_detail;
    QPushButton *m_produceButton;
    QPushButton *m_republishButton;
    QLabel *m_message;
    QStringList m_topics;
    int64_t m_tailGeneration = 0; // bumped to stop a tail loop
    bool m_tailing = false;
};

} // namespace eddy::ui
