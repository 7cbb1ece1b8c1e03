// Fault timeline. The runner only reports what is active now, so the timeline keeps its own
// record of every fault it saw start and notices an end when the runner stops listing it.
#include "fault_timeline.h"

#include "simulation_controller.h"

#include <QDateTime>
#include <QHeaderView>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <set>

namespace eddy::ui {

namespace {

double wallNowS()
{
    return static_cast<double>(QDateTime::currentMSecsSinceEpoch()) / 1000.0;
}

QString seconds(const std::optional<double> &s)
{
    return s ? QString::number(*s, 'f', 1) + " s" : QString("–");
}

QString paramsText(const sim::FaultSpec &f)
{
    QStringList parts;
    for (const auto &[k, v] : f.params)
        parts << QString::fromStdString(k) + "=" + QString::number(v);
    return parts.join(' ');
}

} // namespace

FaultTimeline::FaultTimeline(SimulationController *controller, QWidget *parent)
    : QWidget(parent), m_controller(controller), m_tree(new QTreeWidget(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_tree->setHeaderLabels({"Fault", "Target", "Origin", "At", "Ended", "Status", "Recovery",
                             ""});
    m_tree->setRootIsDecorated(false);
    m_tree->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layout->addWidget(m_tree);
    connect(controller, &SimulationController::faultStarted, this,
            [this](int id, const sim::FaultSpec &f) { noteStarted(id, f); });
    connect(controller, &SimulationController::stateChanged, this, [this](auto state) {
        if (state == SimulationController::State::Running && m_controller->elapsedS() < 1) {
            m_runStartWall = wallNowS();
            // A new run: forget the previous run's faults (broker faults still on stay).
            std::erase_if(m_records, [](const FaultRecord &r) { return !r.end || r.endedWallS; });
            render();
        }
    });
}

void FaultTimeline::noteStarted(int id, const sim::FaultSpec &fault)
{
    // Instant faults (crash, restart) end as they strike, before a poll could see them.
    if (std::any_of(m_records.begin(), m_records.end(),
                    [&](const FaultRecord &r) { return r.runnerId == id; }))
        return;
    FaultRecord r;
    r.runnerId = id;
    r.spec = fault;
    r.live = true;
    r.startedS = m_controller->elapsedS();
    r.startedWallS = wallNowS();
    m_records.push_back(r);
    render();
    emit recordsChanged();
}

void FaultTimeline::setSchedule(const std::vector<sim::FaultSpec> &faults)
{
    m_schedule = faults;
    render();
}

void FaultTimeline::addManual(const sim::FaultSpec &fault, std::function<void()> end)
{
    FaultRecord r;
    r.spec = fault;
    r.live = true;
    r.startedWallS = wallNowS();
    r.end = std::move(end);
    m_records.push_back(std::move(r));
    render();
    emit recordsChanged();
}

void FaultTimeline::addRefused(const sim::FaultSpec &fault, const QString &error)
{
    FaultRecord r;
    r.spec = fault;
    r.live = true;
    r.error = error;
    r.startedWallS = wallNowS();
    m_records.push_back(r);
    render();
}

void FaultTimeline::refresh()
{
    const auto active = m_controller->activeFaults();
    const double now = m_controller->elapsedS();
    bool changed = false;
    std::set<int> activeIds;
    for (const auto &a : active) {
        activeIds.insert(a.id);
        auto it = std::find_if(m_records.begin(), m_records.end(),
                               [&](const FaultRecord &r) { return r.runnerId == a.id; });
        if (it != m_records.end())
            continue;
        FaultRecord r;
        r.runnerId = a.id;
        r.spec = a.spec;
        // Scheduled faults are those of the scenario with the same kind, target and start.
        r.live = std::none_of(m_schedule.begin(), m_schedule.end(), [&](const auto &f) {
            return f.kind == a.spec.kind && f.target == a.spec.target
                   && std::abs(f.atSeconds - a.startedS) < 1.0;
        });
        r.startedS = a.startedS;
        r.startedWallS = wallNowS() - std::max(0.0, now - a.startedS);
        m_records.push_back(r);
        changed = true;
    }
    for (auto &r : m_records)
        if (r.runnerId && !r.endedS && !activeIds.count(*r.runnerId)
            && m_controller->state() != SimulationController::State::Idle) {
            r.endedS = now;
            r.endedWallS = wallNowS();
            changed = true;
        }
    if (m_controller->state() == SimulationController::State::Idle)
        for (auto &r : m_records)
            if (r.runnerId && !r.endedS) {
                r.endedS = r.startedS;
                r.endedWallS = wallNowS();
                changed = true;
            }
    if (changed) {
        render();
        emit recordsChanged();
    }
}

void FaultTimeline::applyReport(const sim::Report &report)
{
    std::vector<bool> used(report.faults.size(), false);
    for (auto &r : m_records) {
        for (std::size_t i = 0; i < report.faults.size(); ++i) {
            const auto &o = report.faults[i];
            if (used[i] || o.kind != r.spec.kind || o.target != r.spec.target)
                continue;
            used[i] = true;
            r.recoveryS = o.recoveryS;
            r.endedS = o.endS;
            break;
        }
    }
    // Faults the polls never saw active (a scheduled instant fault) still belong on the record.
    const double runStartWall = m_runStartWall > 0 ? m_runStartWall
                                                   : wallNowS() - report.durationS;
    for (std::size_t i = 0; i < report.faults.size(); ++i) {
        if (used[i])
            continue;
        const auto &o = report.faults[i];
        FaultRecord r;
        r.spec.kind = o.kind;
        r.spec.target = o.target;
        r.live = o.live;
        r.startedS = o.startS;
        r.endedS = o.endS;
        r.startedWallS = runStartWall + o.startS;
        r.endedWallS = runStartWall + o.endS;
        r.recoveryS = o.recoveryS;
        m_records.push_back(r);
    }
    render();
    emit recordsChanged();
}

void FaultTimeline::render()
{
    m_tree->clear();
    const bool running = m_controller->state() != SimulationController::State::Idle;
    // Scheduled faults not started yet.
    for (const auto &f : m_schedule) {
        const bool started = std::any_of(m_records.begin(), m_records.end(), [&](const auto &r) {
            return !r.live && r.spec.kind == f.kind && r.spec.target == f.target
                   && r.startedS && std::abs(*r.startedS - f.atSeconds) < 1.0;
        });
        if (started)
            continue;
        auto *item = new QTreeWidgetItem(m_tree);
        item->setText(0, QString::fromStdString(f.kind) + " " + paramsText(f));
        item->setText(1, QString::fromStdString(f.target));
        item->setText(2, "scheduled");
        item->setText(3, seconds(f.atSeconds));
        item->setText(4, f.durationSeconds > 0 ? seconds(f.atSeconds + f.durationSeconds)
                                               : QString("instant"));
        item->setText(5, "pending");
    }
    for (std::size_t i = 0; i < m_records.size(); ++i) {
        const auto &r = m_records[i];
        auto *item = new QTreeWidgetItem(m_tree);
        item->setText(0, QString::fromStdString(r.spec.kind) + " " + paramsText(r.spec));
        item->setText(1, QString::fromStdString(r.spec.target));
        item->setText(2, r.end ? "live, no run" : r.live ? "live" : "scheduled");
        item->setText(3, seconds(r.startedS));
        item->setText(4, seconds(r.endedS));
        const bool manualActive = r.end && !r.endedWallS;
        const bool active = (r.runnerId && !r.endedS) || manualActive;
        item->setText(5, !r.error.isEmpty() ? "refused: " + r.error
                         : active          ? "active"
                                           : "ended");
        if (active)
            item->setForeground(5, QColor(215, 60, 60));
        item->setText(6, r.recoveryS ? seconds(r.recoveryS)
                         : active    ? QString()
                                     : QString("–"));
        if (manualActive) {
            auto *end = new QPushButton("End now", m_tree);
            connect(end, &QPushButton::clicked, this, [this, i] {
                m_records[i].end();
                m_records[i].endedWallS = wallNowS();
                // Rebuilding deletes this button; do it after the click is handled.
                QMetaObject::invokeMethod(this, [this] {
                    render();
                    emit recordsChanged();
                }, Qt::QueuedConnection);
            });
            m_tree->setItemWidget(item, 7, end);
        } else if (active && running) {
            auto *end = new QPushButton("End now", m_tree);
            const int id = *r.runnerId;
            connect(end, &QPushButton::clicked, this, [this, id] { m_controller->endFault(id); });
            m_tree->setItemWidget(item, 7, end);
        }
    }
}

} // namespace eddy::ui
