// Light and dark palettes on the Fusion style, which honours palettes on every platform.
#include "theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>

namespace eddy::ui {

void applyTheme(Theme theme)
{
    QApplication::setStyle(QStyleFactory::create("Fusion"));
    QPalette p;
    if (theme == Theme::Dark) {
        const QColor window(37, 39, 44), base(27, 29, 33), text(220, 222, 228);
        p.setColor(QPalette::Window, window);
        p.setColor(QPalette::WindowText, text);
        p.setColor(QPalette::Base, base);
        p.setColor(QPalette::AlternateBase, QColor(44, 47, 53));
        p.setColor(QPalette::ToolTipBase, QColor(50, 53, 60));
        p.setColor(QPalette::ToolTipText, text);
        p.setColor(QPalette::PlaceholderText, QColor(130, 133, 140));
        p.setColor(QPalette::Text, text);
        p.setColor(QPalette::Button, QColor(48, 51, 57));
        p.setColor(QPalette::ButtonText, text);
        p.setColor(QPalette::BrightText, Qt::white);
        p.setColor(QPalette::Highlight, QColor(64, 128, 220));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::Link, QColor(100, 160, 240));
        p.setColor(QPalette::Mid, QColor(70, 73, 80));
        p.setColor(QPalette::Dark, QColor(20, 21, 24));
        p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 122, 128));
        p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 122, 128));
        p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 122, 128));
    } else {
        p = QApplication::style()->standardPalette();
    }
    QApplication::setPalette(p);
}

Theme themeFromName(const QString &name)
{
    return name.compare("dark", Qt::CaseInsensitive) == 0 ? Theme::Dark : Theme::Light;
}

QString themeName(Theme theme)
{
    return theme == Theme::Dark ? "dark" : "light";
}

} // namespace eddy::ui
