// Builds the canvas from the scenario and paints live state onto it. The scene never edits the
// scenario itself; the view turns gestures into ScenarioDocument edits and the scene redraws.
#include "topology_scene.h"

#include "broker_bridge.h"

#include <QGraphicsSceneMouseEvent>
#include <QGraphicsView>
#include <QSet>

#include <algorithm>
#include <set>
#include <utility>

namespace eddy::ui {

namespace {

constexpr qreal kLayerGap = 240;
constexpr qreal kRowGap = 30;
constexpr qreal kNodeHeight = 110; // a typical node with a few instance lines

NodeItem::Kind itemKind(NodeRef::Kind k)
{
    switch (k) {
    case NodeRef::Kind::Topic: return NodeItem::Kind::Topic;
    case NodeRef::Kind::Producer: return NodeItem::Kind::Producer;
    case NodeRef::Kind::Consumer: return NodeItem::Kind::Consumer;
    case NodeRef::Kind::Processor: return NodeItem::Kind::Processor;
    }
    return NodeItem::Kind::Topic;
}

QString compact(double v)
{
    if (v >= 1e6)
        return QString::number(v / 1e6, 'f', 1) + "M";
    if (v >= 1e4)
        return QString::number(v / 1e3, 'f', 1) + "k";
    return QString::number(v, 'f', 0);
}

} // namespace

bool isExternalClient(const net::ClientInfo &c)
{
    // The studio's own simulated clients and its bridge dial inproc://; its connection to a
    // remote broker announces itself as kStudioClientId.
    return c.address.rfind("inproc", 0) != 0 && c.clientId != kStudioClientId;
}

TopologyScene::TopologyScene(ScenarioDocument *document, QObject *parent)
    : QGraphicsScene(parent), m_document(document)
{
    setSceneRect(-600, -400, 2400, 1600);
    connect(document, &ScenarioDocument::changed, this, [this] { rebuild(); });
    // Another scenario: where the previous one's nodes were says nothing about this one's.
    connect(document, &ScenarioDocument::replaced, this, [this] {
        for (auto it = m_positions.begin(); it != m_positions.end();)
            it = it.key().startsWith("external:") ? std::next(it) : m_positions.erase(it);
    });
    connect(this, &QGraphicsScene::selectionChanged, this, [this] {
        const auto items = selectedItems();
        std::optional<NodeRef> ref;
        if (items.size() == 1 && items.first()->type() == NodeItem::kType)
            ref = static_cast<NodeItem *>(items.first())->ref();
        emit selectionRefChanged(ref);
    });
    rebuild();
}

TopologyScene::~TopologyScene()
{
    // The items go in QGraphicsScene's destructor, when the widgets listening to this scene
    // (the property panel) may be gone already: a selected node's deletion must not tell them.
    blockSignals(true);
    qDeleteAll(m_edges);
    qDeleteAll(m_clientEdges);
}

NodeItem *TopologyScene::makeNode(NodeItem::Kind kind, const QString &name)
{
    auto *item = new NodeItem(kind, name);
    addItem(item);
    connect(item, &NodeItem::moved, this, [this, item] { m_positions[item->key()] = item->pos(); });
    return item;
}

void TopologyScene::rebuild()
{
    QString selectedKey;
    if (const auto sel = selectedItems(); sel.size() == 1 && sel.first()->type() == NodeItem::kType)
        selectedKey = static_cast<NodeItem *>(sel.first())->key();
    for (auto *e : m_edges)
        delete e;
    m_edges.clear();
    // External clients' edges end at topic nodes, which go now; applyLive draws them again.
    for (auto *e : std::as_const(m_clientEdges))
        delete e;
    m_clientEdges.clear();
    // Scenario nodes are rebuilt; external clients stay (applyLive owns them).
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
        if (it.value()->kind() != NodeItem::Kind::External) {
            delete it.value();
            it = m_nodes.erase(it);
        } else {
            ++it;
        }
    }
    const auto &layout = m_document->scenario().layout;
    bool placeNew = false;
    bool anyPlaced = false;
    for (const auto &ref : m_document->nodes()) {
        auto *item = makeNode(itemKind(ref.kind), ref.name);
        m_nodes.insert(item->key(), item);
        if (auto stored = layout.find(item->key().toStdString()); stored != layout.end()) {
            item->setPos(stored->second[0], stored->second[1]);
            anyPlaced = true;
        } else if (m_positions.contains(item->key())) {
            item->setPos(m_positions.value(item->key()));
            anyPlaced = true;
        } else if (m_dropPos) {
            item->setPos(*m_dropPos);
            m_positions[item->key()] = *m_dropPos;
            m_dropPos.reset();
            anyPlaced = true;
        } else {
            placeNew = true;
        }
    }
    for (const auto &flow : m_document->flows()) {
        auto *from = m_nodes.value(NodeItem::keyOf(flow.from));
        auto *to = m_nodes.value(NodeItem::keyOf(flow.to));
        if (!from || !to)
            continue; // a reference to a topic the scenario does not declare
        auto *edge = new EdgeItem(from, to, flow.deadLetter);
        addItem(edge);
        m_edges.push_back(edge);
    }
    // Nodes without a position get the layered layout; those placed keep their place.
    if (placeNew)
        layOut(anyPlaced);
    if (auto *sel = m_nodes.value(selectedKey))
        sel->setSelected(true);
    applyLive(m_live);
}

