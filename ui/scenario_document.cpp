// The studio's scenario model. Undo works on whole scenarios: a scenario is a few kilobytes, so
// storing it before and after each edit is cheaper to get right than an inverse per edit, and
// undo then restores exactly what was there, references and all.
#include "scenario_document.h"

#include <QFile>
#include <QSaveFile>
#include <QUndoCommand>

#include <algorithm>
#include <cmath>

namespace eddy::ui {

QString nodeKindName(NodeRef::Kind kind)
{
    switch (kind) {
    case NodeRef::Kind::Topic: return "Topic";
    case NodeRef::Kind::Producer: return "Producer";
    case NodeRef::Kind::Consumer: return "Consumer group";
    case NodeRef::Kind::Processor: return "Processor";
    }
    return {};
}

namespace {

NodeRef::Kind kindOf(const sim::ServiceSpec &s)
{
    switch (s.kind) {
    case sim::ServiceSpec::Kind::Producer: return NodeRef::Kind::Producer;
    case sim::ServiceSpec::Kind::Consumer: return NodeRef::Kind::Consumer;
    case sim::ServiceSpec::Kind::Processor: return NodeRef::Kind::Processor;
    }
    return NodeRef::Kind::Producer;
}

void eraseValue(std::vector<std::string> &v, const std::string &value)
{
    v.erase(std::remove(v.begin(), v.end(), value), v.end());
}

void renameValue(std::vector<std::string> &v, const std::string &from, const std::string &to)
{
    std::replace(v.begin(), v.end(), from, to);
}

// Fault targets name a service ("billing", "billing#1") or a topic partition ("orders/3").
void renameTarget(std::string &target, const std::string &from, const std::string &to,
                  char separator)
{
    if (target == from)
        target = to;
    else if (target.rfind(from + separator, 0) == 0)
        target = to + target.substr(from.size());
}

} // namespace

// One undoable edit: the whole scenario before and after.
class ScenarioEditCommand : public QUndoCommand
{
public:
    ScenarioEditCommand(ScenarioDocument *doc, const QString &text, sim::Scenario before,
                        sim::Scenario after)
        : QUndoCommand(text), m_doc(doc), m_before(std::move(before)), m_after(std::move(after))
    {
    }
    void undo() override { m_doc->setScenario(m_before); }
    void redo() override { m_doc->setScenario(m_after); }

private:
    ScenarioDocument *m_doc;
    sim::Scenario m_before;
    sim::Scenario m_after;
};

ScenarioDocument::ScenarioDocument(QObject *parent) : QObject(parent)
{
    newScenario();
}

void ScenarioDocument::newScenario()
{
    sim::Scenario s;
    s.name = "untitled";
    s.durationSeconds = 60;
    reset(std::move(s));
}

void ScenarioDocument::reset(sim::Scenario scenario, const QString &path)
{
    m_undo.clear();
    m_scenario = std::move(scenario);
    m_path = path;
    emit filePathChanged(m_path);
    emit replaced();
    emit changed();
}

Result<void> ScenarioDocument::load(const QString &path)
{
    auto scenario = sim::loadScenario(path.toStdString());
    if (!scenario)
        return scenario.error();
    reset(std::move(*scenario), path);
    return {};
}

Result<void> ScenarioDocument::save(const QString &path)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return makeError(Errc::InvalidConfig, "cannot write " + path.toStdString() + ": "
                                                  + file.errorString().toStdString());
    const std::string json = sim::scenarioToJson(m_scenario);
    file.write(json.data(), static_cast<qint64>(json.size()));
    if (!file.commit())
        return makeError(Errc::InvalidConfig, "cannot write " + path.toStdString() + ": "
                                                  + file.errorString().toStdString());
    m_path = path;
    m_undo.setClean();
    emit filePathChanged(m_path);
    return {};
}

Result<sim::Scenario> ScenarioDocument::validated() const
{
    return sim::parseScenario(sim::scenarioToJson(m_scenario));
}

