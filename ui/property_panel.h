#pragma once

#include "scenario_document.h"

#include <QWidget>

#include <optional>

class QFormLayout;
class QLabel;

namespace eddy::ui {

// The property panel: the settings of the selected node (or of the scenario when nothing is
// selected) as a form. Each committed field is one undoable edit of the document.
class PropertyPanel : public QWidget
{
    Q_OBJECT

public:
    explicit PropertyPanel(ScenarioDocument *document, QWidget *parent = nullptr);

    // Shows the node's settings; nullopt shows the scenario's.
    void showNode(const std::optional<NodeRef> &ref);

signals:
    void message(const QString &text);
    // A rename moved the selection to a new name.
    void renamed(const eddy::ui::NodeRef &ref);

private:
    void rebuild();
    void buildScenario();
    void buildTopic(const TopicSpec &topic);
    void buildService(const sim::ServiceSpec &service);

    ScenarioDocument *m_document;
    std::optional<NodeRef> m_ref;
    QLabel *m_title;
    QWidget *m_formHost = nullptr;
    QFormLayout *m_form = nullptr;
    bool m_building = false;
};

} // namespace eddy::ui
