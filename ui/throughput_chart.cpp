// Broker throughput over the last minute. Old points are dropped with removeBefore and the
// x axis follows the newest point (right-aligned), replotting on the queued path so a burst of
// snapshots costs one repaint.
#include "throughput_chart.h"

#include <qcustomplot.h>

#include <QVBoxLayout>

namespace eddy::ui {

ThroughputChart::ThroughputChart(QWidget *parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);

    auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
    ticker->setDateTimeFormat("hh:mm:ss");
    m_plot->xAxis->setTicker(ticker);
    m_plot->yAxis->setLabel("records/s");
    m_in = m_plot->addGraph();
    m_in->setName("in");
    m_in->setPen(QPen(QColor(0x2e, 0x86, 0xde), 2));
    m_out = m_plot->addGraph();
    m_out->setName("out");
    m_out->setPen(QPen(QColor(0x27, 0xae, 0x60), 2));
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    m_plot->yAxis->setRange(0, m_maxSeen);
}

void ThroughputChart::addSnapshot(const MetricsSnapshot &snapshot)
{
    const double t = static_cast<double>(snapshot.timestampMs) / 1000.0;
    m_in->addData(t, snapshot.broker.recordsInPerSec);
    m_out->addData(t, snapshot.broker.recordsOutPerSec);
    m_in->data()->removeBefore(t - m_windowSeconds);
    m_out->data()->removeBefore(t - m_windowSeconds);
    m_maxSeen = std::max({m_maxSeen, snapshot.broker.recordsInPerSec * 1.1,
                          snapshot.broker.recordsOutPerSec * 1.1});
    m_plot->xAxis->setRange(t, m_windowSeconds, Qt::AlignRight);
    m_plot->yAxis->setRange(0, m_maxSeen);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace eddy::ui
