// Gestures on the canvas, turned into document edits or fault requests. Connecting starts only
// on a node's output port so that dragging a node's body still moves it.
#include "topology_view.h"

#include "topology_scene.h"

#include <QContextMenuEvent>
#include <QGraphicsLineItem>
#include <QMenu>
#include <QMimeData>
#include <QScrollBar>

namespace eddy::ui {

TopologyView::TopologyView(TopologyScene *scene, QWidget *parent)
    : QGraphicsView(scene, parent), m_scene(scene)
{
    setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    setDragMode(QGraphicsView::RubberBandDrag);
    setAcceptDrops(true);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setFocusPolicy(Qt::StrongFocus);
}

void TopologyView::zoomIn()
{
    if (transform().m11() < 4)
        scale(1.2, 1.2);
}

void TopologyView::zoomOut()
{
    if (transform().m11() > 0.2)
        scale(1 / 1.2, 1 / 1.2);
}

void TopologyView::zoomToFit()
{
    const QRectF bounds = m_scene->itemsBoundingRect().adjusted(-40, -40, 40, 40);
    if (bounds.isEmpty())
        return;
    fitInView(bounds, Qt::KeepAspectRatio);
    // Never blow a small topology up beyond its natural size.
    if (transform().m11() > 1.0)
        setTransform(QTransform());
    centerOn(bounds.center());
}

void TopologyView::wheelEvent(QWheelEvent *event)
{
    if (event->angleDelta().y() > 0)
        zoomIn();
    else if (event->angleDelta().y() < 0)
        zoomOut();
    event->accept();
}

NodeItem *TopologyView::nodeAt(const QPoint &viewPos) const
{
    for (auto *item : items(viewPos))
        if (item->type() == NodeItem::kType)
            return static_cast<NodeItem *>(item);
    return nullptr;
}

void TopologyView::mousePressEvent(QMouseEvent *event)
{
    if (event->button() == Qt::MiddleButton
        || (event->button() == Qt::LeftButton && m_spaceHeld)) {
        m_panning = true;
        m_panLast = event->pos();
        setCursor(Qt::ClosedHandCursor);
        event->accept();
        return;
    }
    if (event->button() == Qt::LeftButton && m_editable) {
        if (auto *node = nodeAt(event->pos()); node && node->hasOutputPort() && node->ref()) {
            const QPointF local = node->mapFromScene(mapToScene(event->pos()));
            if (node->outputPortRect().adjusted(-4, -4, 4, 4).contains(local)) {
                m_connectFrom = node;
                m_connectLine = new QGraphicsLineItem(QLineF(node->outPoint(), node->outPoint()));
                m_connectLine->setPen(QPen(palette().color(QPalette::Highlight), 2, Qt::DashLine));
                m_scene->addItem(m_connectLine);
                event->accept();
                return;
            }
        }
    }
    QGraphicsView::mousePressEvent(event);
}

void TopologyView::mouseMoveEvent(QMouseEvent *event)
{
    if (m_panning) {
        const QPoint delta = event->pos() - m_panLast;
        m_panLast = event->pos();
        horizontalScrollBar()->setValue(horizontalScrollBar()->value() - delta.x());
        verticalScrollBar()->setValue(verticalScrollBar()->value() - delta.y());
        return;
    }
    if (m_connectLine) {
        m_connectLine->setLine(QLineF(m_connectFrom->outPoint(), mapToScene(event->pos())));
        return;
    }
    QGraphicsView::mouseMoveEvent(event);
}

void TopologyView::mouseReleaseEvent(QMouseEvent *event)
{
    if (m_panning) {
        m_panning = false;
        unsetCursor();
        return;
    }
    if (m_connectLine) {
        delete m_connectLine;
        m_connectLine = nullptr;
        NodeItem *from = m_connectFrom;
        m_connectFrom = nullptr;
        NodeItem *to = nodeAt(event->pos());
        if (to && to != from && to->ref()) {
            QString why;
            if (!m_scene->document()->connectNodes(*from->ref(), *to->ref(), &why))
                emit message("Cannot connect: " + why);
        }
        return;
    }
    QGraphicsView::mouseReleaseEvent(event);
}

void TopologyView::keyPressEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_spaceHeld = true;
        return;
    }
    if ((event->key() == Qt::Key_Delete || event->key() == Qt::Key_Backspace) && m_editable) {
        deleteSelection();
        return;
    }
    QGraphicsView::keyPressEvent(event);
}

