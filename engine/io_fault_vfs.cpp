// The I/O-error VFS: a pass-through to SQLite's default VFS whose files check one switch before
// writing or syncing. A file of this VFS is the wrapper followed by the real file in the same
// allocation (szOsFile is the sum), so opening costs nothing extra; every method but xWrite and
// xSync forwards unchanged, so locking, the WAL index (shared memory) and reads behave exactly
// as without it.
#include "io_fault_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace eddy {

struct IoFaultVfs::State {
    sqlite3_vfs *real = nullptr;
    const std::atomic<bool> *failWrites = nullptr;
    const std::atomic<bool> *failSyncs = nullptr;
};

namespace {

struct FaultFile {
    sqlite3_file base;                    // pMethods: one of kMethods
    const IoFaultVfs::State *faults;
    sqlite3_file *real()
    {
        // The real file follows the wrapper; FaultFile's size keeps it pointer-aligned.
        return reinterpret_cast<sqlite3_file *>(reinterpret_cast<char *>(this) + sizeof(FaultFile));
    }
};

static_assert(sizeof(FaultFile) % alignof(std::max_align_t) == 0,
              "the real file after FaultFile must stay aligned");

FaultFile *faultFile(sqlite3_file *f)
{
    return reinterpret_cast<FaultFile *>(f);
}

sqlite3_file *realFile(sqlite3_file *f)
{
    return faultFile(f)->real();
}

const sqlite3_io_methods *realMethods(sqlite3_file *f)
{
    return realFile(f)->pMethods;
}

IoFaultVfs::State *state(sqlite3_vfs *vfs)
{
    return static_cast<IoFaultVfs::State *>(vfs->pAppData);
}

sqlite3_vfs *realVfs(sqlite3_vfs *vfs)
{
    return state(vfs)->real;
}

// ---- file methods ----

int fileClose(sqlite3_file *f)
{
    return realMethods(f)->xClose(realFile(f));
}

int fileRead(sqlite3_file *f, void *buf, int amount, sqlite3_int64 offset)
{
    return realMethods(f)->xRead(realFile(f), buf, amount, offset);
}

int fileWrite(sqlite3_file *f, const void *buf, int amount, sqlite3_int64 offset)
{
    if (faultFile(f)->faults->failWrites->load())
        return SQLITE_IOERR_WRITE;
    return realMethods(f)->xWrite(realFile(f), buf, amount, offset);
}

int fileTruncate(sqlite3_file *f, sqlite3_int64 size)
{
    return realMethods(f)->xTruncate(realFile(f), size);
}

int fileSync(sqlite3_file *f, int flags)
{
    if (faultFile(f)->faults->failSyncs->load())
        return SQLITE_IOERR_FSYNC;
    return realMethods(f)->xSync(realFile(f), flags);
}

int fileSize(sqlite3_file *f, sqlite3_int64 *size)
{
    return realMethods(f)->xFileSize(realFile(f), size);
}

int fileLock(sqlite3_file *f, int level)
{
    return realMethods(f)->xLock(realFile(f), level);
}

int fileUnlock(sqlite3_file *f, int level)
{
    return realMethods(f)->xUnlock(realFile(f), level);
}

int fileCheckReservedLock(sqlite3_file *f, int *out)
{
    return realMethods(f)->xCheckReservedLock(realFile(f), out);
}

int fileControl(sqlite3_file *f, int op, void *arg)
{
    return realMethods(f)->xFileControl(realFile(f), op, arg);
}

int fileSectorSize(sqlite3_file *f)
{
    return realMethods(f)->xSectorSize(realFile(f));
}

int fileDeviceCharacteristics(sqlite3_file *f)
{
    return realMethods(f)->xDeviceCharacteristics(realFile(f));
}

int fileShmMap(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
    return realMethods(f)->xShmMap(realFile(f), region, size, extend, out);
}

int fileShmLock(sqlite3_file *f, int offset, int n, int flags)
{
    return realMethods(f)->xShmLock(realFile(f), offset, n, flags);
}

void fileShmBarrier(sqlite3_file *f)
{
    realMethods(f)->xShmBarrier(realFile(f));
}

int fileShmUnmap(sqlite3_file *f, int deleteFlag)
{
    return realMethods(f)->xShmUnmap(realFile(f), deleteFlag);
}

int fileFetch(sqlite3_file *f, sqlite3_int64 offset, int amount, void **out)
{
    return realMethods(f)->xFetch(realFile(f), offset, amount, out);
}

int fileUnfetch(sqlite3_file *f, sqlite3_int64 offset, void *p)
{
    return realMethods(f)->xUnfetch(realFile(f), offset, p);
}

// One table per io_methods version: SQLite calls a version-2 or -3 method only when the file's
// iVersion says it exists, so the wrapper must claim exactly the real file's version.
constexpr sqlite3_io_methods methodsOfVersion(int version)
{
    return {version,      fileClose,      fileRead,       fileWrite,
            fileTruncate, fileSync,       fileSize,       fileLock,
            fileUnlock,   fileCheckReservedLock,          fileControl,
            fileSectorSize,               fileDeviceCharacteristics,
            fileShmMap,   fileShmLock,    fileShmBarrier, fileShmUnmap,
            fileFetch,    fileUnfetch};
}

const sqlite3_io_methods kMethods[3] = {methodsOfVersion(1), methodsOfVersion(2),
                                        methodsOfVersion(3)};

// ---- VFS methods ----

int vfsOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *outFlags)
{
    auto *wrapper = faultFile(file);
    wrapper->base.pMethods = nullptr;
    wrapper->faults = state(vfs);
    sqlite3_file *real = wrapper->real();
    const int rc = realVfs(vfs)->xOpen(realVfs(vfs), name, real, flags, outFlags);
    // SQLite closes a file whose pMethods is set even when the open failed, so the wrapper
    // takes the real file's: none when it has none.
    if (real->pMethods) {
        const int version = std::max(1, std::min(3, real->pMethods->iVersion));
        wrapper->base.pMethods = &kMethods[version - 1];
    }
    return rc;
}

