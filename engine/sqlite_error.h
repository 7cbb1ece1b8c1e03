#pragma once

#include "result.h"

#include <string>

struct sqlite3;

namespace eddy {

// Maps an SQLite result code to the engine's error: SQLITE_FULL to StorageFull, corruption to
// CorruptStore, anything else to StorageError, with SQLite's message and what was being done.
// Private to the store's files.
Error sqliteError(sqlite3 *db, int rc, const std::string &what);

} // namespace eddy
