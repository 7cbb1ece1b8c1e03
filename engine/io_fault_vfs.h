#pragma once

#include "result.h"

#include <atomic>
#include <memory>
#include <string>

struct sqlite3_vfs;

namespace eddy {

// An SQLite VFS of its own for one connection, wrapping the default VFS, that fails writes and
// syncs on demand: while writes fail, every xWrite of a file opened through it answers
// SQLITE_IOERR_WRITE, and while syncs fail every xSync answers SQLITE_IOERR_FSYNC, as a disk
// returning EIO would; reads, locks and the WAL index are untouched. It exists for fault injection
// (the `io-error` fault); with the switch off it only forwards. Each instance registers under a
// unique name (the switch belongs to one store, not to every connection in the process) and
// unregisters when destroyed, which must happen after the connection using it was closed.
class IoFaultVfs
{
public:
    // Registers a new instance; fails with StorageError when SQLite refuses.
    static Result<std::unique_ptr<IoFaultVfs>> create();
    ~IoFaultVfs();

    IoFaultVfs(const IoFaultVfs &) = delete;
    IoFaultVfs &operator=(const IoFaultVfs &) = delete;

    // The name to pass as the zVfs argument of sqlite3_open_v2.
    const char *name() const { return m_name.c_str(); }
    // Turns the injected I/O errors on or off; takes effect at the next write or sync.
    void setFailing(bool writes, bool syncs)
    {
        m_failWrites.store(writes);
        m_failSyncs.store(syncs);
    }

    struct State; // what the VFS callbacks reach through pAppData

private:
    IoFaultVfs();

    std::string m_name;
    std::atomic<bool> m_failWrites{false};
    std::atomic<bool> m_failSyncs{false};
    std::unique_ptr<State> m_state;
    std::unique_ptr<sqlite3_vfs> m_vfs;
};

} // namespace eddy
