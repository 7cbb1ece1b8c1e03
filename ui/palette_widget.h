#pragma once

#include <QListWidget>

namespace eddy::ui {

// The design palette: producer, topic, consumer group and processor. Drag one onto the canvas
// (or double-click it to add it at the next free place).
class PaletteWidget : public QListWidget
{
    Q_OBJECT

public:
    explicit PaletteWidget(QWidget *parent = nullptr);

signals:
    // Double-click: add a node of this NodeRef::Kind.
    void addRequested(int kind);

protected:
    QMimeData *mimeData(const QList<QListWidgetItem *> &items) const override;
};

} // namespace eddy::ui
