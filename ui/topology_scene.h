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
// flow, and a node per external client connected to the broker. Rebuilt from the document on
// every change (positions are kept by node key; new nodes are placed by the layered layout),
// and restyled from live state on every snapshot.
class TopologyScene : public QGraphicsScene
{
    Q_OBJECT

public:
    explicit TopologyScene(ScenarioDocument *document, QObject *parent = nullptr);

    ScenarioDocument *document() const { return m_document; }
    // Places every node again, left to right in layers: producers, the topics they write, the
    // services reading those, the topics those write, and so on; externals in a column of their own.
    void autoLayout();
    // Applies live rates, lag, health and instance state.
    void applyLive(const LiveView &live);

    NodeItem *node(const QString &key) const { return m_nodes.value(key); }
    QList<NodeItem *> nodeItems() const { return m_nodes.values(); }
    QList<EdgeItem *> edgeItems() const { return m_edges; }
    // Where a node dropped from the palette should appear next.
    void setDropPosition(const QPointF &scenePos) { m_dropPos = scenePos; }

signals:
    void selectionRefChanged(const std::optional<eddy::ui::NodeRef> &ref);

private:
    void rebuild();
    NodeItem *makeNode(NodeItem::Kind kind, const QString &name);

    ScenarioDocument *m_document;
    QHash<QString, NodeItem *> m_nodes;   // by key
    QHash<QString, QPointF> m_positions;  // by key, survives rebuilds
    QList<EdgeItem *> m_edges;
    std::optional<QPointF> m_dropPos;
    LiveView m_live;
};

} // namespace eddy::ui
