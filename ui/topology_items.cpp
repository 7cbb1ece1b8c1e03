// Drawing of the topology canvas. Colours come from the application palette (so both themes
// work) except the health colours, which are chosen to read on dark and light backgrounds alike.
#include "topology_items.h"

#include <QApplication>
#include <QFontMetricsF>
#include <QPainter>
#include <QPalette>
#include <QStyleOptionGraphicsItem>

#include <cmath>

namespace eddy::ui {

namespace {

constexpr qreal kWidth = 178;
constexpr qreal kHeader = 26;
constexpr qreal kLine = 17;
constexpr qreal kPort = 10;

QColor healthColor(Health h)
{
    switch (h) {
    case Health::Idle: return QColor(128, 128, 128);
    case Health::Healthy: return QColor(46, 160, 90);
    case Health::Lagging: return QColor(220, 150, 30);
    case Health::Failed: return QColor(215, 60, 60);
    case Health::Rebalancing: return QColor(70, 130, 220);
    }
    return Qt::gray;
}

QColor kindColor(NodeItem::Kind k)
{
    switch (k) {
    case NodeItem::Kind::Topic: return QColor(120, 90, 200);
    case NodeItem::Kind::Producer: return QColor(40, 150, 170);
    case NodeItem::Kind::Consumer: return QColor(60, 140, 80);
    case NodeItem::Kind::Processor: return QColor(190, 120, 40);
    case NodeItem::Kind::External: return QColor(150, 150, 150);
    }
    return Qt::gray;
}

QString kindLabel(NodeItem::Kind k)
{
    switch (k) {
    case NodeItem::Kind::Topic: return "TOPIC";
    case NodeItem::Kind::Producer: return "PRODUCER";
    case NodeItem::Kind::Consumer: return "CONSUMER GROUP";
    case NodeItem::Kind::Processor: return "PROCESSOR";
    case NodeItem::Kind::External: return "EXTERNAL CLIENT";
    }
    return {};
}

} // namespace

QString healthName(Health health)
{
    switch (health) {
    case Health::Idle: return "idle";
    case Health::Healthy: return "healthy";
    case Health::Lagging: return "lagging";
    case Health::Failed: return "failed";
    case Health::Rebalancing: return "rebalancing";
    }
    return {};
}

NodeItem::NodeItem(Kind kind, const QString &name, QGraphicsItem *parent)
    : QGraphicsObject(parent), m_kind(kind), m_name(name)
{
    setFlags(ItemIsMovable | ItemIsSelectable | ItemSendsGeometryChanges);
    setAcceptHoverEvents(true);
    setZValue(1);
}

std::optional<NodeRef> NodeItem::ref() const
{
    switch (m_kind) {
    case Kind::Topic: return NodeRef{NodeRef::Kind::Topic, m_name};
    case Kind::Producer: return NodeRef{NodeRef::Kind::Producer, m_name};
    case Kind::Consumer: return NodeRef{NodeRef::Kind::Consumer, m_name};
    case Kind::Processor: return NodeRef{NodeRef::Kind::Processor, m_name};
    case Kind::External: return std::nullopt;
    }
    return std::nullopt;
}

QString NodeItem::keyOf(const NodeRef &ref)
{
    return (ref.isTopic() ? "topic:" : "service:") + ref.name;
}

QString NodeItem::key() const
{
    if (auto r = ref())
        return keyOf(*r);
    return "external:" + m_name;
}

void NodeItem::setSubtitle(const QString &text)
{
    if (text == m_subtitle)
        return;
    m_subtitle = text;
    update();
}

void NodeItem::setPartitions(int count, const std::vector<int64_t> &lagPerPartition)
{
    if (count == m_partitions && lagPerPartition == m_partitionLag)
        return;
    prepareGeometryChange();
    m_partitions = count;
    m_partitionLag = lagPerPartition;
    update();
}

void NodeItem::setHealth(Health health)
{
    if (health == m_health)
        return;
    m_health = health;
    update();
}

void NodeItem::setBadge(const QString &text)
{
    if (text == m_badge)
        return;
    m_badge = text;
    update();
}

void NodeItem::setInstances(const std::vector<InstanceLine> &lines)
{
    const bool resized = lines.size() != m_instances.size();
    if (resized)
        prepareGeometryChange();
    m_instances = lines;
    update();
    if (resized)
        for (auto *e : m_edges)
            e->updatePath();
}

bool NodeItem::hasOutputPort() const
{
    return m_kind == Kind::Topic || m_kind == Kind::Producer || m_kind == Kind::Processor;
}

qreal NodeItem::height() const
{
    qreal h = kHeader + kLine + 8; // header, subtitle
    if (m_kind == Kind::Topic)
        h += 18;
    h += kLine * static_cast<qreal>(m_instances.size());
    return h;
}

QRectF NodeItem::boundingRect() const
{
    // Room for the badge above and the port on the right.
    return QRectF(-4, -12, kWidth + kPort + 8, height() + 16);
}

QRectF NodeItem::outputPortRect() const
{
    return QRectF(kWidth - kPort / 2, height() / 2 - kPort / 2, kPort, kPort);
}

QPointF NodeItem::inPoint() const
{
    return mapToScene(QPointF(0, height() / 2));
}

QPointF NodeItem::outPoint() const
{
    return mapToScene(QPointF(kWidth, height() / 2));
}

void NodeItem::removeEdge(EdgeItem *edge)
{
    m_edges.erase(std::remove(m_edges.begin(), m_edges.end(), edge), m_edges.end());
}

QVariant NodeItem::itemChange(GraphicsItemChange change, const QVariant &value)
{
    if (change == ItemPositionHasChanged) {
        for (auto *e : m_edges)
            e->updatePath();
        emit moved();
    }
    return QGraphicsObject::itemChange(change, value);
}

void NodeItem::paint(QPainter *p, const QStyleOptionGraphicsItem *option, QWidget *)
{
    const QPalette pal = QApplication::palette();
    const qreal h = height();
    const QRectF body(0, 0, kWidth, h);
    p->setRenderHint(QPainter::Antialiasing);

    const QColor health = healthColor(m_health);
    const bool selected = option->state & QStyle::State_Selected;
    p->setPen(QPen(selected ? pal.color(QPalette::Highlight) : health, selected ? 3 : 2,
                   m_kind == Kind::External ? Qt::DashLine : Qt::SolidLine));
    p->setBrush(pal.color(QPalette::Base));
    p->drawRoundedRect(body, 8, 8);

    // Header: kind colour strip and name.
    QPainterPath header;
    header.addRoundedRect(QRectF(1, 1, kWidth - 2, kHeader), 7, 7);
    QColor tint = kindColor(m_kind);
    tint.setAlpha(200);
    p->fillPath(header, tint);
    QFont small = p->font();
    small.setPointSizeF(small.pointSizeF() * 0.72);
    QFont bold = p->font();
    bold.setBold(true);
    p->setPen(Qt::white);
    p->setFont(small);
    p->drawText(QRectF(8, 1, kWidth - 16, 11), Qt::AlignLeft | Qt::AlignVCenter,
                kindLabel(m_kind));
    p->setFont(bold);
    p->drawText(QRectF(8, 10, kWidth - 16, kHeader - 10), Qt::AlignLeft | Qt::AlignVCenter,
                QFontMetricsF(bold).elidedText(m_name, Qt::ElideRight, kWidth - 16));

    // Health dot and subtitle.
    qreal y = kHeader + 4;
    p->setFont(small);
    p->setPen(Qt::NoPen);
    p->setBrush(health);
    p->drawEllipse(QPointF(12, y + kLine / 2), 4, 4);
    p->setPen(pal.color(QPalette::Text));
    const QString sub = m_subtitle.isEmpty() ? healthName(m_health) : m_subtitle;
    p->drawText(QRectF(22, y, kWidth - 28, kLine), Qt::AlignLeft | Qt::AlignVCenter,
                QFontMetricsF(small).elidedText(sub, Qt::ElideRight, kWidth - 28));
    y += kLine;

    // Partitions as cells, shaded by their share of the lag.
    if (m_kind == Kind::Topic && m_partitions > 0) {
        const int shown = std::min(m_partitions, 24);
        const qreal cell = std::min<qreal>(14, (kWidth - 20) / shown);
        int64_t maxLag = 0;
        for (auto l : m_partitionLag)
            maxLag = std::max(maxLag, l);
        for (int i = 0; i < shown; ++i) {
            QRectF r(10 + i * cell, y + 2, cell - 2, 12);
            QColor c = kindColor(Kind::Topic);
            c.setAlpha(90);
            if (maxLag > 0 && i < static_cast<int>(m_partitionLag.size())
                && m_partitionLag[static_cast<size_t>(i)] > 0)
                c = QColor(220, 150, 30,
                           80 + static_cast<int>(175 * m_partitionLag[static_cast<size_t>(i)]
                                                 / maxLag));
            p->setPen(Qt::NoPen);
            p->setBrush(c);
            p->drawRect(r);
        }
        if (m_partitions > shown) {
            p->setPen(pal.color(QPalette::Text));
            p->drawText(QRectF(10 + shown * cell, y, 40, 16), Qt::AlignVCenter, "…");
        }
        y += 18;
    }

    // Instances of a service.
    for (const auto &line : m_instances) {
        p->setPen(Qt::NoPen);
        p->setBrush(healthColor(line.health));
        p->drawRect(QRectF(10, y + 5, 6, 7));
        QFont f = small;
        f.setStrikeOut(line.health == Health::Failed);
        p->setFont(f);
        p->setPen(pal.color(QPalette::Text));
        p->drawText(QRectF(22, y, kWidth - 28, kLine), Qt::AlignLeft | Qt::AlignVCenter,
                    QFontMetricsF(f).elidedText(line.name + "  " + line.detail, Qt::ElideRight,
                                                kWidth - 28));
        y += kLine;
    }

    if (hasOutputPort()) {
        p->setPen(QPen(pal.color(QPalette::Text), 1));
        p->setBrush(pal.color(QPalette::Button));
        p->drawEllipse(outputPortRect());
    }

    if (!m_badge.isEmpty()) {
        p->setFont(small);
        const qreal w = QFontMetricsF(small).horizontalAdvance(m_badge) + 12;
        const QRectF badge(kWidth - w - 4, -10, w, 16);
        p->setPen(Qt::NoPen);
        p->setBrush(m_health == Health::Failed ? healthColor(Health::Failed)
                                               : healthColor(Health::Lagging));
        p->drawRoundedRect(badge, 8, 8);
        p->setPen(Qt::white);
        p->drawText(badge, Qt::AlignCenter, m_badge);
    }
}

EdgeItem::EdgeItem(NodeItem *from, NodeItem *to, bool deadLetter)
    : m_from(from), m_to(to), m_deadLetter(deadLetter)
{
    setFlags(ItemIsSelectable);
    setZValue(0);
    from->addEdge(this);
    to->addEdge(this);
    updatePath();
}

EdgeItem::~EdgeItem()
{
    m_from->removeEdge(this);
    m_to->removeEdge(this);
}

void EdgeItem::setRate(double perSecond, bool total)
{
    QString label;
    if (perSecond >= 0)
        label = (total ? "Σ " : "")
                + (perSecond >= 10000 ? QString("%1k rec/s").arg(perSecond / 1000.0, 0, 'f', 1)
                                      : QString("%1 rec/s").arg(perSecond, 0, 'f', 0));
    if (label == m_label && (perSecond < 0) == (m_rate < 0))
        return;
    prepareGeometryChange();
    m_rate = perSecond;
    m_label = label;
    update();
}

void EdgeItem::updatePath()
{
    const QPointF a = m_from->outPoint();
    const QPointF b = m_to->inPoint();
    const qreal dx = std::max<qreal>(40, std::abs(b.x() - a.x()) / 2);
    QPainterPath path(a);
    path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b);
    prepareGeometryChange();
    setPath(path);
}