void TopologyView::keyReleaseEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_spaceHeld = false;
        return;
    }
    QGraphicsView::keyReleaseEvent(event);
}

void TopologyView::deleteSelection()
{
    if (!m_editable) {
        emit message("Stop the run to edit the topology");
        return;
    }
    // Collect first: every edit rebuilds the scene and deletes the items.
    std::vector<NodeRef> nodes;
    std::vector<std::pair<NodeRef, NodeRef>> edges;
    for (auto *item : m_scene->selectedItems()) {
        if (item->type() == NodeItem::kType) {
            if (auto ref = static_cast<NodeItem *>(item)->ref())
                nodes.push_back(*ref);
        } else if (item->type() == EdgeItem::kType) {
            auto *e = static_cast<EdgeItem *>(item);
            if (e->from()->ref() && e->to()->ref())
                edges.push_back({*e->from()->ref(), *e->to()->ref()});
        }
    }
    auto *doc = m_scene->document();
    const bool several = nodes.size() + edges.size() > 1;
    if (several)
        doc->undoStack()->beginMacro("Delete selection");
    for (const auto &[a, b] : edges)
        doc->disconnectNodes(a, b);
    for (const auto &n : nodes)
        doc->removeNode(n);
    if (several)
        doc->undoStack()->endMacro();
}

void TopologyView::request(const std::string &kind, const std::string &target,
                           std::map<std::string, double> params)
{
    sim::FaultSpec f;
    f.kind = kind;
    f.target = target;
    f.params = std::move(params);
    emit faultRequested(f);
}

void TopologyView::addServiceFaults(QMenu *menu, const QString &service, NodeRef::Kind kind)
{
    QStringList targets{service};
    for (const auto &name : m_instances)
        if (name.startsWith(service + "#"))
            targets << name;
    for (const auto &target : targets) {
        QMenu *m = targets.size() > 1 ? menu->addMenu(target == service ? "Every instance"
                                                                        : target)
                                      : menu;
        const std::string t = target.toStdString();
        m->addAction("Crash", this, [=, this] { request("crash", t); });
        m->addAction("Restart", this, [=, this] { request("restart", t); });
        m->addAction("Pause", this, [=, this] { request("pause", t); });
        if (kind != NodeRef::Kind::Producer)
            m->addAction("Slow (processing ×10)", this,
                         [=, this] { request("slow", t, {{"factor", 10}}); });
        m->addAction("Network latency 200 ms", this, [=, this] {
            request("latency", t, {{"latency_ms", 200}, {"jitter_ms", 50}});
        });
        m->addAction("Drop 30 % of requests", this,
                     [=, this] { request("drop", t, {{"probability", 0.3}}); });
        m->addAction("Disconnect", this, [=, this] { request("disconnect", t); });
        if (kind != NodeRef::Kind::Consumer)
            m->addAction("Poison what it writes", this, [=, this] { request("poison", t); });
    }
}

void TopologyView::addBrokerFaults(QMenu *menu)
{
    menu->addAction("Broker stall (300 ms per request)", this,
                    [this] { request("broker-stall", "broker", {{"delay_ms", 300}}); });
    menu->addAction("Broker restart", this, [this] { request("broker-restart", "broker"); });
    menu->addAction("Slow disk (200 ms per commit)", this,
                    [this] { request("disk-slow", "broker", {{"commit_delay_ms", 200}}); });
    menu->addAction("Disk full", this, [this] { request("disk-full", "broker"); });
}