void ScenarioDocument::push(const QString &text, sim::Scenario after)
{
    m_undo.push(new ScenarioEditCommand(this, text, m_scenario, std::move(after)));
}

void ScenarioDocument::push(const QString &text, sim::Scenario before, sim::Scenario after)
{
    m_undo.push(new ScenarioEditCommand(this, text, std::move(before), std::move(after)));
}

bool ScenarioDocument::isNodeId(const std::string &id) const
{
    for (const auto &ref : nodes())
        if (id == (ref.isTopic() ? "topic:" : "service:") + ref.name.toStdString())
            return true;
    return false;
}

bool ScenarioDocument::moveNodes(const Positions &from, const Positions &to)
{
    sim::Scenario before = m_scenario;
    sim::Scenario after = m_scenario;
    QString moved;
    int count = 0;
    const auto rounded = [](const std::array<double, 2> &xy) {
        return std::array<double, 2>{std::round(xy[0]), std::round(xy[1])};
    };
    for (const auto &[id, xy] : to) {
        const auto old = from.find(id);
        if (!isNodeId(id) || (old != from.end() && rounded(old->second) == rounded(xy)))
            continue;
        // The position it had, even if only the automatic layout chose it: what undo restores.
        if (old != from.end())
            before.layout[id] = rounded(old->second);
        after.layout[id] = rounded(xy);
        moved = QString::fromStdString(id.substr(id.find(':') + 1));
        ++count;
    }
    if (count == 0)
        return false;
    push(count == 1 ? "Move " + moved : QString("Move %1 nodes").arg(count), std::move(before),
         std::move(after));
    return true;
}

bool ScenarioDocument::clearLayout()
{
    if (m_scenario.layout.empty())
        return false;
    sim::Scenario after = m_scenario;
    after.layout.clear();
    push("Automatic layout", std::move(after));
    return true;
}

void ScenarioDocument::setScenario(const sim::Scenario &scenario)
{
    m_scenario = scenario;
    emit changed();
}

bool ScenarioDocument::nameTaken(const QString &name, NodeRef::Kind kind) const
{
    const std::string n = name.toStdString();
    if (kind == NodeRef::Kind::Topic)
        return topic(name) != nullptr;
    return std::any_of(m_scenario.services.begin(), m_scenario.services.end(),
                       [&](const auto &s) { return s.name == n; });
}

const TopicSpec *ScenarioDocument::topic(const QString &name) const
{
    const std::string n = name.toStdString();
    for (const auto &t : m_scenario.topics)
        if (t.spec.name == n)
            return &t.spec;
    return nullptr;
}

const sim::ServiceSpec *ScenarioDocument::service(const QString &name) const
{
    const std::string n = name.toStdString();
    for (const auto &s : m_scenario.services)
        if (s.name == n)
            return &s;
    return nullptr;
}

std::vector<NodeRef> ScenarioDocument::nodes() const
{
    std::vector<NodeRef> out;
    for (const auto &t : m_scenario.topics)
        out.push_back({NodeRef::Kind::Topic, QString::fromStdString(t.spec.name)});
    for (const auto &s : m_scenario.services)
        out.push_back({kindOf(s), QString::fromStdString(s.name)});
    return out;
}

std::vector<ScenarioDocument::Flow> ScenarioDocument::flows() const
{
    std::vector<Flow> out;
    for (const auto &s : m_scenario.services) {
        const NodeRef self{kindOf(s), QString::fromStdString(s.name)};
        for (const auto &t : s.inputs)
            out.push_back({{NodeRef::Kind::Topic, QString::fromStdString(t)}, self, false});
        for (const auto &t : s.outputs)
            out.push_back({self, {NodeRef::Kind::Topic, QString::fromStdString(t)}, false});
        if (!s.deadLetterTopic.empty())
            out.push_back(
                {self, {NodeRef::Kind::Topic, QString::fromStdString(s.deadLetterTopic)}, true});
    }
    return out;
}

