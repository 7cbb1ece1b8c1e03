// Unit tests of TailCache::returnFreedMemory with the allocator eddy and eddy-studio link
// (tcmalloc_minimal, CMakeLists.txt): this executable links it the same way. Freed large blocks
// stay in tcmalloc's page heap; the call hands them back to the system (tcmalloc's counters:
// pageheap_free_bytes falls, pageheap_unmapped_bytes grows) once enough batches went through the
// tails, and leaves them alone below that threshold. Skipped in a build without tcmalloc (the
// sanitizer builds), where the call goes to glibc's malloc_trim instead.
#include "tail_cache.h"

#include "record.h"

#include <QtTest>

#include <dlfcn.h>

#include <cstring>
#include <memory>
#include <vector>

using namespace eddy;

namespace {

using GetNumericProperty = int (*)(const char *, std::size_t *);

// tcmalloc's C API, looked up as the engine looks up its release call: null without tcmalloc.
GetNumericProperty tcmallocProperty()
{
    return reinterpret_cast<GetNumericProperty>(
        dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty"));
}

std::size_t tcmallocBytes(const char *name)
{
    std::size_t value = 0;
    if (!tcmallocProperty()(name, &value))
        qFatal("tcmalloc has no property %s", name);
    return value;
}

// Allocates, touches and frees count blocks of 1 MiB: tcmalloc serves blocks that large from its
// page heap and keeps them there, mapped, once freed.
void churn(int count)
{
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < count; ++i) {
        blocks.emplace_back(new char[1 << 20]);
        std::memset(blocks.back().get(), i, 1 << 20);
    }
}

// A cached batch of bytes encoded bytes, as a partition log would hand the tail cache one.
BatchPtr batchOf(std::size_t bytes)
{
    auto batch = std::make_shared<RecordBatch>();
    batch->encoded.assign(bytes, 'x');
    batch->count = 1;
    return batch;
}

// A tail cache that saw batchBytes go through it, after blocks of 64 MiB in all were freed:
// tcmalloc's free page-heap bytes then, which the test requires to hold most of those blocks.
struct Churned {
    TailCache cache{std::size_t(1) << 30};
    BatchPtr batch;
    std::size_t freeBefore = 0;
    std::size_t unmappedBefore = 0;

    explicit Churned(std::size_t batchBytes) : batch(batchOf(batchBytes))
    {
        cache.added({}, batch);
        churn(64);
        freeBefore = tcmallocBytes("tcmalloc.pageheap_free_bytes");
        unmappedBefore = tcmallocBytes("tcmalloc.pageheap_unmapped_bytes");
    }
};

} // namespace

class TestUnitFreedMemory : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void belowTheThresholdNothingIsReturned();
    void freedPagesGoBackToTheSystem();
};

void TestUnitFreedMemory::init()
{
    if (!tcmallocProperty())
        QSKIP("this build allocates without tcmalloc (a sanitizer build, or EDDY_TCMALLOC=OFF)");
}

void TestUnitFreedMemory::belowTheThresholdNothingIsReturned()
{
    Churned c(1 << 20);
    QVERIFY2(c.freeBefore >= std::size_t(32) << 20, "tcmalloc did not keep the freed blocks");
    // 1 MiB went through the tails, less than asked for: the freed pages stay.
    c.cache.returnFreedMemory(std::size_t(256) << 20);
    QVERIFY(tcmallocBytes("tcmalloc.pageheap_free_bytes") + (std::size_t(1) << 20)
            >= c.freeBefore);
}

void TestUnitFreedMemory::freedPagesGoBackToTheSystem()
{
    Churned c(4 << 20);
    QVERIFY2(c.freeBefore >= std::size_t(32) << 20, "tcmalloc did not keep the freed blocks");
    c.cache.returnFreedMemory(std::size_t(1) << 20);
    const std::size_t freeAfter = tcmallocBytes("tcmalloc.pageheap_free_bytes");
    const std::size_t unmappedAfter = tcmallocBytes("tcmalloc.pageheap_unmapped_bytes");
    QVERIFY2(freeAfter < c.freeBefore / 4, qPrintable(QString("page heap free bytes %1 -> %2")
                                                          .arg(c.freeBefore)
                                                          .arg(freeAfter)));
    QVERIFY(unmappedAfter >= c.unmappedBefore + (std::size_t(32) << 20));
    // The churn was counted once: a second call right after it returns nothing more.
    churn(64);
    const std::size_t freeAgain = tcmallocBytes("tcmalloc.pageheap_free_bytes");
    c.cache.returnFreedMemory(std::size_t(1) << 20);
    QVERIFY(tcmallocBytes("tcmalloc.pageheap_free_bytes") + (std::size_t(1) << 20) >= freeAgain);
}

QTEST_GUILESS_MAIN(TestUnitFreedMemory)
#include "tst_unit_freed_memory.moc"
