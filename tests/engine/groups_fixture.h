// Shared fixture of the consumer-group integration tests (tst_broker_groups.cpp: placement,
// hand-over and membership; tst_broker_offsets.cpp: commits, lag, resets and deletion): a broker
// on a temporary data directory, opened before and closed after each test, with helpers to join
// a group and to fill a partition.
#pragma once

#include "broker_fixture.h"

#include <QTemporaryDir>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eddy::test {

class GroupsFixture
{
protected:
    // The bodies of each test class's init() and cleanup() slots.
    void openBroker()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        auto opened = Broker::open(testConfig(m_dir->path()));
        QVERIFY2(opened.ok(), describe(opened).constData());
        m_broker = std::move(opened.value());
    }

    void closeBroker()
    {
        m_broker.reset();
        m_dir.reset();
    }

    Result<MemberAssignment> join(const std::string &group, const std::string &member,
                                  std::vector<std::string> topics,
                                  AssignorKind assignor = AssignorKind::Range,
                                  int32_t sessionMs = 10000)
    {
        JoinGroupRequest req;
        req.group = group;
        req.memberId = member;
        req.clientId = "client-" + member;
        req.topics = std::move(topics);
        req.assignor = assignor;
        req.sessionTimeoutMs = sessionMs;
        return m_broker->joinGroup(req);
    }

    void produceN(const std::string &topic, int32_t partition, int n, int64_t timestamp = 0)
    {
        std::vector<Record> records;
        for (int i = 0; i < n; ++i) {
            // Not "v" + to_string(i): GCC 12 -O3 warns falsely (-Wrestrict).
            std::string value = "v";
            value += std::to_string(i);
            records.push_back(rec(value, std::nullopt, timestamp));
        }
        EDDY_VERIFY_OK(m_broker->produceSync(produceTo(topic, partition, std::move(records))));
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Broker> m_broker;
};

} // namespace eddy::test