NodeRef ScenarioDocument::addNode(NodeRef::Kind kind)
{
    static const char *prefixes[] = {"topic", "producer", "consumer", "processor"};
    const QString prefix = prefixes[static_cast<int>(kind)];
    QString name;
    for (int i = 1;; ++i) {
        name = QString("%1-%2").arg(prefix).arg(i);
        if (!nameTaken(name, NodeRef::Kind::Topic) && !nameTaken(name, NodeRef::Kind::Producer))
            break;
    }
    sim::Scenario after = m_scenario;
    if (kind == NodeRef::Kind::Topic) {
        sim::TopicSpecEx t;
        t.spec.name = name.toStdString();
        t.spec.partitions = 3;
        after.topics.push_back(t);
    } else {
        sim::ServiceSpec s;
        s.name = name.toStdString();
        if (kind == NodeRef::Kind::Producer) {
            s.kind = sim::ServiceSpec::Kind::Producer;
            s.rate.perSecond = 100;
            s.events.push_back({"event.created", 1, {{"id", "uuid"}, {"at", "timestamp"}}});
        } else {
            s.kind = kind == NodeRef::Kind::Consumer ? sim::ServiceSpec::Kind::Consumer
                                                      : sim::ServiceSpec::Kind::Processor;
            s.group = name.toStdString();
            s.processingMs.value = 2;
        }
        after.services.push_back(s);
    }
    push("Add " + nodeKindName(kind).toLower() + " " + name, std::move(after));
    return {kind, name};
}

bool ScenarioDocument::removeNode(const NodeRef &node, QString *why)
{
    const std::string n = node.name.toStdString();
    sim::Scenario after = m_scenario;
    if (node.isTopic()) {
        auto it = std::find_if(after.topics.begin(), after.topics.end(),
                               [&](const auto &t) { return t.spec.name == n; });
        if (it == after.topics.end()) {
            if (why)
                *why = "no topic " + node.name;
            return false;
        }
        after.topics.erase(it);
        for (auto &s : after.services) {
            eraseValue(s.inputs, n);
            eraseValue(s.outputs, n);
            if (s.deadLetterTopic == n)
                s.deadLetterTopic.clear();
        }
        std::erase_if(after.faults,
                      [&](const auto &f) { return f.target.rfind(n + "/", 0) == 0; });
        after.layout.erase("topic:" + n);
    } else {
        auto it = std::find_if(after.services.begin(), after.services.end(),
                               [&](const auto &s) { return s.name == n; });
        if (it == after.services.end()) {
            if (why)
                *why = "no service " + node.name;
            return false;
        }
        after.services.erase(it);
        std::erase_if(after.faults, [&](const auto &f) {
            return f.target == n || f.target.rfind(n + "#", 0) == 0;
        });
        after.layout.erase("service:" + n);
    }
    push("Delete " + node.name, std::move(after));
    return true;
}

bool ScenarioDocument::connectNodes(const NodeRef &from, const NodeRef &to, QString *why)
{
    auto refuse = [why](const QString &reason) {
        if (why)
            *why = reason;
        return false;
    };
    if (from == to)
        return refuse("a node cannot flow into itself");
    sim::Scenario after = m_scenario;
    if (!from.isTopic() && to.isTopic()) {
        if (from.kind == NodeRef::Kind::Consumer)
            return refuse("a consumer group only reads; add a processor to write to "
                          + to.name);
        for (auto &s : after.services)
            if (s.name == from.name.toStdString()) {
                if (std::count(s.outputs.begin(), s.outputs.end(), to.name.toStdString()))
                    return refuse(from.name + " already writes to " + to.name);
                s.outputs.push_back(to.name.toStdString());
            }
    } else if (from.isTopic() && !to.isTopic()) {
        if (to.kind == NodeRef::Kind::Producer)
            return refuse("a producer does not read; connect the topic to a consumer group or "
                          "processor");
        for (auto &s : after.services)
            if (s.name == to.name.toStdString()) {
                if (std::count(s.inputs.begin(), s.inputs.end(), from.name.toStdString()))
                    return refuse(to.name + " already reads " + from.name);
                s.inputs.push_back(from.name.toStdString());
            }
    } else {
        return refuse(from.isTopic() ? "topics connect to services, not to other topics"
                                     : "services connect through a topic");
    }
    push("Connect " + from.name + " → " + to.name, std::move(after));
    return true;
}