void TopologyScene::autoLayout()
{
    layOut(false);
    // Positions stay as just computed: rebuild() falls back to them once the layout is gone.
    m_document->clearLayout();
    if (!views().isEmpty())
        views().first()->centerOn(itemsBoundingRect().center());
}

void TopologyScene::beginMove()
{
    m_moveStart.clear();
    for (auto *n : std::as_const(m_nodes))
        if (n->ref())
            m_moveStart[n->key().toStdString()] = {n->pos().x(), n->pos().y()};
}

void TopologyScene::endMove()
{
    ScenarioDocument::Positions to;
    for (auto *n : std::as_const(m_nodes))
        if (n->ref())
            to[n->key().toStdString()] = {n->pos().x(), n->pos().y()};
    const auto from = std::exchange(m_moveStart, {});
    // moveNodes ignores nodes that stayed; a node added since beginMove() has no start and
    // is not a move either.
    std::erase_if(to, [&](const auto &entry) { return !from.contains(entry.first); });
    m_document->moveNodes(from, to);
}

void TopologyScene::mousePressEvent(QGraphicsSceneMouseEvent *event)
{
    beginMove();
    QGraphicsScene::mousePressEvent(event);
}

void TopologyScene::mouseReleaseEvent(QGraphicsSceneMouseEvent *event)
{
    QGraphicsScene::mouseReleaseEvent(event);
    // Later: storing the move rebuilds the scene, deleting the items this event was about.
    QMetaObject::invokeMethod(this, [this] { endMove(); }, Qt::QueuedConnection);
}

