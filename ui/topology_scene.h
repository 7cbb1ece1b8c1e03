#pragma once

#include "admin.h"
#include "metrics.h"
#include "protocol_handler.h"
#include "runner.h"
#include "scenario_document.h"
#include "topology_items.h"

#include <QGraphicsScene>
#include <QHash>

#include <map>

namespace eddy::ui {

// Whether a network client is someone else's (not the studio's own simulated clients or its own
// connection): those get a node of their own and count as external.
bool isExternalClient(const net::ClientInfo &client);

// What the canvas shows live, gathered by the main window from the bridge and the simulation.
struct LiveView {
    MetricsSnapshotPtr snapshot;
    std::vector<sim::InstanceState> instances;               // simulated instances, if running
    std::map<std::string, std::vector<client::GroupMember>> members; // group -> its members
    std::vector<net::ClientInfo> clients;                    // network clients of the broker
    bool simulationRunning = false;
};

// The topology canvas: one NodeItem per topic and service of the document, an EdgeItem per
// flow, and a node per external client connected to the broker with an edge to each canvas topic
// it produces to and from each one it consumes. Rebuilt from the document on every change:
// positions come from the scenario's layout (where the user put them), else from where the node
// was drawn before, else from the layered layout; a node the user drags is stored back into the
// layout as one undoable edit. Restyled from live state on every snapshot.
class TopologyScene : public QGraphicsScene
{
    Q_OBJECT

public:
    explicit TopologyScene(ScenarioDocument *document, QObject *parent = nullptr);
    // Deletes the edges before QGraphicsScene deletes the nodes they point at, silently.
    ~TopologyScene() override;

    ScenarioDocument *document() const { return m_document; }
    // Places every node again, left to right in layers: producers, the topics they write, the
    // services reading those, the topics those write, and so on; external clients in a column
    // left of everything (those that only consume: right of everything). Clears the stored
    // layout (one undoable edit), so a saved file gets the automatic layout again.
    void autoLayout();
    // A move of nodes by the user: beginMove() notes where every scenario node is, endMove()
    // stores those that moved since into the document's layout (ScenarioDocument::moveNodes).
    // Mouse presses and releases on the scene call them; tests may too.
    void beginMove();
    void endMove();
    // Applies live rates, lag, health and instance state.
    void applyLive(const LiveView &live);

    NodeItem *node(const QString &key) const { return m_nodes.value(key); }
    QList<NodeItem *> nodeItems() const { return m_nodes.values(); }
    QList<EdgeItem *> edgeItems() const { return m_edges; }
    // The live flows of external clients (not part of the scenario).
    QList<EdgeItem *> clientEdgeItems() const { return m_clientEdges.values(); }
    // Where a node dropped from the palette should appear next.
    void setDropPosition(const QPointF &scenePos) { m_dropPos = scenePos; }

signals:
    void selectionRefChanged(const std::optional<eddy::ui::NodeRef> &ref);

protected:
    void mousePressEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseReleaseEvent(QGraphicsSceneMouseEvent *event) override;

private:
    void rebuild();
    // The layered layout for every node, or only for those without a position yet.
    void layOut(bool onlyUnplaced);
    NodeItem *makeNode(NodeItem::Kind kind, const QString &name);
    // Creates, restyles and removes the edges of external clients to and from canvas topics.
    void applyClientEdges(const std::vector<const net::ClientInfo *> &clients,
                          const std::vector<QString> &keys);

    ScenarioDocument *m_document;
    QHash<QString, NodeItem *> m_nodes;   // by key
    QHash<QString, QPointF> m_positions;  // by key, survives rebuilds
    QList<EdgeItem *> m_edges;
    QHash<QString, EdgeItem *> m_clientEdges;     // by "from>to" node keys
    QHash<QString, bool> m_consumesOnly;          // external node key -> reads but never writes
    ScenarioDocument::Positions m_moveStart;      // beginMove(): scenario nodes' positions
    std::optional<QPointF> m_dropPos;
    LiveView m_live;
};

} // namespace eddy::ui