QRectF EdgeItem::boundingRect() const
{
    return QGraphicsPathItem::boundingRect().adjusted(-60, -24, 60, 24);
}

QPainterPath EdgeItem::shape() const
{
    QPainterPathStroker stroker;
    stroker.setWidth(12);
    return stroker.createStroke(path());
}

void EdgeItem::paint(QPainter *p, const QStyleOptionGraphicsItem *option, QWidget *)
{
    const QPalette pal = QApplication::palette();
    p->setRenderHint(QPainter::Antialiasing);
    // Width grows with the logarithm of the rate: 1 rec/s and 100k rec/s both stay readable.
    const qreal width = m_rate > 0 ? 1.5 + std::log10(m_rate + 1) * 1.3 : 1.5;
    QColor c = m_deadLetter ? QColor(215, 60, 60) : pal.color(QPalette::Text);
    if (!(m_rate > 0) && !m_deadLetter)
        c.setAlpha(120);
    if (option->state & QStyle::State_Selected)
        c = pal.color(QPalette::Highlight);
    p->setPen(QPen(c, width, m_deadLetter ? Qt::DashLine : Qt::SolidLine, Qt::RoundCap));
    p->setBrush(Qt::NoBrush);
    p->drawPath(path());

    // Arrow head at the target; curves always enter a node horizontally from the left.
    const QPointF tip = path().pointAtPercent(1.0);
    const QPointF back(-10, 0);
    QPolygonF head;
    head << tip << tip + back + QPointF(0, -5) << tip + back + QPointF(0, 5);
    p->setPen(Qt::NoPen);
    p->setBrush(c);
    p->drawPolygon(head);

    if (!m_label.isEmpty()) {
        QFont f = p->font();
        f.setPointSizeF(f.pointSizeF() * 0.78);
        p->setFont(f);
        const QPointF mid = path().pointAtPercent(0.5);
        const qreal w = QFontMetricsF(f).horizontalAdvance(m_label) + 10;
        const QRectF box(mid.x() - w / 2, mid.y() - 18, w, 15);
        p->setBrush(pal.color(QPalette::Window));
        p->setPen(Qt::NoPen);
        p->drawRoundedRect(box, 4, 4);
        p->setPen(pal.color(QPalette::Text));
        p->drawText(box, Qt::AlignCenter, m_label);
    }
}

} // namespace eddy::ui
