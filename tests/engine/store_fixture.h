// Shared fixture of the broker persistence tests (tst_broker_store.cpp: reopen, reads from the
// store, damaged databases; tst_broker_disk_full.cpp: a full disk): a temporary data directory
// per test, a broker (re)opened on it, and a record comparison that says where two lists first
// differ, bytes in hex.
#pragma once

#include "broker_fixture.h"

#include <QTemporaryDir>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

Q_DECLARE_METATYPE(eddy::Durability)

namespace eddy::test {

inline QString show(const Record &r)
{
    QString headers;
    for (const auto &h : r.headers)
        headers += QString::fromLatin1(QByteArray::fromStdString(h.key).toHex()) + "="
                   + QString::fromLatin1(QByteArray::fromStdString(h.value).toHex()) + ",";
    return QString("{offset %1, ts %2, key %3, headers [%4], value %5}")
        .arg(r.offset)
        .arg(r.timestamp)
        .arg(r.key ? "0x" + QString::fromLatin1(QByteArray::fromStdString(*r.key).toHex())
                   : QString("(none)"))
        .arg(headers)
        .arg(QString::fromLatin1(QByteArray::fromStdString(r.value).toHex().left(64)));
}

// Empty when equal, else where the two lists first differ.
inline QString diffRecords(const std::vector<Record> &actual, const std::vector<Record> &expected)
{
    for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
        if (!(actual[i] == expected[i]))
            return QString("record %1 differs: actual %2, expected %3")
                .arg(i)
                .arg(show(actual[i]), show(expected[i]));
    if (actual.size() != expected.size())
        return QString("actual has %1 records, expected %2")
            .arg(actual.size())
            .arg(expected.size());
    return {};
}

class StoreFixture
{
protected:
    // The bodies of each test class's init() and cleanup() slots: each test opens its broker
    // with reopen() and the configuration it needs.
    void makeDataDir()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void closeBroker()
    {
        m_broker.reset();
        m_dir.reset();
    }

    bool reopen(BrokerConfig config)
    {
        m_broker.reset();
        auto opened = Broker::open(std::move(config));
        if (!opened) {
            qWarning("open failed: %s", describe(opened).constData());
            return false;
        }
        m_broker = std::move(opened.value());
        return true;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

} // namespace eddy::test
