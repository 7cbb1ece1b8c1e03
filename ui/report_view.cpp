// Renders a simulation report as HTML tables; the numbers are the runner's and the checker's,
// never recomputed here.
#include "report_view.h"

#include <QFileDialog>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace eddy::ui {

namespace {

QString esc(const std::string &s)
{
    return QString::fromStdString(s).toHtmlEscaped();
}

QString opt(const std::optional<double> &v)
{
    return v ? QString::number(*v, 'f', 2) + " s" : QString("–");
}

} // namespace

ReportView::ReportView(QWidget *parent)
    : QWidget(parent), m_text(new QTextBrowser(this)), m_save(new QPushButton("Save report…", this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(m_text, 1);
    layout->addWidget(m_save, 0, Qt::AlignRight);
    m_save->setEnabled(false);
    m_text->setHtml("<p>No run has finished yet. Run the scenario (F5); its report appears "
                    "here when it ends.</p>");
    connect(m_save, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Save report", "report.json",
                                                          "JSON (*.json);;Text (*.txt)");
        QString error;
        if (!path.isEmpty() && !save(path, &error))
            QMessageBox::warning(this, "Save report", "Could not save: " + error);
    });
}

void ReportView::setReport(const sim::Report &r)
{
    m_report = r;
    m_save->setEnabled(true);
    const auto &v = r.verdict;
    const bool passed = r.passed();
    QString h;
    h += QString("<h3 style='color:%1'>%2 — %3</h3>")
             .arg(passed ? "#2e9e5a" : "#d73c3c", esc(r.scenario),
                  passed ? "PASSED" : "FAILED");
    h += QString("<p>seed %1 · %2 s%3 · %4 rec/s produced · %5 rec/s consumed · max lag %6</p>")
             .arg(r.seed)
             .arg(r.durationS, 0, 'f', 1)
             .arg(r.interrupted ? " (stopped early)" : "")
             .arg(r.producedPerSec, 0, 'f', 0)
             .arg(r.consumedPerSec, 0, 'f', 0)
             .arg(r.maxLag);
    h += "<h4>Verdict</h4><table border=1 cellspacing=0 cellpadding=3>"
         "<tr><th>produced</th><th>acknowledged</th><th>lost</th><th>unconsumed</th>"
         "<th>duplicates</th><th>reordered</th><th>dead-lettered</th><th>unknown</th></tr>";
    h += QString("<tr><td>%1</td><td>%2</td><td><b>%3</b></td><td>%4</td><td>%5</td><td>%6</td>"
                 "<td>%7</td><td>%8</td></tr></table>")
             .arg(v.produced)
             .arg(v.acknowledged)
             .arg(v.lost)
             .arg(v.unconsumed)
             .arg(v.duplicates)
             .arg(v.reordered)
             .arg(v.deadLettered)
             .arg(v.unknown);
    h += "<h4>Groups</h4><table border=1 cellspacing=0 cellpadding=3><tr><th>group</th>"
         "<th>consumed</th><th>max lag</th><th>final lag</th><th>drained in</th></tr>";
    for (const auto &g : r.groups)
        h += QString("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td></tr>")
                 .arg(esc(g.group))
                 .arg(g.consumed)
                 .arg(g.maxLag)
                 .arg(g.finalLag)
                 .arg(opt(g.drainS));
    h += "</table>";
    if (!r.faults.empty()) {
        h += "<h4>Faults</h4><table border=1 cellspacing=0 cellpadding=3><tr><th>fault</th>"
             "<th>target</th><th>origin</th><th>from</th><th>to</th><th>detected after</th>"
             "<th>recovered after</th></tr>";
        for (const auto &f : r.faults)
            h += QString("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4 s</td><td>%5 s</td>"
                         "<td>%6</td><td>%7</td></tr>")
                     .arg(esc(f.kind), esc(f.target), f.live ? "live" : "scheduled")
                     .arg(f.startS, 0, 'f', 1)
                     .arg(f.endS, 0, 'f', 1)
                     .arg(f.detectS ? opt(f.detectS) : QString("no visible effect"))
                     .arg(opt(f.recoveryS));
        h += "</table>";
    }
    if (!r.expectations.empty()) {
        h += "<h4>Expectations</h4><ul>";
        for (const auto &e : r.expectations)
            h += QString("<li style='color:%1'>%2 %3 (actual %4)</li>")
                     .arg(e.ok ? "#2e9e5a" : "#d73c3c", e.ok ? "✔" : "✘", esc(e.text))
                     .arg(e.actual);
        h += "</ul>";
    }
    m_text->setHtml(h);
}

QString ReportView::html() const
{
    return m_text->toHtml();
}

bool ReportView::save(const QString &path, QString *error) const
{
    if (!m_report) {
        if (error)
            *error = "no report yet";
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    const std::string text = path.endsWith(".json", Qt::CaseInsensitive)
                                 ? sim::reportToJson(*m_report).dump(2) + "\n"
                                 : sim::reportSummary(*m_report);
    file.write(text.data(), static_cast<qint64>(text.size()));
    if (!file.commit()) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

} // namespace eddy::ui
