#pragma once

#include "scenario.h"

#include <QObject>
#include <QString>
#include <QUndoStack>

#include <array>
#include <map>
#include <string>

namespace eddy::ui {

// What a canvas node stands for: a topic or a service of the scenario (by name).
struct NodeRef {
    enum class Kind { Topic, Producer, Consumer, Processor };
    Kind kind = Kind::Topic;
    QString name;
    bool isTopic() const { return kind == Kind::Topic; }
    bool operator==(const NodeRef &) const = default;
};

// Display name of a node kind: "Topic", "Producer", "Consumer group", "Processor".
QString nodeKindName(NodeRef::Kind kind);

// The scenario being designed in the studio: the same plain sim::Scenario `eddy simulate` reads,
// its file, and an undo stack. Every edit goes through a method here that pushes one undoable
// command holding the scenario before and after, so undo/redo restores exactly and the canvas
// simply redraws from scenario() on changed(). Edits that would break the scenario's references
// (a flow to a node that does not take it, a duplicate name) are refused with a reason.
class ScenarioDocument : public QObject
{
    Q_OBJECT

public:
    explicit ScenarioDocument(QObject *parent = nullptr);

    const sim::Scenario &scenario() const { return m_scenario; }
    QUndoStack *undoStack() { return &m_undo; }
    QString filePath() const { return m_path; }
    bool isModified() const { return !m_undo.isClean(); }

    // A new, empty scenario (clears the undo history).
    void newScenario();
    // Loads a scenario file; on failure the document is unchanged and the error says where.
    Result<void> load(const QString &path);
    // Writes the scenario as JSON (parseable by `eddy simulate`) and marks it clean.
    Result<void> save(const QString &path);
    // Replaces the scenario without undo history (a scenario passed on the command line).
    void reset(sim::Scenario scenario, const QString &path = {});

    // The scenario as JSON text and checked by the simulator's own parser: what a run uses.
    Result<sim::Scenario> validated() const;

    // ---- edits (each one undoable step; false and *why set when refused) ----
    // Adds a node of the kind with a fresh name ("topic-1", "producer-1", ...) and sensible
    // defaults; returns its reference.
    NodeRef addNode(NodeRef::Kind kind);
    bool removeNode(const NodeRef &node, QString *why = nullptr);
    // A flow: producer/processor -> topic (an output) or topic -> consumer/processor (an input).
    bool connectNodes(const NodeRef &from, const NodeRef &to, QString *why = nullptr);
    bool disconnectNodes(const NodeRef &from, const NodeRef &to);
    // Renames a node and every reference to it (outputs, inputs, dead-letter topics, faults).
    bool rename(const NodeRef &node, const QString &newName, QString *why = nullptr);
    // Replaces a topic's or service's settings (name excluded; use rename).
    bool setTopic(const QString &name, const TopicSpec &spec, const QString &text);
    bool setService(const QString &name, const sim::ServiceSpec &spec, const QString &text);
    // Canvas positions (sim::Scenario::layout) by node id (NodeItem::key(): "topic:orders").
    using Positions = std::map<std::string, std::array<double, 2>>;
    // The user moved nodes from `from` to `to` (same ids): one undoable step storing the new
    // positions, rounded to whole pixels. Undo puts the old ones in the layout, so the nodes go
    // back even if they had no stored position before. Ids naming no node are dropped; false
    // when nothing moved.
    bool moveNodes(const Positions &from, const Positions &to);
    // Forgets every stored position (the user asked for the automatic layout); false when
    // there were none.
    bool clearLayout();
    // Scenario-wide settings: name, description, duration, seed.
    bool setSettings(const QString &name, const QString &description, double durationS,
                     uint64_t seed);

    // Flows of the scenario: (from, to) pairs as the canvas draws them.
    struct Flow {
        NodeRef from;
        NodeRef to;
        bool deadLetter = false;
    };
    std::vector<Flow> flows() const;
    std::vector<NodeRef> nodes() const;
    const TopicSpec *topic(const QString &name) const;
    const sim::ServiceSpec *service(const QString &name) const;

signals:
    // The scenario changed (an edit, undo, redo, load or new).
    void changed();
    // Another scenario replaced this one (load, new, reset); emitted just before changed().
    void replaced();
    void filePathChanged(const QString &path);

private:
    friend class ScenarioEditCommand;
    void push(const QString &text, sim::Scenario after);
    void push(const QString &text, sim::Scenario before, sim::Scenario after);
    void setScenario(const sim::Scenario &scenario);
    bool nameTaken(const QString &name, NodeRef::Kind kind) const;
    bool isNodeId(const std::string &id) const;

    sim::Scenario m_scenario;
    QString m_path;
    QUndoStack m_undo;
};

} // namespace eddy::ui
