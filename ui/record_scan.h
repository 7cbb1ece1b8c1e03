#pragma once

#include "record.h"
#include "record_format.h"

#include <QObject>
#include <QString>

#include <cstdint>
#include <vector>

namespace eddy::ui {

class BrokerBridge;

// A filter over a whole partition without loading it: walks [from, to) in blocks of kBlock
// records, one `fetch` at a time on a bridge worker, tests each record there and hands only
// the matches to the GUI thread. Stops at the end, at kMaxMatches matches, on an error, or when
// cancelled.
class RecordScan : public QObject
{
    Q_OBJECT

public:
    static constexpr int kBlock = 1000;
    static constexpr int kMaxMatches = 10000;

    explicit RecordScan(BrokerBridge *bridge, QObject *parent = nullptr);

    // Starts scanning topic/partition over [from, to) for text in field; a running scan is
    // cancelled first.
    void start(const QString &topic, int partition, const QString &text, FilterField field,
               int64_t from, int64_t to);
    // Stops after the block in flight; its matches are dropped. finished() is emitted.
    void cancel();
    bool isRunning() const { return m_running; }
    int64_t scanned() const { return m_scanned; }
    int64_t total() const { return m_to - m_from; }
    int matches() const { return m_matches; }

signals:
    void matchesFound(const std::vector<eddy::Record> &records);
    // scanned of total offsets examined so far.
    void progress(qint64 scanned, qint64 total);
    // The scan ended; message says why when it was not simply the end of the range ("" then).
    void finished(const QString &message);

private:
    void next();

    BrokerBridge *m_bridge;
    QString m_topic;
    int m_partition = 0;
    QString m_text;
    FilterField m_field = FilterField::Any;
    int64_t m_from = 0;
    int64_t m_to = 0;
    int64_t m_position = 0;
    int64_t m_scanned = 0;
    int m_matches = 0;
    int64_t m_generation = 0; // bumped by start/cancel so replies of an older scan are dropped
    bool m_running = false;
};

} // namespace eddy::ui
