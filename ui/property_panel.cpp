// Forms for the property panel. Widgets commit on editingFinished / activation, not per key
// stroke, so one change is one undo step; the form is rebuilt from the document after each edit
// so what is shown is always what the scenario holds.
#include "property_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

namespace eddy::ui {

namespace {

QDoubleSpinBox *doubleBox(double value, double min, double max, int decimals, QWidget *parent)
{
    auto *box = new QDoubleSpinBox(parent);
    box->setRange(min, max);
    box->setDecimals(decimals);
    box->setValue(value);
    box->setKeyboardTracking(false);
    return box;
}

QSpinBox *intBox(int value, int min, int max, QWidget *parent)
{
    auto *box = new QSpinBox(parent);
    box->setRange(min, max);
    box->setValue(value);
    box->setKeyboardTracking(false);
    return box;
}

} // namespace

PropertyPanel::PropertyPanel(ScenarioDocument *document, QWidget *parent)
    : QWidget(parent), m_document(document), m_title(new QLabel(this))
{
    auto *layout = new QVBoxLayout(this);
    QFont f = m_title->font();
    f.setBold(true);
    f.setPointSizeF(f.pointSizeF() * 1.1);
    m_title->setFont(f);
    layout->addWidget(m_title);
    layout->addStretch(1);
    connect(document, &ScenarioDocument::changed, this, [this] {
        // The selected node may have been deleted (or undone away).
        if (m_ref && ((m_ref->isTopic() && !m_document->topic(m_ref->name))
                      || (!m_ref->isTopic() && !m_document->service(m_ref->name))))
            m_ref.reset();
        // Rebuilding destroys the widget whose signal is being handled; do it afterwards.
        QTimer::singleShot(0, this, [this] { rebuild(); });
    });
    rebuild();
}

void PropertyPanel::showNode(const std::optional<NodeRef> &ref)
{
    m_ref = ref;
    rebuild();
}

void PropertyPanel::rebuild()
{
    m_building = true;
    delete m_formHost;
    m_formHost = new QWidget(this);
    m_form = new QFormLayout(m_formHost);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    static_cast<QVBoxLayout *>(layout())->insertWidget(1, m_formHost);
    if (!m_ref) {
        buildScenario();
    } else if (m_ref->isTopic()) {
        if (const auto *t = m_document->topic(m_ref->name))
            buildTopic(*t);
    } else if (const auto *s = m_document->service(m_ref->name)) {
        buildService(*s);
    }
    m_building = false;
}

void PropertyPanel::buildScenario()
{
    const auto &sc = m_document->scenario();
    m_title->setText("Scenario");
    auto *name = new QLineEdit(QString::fromStdString(sc.name), m_formHost);
    auto *description = new QLineEdit(QString::fromStdString(sc.description), m_formHost);
    description->setCursorPosition(0);
    auto *duration = doubleBox(sc.durationSeconds, 1, 86400, 0, m_formHost);
    duration->setSuffix(" s");
    auto *seed = intBox(static_cast<int>(sc.seed), 0, 1 << 30, m_formHost);
    m_form->addRow("Name", name);
    m_form->addRow("Description", description);
    m_form->addRow("Duration", duration);
    m_form->addRow("Seed", seed);
    m_form->addRow("Topics", new QLabel(QString::number(sc.topics.size()), m_formHost));
    m_form->addRow("Services", new QLabel(QString::number(sc.services.size()), m_formHost));
    m_form->addRow("Scheduled faults", new QLabel(QString::number(sc.faults.size()), m_formHost));
    auto commit = [=, this] {
        if (!m_building)
            m_document->setSettings(name->text(), description->text(), duration->value(),
                                    static_cast<uint64_t>(seed->value()));
    };
    connect(name, &QLineEdit::editingFinished, this, commit);
    connect(duration, &QDoubleSpinBox::valueChanged, this, commit);
    connect(seed, &QSpinBox::valueChanged, this, commit);
    connect(description, &QLineEdit::editingFinished, this, commit);
}

void PropertyPanel::buildTopic(const TopicSpec &t)
{
    m_title->setText("Topic");
    auto *name = new QLineEdit(QString::fromStdString(t.name), m_formHost);
    auto *partitions = intBox(t.partitions, 1, 1024, m_formHost);
    auto *records = intBox(static_cast<int>(t.retention.maxRecords), 0, 1 << 30, m_formHost);
    records->setSpecialValueText("unlimited");
    auto *seconds = intBox(static_cast<int>(t.retention.maxAgeMs / 1000), 0, 1 << 30, m_formHost);
    seconds->setSpecialValueText("unlimited");
    seconds->setSuffix(" s");
    m_form->addRow("Name", name);
    m_form->addRow("Partitions", partitions);
    m_form->addRow("Retention (records)", records);
    m_form->addRow("Retention (age)", seconds);
    const QString topicName = QString::fromStdString(t.name);
    connect(name, &QLineEdit::editingFinished, this, [=, this] {
        if (m_building || name->text() == topicName)
            return;
        QString why;
        const NodeRef ref{NodeRef::Kind::Topic, topicName};
        if (m_document->rename(ref, name->text(), &why)) {
            m_ref = NodeRef{NodeRef::Kind::Topic, name->text().trimmed()};
            emit renamed(*m_ref);
        } else {
            emit message("Cannot rename: " + why);
        }
    });
    auto commit = [=, this](const QString &what) {
        if (m_building)
            return;
        TopicSpec spec = t;
        spec.partitions = partitions->value();
        spec.retention.maxRecords = records->value();
        spec.retention.maxAgeMs = static_cast<int64_t>(seconds->value()) * 1000;
        m_document->setTopic(topicName, spec, "Set " + what + " of " + topicName);
    };
    connect(partitions, &QSpinBox::valueChanged, this, [=] { commit("partitions"); });
    connect(records, &QSpinBox::valueChanged, this, [=] { commit("retention"); });
    connect(seconds, &QSpinBox::valueChanged, this, [=] { commit("retention"); });
}

void PropertyPanel::buildService(const sim::ServiceSpec &s)
{
    const bool producer = s.kind == sim::ServiceSpec::Kind::Producer;
    const bool processor = s.kind == sim::ServiceSpec::Kind::Processor;
    m_title->setText(producer ? "Producer" : processor ? "Processor" : "Consumer group");
    const QString serviceName = QString::fromStdString(s.name);
    auto *name = new QLineEdit(serviceName, m_formHost);
    auto *instances = intBox(s.instances, 1, 64, m_formHost);
    m_form->addRow("Name", name);
    m_form->addRow("Instances", instances);
    connect(name, &QLineEdit::editingFinished, this, [=, this] {
        if (m_building || name->text() == serviceName)
            return;
        QString why;
        if (m_document->rename(*m_ref, name->text(), &why)) {
            m_ref->name = name->text().trimmed();
            emit renamed(*m_ref);
        } else {
            emit message("Cannot rename: " + why);
        }
    });
    // Every other field edits a copy of the spec and commits it whole.
    auto spec = std::make_shared<sim::ServiceSpec>(s);
    auto commit = [=, this](const QString &what) {
        if (!m_building)
            m_document->setService(serviceName, *spec, "Set " + what + " of " + serviceName);
    };
    connect(instances, &QSpinBox::valueChanged, this, [=](int v) {
        spec->instances = v;
        commit("instances");
    });
    if (producer) {
        auto *rate = doubleBox(s.rate.perSecond, 0.01, 1e6, 2, m_formHost);
        rate->setSuffix(" rec/s");
        auto *kind = new QComboBox(m_formHost);
        kind->addItems({"constant", "poisson", "bursty"});
        kind->setCurrentIndex(static_cast<int>(s.rate.kind));
        auto *acks = new QComboBox(m_formHost);
        acks->addItems({"none", "leader", "durable"});
        acks->setCurrentText(QString::fromStdString(s.acks));
        auto *keys = intBox(static_cast<int>(s.keys.cardinality), 1, 1 << 30, m_formHost);
        auto *idempotent = new QCheckBox("retries stored once", m_formHost);
        idempotent->setChecked(s.idempotent);
        auto *type = new QLineEdit(s.events.empty() ? QString()
                                                    : QString::fromStdString(s.events[0].type),
                                   m_formHost);
        m_form->addRow("Rate per instance", rate);
        m_form->addRow("Arrivals", kind);
        m_form->addRow("Acks", acks);
        m_form->addRow("Idempotent", idempotent);
        m_form->addRow("Distinct keys", keys);
        m_form->addRow("Event type", type);
        m_form->addRow("Writes to", new QLabel(QString::fromStdString([&] {
                                                   std::string out;
                                                   for (const auto &o : s.outputs)
                                                       out += (out.empty() ? "" : ", ") + o;
                                                   return out.empty() ? "(connect a topic)" : out;
                                               }()),
                                               m_formHost));
        connect(rate, &QDoubleSpinBox::valueChanged, this, [=](double v) {
            spec->rate.perSecond = v;
            commit("rate");
        });
        connect(kind, &QComboBox::activated, this, [=](int i) {
            spec->rate.kind = static_cast<sim::RateSpec::Kind>(i);
            commit("arrivals");
        });
        connect(acks, &QComboBox::activated, this, [=] {
            spec->acks = acks->currentText().toStdString();
            commit("acks");
        });
        connect(idempotent, &QCheckBox::toggled, this, [=](bool on) {
            spec->idempotent = on;
            commit("idempotence");
        });
        connect(keys, &QSpinBox::valueChanged, this, [=](int v) {
            spec->keys.cardinality = v;
            commit("keys");
        });
        connect(type, &QLineEdit::editingFinished, this, [=] {
            if (spec->events.empty())
                spec->events.push_back({});
            spec->events[0].type = type->text().toStdString();
            commit("event type");
        });
        return;
    }
    auto *group = new QLineEdit(QString::fromStdString(s.group), m_formHost);
    auto *processing = doubleBox(s.processingMs.value, 0, 60000, 1, m_formHost);
    processing->setSuffix(" ms");
    auto *commitMode = new QComboBox(m_formHost);
    commitMode->addItems({"manual", "auto"});
    commitMode->setCurrentText(QString::fromStdString(s.commitMode));
    auto *errors = doubleBox(s.errorRate, 0, 1, 3, m_formHost);
    auto *attempts = intBox(s.retry.maxAttempts, 1, 100, m_formHost);
    auto *dlq = new QComboBox(m_formHost);
    dlq->addItem("(none: drop and count)");
    for (const auto &t : m_document->scenario().topics)
        dlq->addItem(QString::fromStdString(t.spec.name));
    dlq->setCurrentText(s.deadLetterTopic.empty() ? dlq->itemText(0)
                                                  : QString::fromStdString(s.deadLetterTopic));
    auto *session = intBox(s.sessionTimeoutMs, 100, 600000, m_formHost);
    session->setSuffix(" ms");
    m_form->addRow("Group", group);
    m_form->addRow("Processing time", processing);
    m_form->addRow("Commit", commitMode);
    m_form->addRow("Error rate", errors);
    m_form->addRow("Attempts", attempts);
    m_form->addRow("Dead-letter topic", dlq);
    m_form->addRow("Session timeout", session);
    connect(group, &QLineEdit::editingFinished, this, [=] {
        spec->group = group->text().trimmed().toStdString();
        commit("group");
    });
    connect(processing, &QDoubleSpinBox::valueChanged, this, [=](double v) {
        spec->processingMs.kind = sim::Distribution::Kind::Constant;
        spec->processingMs.value = v;
        commit("processing time");
    });
    connect(commitMode, &QComboBox::activated, this, [=] {
        spec->commitMode = commitMode->currentText().toStdString();
        commit("commit mode");
    });
    connect(errors, &QDoubleSpinBox::valueChanged, this, [=](double v) {
        spec->errorRate = v;
        commit("error rate");
    });
    connect(attempts, &QSpinBox::valueChanged, this, [=](int v) {
        spec->retry.maxAttempts = v;
        commit("attempts");
    });
    connect(dlq, &QComboBox::activated, this, [=](int i) {
        spec->deadLetterTopic = i == 0 ? std::string() : dlq->currentText().toStdString();
        commit("dead-letter topic");
    });
    connect(session, &QSpinBox::valueChanged, this, [=](int v) {
        spec->sessionTimeoutMs = v;
        commit("session timeout");
    });
}

} // namespace eddy::ui
