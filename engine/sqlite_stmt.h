#pragma once

// Statement helpers shared by the store's files (sqlite_store.cpp, store_reader.cpp); not part of
// the engine's API.
#include "result.h"
#include "sqlite_error.h"

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace eddy {

// A prepared statement owned for the duration of one read.
class Stmt
{
public:
    Stmt(sqlite3 *db, const char *sql) : m_db(db)
    {
        m_rc = sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr);
    }
    ~Stmt() { sqlite3_finalize(m_stmt); }
    bool prepared() const { return m_rc == SQLITE_OK; }
    sqlite3_stmt *get() const { return m_stmt; }
    Error error(const std::string &what) const { return sqliteError(m_db, m_rc, what); }
    void bind(int i, int64_t v) { sqlite3_bind_int64(m_stmt, i, v); }

private:
    sqlite3 *m_db;
    sqlite3_stmt *m_stmt = nullptr;
    int m_rc;
};

// Column col of the current row as text (empty for NULL).
inline std::string columnText(sqlite3_stmt *s, int col)
{
    const auto *p = reinterpret_cast<const char *>(sqlite3_column_text(s, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
             : std::string();
}

// Column col of the current row as bytes, valid until the statement steps or resets (empty
// for NULL).
inline std::string_view columnBlob(sqlite3_stmt *s, int col)
{
    const auto *p = static_cast<const char *>(sqlite3_column_blob(s, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
             : std::string_view();
}

} // namespace eddy