void TopologyScene::layOut(bool onlyUnplaced)
{
    // With onlyUnplaced, nodes with a position (stored, or drawn before) keep it.
    const auto &stored = m_document->scenario().layout;
    const auto placed = [&](NodeItem *n) {
        return onlyUnplaced
               && (stored.contains(n->key().toStdString()) || m_positions.contains(n->key()));
    };
    // Layer of each node: producers 0; a topic one right of its rightmost writer; a reader one
    // right of its rightmost input. Relaxed a bounded number of times so cycles terminate.
    QHash<QString, int> layer;
    for (const auto &ref : m_document->nodes())
        layer[NodeItem::keyOf(ref)] = ref.kind == NodeRef::Kind::Producer ? 0
                                      : ref.isTopic()                     ? 1
                                                                          : 2;
    const auto flows = m_document->flows();
    for (int round = 0; round < 2 * static_cast<int>(layer.size()) + 2; ++round) {
        bool moved = false;
        for (const auto &f : flows) {
            const QString a = NodeItem::keyOf(f.from), b = NodeItem::keyOf(f.to);
            if (!layer.contains(a) || !layer.contains(b) || f.deadLetter)
                continue;
            if (layer[b] < layer[a] + 1 && layer[a] + 1 < 2 * layer.size() + 2) {
                layer[b] = layer[a] + 1;
                moved = true;
            }
        }
        if (!moved)
            break;
    }
    // Dead-letter topics sit one right of their writer unless something else placed them.
    for (const auto &f : flows)
        if (f.deadLetter) {
            const QString a = NodeItem::keyOf(f.from), b = NodeItem::keyOf(f.to);
            if (layer.contains(a) && layer.contains(b))
                layer[b] = std::max(layer[b], layer[a] + 1);
        }
    std::map<int, std::vector<NodeItem *>> columns;
    for (const auto &ref : m_document->nodes())
        if (auto *n = m_nodes.value(NodeItem::keyOf(ref)))
            columns[layer.value(n->key())].push_back(n);
    for (auto &[col, items] : columns) {
        std::erase_if(items, placed);
        qreal total = 0;
        for (auto *n : items)
            total += n->boundingRect().height() + kRowGap;
        qreal y = -total / 2;
        for (auto *n : items) {
            n->setPos(col * kLayerGap, y);
            m_positions[n->key()] = n->pos();
            y += n->boundingRect().height() + kRowGap;
        }
    }
    if (onlyUnplaced)
        return;
    // External clients in a column left of everything, those that only read right of it.
    const int lastColumn = columns.empty() ? 0 : columns.rbegin()->first;
    qreal left = 0, right = 0;
    for (auto *n : std::as_const(m_nodes))
        if (n->kind() == NodeItem::Kind::External) {
            const bool reader = m_consumesOnly.value(n->key());
            qreal &y = reader ? right : left;
            n->setPos(reader ? (lastColumn + 1) * kLayerGap : -kLayerGap, y);
            m_positions[n->key()] = n->pos();
            y += n->boundingRect().height() + kRowGap;
        }
}

