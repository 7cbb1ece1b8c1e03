// The studio's charts. Each series is a QCPGraph keyed by name ("in orders", "lag billing")
// whose data container is shared with the bridge's latest chart frame: the poll thread keeps the
// history and thins the visible window, so the GUI thread does no per-point work at all. The x
// axis follows the newest point right-aligned, the y axis the frame's highest visible value, and
// replots go through the queued path (one per chart per frame, 10 Hz each, and none while the
// charts are hidden) so a burst of frames costs one repaint.
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
#include <QSet>
#include <QTextStream>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <cmath>

namespace eddy::ui {

namespace {

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
    // The next frame (within a poll round) brings the other kind of lag series.
    connect(m_perPartition, &QCheckBox::toggled, this, [this] { pushView(); });
    applyTheme();
    connect(this, &ChartsPanel::csvExported, this, [](const QString &, const QString &error) {
        if (!error.isEmpty())
            QToolTip::showText(QCursor::pos(), "Export failed: " + error);
    });
    if (m_bridge) {
        connect(m_bridge, &BrokerBridge::chartFrameUpdated, this, &ChartsPanel::showFrame);
        pushView();
        if (auto frame = m_bridge->chartFrame())
            showFrame(frame);
    }
}

QCustomPlot *ChartsPanel::plot(Chart chart) const
{
    return m_plots[static_cast<int>(chart)];
}

QCPGraph *ChartsPanel::series(Chart chart, const QString &name, bool dashed, int index)
{
    const int c = static_cast<int>(chart);
    if (auto *g = m_series[c].value(name))
        return g;
    auto *g = m_plots[c]->addGraph();
    g->setName(name);
    g->setAdaptiveSampling(true);
    // In and out of one topic share a colour (out is dashed); the index is the series' place in
    // the frame, which is the order series first appeared in, so colours stay put.
    QPen pen(seriesColor(chart == Chart::Throughput ? index / 2 : index), 1.6);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    g->setPen(pen);
    m_series[c].insert(name, g);
    return g;
}

void ChartsPanel::showFrame(const ChartFramePtr &frame)
{
    if (!frame)
        return;
    m_frame = frame;
    for (int c = 0; c < kChartCount; ++c) {
        QSet<QString> present;
        const auto &list = frame->series[c];
        for (int i = 0; i < static_cast<int>(list.size()); ++i) {
            const auto &s = list[static_cast<std::size_t>(i)];
            series(static_cast<Chart>(c), s.name, s.dashed, i)->setData(s.data);
            present.insert(s.name);
        }
        for (auto it = m_series[c].begin(); it != m_series[c].end();) {
            if (present.contains(it.key())) {
                ++it;
                continue;
            }
            m_plots[c]->removeGraph(it.value());
            it = m_series[c].erase(it);
        }
    }
    replotAll();
    // The axis rects are laid out by replots: a resized plot asks for its new width here.
    pushView();
}

void ChartsPanel::pushView()
{
    if (!m_bridge)
        return;
    // About one bucket per pixel column of the widest plot (before the first layout: a guess).
    int columns = 0;
    for (auto *p : m_plots)
        columns = std::max(columns, p->axisRect()->width());
    m_bridge->setChartView(m_windowS, m_perPartition->isChecked(), columns > 50 ? columns : 600);
}

void ChartsPanel::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    // Hidden charts were not replotted; catch up with the latest frame.
    replotAll();
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
    pushView();
    replotAll();
}

void ChartsPanel::replotAll()
{
    const double now = m_frame && m_frame->nowS > 0
                           ? m_frame->nowS
                           : QDateTime::currentMSecsSinceEpoch() / 1000.0;
    for (int c = 0; c < 3; ++c) {
        auto *p = m_plots[c];
        p->xAxis->setRange(now, m_windowS, Qt::AlignRight);
        // y from the visible data only (the frame's), so an old spike does not flatten the
        // current view.
        const double upper = m_frame ? std::max(1.0, m_frame->maxValue[c]) : 1.0;
        p->yAxis->setRange(0, upper * 1.15);
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
        // A plot nobody can see is not replotted: behind another dock tab it stays "visible"
        // with an empty visible region. The next frame (<= 100 ms) or showEvent catches up.
        if (p->isVisible() && !p->visibleRegion().isEmpty())
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

void ChartsPanel::exportCsv(Chart chart, const QString &path)
{
    const auto fail = [this, path](const QString &error) {
        // Queued, so callers see the same order of events whether or not a bridge answers.
        QMetaObject::invokeMethod(
            this, [this, path, error] { emit csvExported(path, error); }, Qt::QueuedConnection);
    };
    if (!m_bridge) {
        fail("no broker");
        return;
    }
    if (!m_frame) {
        fail("no chart data yet");
        return;
    }
    // The window as plotted now; the poll thread has every sample of it (the plot only thinned
    // copies), and the answer comes back queued, so the GUI thread never waits for the file.
    const double toS = m_frame->nowS;
    m_bridge->requestFullChartFrame(
        toS - m_windowS, toS, m_frame->perPartition, this, [this, chart, path](ChartFramePtr f) {
            QString error;
            if (!f)
                error = "the broker was closed";
            else if (!writeCsv(*f, chart, path, &error) && error.isEmpty())
                error = path;
            emit csvExported(path, error);
        });
}

bool ChartsPanel::writeCsv(const ChartFrame &frame, Chart chart, const QString &path,
                           QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    QTextStream out(&file);
    out << "time_ms,series,value\n";
    for (const auto &s : frame.series[static_cast<int>(chart)]) {
        QString name = s.name;
        name.replace('"', "\"\"");
        for (auto it = s.data->constBegin(); it != s.data->constEnd(); ++it)
            out << static_cast<qint64>(std::llround(it->key * 1000)) << ",\"" << name << "\","
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
    if (!png) {
        exportCsv(chart, path); // failures show through csvExported
        return;
    }
    if (!exportPng(chart, path))
        QToolTip::showText(QCursor::pos(), "Export failed: " + path);
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
