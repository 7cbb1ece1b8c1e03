#pragma once

#include <QDialog>
#include <QStringList>

#include <cstdint>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace eddy::ui {

class BrokerBridge;

// Produces one message: topic, partition (or automatic: by key hash, else round-robin), key,
// headers as key=value lines, and value. The dialog stays open and shows where the record
// landed (partition and offset) or the broker's error, so several messages can be sent in a row.
class ProduceDialog : public QDialog
{
    Q_OBJECT

public:
    ProduceDialog(BrokerBridge *bridge, const QStringList &topics, const QString &topic,
                  QWidget *parent = nullptr);

    // Sends the message as the fields describe it (the Produce button does this).
    void produce();
    // The outcome line: "partition P, offset O" or the error.
    QString resultText() const;

signals:
    // The broker answered: partition and offset of the record, or error set (then both -1).
    void produced(int partition, qint64 offset, const QString &error);

private:
    void showResult(const QString &text, bool error);

    BrokerBridge *m_bridge;
    QComboBox *m_topic;
    QSpinBox *m_partition;
    QLineEdit *m_key;
    QPlainTextEdit *m_headers;
    QPlainTextEdit *m_value;
    QPushButton *m_produceButton;
    QLabel *m_result;
};

} // namespace eddy::ui