void TopologyView::contextMenuEvent(QContextMenuEvent *event)
{
    QMenu menu(this);
    QGraphicsItem *hit = nullptr;
    for (auto *item : items(event->pos()))
        if (item->type() == NodeItem::kType || item->type() == EdgeItem::kType) {
            hit = item;
            break;
        }
    if (hit && hit->type() == NodeItem::kType) {
        auto *node = static_cast<NodeItem *>(hit);
        auto ref = node->ref();
        if (!ref) {
            menu.addSection("External client " + node->name());
            menu.addAction("Faults for external clients: use the fault-injecting endpoint "
                           "(eddy broker --faulty-listen)")
                ->setEnabled(false);
        } else if (ref->isTopic()) {
            menu.addSection("Inject into topic " + ref->name);
            QMenu *offline = menu.addMenu("Take partition offline");
            const auto *spec = m_scene->document()->topic(ref->name);
            const int partitions = spec ? spec->partitions : 1;
            for (int p = 0; p < partitions; ++p) {
                const std::string target = ref->name.toStdString() + "/" + std::to_string(p);
                offline->addAction(QString("Partition %1").arg(p), this,
                                   [=, this] { request("partition-offline", target); });
            }
            menu.addSection("Broker");
            addBrokerFaults(&menu);
        } else {
            menu.addSection("Inject into " + ref->name);
            addServiceFaults(&menu, ref->name, ref->kind);
        }
        if (ref && m_editable) {
            menu.addSeparator();
            menu.addAction("Delete", this, [this, node] {
                m_scene->clearSelection();
                node->setSelected(true);
                deleteSelection();
            });
        }
    } else if (hit) {
        auto *edge = static_cast<EdgeItem *>(hit);
        // A flow's network faults belong to the service at either end of it.
        NodeItem *service = edge->from()->kind() == NodeItem::Kind::Topic ? edge->to()
                                                                          : edge->from();
        if (auto ref = service->ref()) {
            menu.addSection("Inject into the flow's client " + ref->name);
            const std::string t = ref->name.toStdString();
            menu.addAction("Network latency 200 ms", this, [=, this] {
                request("latency", t, {{"latency_ms", 200}, {"jitter_ms", 50}});
            });
            menu.addAction("Drop 30 % of requests", this,
                           [=, this] { request("drop", t, {{"probability", 0.3}}); });
            menu.addAction("Disconnect", this, [=, this] { request("disconnect", t); });
            if (m_editable && edge->from()->ref() && edge->to()->ref()) {
                menu.addSeparator();
                const NodeRef a = *edge->from()->ref(), b = *edge->to()->ref();
                menu.addAction("Delete flow", this,
                               [=, this] { m_scene->document()->disconnectNodes(a, b); });
            }
        }
    } else {
        menu.addSection("Broker");
        addBrokerFaults(&menu);
        menu.addSeparator();
        menu.addAction("Auto layout", this, [this] { m_scene->autoLayout(); });
        menu.addAction("Zoom to fit", this, [this] { zoomToFit(); });
        if (m_editable) {
            QMenu *add = menu.addMenu("Add");
            const QPointF at = mapToScene(event->pos());
            for (auto kind : {NodeRef::Kind::Producer, NodeRef::Kind::Topic,
                              NodeRef::Kind::Consumer, NodeRef::Kind::Processor})
                add->addAction(nodeKindName(kind), this, [this, kind, at] {
                    m_scene->setDropPosition(at);
                    m_scene->document()->addNode(kind);
                });
        }
    }
    menu.exec(event->globalPos());
}

void TopologyView::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasFormat(kNodeMimeType) && m_editable)
        event->acceptProposedAction();
}

void TopologyView::dragMoveEvent(QDragMoveEvent *event)
{
    if (event->mimeData()->hasFormat(kNodeMimeType) && m_editable)
        event->acceptProposedAction();
}

void TopologyView::dropEvent(QDropEvent *event)
{
    bool ok = false;
    const int kind = event->mimeData()->data(kNodeMimeType).toInt(&ok);
    if (!ok || kind < 0 || kind > static_cast<int>(NodeRef::Kind::Processor) || !m_editable)
        return;
    m_scene->setDropPosition(mapToScene(event->position().toPoint()) - QPointF(95, 30));
    m_scene->document()->addNode(static_cast<NodeRef::Kind>(kind));
    event->acceptProposedAction();
}

} // namespace eddy::ui
