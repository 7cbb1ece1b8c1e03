// Palette entries carry their NodeRef::Kind; a drag hands it to the canvas as kNodeMimeType.
#include "palette_widget.h"

#include "scenario_document.h"
#include "topology_view.h"

#include <QMimeData>
#include <QPainter>

namespace eddy::ui {

namespace {

QIcon swatch(const QColor &color)
{
    QPixmap pm(16, 16);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setBrush(color);
    p.setPen(Qt::NoPen);
    p.drawRoundedRect(QRectF(1, 1, 14, 14), 3, 3);
    return QIcon(pm);
}

} // namespace

PaletteWidget::PaletteWidget(QWidget *parent) : QListWidget(parent)
{
    setDragEnabled(true);
    setDragDropMode(QAbstractItemView::DragOnly);
    setSelectionMode(QAbstractItemView::SingleSelection);
    const struct {
        NodeRef::Kind kind;
        QColor color;
        const char *tip;
    } entries[] = {
        {NodeRef::Kind::Producer, QColor(40, 150, 170), "Emits events at a rate into topics"},
        {NodeRef::Kind::Topic, QColor(120, 90, 200), "A partitioned log"},
        {NodeRef::Kind::Consumer, QColor(60, 140, 80),
         "A consumer group reading topics (instances share partitions)"},
        {NodeRef::Kind::Processor, QColor(190, 120, 40),
         "Reads topics, writes others (with retries and a dead-letter topic)"},
    };
    for (const auto &e : entries) {
        auto *item = new QListWidgetItem(swatch(e.color), nodeKindName(e.kind), this);
        item->setData(Qt::UserRole, static_cast<int>(e.kind));
        item->setToolTip(QString(e.tip) + " — drag onto the canvas");
    }
    connect(this, &QListWidget::itemDoubleClicked, this, [this](QListWidgetItem *item) {
        emit addRequested(item->data(Qt::UserRole).toInt());
    });
}

QMimeData *PaletteWidget::mimeData(const QList<QListWidgetItem *> &items) const
{
    auto *mime = new QMimeData;
    if (!items.isEmpty())
        mime->setData(kNodeMimeType, QByteArray::number(items.first()->data(Qt::UserRole).toInt()));
    return mime;
}

} // namespace eddy::ui
