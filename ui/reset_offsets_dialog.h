#pragma once

#include "group_types.h"

#include <QDialog>
#include <QStringList>

#include <cstdint>
#include <vector>

class QComboBox;
class QDateTimeEdit;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace eddy::ui {

class BrokerBridge;

// One line of the reset preview: what a partition's committed offset is and what it would be.
struct ResetPreviewRow {
    int32_t partition = 0;
    int64_t current = -1; // -1: nothing committed
    int64_t target = 0;
    int64_t logStart = 0;
    int64_t highWatermark = 0;
};

// Resets a group's committed offsets on one topic in two steps: Preview computes, from the
// broker's current offsets (list_offsets, with a timestamp when resetting to a time) and the
// group's commits, what each chosen partition would move from and to; only then does the
// Reset button apply exactly that target with reset_offsets. The broker refuses while the group
// has members; its error is shown as it is.
class ResetOffsetsDialog : public QDialog
{
    Q_OBJECT

public:
    ResetOffsetsDialog(BrokerBridge *bridge, const QString &group, const QStringList &topics,
                       QWidget *parent = nullptr);

    void setTopic(const QString &topic);
    // "all" (or empty) or a comma-separated list of partition numbers.
    void setPartitions(const QString &partitions);
    // The target: earliest, latest, an offset or a timestamp (ms since the epoch) in value.
    void setTarget(ResetKind kind, int64_t value = 0);

    // Computes the preview (asynchronously; previewReady follows). Changing any field after it
    // disables Reset until the next preview.
    void preview();
    // Applies the previewed reset (asynchronously; applied follows). Needs a current preview.
    void apply();

    const std::vector<ResetPreviewRow> &previewRows() const { return m_rows; }
    // Offsets as the broker set them by the last successful apply (partition, offset).
    const std::vector<std::pair<int32_t, int64_t>> &appliedOffsets() const { return m_applied; }
    // The status line (the broker's error after a refused reset).
    QString statusText() const;

signals:
    void previewReady(const QString &error);
    void applied(const QString &error);

private:
    void invalidatePreview();
    void showRows();
    void showStatus(const QString &text, bool error);
    ResetKind kind() const;
    int64_t targetValue() const;

    BrokerBridge *m_bridge;
    QString m_group;
    QComboBox *m_topic;
    QLineEdit *m_partitions;
    QComboBox *m_target;
    QLineEdit *m_offset;
    QDateTimeEdit *m_time;
    QPushButton *m_previewButton;
    QPushButton *m_applyButton;
    QTableWidget *m_table;
    QLabel *m_status;
    std::vector<ResetPreviewRow> m_rows;
    std::vector<std::pair<int32_t, int64_t>> m_applied;
    // What the preview was computed for; apply sends exactly this.
    std::string m_previewTopic;
    std::vector<int32_t> m_previewPartitions;
    ResetKind m_previewKind = ResetKind::Earliest;
    int64_t m_previewValue = 0;
    int64_t m_generation = 0; // bumped by edits so a late preview of old fields is dropped
};

} // namespace eddy::ui
