#pragma once

#include "scenario.h"
#include "scenario_document.h"

#include <QGraphicsView>

class QGraphicsLineItem;

namespace eddy::ui {

class NodeItem;
class TopologyScene;

// MIME type of a palette drag: the NodeRef::Kind as a decimal number.
inline constexpr const char *kNodeMimeType = "application/x-eddy-node";

// The canvas view: zoom (wheel, +/-), pan (middle button or space + drag), rubber-band
// selection, drops from the palette, connecting by dragging from a node's output port to another
// node, Delete for the selection, and a context menu that injects faults into whatever was
// right-clicked. Edits go to the scene's document; faults are only requested (faultRequested),
// the main window decides who carries them out.
class TopologyView : public QGraphicsView
{
    Q_OBJECT

public:
    explicit TopologyView(TopologyScene *scene, QWidget *parent = nullptr);

    TopologyScene *topologyScene() const { return m_scene; }
    // Instance names offered in fault menus ("billing#0"), from the running simulation.
    void setInstanceNames(const QStringList &names) { m_instances = names; }
    // Whether the view lets the user edit (false while a run is going).
    void setEditable(bool editable) { m_editable = editable; }

public slots:
    void zoomIn();
    void zoomOut();
    void zoomToFit();
    void deleteSelection();

signals:
    void faultRequested(const eddy::sim::FaultSpec &fault);
    // A refused edit or an explanation for the status bar.
    void message(const QString &text);

protected:
    void wheelEvent(QWheelEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void keyReleaseEvent(QKeyEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dragMoveEvent(QDragMoveEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    NodeItem *nodeAt(const QPoint &viewPos) const;
    void addServiceFaults(class QMenu *menu, const QString &service, NodeRef::Kind kind);
    void addBrokerFaults(class QMenu *menu);
    void request(const std::string &kind, const std::string &target,
                 std::map<std::string, double> params = {});

    TopologyScene *m_scene;
    QStringList m_instances;
    bool m_editable = true;
    NodeItem *m_connectFrom = nullptr;
    QGraphicsLineItem *m_connectLine = nullptr;
    bool m_panning = false;
    bool m_spaceHeld = false;
    QPoint m_panLast;
};

} // namespace eddy::ui
