#pragma once

#include "record.h"

#include <QAbstractTableModel>

#include <vector>

namespace eddy::ui {

// Records held in memory, in the order added, shown with the message browser's columns: the
// matches of a filter scan (bounded by whoever appends).
class RecordListModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    explicit RecordListModel(QObject *parent = nullptr);

    void append(const std::vector<Record> &records);
    void clear();
    // The record of row (null outside the list).
    const Record *recordAt(int row) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Record> m_records;
};

} // namespace eddy::ui
