// The produce dialog builds one `produce` request from its fields and sends it on a bridge
// worker; the answer (or error) comes back to the dialog's result line. An empty key box means
// no key; a partition of -1 ("auto") leaves the choice to the broker's partitioner.
#include "produce_dialog.h"

#include "broker_bridge.h"
#include "record_format.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>

namespace eddy::ui {

namespace {

struct ProduceOutcome {
    int partition = -1;
    int64_t offset = -1;
    QString error;
};

} // namespace

ProduceDialog::ProduceDialog(BrokerBridge *bridge, const QStringList &topics,
                             const QString &topic, QWidget *parent)
    : QDialog(parent)
    , m_bridge(bridge)
    , m_topic(new QComboBox(this))
    , m_partition(new QSpinBox(this))
    , m_key(new QLineEdit(this))
    , m_headers(new QPlainTextEdit(this))
    , m_value(new QPlainTextEdit(this))
    , m_produceButton(new QPushButton("Produce", this))
    , m_result(new QLabel(this))
{
    setWindowTitle("Produce a message");
    m_topic->setObjectName("topic");
    m_topic->setEditable(true);
    m_topic->addItems(topics);
    m_topic->setCurrentText(topic);
    m_partition->setObjectName("partition");
    m_partition->setRange(-1, 1 << 20);
    m_partition->setSpecialValueText("auto");
    m_partition->setValue(-1);
    m_key->setObjectName("key");
    m_key->setPlaceholderText("no key");
    m_headers->setObjectName("headers");
    m_headers->setPlaceholderText("one key=value per line");
    m_headers->setMaximumHeight(80);
    m_value->setObjectName("value");
    m_value->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_value->setPlaceholderText("{\"type\": \"order.created\"}");
    m_result->setObjectName("result");
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    buttons->addButton(m_produceButton, QDialogButtonBox::ActionRole);
    m_produceButton->setDefault(true);

    auto *form = new QFormLayout(this);
    form->addRow("Topic", m_topic);
    form->addRow("Partition", m_partition);
    form->addRow("Key", m_key);
    form->addRow("Headers", m_headers);
    form->addRow("Value", m_value);
    form->addRow(m_result);
    form->addRow(buttons);
    resize(520, 420);

    connect(m_produceButton, &QPushButton::clicked, this, &ProduceDialog::produce);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

QString ProduceDialog::resultText() const
{
    return m_result->text();
}

void ProduceDialog::produce()
{
    const QString topic = m_topic->currentText().trimmed();
    if (topic.isEmpty()) {
        showResult("choose a topic", true);
        return;
    }
    auto headers = parseHeaderLines(m_headers->toPlainText());
    if (!headers) {
        showResult(errorMessage(headers.error()), true);
        return;
    }
    Record record;
    if (!m_key->text().isEmpty())
        record.key = m_key->text().toStdString();
    record.headers = std::move(*headers);
    record.value = m_value->toPlainText().toStdString();
    nlohmann::json request = recordToProduceJson(record);
    request["op"] = "produce";
    request["topic"] = topic.toStdString();
    if (m_partition->value() >= 0)
        request["partition"] = m_partition->value();
    m_produceButton->setEnabled(false);
    showResult("producing…", false);
    m_bridge->submit<ProduceOutcome>(
        this,
        [request](BrokerSession &s) {
            ProduceOutcome out;
            auto reply = s.connection->call(request, 15000);
            if (!reply) {
                out.error = errorMessage(reply.error());
                return out;
            }
            out.partition = reply->value("partition", -1);
            out.offset = reply->value("offset", int64_t{-1});
            return out;
        },
        [this, topic](ProduceOutcome outcome) {
            m_produceButton->setEnabled(true);
            if (outcome.error.isEmpty())
                showResult(QString("written to %1, partition %2, offset %L3")
                               .arg(topic)
                               .arg(outcome.partition)
                               .arg(outcome.offset),
                           false);
            else
                showResult(outcome.error, true);
            emit produced(outcome.partition, outcome.offset, outcome.error);
        });
}

void ProduceDialog::showResult(const QString &text, bool error)
{
    QPalette palette = m_result->palette();
    // Error red is semantic and reads on both themes; success uses the theme's text colour.
    const QColor normal = this->palette().color(QPalette::WindowText);
    palette.setColor(QPalette::WindowText, error ? QColor(0xd9, 0x3f, 0x3f) : normal);
    m_result->setPalette(palette);
    m_result->setText(text);
}

} // namespace eddy::ui
