#pragma once

#include "report.h"

#include <QWidget>

#include <optional>

class QTextBrowser;
class QPushButton;

namespace eddy::ui {

// The end-of-run report: verdict (lost, duplicates, reordered), throughput, lag and drain per
// group, each fault's detection and recovery time, and the scenario's expectations. It can be
// saved as JSON (what `eddy simulate --json` prints) or as text.
class ReportView : public QWidget
{
    Q_OBJECT

public:
    explicit ReportView(QWidget *parent = nullptr);

    void setReport(const sim::Report &report);
    const std::optional<sim::Report> &report() const { return m_report; }
    // The report as shown (HTML), for tests.
    QString html() const;
    // Writes JSON (.json) or the text summary (anything else). False with *error on failure.
    bool save(const QString &path, QString *error = nullptr) const;

private:
    QTextBrowser *m_text;
    QPushButton *m_save;
    std::optional<sim::Report> m_report;
};

} // namespace eddy::ui