void TopologyScene::applyLive(const LiveView &live)
{
    m_live = live;
    const auto &scenario = m_document->scenario();
    const MetricsSnapshot *snap = live.snapshot.get();
    auto topicMetrics = [snap](const std::string &name) -> const TopicMetrics * {
        if (!snap)
            return nullptr;
        for (const auto &t : snap->topics)
            if (t.name == name)
                return &t;
        return nullptr;
    };
    auto groupMetrics = [snap](const std::string &name) -> const GroupMetrics * {
        if (!snap || name.empty())
            return nullptr;
        for (const auto &g : snap->groups)
            if (g.name == name)
                return &g;
        return nullptr;
    };

    // Topics: partitions, per-partition lag summed over the groups reading them, rates.
    for (const auto &t : scenario.topics) {
        auto *n = m_nodes.value("topic:" + QString::fromStdString(t.spec.name));
        if (!n)
            continue;
        const TopicMetrics *tm = topicMetrics(t.spec.name);
        const int partitions = tm ? static_cast<int>(tm->partitions.size()) : t.spec.partitions;
        std::vector<int64_t> lag(static_cast<size_t>(std::max(partitions, 0)), 0);
        int64_t totalLag = 0;
        if (snap)
            for (const auto &g : snap->groups)
                for (const auto &p : g.partitions)
                    if (p.topic == t.spec.name && p.partition >= 0 && p.partition < partitions) {
                        lag[static_cast<size_t>(p.partition)] += p.lag;
                        totalLag += p.lag;
                    }
        n->setPartitions(partitions, lag);
        if (!tm) {
            n->setHealth(Health::Idle);
            n->setSubtitle(QString("%1 partitions · not created yet").arg(partitions));
            n->setBadge({});
            continue;
        }
        n->setSubtitle(QString("%1 partitions · %2 records · %3/s in")
                           .arg(partitions)
                           .arg(compact(static_cast<double>(tm->records)),
                                compact(tm->rates.recordsInPerSec)));
        n->setBadge(totalLag > 0 ? "lag " + compact(static_cast<double>(totalLag)) : QString());
        const bool lagging = totalLag > std::max(100.0, tm->rates.recordsInPerSec);
        n->setHealth(lagging ? Health::Lagging : Health::Healthy);
    }

    // Services: instances (crashed, paused, assigned partitions) and group state.
    for (const auto &s : scenario.services) {
        auto *n = m_nodes.value("service:" + QString::fromStdString(s.name));
        if (!n)
            continue;
        const GroupMetrics *gm = groupMetrics(s.group);
        std::vector<InstanceLine> lines;
        int crashed = 0;
        const auto members = live.members.find(s.group);
        for (const auto &inst : live.instances) {
            if (inst.service != s.name)
                continue;
            InstanceLine line;
            line.name = QString::fromStdString(inst.name);
            if (inst.crashed) {
                line.health = Health::Failed;
                line.detail = "crashed";
                ++crashed;
            } else if (inst.paused || inst.disconnected) {
                line.health = Health::Lagging;
                line.detail = inst.paused ? "paused" : "disconnected";
            } else if (inst.slowFactor > 1.0) {
                line.health = Health::Lagging;
                line.detail = QString("slow ×%1").arg(inst.slowFactor, 0, 'g', 3);
            }
            if (!inst.crashed && members != live.members.end()) {
                QStringList parts;
                for (const auto &m : members->second)
                    if (m.clientId == inst.name)
                        for (const auto &tp : m.assigned)
                            parts << (s.inputs.size() > 1
                                          ? QString::fromStdString(tp.topic) + "/"
                                                + QString::number(tp.partition)
                                          : "p" + QString::number(tp.partition));
                if (!parts.isEmpty())
                    line.detail = (line.detail.isEmpty() ? QString() : line.detail + " · ")
                                  + parts.join(' ');
            }
            lines.push_back(line);
        }
        n->setInstances(lines);
        const bool running = live.simulationRunning && !lines.empty();
        Health health = running ? Health::Healthy : Health::Idle;
        QString subtitle;
        if (s.kind == sim::ServiceSpec::Kind::Producer) {
            subtitle = QString("×%1 · %2 rec/s each").arg(s.instances).arg(s.rate.perSecond);
        } else {
            subtitle = QString("group %1 · ×%2").arg(QString::fromStdString(s.group))
                           .arg(s.instances);
            if (gm) {
                subtitle += QString(" · lag %1").arg(compact(static_cast<double>(gm->totalLag)));
                if (gm->state == GroupState::Rebalancing)
                    health = Health::Rebalancing;
                else if (running && gm->totalLag > std::max(100.0, gm->rates.recordsOutPerSec))
                    health = Health::Lagging;
                n->setBadge(gm->state == GroupState::Rebalancing ? "rebalancing" : QString());
            }
        }
        if (running && crashed == static_cast<int>(lines.size()))
            health = Health::Failed;
        else if (running && crashed > 0) {
            health = Health::Failed;
            n->setBadge(QString("%1 crashed").arg(crashed));
        }
        n->setHealth(health);
        n->setSubtitle(subtitle);
    }

    // Flow rates: into a topic from its writers, out of it to each reading group. With several
    // writers the engine only knows the topic's total, so the label says it is a sum.
    std::map<std::string, int> writers;
    for (const auto &e : m_edges)
        if (e->to()->kind() == NodeItem::Kind::Topic)
            ++writers[e->to()->name().toStdString()];
    for (auto *e : m_edges) {
        double rate = -1;
        bool total = false;
        if (e->to()->kind() == NodeItem::Kind::Topic) {
            if (const auto *tm = topicMetrics(e->to()->name().toStdString())) {
                rate = tm->rates.recordsInPerSec;
                total = writers[e->to()->name().toStdString()] > 1;
            }
        } else if (const auto *svc = m_document->service(e->to()->name())) {
            if (const auto *gm = groupMetrics(svc->group)) {
                rate = gm->rates.recordsOutPerSec;
                total = svc->inputs.size() > 1;
            }
        }
        e->setRate(rate, total);
    }

    // External clients: one node each, appearing and disappearing with their connections.
    std::set<QString> seen;
    std::vector<const net::ClientInfo *> externals;
    std::vector<QString> externalKeys;
    qreal nextY = 0;
    for (auto *n : m_nodes)
        if (n->kind() == NodeItem::Kind::External)
            nextY = std::max(nextY, n->pos().y() + n->boundingRect().height() + kRowGap);
    qreal rightmost = 0;
    for (auto *n : m_nodes)
        if (n->kind() != NodeItem::Kind::External)
            rightmost = std::max(rightmost, n->pos().x() + kLayerGap);
    for (const auto &c : live.clients) {
        if (!isExternalClient(c))
            continue;
        const QString name = QString::fromStdString(c.clientId.empty() ? c.address : c.clientId)
                             + QString(" (#%1)").arg(c.id);
        const QString key = "external:" + name;
        seen.insert(key);
        const bool writes = c.recordsIn > 0 || !c.producedTopics.empty();
        const bool reads = c.recordsOut > 0 || !c.consumedTopics.empty();
        m_consumesOnly[key] = reads && !writes;
        auto *n = m_nodes.value(key);
        if (!n) {
            n = makeNode(NodeItem::Kind::External, name);
            m_nodes.insert(key, n);
            // A reader sits right of the topics it reads, like the scenario's consumers.
            n->setPos(m_positions.value(key, reads && !writes ? QPointF(rightmost, nextY)
                                                              : QPointF(-kLayerGap, nextY)));
            m_positions[key] = n->pos();
            nextY += kNodeHeight;
        }
        externals.push_back(&c);
        externalKeys.push_back(key);
        n->setHealth(Health::Healthy);
        // What it moves: records/s in (produced) and out (received); a client that does
        // neither (admin, idle) shows its requests/s.
        QStringList traffic;
        if (writes)
            traffic << compact(c.recordsInPerSec) + " rec/s in";
        if (reads)
            traffic << compact(c.recordsOutPerSec) + " rec/s out";
        if (traffic.isEmpty())
            traffic << QString("%1 req/s").arg(c.requestsPerSec, 0, 'f', 0);
        // "as whom": the principal it authenticated as, when the broker checks tokens.
        n->setSubtitle(QString::fromStdString(c.role) + " · " + traffic.join(" · ")
                       + (c.principal.empty() ? QString()
                                              : " · as " + QString::fromStdString(c.principal)));
        QString detail = "last " + QString::fromStdString(c.lastOp);
        if (writes || reads)
            detail += QString(" · %1 in · %2 out")
                          .arg(compact(static_cast<double>(c.recordsIn)),
                               compact(static_cast<double>(c.recordsOut)));
        n->setInstances({{QString::fromStdString(c.address), detail, Health::Healthy}});
    }
    // Edges first: they point at the nodes about to go.
    applyClientEdges(externals, externalKeys);
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
        if (it.value()->kind() == NodeItem::Kind::External && !seen.count(it.key())) {
            m_consumesOnly.remove(it.key());
            delete it.value();
            it = m_nodes.erase(it);
        } else {
            ++it;
        }
    }
    // The view scrolls and fits only within the scene rect: grow it for what lies beyond (a
    // client placed right of a wide topology, a node dragged far away).
    const QRectF needed = itemsBoundingRect().adjusted(-200, -200, 200, 200);
    if (!sceneRect().contains(needed))
        setSceneRect(sceneRect().united(needed));
}