int vfsDelete(sqlite3_vfs *vfs, const char *name, int syncDir)
{
    return realVfs(vfs)->xDelete(realVfs(vfs), name, syncDir);
}

int vfsAccess(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return realVfs(vfs)->xAccess(realVfs(vfs), name, flags, out);
}

int vfsFullPathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
    return realVfs(vfs)->xFullPathname(realVfs(vfs), name, size, out);
}

void *vfsDlOpen(sqlite3_vfs *vfs, const char *name)
{
    return realVfs(vfs)->xDlOpen(realVfs(vfs), name);
}

void vfsDlError(sqlite3_vfs *vfs, int size, char *out)
{
    realVfs(vfs)->xDlError(realVfs(vfs), size, out);
}

void (*vfsDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    return realVfs(vfs)->xDlSym(realVfs(vfs), handle, symbol);
}

void vfsDlClose(sqlite3_vfs *vfs, void *handle)
{
    realVfs(vfs)->xDlClose(realVfs(vfs), handle);
}

int vfsRandomness(sqlite3_vfs *vfs, int size, char *out)
{
    return realVfs(vfs)->xRandomness(realVfs(vfs), size, out);
}

int vfsSleep(sqlite3_vfs *vfs, int microseconds)
{
    return realVfs(vfs)->xSleep(realVfs(vfs), microseconds);
}

int vfsCurrentTime(sqlite3_vfs *vfs, double *out)
{
    return realVfs(vfs)->xCurrentTime(realVfs(vfs), out);
}

int vfsGetLastError(sqlite3_vfs *vfs, int size, char *out)
{
    return realVfs(vfs)->xGetLastError(realVfs(vfs), size, out);
}

int vfsCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    sqlite3_vfs *real = realVfs(vfs);
    if (real->iVersion >= 2 && real->xCurrentTimeInt64)
        return real->xCurrentTimeInt64(real, out);
    double days = 0;
    const int rc = real->xCurrentTime(real, &days);
    *out = static_cast<sqlite3_int64>(days * 86400000.0);
    return rc;
}

std::atomic<unsigned> g_instances{0};

} // namespace

IoFaultVfs::IoFaultVfs() = default;

Result<std::unique_ptr<IoFaultVfs>> IoFaultVfs::create()
{
    if (sqlite3_initialize() != SQLITE_OK)
        return makeError(Errc::StorageError, "cannot initialise SQLite");
    sqlite3_vfs *real = sqlite3_vfs_find(nullptr);
    if (!real)
        return makeError(Errc::StorageError, "SQLite has no default VFS");
    std::unique_ptr<IoFaultVfs> vfs(new IoFaultVfs());
    vfs->m_name = "eddy-io-fault-" + std::to_string(g_instances.fetch_add(1));
    vfs->m_state = std::make_unique<State>();
    vfs->m_state->real = real;
    vfs->m_state->failWrites = &vfs->m_failWrites;
    vfs->m_state->failSyncs = &vfs->m_failSyncs;
    vfs->m_vfs = std::make_unique<sqlite3_vfs>();
    sqlite3_vfs &v = *vfs->m_vfs;
    std::memset(&v, 0, sizeof v);
    // Version 2: the system-call overrides of version 3 belong to the real VFS alone.
    v.iVersion = 2;
    v.szOsFile = static_cast<int>(sizeof(FaultFile)) + real->szOsFile;
    v.mxPathname = real->mxPathname;
    v.zName = vfs->m_name.c_str();
    v.pAppData = vfs->m_state.get();
    v.xOpen = vfsOpen;
    v.xDelete = vfsDelete;
    v.xAccess = vfsAccess;
    v.xFullPathname = vfsFullPathname;
    v.xDlOpen = vfsDlOpen;
    v.xDlError = vfsDlError;
    v.xDlSym = vfsDlSym;
    v.xDlClose = vfsDlClose;
    v.xRandomness = vfsRandomness;
    v.xSleep = vfsSleep;
    v.xCurrentTime = vfsCurrentTime;
    v.xGetLastError = vfsGetLastError;
    v.xCurrentTimeInt64 = vfsCurrentTimeInt64;
    if (const int rc = sqlite3_vfs_register(&v, 0); rc != SQLITE_OK)
        return makeError(Errc::StorageError,
                         std::string("cannot register the I/O fault VFS: ") + sqlite3_errstr(rc));
    return vfs;
}

IoFaultVfs::~IoFaultVfs()
{
    if (m_vfs)
        sqlite3_vfs_unregister(m_vfs.get());
}

} // namespace eddy
