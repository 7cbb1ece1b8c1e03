// Shared fixture of the produce and fetch integration tests (tst_broker_produce.cpp: offsets,
// partitioning, limits and idempotence; tst_broker_fetch.cpp: fetch, long poll, shutdown and
// acknowledgement): a broker on a temporary data directory, opened before and closed after each
// test, that a test may reopen with another configuration.
#pragma once

#include "broker_fixture.h"

#include <QTemporaryDir>

#include <memory>
#include <utility>

namespace eddy::test {

class ProduceFixture
{
protected:
    // The bodies of each test class's init() and cleanup() slots.
    void openTestBroker()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        openBroker(testConfig(m_dir->path()));
    }

    void closeBroker()
    {
        m_broker.reset();
        m_dir.reset();
    }

    void openBroker(BrokerConfig config)
    {
        m_broker.reset();
        auto opened = Broker::open(std::move(config));
        QVERIFY2(opened.ok(), describe(opened).constData());
        m_broker = std::move(opened.value());
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

} // namespace eddy::test
