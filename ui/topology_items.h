#pragma once

#include "scenario_document.h"

#include <QGraphicsObject>
#include <QGraphicsPathItem>

namespace eddy::ui {

class EdgeItem;

// How healthy a node looks on the canvas (colour of its frame and header).
enum class Health { Idle, Healthy, Lagging, Failed, Rebalancing };
QString healthName(Health health);

// One instance line of a service node: "billing#1 · p0 p2" with its state.
struct InstanceLine {
    QString name;
    QString detail;   // assigned partitions, "crashed", "paused", ...
    Health health = Health::Healthy;
};

// A canvas node: a topic (its partitions drawn as cells, a lag badge), a producer, consumer group
// or processor (one line per running instance), or an external client that connected on its own.
// Items know how to draw live state; the scene decides what the state is.
class NodeItem : public QGraphicsObject
{
    Q_OBJECT

public:
    enum class Kind { Topic, Producer, Consumer, Processor, External };
    static constexpr int kType = QGraphicsItem::UserType + 1;

    NodeItem(Kind kind, const QString &name, QGraphicsItem *parent = nullptr);
    int type() const override { return kType; }

    Kind kind() const { return m_kind; }
    QString name() const { return m_name; }
    // The scenario node this item draws (externals have none).
    std::optional<NodeRef> ref() const;
    // Stable key of the node ("topic:orders", "service:billing", "external:12").
    QString key() const;
    static QString keyOf(const NodeRef &ref);

    void setSubtitle(const QString &text);
    QString subtitle() const { return m_subtitle; }
    void setPartitions(int count, const std::vector<int64_t> &lagPerPartition = {});
    void setHealth(Health health);
    Health health() const { return m_health; }
    void setBadge(const QString &text); // e.g. lag "lag 1.2k"; empty hides it
    QString badge() const { return m_badge; }
    void setInstances(const std::vector<InstanceLine> &lines);
    const std::vector<InstanceLine> &instances() const { return m_instances; }
    // Whether this node can start a flow (its output port is drawn).
    bool hasOutputPort() const;
    // The port's rectangle in item coordinates (the scene starts a connection drag there).
    QRectF outputPortRect() const;
    QPointF inPoint() const;  // scene position where incoming edges end
    QPointF outPoint() const; // scene position where outgoing edges start

    void addEdge(EdgeItem *edge) { m_edges.push_back(edge); }
    void removeEdge(EdgeItem *edge);

    QRectF boundingRect() const override;
    void paint(QPainter *painter, const QStyleOptionGraphicsItem *option,
               QWidget *widget) override;

signals:
    void moved();

protected:
    QVariant itemChange(GraphicsItemChange change, const QVariant &value) override;

private:
    qreal height() const;

    Kind m_kind;
    QString m_name;
    QString m_subtitle;
    QString m_badge;
    Health m_health = Health::Idle;
    int m_partitions = 0;
    std::vector<int64_t> m_partitionLag;
    std::vector<InstanceLine> m_instances;
    std::vector<EdgeItem *> m_edges;
};

// A flow between two nodes: a curve with an arrow whose width and label follow records/s.
class EdgeItem : public QGraphicsPathItem
{
public:
    static constexpr int kType = QGraphicsItem::UserType + 2;

    EdgeItem(NodeItem *from, NodeItem *to, bool deadLetter);
    ~EdgeItem() override;
    int type() const override { return kType; }

    NodeItem *from() const { return m_from; }
    NodeItem *to() const { return m_to; }
    bool isDeadLetter() const { return m_deadLetter; }
    // Records/s through this flow (< 0: unknown, drawn thin without a label). total: the rate
    // is the sum over several flows the engine cannot tell apart (labelled "Σ").
    void setRate(double perSecond, bool total = false);
    double rate() const { return m_rate; }
    QString label() const { return m_label; }
    // Recomputes the curve after a node moved.
    void updatePath();

    QRectF boundingRect() const override;
    QPainterPath shape() const override;
    void paint(QPainter *painter, const QStyleOptionGraphicsItem *option,
               QWidget *widget) override;

private:
    NodeItem *m_from;
    NodeItem *m_to;
    bool m_deadLetter;
    double m_rate = -1;
    QString m_label;
};

} // namespace eddy::ui
