#pragma once

#include <QString>

namespace eddy::ui {

enum class Theme { Light, Dark };

// Applies a theme to the whole application (Fusion style with a light or dark palette). Widgets
// that draw their own colours read the palette, so they follow.
void applyTheme(Theme theme);
Theme themeFromName(const QString &name); // "dark" or anything else = light
QString themeName(Theme theme);

} // namespace eddy::ui