void TopologyScene::applyClientEdges(const std::vector<const net::ClientInfo *> &clients,
                                     const std::vector<QString> &keys)
{
    QSet<QString> wanted;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const net::ClientInfo &c = *clients[i];
        NodeItem *client = m_nodes.value(keys[i]);
        // The broker counts a client's records, not its records per topic: with several topics
        // in one direction each edge shows the client's total ("Σ").
        const auto link = [&](const std::vector<std::string> &topics, bool produced) {
            for (const auto &t : topics) {
                const QString topicKey = "topic:" + QString::fromStdString(t);
                NodeItem *topic = m_nodes.value(topicKey);
                if (!topic)
                    continue; // a topic the scenario does not draw
                NodeItem *from = produced ? client : topic;
                NodeItem *to = produced ? topic : client;
                const QString edgeKey = from->key() + ">" + to->key();
                wanted.insert(edgeKey);
                EdgeItem *edge = m_clientEdges.value(edgeKey);
                if (!edge) {
                    edge = new EdgeItem(from, to, false);
                    addItem(edge);
                    m_clientEdges.insert(edgeKey, edge);
                }
                edge->setRate(produced ? c.recordsInPerSec : c.recordsOutPerSec,
                              topics.size() > 1);
            }
        };
        link(c.producedTopics, true);
        link(c.consumedTopics, false);
    }
    for (auto it = m_clientEdges.begin(); it != m_clientEdges.end();) {
        if (!wanted.contains(it.key())) {
            delete it.value();
            it = m_clientEdges.erase(it);
        } else {
            ++it;
        }
    }
}

} // namespace eddy::ui