bool ScenarioDocument::disconnectNodes(const NodeRef &from, const NodeRef &to)
{
    sim::Scenario after = m_scenario;
    bool found = false;
    for (auto &s : after.services) {
        if (!from.isTopic() && s.name == from.name.toStdString()) {
            const auto before = s.outputs.size();
            eraseValue(s.outputs, to.name.toStdString());
            found |= before != s.outputs.size();
            if (s.deadLetterTopic == to.name.toStdString()) {
                s.deadLetterTopic.clear();
                found = true;
            }
        }
        if (from.isTopic() && s.name == to.name.toStdString()) {
            const auto before = s.inputs.size();
            eraseValue(s.inputs, from.name.toStdString());
            found |= before != s.inputs.size();
        }
    }
    if (found)
        push("Disconnect " + from.name + " → " + to.name, std::move(after));
    return found;
}

bool ScenarioDocument::rename(const NodeRef &node, const QString &newName, QString *why)
{
    const QString trimmed = newName.trimmed();
    if (trimmed == node.name)
        return true;
    if (trimmed.isEmpty() || nameTaken(trimmed, node.kind)) {
        if (why)
            *why = trimmed.isEmpty() ? "a name cannot be empty" : trimmed + " is taken";
        return false;
    }
    if (node.isTopic()) {
        if (auto v = validateTopicName(trimmed.toStdString()); !v) {
            if (why)
                *why = QString::fromStdString(v.error().message);
            return false;
        }
    }
    const std::string from = node.name.toStdString(), to = trimmed.toStdString();
    sim::Scenario after = m_scenario;
    if (node.isTopic()) {
        for (auto &t : after.topics)
            if (t.spec.name == from)
                t.spec.name = to;
        for (auto &s : after.services) {
            renameValue(s.inputs, from, to);
            renameValue(s.outputs, from, to);
            if (s.deadLetterTopic == from)
                s.deadLetterTopic = to;
        }
        for (auto &f : after.faults)
            renameTarget(f.target, from, to, '/');
    } else {
        for (auto &s : after.services)
            if (s.name == from)
                s.name = to;
        for (auto &f : after.faults)
            renameTarget(f.target, from, to, '#');
    }
    // The node keeps its place under its new name.
    const std::string prefix = node.isTopic() ? "topic:" : "service:";
    if (auto xy = after.layout.extract(prefix + from))
        after.layout[prefix + to] = xy.mapped();
    push("Rename " + node.name + " to " + trimmed, std::move(after));
    return true;
}

bool ScenarioDocument::setTopic(const QString &name, const TopicSpec &spec, const QString &text)
{
    sim::Scenario after = m_scenario;
    for (auto &t : after.topics)
        if (t.spec.name == name.toStdString()) {
            const std::string keep = t.spec.name;
            t.spec = spec;
            t.spec.name = keep;
            if (after == m_scenario)
                return true;
            push(text, std::move(after));
            return true;
        }
    return false;
}

bool ScenarioDocument::setService(const QString &name, const sim::ServiceSpec &spec,
                                  const QString &text)
{
    sim::Scenario after = m_scenario;
    for (auto &s : after.services)
        if (s.name == name.toStdString()) {
            const std::string keep = s.name;
            s = spec;
            s.name = keep;
            if (after == m_scenario)
                return true;
            push(text, std::move(after));
            return true;
        }
    return false;
}

bool ScenarioDocument::setSettings(const QString &name, const QString &description,
                                   double durationS, uint64_t seed)
{
    sim::Scenario after = m_scenario;
    after.name = name.toStdString();
    after.description = description.toStdString();
    after.durationSeconds = durationS;
    after.seed = seed;
    if (after == m_scenario)
        return true;
    push("Edit scenario settings", std::move(after));
    return true;
}

} // namespace eddy::ui
