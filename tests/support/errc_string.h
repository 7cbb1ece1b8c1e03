// Readable QCOMPARE failures for the engine's error codes: QTest finds toString by
// argument-dependent lookup and prints "STORAGE_FULL" instead of a number.
#pragma once

#include "errc.h"

#include <QtTest>

#include <string>

namespace eddy {

// The code's name as errcName spells it, in a string QTest frees with delete[].
inline char *toString(Errc code)
{
    return qstrdup(std::string(errcName(code)).c_str());
}

} // namespace eddy
