// Shared helpers of the SqliteStore unit tests (tst_unit_store.cpp: writes, loads and reads;
// tst_unit_store_errors.cpp: failing transactions, corrupt files, a full disk and close):
// readable error codes, opening a store, batches and records as PartitionLog hands them over, and
// a temporary directory per test for the database files.
#pragma once

#include "sqlite_store.h"
#include "errc_string.h"

#include "batch_codec.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eddy::test {

inline constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

inline std::unique_ptr<SqliteStore> openStore(const std::string &path,
                                              Durability durability = Durability::Durable,
                                              int64_t maxPageCount = 0, int flushIntervalMs = 50)
{
    SqliteStore::Options options;
    options.path = path;
    options.durability = durability;
    options.maxPageCount = maxPageCount;
    options.flushIntervalMs = flushIntervalMs;
    auto r = SqliteStore::open(options);
    if (!r.ok()) {
        qWarning("open %s failed: %s", path.c_str(), r.error().message.c_str());
        return nullptr;
    }
    return std::move(r.value());
}

// A batch as PartitionLog would hand it to the store: offsets from baseOffset, bytes summed,
// max timestamp set, records encoded.
inline RecordBatch makeBatch(int64_t baseOffset, std::vector<Record> records, int64_t appendUs,
                             int64_t producerId = -1, int32_t baseSequence = -1)
{
    RecordBatch batch;
    batch.baseOffset = baseOffset;
    batch.appendTimeUs = appendUs;
    batch.producerId = producerId;
    batch.baseSequence = baseSequence;
    int64_t offset = baseOffset;
    for (auto &r : records) {
        r.offset = offset++;
        batch.bytes += recordPayloadBytes(r);
        batch.maxTimestamp = std::max(batch.maxTimestamp, r.timestamp);
    }
    batch.count = static_cast<int32_t>(records.size());
    batch.encoded = encodeBatchRecords(baseOffset, records);
    return batch;
}

inline Record rec(int64_t ts, std::string value, std::optional<std::string> key = std::nullopt,
                  std::vector<Header> headers = {})
{
    Record r;
    r.timestamp = ts;
    r.value = std::move(value);
    r.key = std::move(key);
    r.headers = std::move(headers);
    return r;
}

// n records of valueSize bytes with timestamps ts0, ts0 + 1, ...
inline std::vector<Record> filler(int n, std::size_t valueSize, int64_t ts0 = 1000)
{
    std::vector<Record> out;
    for (int i = 0; i < n; ++i)
        out.push_back(rec(ts0 + i, std::string(valueSize, static_cast<char>('a' + i % 26))));
    return out;
}

inline TopicSpec spec(const std::string &name, int32_t partitions, RetentionPolicy retention = {})
{
    TopicSpec s;
    s.name = name;
    s.partitions = partitions;
    s.retention = retention;
    return s;
}

inline const StoredTopic *findTopic(const StoreContents &c, const std::string &name)
{
    for (const auto &t : c.topics)
        if (t.spec.name == name)
            return &t;
    return nullptr;
}

class SqliteStoreFixture
{
protected:
    // The body of each test class's init() slot.
    void makeDir()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    std::string dbPath(const char *name = "eddy.db") const
    {
        return m_dir->filePath(QString::fromLatin1(name)).toStdString();
    }

    std::unique_ptr<QTemporaryDir> m_dir;
};

} // namespace eddy::test
