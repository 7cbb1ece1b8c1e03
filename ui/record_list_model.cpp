// A plain in-memory record table for the filter scan's matches; the paged model is for whole
// partitions, this one for the few records a filter selects out of them.
#include "record_list_model.h"

#include "record_format.h"

namespace eddy::ui {

RecordListModel::RecordListModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void RecordListModel::append(const std::vector<Record> &records)
{
    if (records.empty())
        return;
    const int first = static_cast<int>(m_records.size());
    beginInsertRows({}, first, first + static_cast<int>(records.size()) - 1);
    m_records.insert(m_records.end(), records.begin(), records.end());
    endInsertRows();
}

void RecordListModel::clear()
{
    beginResetModel();
    m_records.clear();
    endResetModel();
}

const Record *RecordListModel::recordAt(int row) const
{
    if (row < 0 || row >= static_cast<int>(m_records.size()))
        return nullptr;
    return &m_records[static_cast<size_t>(row)];
}

int RecordListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_records.size());
}

int RecordListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : RecordColumnCount;
}

QVariant RecordListModel::data(const QModelIndex &index, int role) const
{
    const Record *record = recordAt(index.row());
    return record ? recordCell(*record, index.column(), role) : QVariant();
}

QVariant RecordListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    return recordHeader(section);
}

} // namespace eddy::ui
