// Main window wiring: the bridge's snapshotUpdated signal drives every view, so the window
// shows only what the engine measured.
#include "main_window.h"

#include "broker_bridge.h"
#include "throughput_chart.h"

#include <QDockWidget>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QStatusBar>
#include <QTableWidget>

namespace eddy::ui {

namespace {

QString formatRate(double perSec)
{
    return QLocale().toString(perSec, 'f', 0);
}

QString formatBytes(int64_t bytes)
{
    return QLocale().formattedDataSize(bytes);
}

} // namespace

MainWindow::MainWindow(BrokerBridge *bridge, QWidget *parent)
    : QMainWindow(parent)
    , m_bridge(bridge)
    , m_topics(new QTableWidget(this))
    , m_chart(new ThroughputChart(this))
    , m_statusData(new QLabel(this))
    , m_statusRates(new QLabel(this))
    , m_statusTopics(new QLabel(this))
    , m_statusClients(new QLabel(this))
{
    setWindowTitle("Eddy Studio");
    resize(1200, 760);

    const QStringList headers{"Topic",     "Partitions", "Records", "Size",
                              "In rec/s",  "Out rec/s",  "p99 latency"};
    m_topics->setColumnCount(static_cast<int>(headers.size()));
    m_topics->setHorizontalHeaderLabels(headers);
    m_topics->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_topics->verticalHeader()->setVisible(false);
    m_topics->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_topics->setSelectionBehavior(QAbstractItemView::SelectRows);
    setCentralWidget(m_topics);

    auto *chartDock = new QDockWidget("Throughput", this);
    chartDock->setObjectName("throughputDock");
    chartDock->setWidget(m_chart);
    m_chart->setMinimumHeight(240);
    addDockWidget(Qt::BottomDockWidgetArea, chartDock);

    statusBar()->addWidget(m_statusData, 1);
    statusBar()->addPermanentWidget(m_statusClients);
    statusBar()->addPermanentWidget(m_statusTopics);
    statusBar()->addPermanentWidget(m_statusRates);
    QString where = bridge->isOpen() ? "data: " + bridge->dataDir()
                                     : "broker not running: " + bridge->lastError();
    if (!bridge->requestUrls().isEmpty())
        where += " · requests " + bridge->requestUrls().join(", ");
    if (!bridge->publishUrls().isEmpty())
        where += " · live " + bridge->publishUrls().join(", ");
    if (bridge->isOpen() && bridge->requestUrls().isEmpty() && !bridge->lastError().isEmpty())
        where += " · " + bridge->lastError();
    m_statusData->setText(where);

    connect(bridge, &BrokerBridge::snapshotUpdated, this,
            [this](const MetricsSnapshotPtr &snap) { showSnapshot(*snap); });
    if (auto snap = bridge->snapshot())
        showSnapshot(*snap);
}

void MainWindow::showSnapshot(const MetricsSnapshot &snapshot)
{
    m_topics->setRowCount(static_cast<int>(snapshot.topics.size()));
    int row = 0;
    for (const auto &t : snapshot.topics) {
        const QStringList cells{QString::fromStdString(t.name),
                                QString::number(t.partitions.size()),
                                QLocale().toString(static_cast<qlonglong>(t.records)),
                                formatBytes(t.sizeBytes),
                                formatRate(t.rates.recordsInPerSec),
                                formatRate(t.rates.recordsOutPerSec),
                                t.latency.count ? QString::number(t.latency.p99Us / 1000.0, 'f', 1)
                                                      + " ms"
                                                : QString("-")};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = m_topics->item(row, c);
            if (!item) {
                item = new QTableWidgetItem;
                if (c > 0)
                    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_topics->setItem(row, c, item);
            }
            item->setText(cells[c]);
        }
        ++row;
    }
    m_chart->addSnapshot(snapshot);
    m_statusClients->setText(QString("clients %1").arg(m_bridge->clients().size()));
    m_statusTopics->setText(QString("topics %1 · groups %2")
                                .arg(snapshot.topics.size())
                                .arg(snapshot.groups.size()));
    m_statusRates->setText(QString("in %1 rec/s · out %2 rec/s")
                               .arg(formatRate(snapshot.broker.recordsInPerSec),
                                    formatRate(snapshot.broker.recordsOutPerSec)));
}

} // namespace eddy::ui
