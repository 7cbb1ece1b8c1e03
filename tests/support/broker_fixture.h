// Shared helpers of the broker integration tests (tests/engine/tst_broker_*.cpp): a test
// configuration with short intervals, record builders, a "read the whole partition" helper and
// assertion macros that print the engine's error code and message when a call fails, so a red
// test says what the broker answered rather than just "false".
#pragma once

#include "broker.h"
#include "errc_string.h"

#include <QtTest>

#include <QByteArray>
#include <QString>
#include <QTemporaryDir>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eddy {

// QCOMPARE finds these by argument-dependent lookup and prints names instead of numbers.
inline char *toString(GroupState state)
{
    return qstrdup(std::string(groupStateName(state)).c_str());
}

inline char *toString(const TopicPartition &tp)
{
    return qstrdup((tp.topic + "/" + std::to_string(tp.partition)).c_str());
}

} // namespace eddy

namespace eddy::test {

inline QByteArray describe(const Error &e)
{
    return QByteArray(errcName(e.code).data(), qsizetype(errcName(e.code).size())) + ": "
           + QByteArray::fromStdString(e.message);
}

template<typename T>
QByteArray describe(const Result<T> &r)
{
    return r.ok() ? QByteArray("ok") : describe(r.error());
}

// A configuration for tests: fast metrics, no periodic retention (tests call runRetention()),
// short minimum session timeout.
inline BrokerConfig testConfig(const QString &dir, Durability durability = Durability::Fast)
{
    BrokerConfig c;
    c.dataDir = dir.toStdString();
    c.durability = durability;
    c.flushIntervalMs = 20;
    c.metricsIntervalMs = 50;
    c.retentionIntervalMs = 3600 * 1000;
    c.minSessionTimeoutMs = 50;
    return c;
}

inline Record rec(std::string value, std::optional<std::string> key = std::nullopt,
                  int64_t timestamp = 0, std::vector<Header> headers = {})
{
    Record r;
    r.value = std::move(value);
    r.key = std::move(key);
    r.timestamp = timestamp;
    r.headers = std::move(headers);
    return r;
}

inline ProduceRequest produceTo(const std::string &topic, std::optional<int32_t> partition,
                                std::vector<Record> records, Acks acks = Acks::Leader)
{
    ProduceRequest req;
    req.topic = topic;
    req.partition = partition;
    req.records = std::move(records);
    req.acks = acks;
    return req;
}

inline FetchRequest fetchFrom(const std::string &topic, int32_t partition, int64_t offset,
                              std::size_t maxRecords = 500, int32_t waitMs = 0)
{
    FetchRequest req;
    req.topic = topic;
    req.partition = partition;
    req.offset = offset;
    req.maxRecords = maxRecords;
    req.waitMs = waitMs;
    return req;
}

// Reads [from, HW) of a partition in fetches of up to chunk records. Fails on any fetch error,
// on an empty read before the HW (no progress) and on a non-contiguous offset.
inline Result<std::vector<Record>> readAll(Broker &broker, const std::string &topic,
                                           int32_t partition, int64_t from = -1,
                                           std::size_t chunk = 500)
{
    auto info = broker.describeTopic(topic);
    if (!info)
        return info.error();
    if (partition < 0 || partition >= info->partitions)
        return makeError(Errc::UnknownPartition, "readAll: no such partition");
    const auto &p = info->partitionInfo[static_cast<std::size_t>(partition)];
    int64_t offset = from < 0 ? p.logStartOffset : from;
    std::vector<Record> out;
    while (offset < p.highWatermark) {
        auto f = broker.fetchSync(fetchFrom(topic, partition, offset, chunk));
        if (!f)
            return f.error();
        if (f->records.empty())
            return makeError(Errc::Internal, "readAll: empty fetch at " + std::to_string(offset)
                                                 + " below HW " + std::to_string(p.highWatermark));
        for (auto &r : f->records) {
            if (r.offset != offset)
                return makeError(Errc::Internal, "readAll: expected offset "
                                                     + std::to_string(offset) + ", got "
                                                     + std::to_string(r.offset));
            ++offset;
            out.push_back(std::move(r));
        }
    }
    return out;
}

inline const TopicMetrics *findTopicMetrics(const MetricsSnapshot &snap, const std::string &name)
{
    for (const auto &t : snap.topics)
        if (t.name == name)
            return &t;
    return nullptr;
}

inline const GroupMetrics *findGroupMetrics(const MetricsSnapshot &snap, const std::string &name)
{
    for (const auto &g : snap.groups)
        if (g.name == name)
            return &g;
    return nullptr;
}

} // namespace eddy::test

// Verifies that a Result is ok, printing the error otherwise. Evaluates expr once.
#define EDDY_VERIFY_OK(expr)                                                                       \
    do {                                                                                           \
        const auto &eddyResult_ = (expr);                                                          \
        QVERIFY2(eddyResult_.ok(), eddy::test::describe(eddyResult_).constData());                 \
    } while (false)

// Verifies that a Result failed with the given code, printing what happened otherwise.
#define EDDY_VERIFY_ERR(expr, errc)                                                                \
    do {                                                                                           \
        const auto &eddyResult_ = (expr);                                                          \
        QVERIFY2(!eddyResult_.ok(), "expected " #errc " but the call succeeded");                  \
        QCOMPARE(eddyResult_.code(), errc);                                                        \
    } while (false)
