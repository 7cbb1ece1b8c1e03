// The studio's charts. Each series is a QCPGraph keyed by name ("in orders", "lag billing");
// snapshots append with addData, points older than the longest window are dropped with
// removeBefore, the x axis follows the newest point right-aligned and replots go through the
// queued path so a burst of snapshots costs one repaint.
#include "charts_panel.h"

#include "broker_bridge.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QTextStream>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>

namespace eddy::ui {

namespace {

constexpr double kKeepS = 3600 + 60; // the longest window plus a margin

QColor seriesColor(int index)
{
    static const QColor colors[] = {QColor(46, 134, 222), QColor(39, 174, 96),
                                    QColor(230, 126, 34), QColor(155, 89, 182),
                                    QColor(231, 76, 60),  QColor(26, 188, 156),
                                    QColor(241, 196, 15), QColor(127, 140, 141)};
    return colors[index % 8];
}

const char *chartTitle(ChartsPanel::Chart c)
{
    switch (c) {
    case ChartsPanel::Chart::Throughput: return "records/s";
    case ChartsPanel::Chart::Lag: return "lag (records)";
    case ChartsPanel::Chart::Latency: return "produce→consume (ms)";
    }
    return "";
}

} // namespace

ChartsPanel::ChartsPanel(BrokerBridge *bridge, QWidget *parent)
    : QWidget(parent)
    , m_bridge(bridge)
    , m_window(new QComboBox(this))
    , m_perPartition(new QCheckBox("Lag per partition", this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel("Window", this));
    m_window->addItem("Last 1 min", 60);
    m_window->addItem("Last 5 min", 300);
    m_window->addItem("Last 1 h", 3600);
    bar->addWidget(m_window);
    bar->addWidget(m_perPartition);
    bar->addStretch(1);
    auto *exportButton = new QToolButton(this);
    exportButton->setText("Export");
    exportButton->setPopupMode(QToolButton::InstantPopup);
    auto *menu = new QMenu(exportButton);
    for (auto c : {Chart::Throughput, Chart::Lag, Chart::Latency}) {
        const QString name = chartTitle(c);
        menu->addAction("PNG of " + name + "…", this, [this, c] { askExport(c, true); });
        menu->addAction("CSV of " + name + "…", this, [this, c] { askExport(c, false); });
    }
    exportButton->setMenu(menu);
    bar->addWidget(exportButton);
    layout->addLayout(bar);

    auto *plots = new QHBoxLayout;
    for (int i = 0; i < 3; ++i) {
        auto *plot = new QCustomPlot(this);
        m_plots[i] = plot;
        auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
        ticker->setDateTimeFormat("hh:mm:ss");
        plot->xAxis->setTicker(ticker);
        plot->yAxis->setLabel(chartTitle(static_cast<Chart>(i)));
        plot->legend->setVisible(true);
        plot->legend->setFont(QFont(font().family(), 7));
        // Several short columns instead of one tall list, so the legend covers little data.
        plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
        plot->legend->setWrap(4);
        plot->legend->setRowSpacing(0);
        plot->legend->setColumnSpacing(4);
        plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
        plot->setMinimumSize(220, 150);
        // Frame time matters more than smooth curves at 10 Hz: straight polylines, and no
        // antialiasing of the data lines (axes and text keep it).
        plot->setPlottingHint(QCP::phFastPolylines, true);
        plot->setNotAntialiasedElements(QCP::aePlottables | QCP::aeItems);
        plot->setMouseTracking(true);
        connect(plot, &QCustomPlot::mouseMove, this,
                [this, plot](QMouseEvent *e) { showHover(plot, e->position()); });
        plots->addWidget(plot, 1);
    }
    layout->addLayout(plots, 1);
    connect(m_window, &QComboBox::activated, this,
            [this] { setWindowSeconds(m_window->currentData().toInt()); });
    connect(m_perPartition, &QCheckBox::toggled, this, [this] {
        // Switching views drops the other kind of lag series; the next snapshots refill it.
        m_plots[1]->clearGraphs();
        m_series[1].clear();
        replotAll();
    });
    applyTheme();
}

QCustomPlot *ChartsPanel::plot(Chart chart) const
{
    return m_plots[static_cast<int>(chart)];
}

QCPGraph *ChartsPanel::series(Chart chart, const QString &name, bool dashed)
{
    const int c = static_cast<int>(chart);
    if (auto *g = m_series[c].value(name))
        return g;
    auto *g = m_plots[c]->addGraph();
    g->setName(name);
    g->setAdaptiveSampling(true);
    // In and out of one topic share a colour (out is dashed).
    const int index = static_cast<int>(m_series[c].size());
    QPen pen(seriesColor(chart == Chart::Throughput ? index / 2 : index), 1.6);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    g->setPen(pen);
    m_series[c].insert(name, g);
    return g;
}

void ChartsPanel::addSnapshot(const MetricsSnapshot &s)
{
    const double t = static_cast<double>(s.timestampMs) / 1000.0;
    if (t <= m_lastT)
        return;
    if (m_firstLiveT == 0) {
        m_firstLiveT = t;
        loadHistory();
    }
    m_lastT = t;
    for (const auto &topic : s.topics) {
        const QString name = QString::fromStdString(topic.name);
        if (name.startsWith("__"))
            continue; // internal topics
        series(Chart::Throughput, "in " + name)->addData(t, topic.rates.recordsInPerSec);
        series(Chart::Throughput, "out " + name, true)->addData(t, topic.rates.recordsOutPerSec);
    }
    for (const auto &g : s.groups) {
        const QString name = QString::fromStdString(g.name);
        if (m_perPartition->isChecked()) {
            for (const auto &p : g.partitions)
                series(Chart::Lag, name + " " + QString::fromStdString(p.topic) + "/"
                                       + QString::number(p.partition))
                    ->addData(t, static_cast<double>(p.lag));
        } else {
            series(Chart::Lag, name)->addData(t, static_cast<double>(g.totalLag));
        }
    }
    if (s.latency.count > 0) {
        series(Chart::Latency, "p50")->addData(t, static_cast<double>(s.latency.p50Us) / 1000.0);
        series(Chart::Latency, "p99")->addData(t, static_cast<double>(s.latency.p99Us) / 1000.0);
    }
    for (auto *p : m_plots)
        for (int i = 0; i < p->graphCount(); ++i)
            p->graph(i)->data()->removeBefore(t - kKeepS);
    replotAll();
}

void ChartsPanel::loadHistory()
{
    // Fill the hour before the first live point from the broker's persisted history, so a
    // freshly opened studio shows what happened before it started.
    if (!m_bridge || !m_bridge->isOpen() || m_firstLiveT == 0)
        return;
    const qint64 toMs = static_cast<qint64>(m_firstLiveT * 1000) - 1;
    const qint64 fromMs = toMs - 3600 * 1000;
    if (m_historyLoadedFrom != 0 && m_historyLoadedFrom <= fromMs / 1000.0)
        return;
    m_historyLoadedFrom = fromMs / 1000.0;
    auto snap = m_bridge->snapshot();
    if (!snap)
        return;
    for (const auto &topic : snap->topics) {
        const QString name = QString::fromStdString(topic.name);
        if (name.startsWith("__"))
            continue;
        m_bridge->requestHistory(
            this, "topic/" + name, fromMs, toMs,
            [this, name](Result<std::vector<HistoryPoint>> points) {
                if (!points)
                    return;
                for (const auto &p : *points) {
                    const double t = static_cast<double>(p.timestampMs) / 1000.0;
                    series(Chart::Throughput, "in " + name)->addData(t, p.recordsInPerSec);
                    series(Chart::Throughput, "out " + name, true)
                        ->addData(t, p.recordsOutPerSec);
                }
                replotAll();
            });
    }
    for (const auto &g : snap->groups) {
        const QString name = QString::fromStdString(g.name);
        m_bridge->requestHistory(this, "group/" + name, fromMs, toMs,
                                 [this, name](Result<std::vector<HistoryPoint>> points) {
                                     if (!points || m_perPartition->isChecked())
                                         return;
                                     for (const auto &p : *points)
                                         series(Chart::Lag, name)->addData(
                                             static_cast<double>(p.timestampMs) / 1000.0,
                                             static_cast<double>(p.lag));
                                     replotAll();
                                 });
    }
    m_bridge->requestHistory(this, "broker", fromMs, toMs,
                             [this](Result<std::vector<HistoryPoint>> points) {
                                 if (!points)
                                     return;
                                 for (const auto &p : *points) {
                                     if (p.p50Us == 0 && p.p99Us == 0)
                                         continue;
                                     const double t = static_cast<double>(p.timestampMs) / 1000.0;
                                     series(Chart::Latency, "p50")->addData(t, p.p50Us / 1000.0);
                                     series(Chart::Latency, "p99")->addData(t, p.p99Us / 1000.0);
                                 }
                                 replotAll();
                             });
}

void ChartsPanel::setFaultBands(const std::vector<FaultBand> &bands)
{
    m_bands = bands;
    replotAll();
}

void ChartsPanel::setWindowSeconds(int seconds)
{
    m_windowS = seconds;
    const int index = m_window->findData(seconds);
    if (index >= 0)
        m_window->setCurrentIndex(index);
    replotAll();
}

void ChartsPanel::replotAll()
{
    const double now = m_lastT > 0 ? m_lastT : QDateTime::currentMSecsSinceEpoch() / 1000.0;
    for (int c = 0; c < 3; ++c) {
        auto *p = m_plots[c];
        p->xAxis->setRange(now, m_windowS, Qt::AlignRight);
        // y from the visible data only, so an old spike does not flatten the current view.
        bool found = false;
        QCPRange range(0, 1);
        for (int i = 0; i < p->graphCount(); ++i) {
            bool ok = false;
            const QCPRange r = p->graph(i)->data()->valueRange(ok, QCP::sdBoth, p->xAxis->range());
            if (ok) {
                range.upper = found ? std::max(range.upper, r.upper) : std::max(1.0, r.upper);
                found = true;
            }
        }
        p->yAxis->setRange(0, range.upper * 1.15);
        // Fault bands: rebuilt each replot (there are few), spanning the whole height.
        p->clearItems();
        for (const auto &band : m_bands) {
            const double end = band.endS.value_or(now);
            if (end < now - m_windowS)
                continue;
            auto *rect = new QCPItemRect(p);
            rect->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
            rect->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
            rect->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
            rect->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
            rect->topLeft->setCoords(band.startS, 0);
            rect->bottomRight->setCoords(std::max(end, band.startS + 0.2), 1);
            rect->setPen(Qt::NoPen);
            rect->setBrush(QColor(231, 76, 60, 45));
            auto *text = new QCPItemText(p);
            text->position->setTypeX(QCPItemPosition::ptPlotCoords);
            text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            text->position->setCoords(band.startS, 0.02);
            text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            QString label = band.label;
            if (band.recoveryS)
                label += QString("\nrecovered in %1 s").arg(*band.recoveryS, 0, 'f', 1);
            else if (!band.endS)
                label += "\nactive";
            text->setText(label);
            text->setFont(QFont(font().family(), 7));
            text->setColor(QColor(200, 60, 50));
        }
        p->replot(QCustomPlot::rpQueuedReplot);
    }
}

int ChartsPanel::pointCount(Chart chart) const
{
    int n = 0;
    auto *p = plot(chart);
    for (int i = 0; i < p->graphCount(); ++i)
        n += p->graph(i)->dataCount();
    return n;
}

QStringList ChartsPanel::seriesNames(Chart chart) const
{
    return m_series[static_cast<int>(chart)].keys();
}

bool ChartsPanel::exportCsv(Chart chart, const QString &path, QString *error) const
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    QTextStream out(&file);
    out << "time_ms,series,value\n";
    auto *p = plot(chart);
    for (int i = 0; i < p->graphCount(); ++i) {
        auto *g = p->graph(i);
        QString name = g->name();
        name.replace('"', "\"\"");
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
            out << static_cast<qint64>(it->key * 1000) << ",\"" << name << "\","
                << QString::number(it->value, 'g', 10) << "\n";
    }
    out.flush();
    if (file.error() != QFile::NoError) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

bool ChartsPanel::exportPng(Chart chart, const QString &path) const
{
    return plot(chart)->savePng(path, 1000, 500);
}

void ChartsPanel::askExport(Chart chart, bool png)
{
    const QString path = QFileDialog::getSaveFileName(
        this, png ? "Export chart as PNG" : "Export chart data as CSV", QString(),
        png ? "PNG image (*.png)" : "CSV (*.csv)");
    if (path.isEmpty())
        return;
    QString error;
    const bool ok = png ? exportPng(chart, path) : exportCsv(chart, path, &error);
    if (!ok)
        QToolTip::showText(QCursor::pos(), "Export failed: " + (error.isEmpty() ? path : error));
}

void ChartsPanel::showHover(QCustomPlot *p, const QPointF &pos)
{
    const double x = p->xAxis->pixelToCoord(pos.x());
    QStringList lines{QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(x * 1000))
                          .toString("hh:mm:ss.z")};
    for (int i = 0; i < p->graphCount(); ++i) {
        auto *g = p->graph(i);
        auto it = g->data()->findBegin(x, false);
        if (it == g->data()->constEnd())
            continue;
        lines << QString("%1: %2").arg(g->name()).arg(it->value, 0, 'f', 1);
    }
    QToolTip::showText(p->mapToGlobal(pos.toPoint()), lines.join('\n'), p);
}

void ChartsPanel::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange)
        applyTheme();
    QWidget::changeEvent(event);
}

void ChartsPanel::applyTheme()
{
    const QPalette pal = palette();
    for (auto *p : m_plots) {
        p->setBackground(pal.color(QPalette::Base));
        QColor legendBrush = pal.color(QPalette::Base);
        legendBrush.setAlpha(200);
        p->legend->setBrush(legendBrush);
        p->legend->setTextColor(pal.color(QPalette::Text));
        p->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
        for (auto *axis : {p->xAxis, p->yAxis}) {
            axis->setBasePen(QPen(pal.color(QPalette::Text)));
            axis->setTickPen(QPen(pal.color(QPalette::Text)));
            axis->setSubTickPen(QPen(pal.color(QPalette::Text)));
            axis->setTickLabelColor(pal.color(QPalette::Text));
            axis->setLabelColor(pal.color(QPalette::Text));
            axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
        }
        p->replot(QCustomPlot::rpQueuedReplot);
    }
}

} // namespace eddy::ui
