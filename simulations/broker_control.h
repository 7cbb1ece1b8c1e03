#pragma once

#include "result.h"

#include <string>

namespace eddy::sim {

// Broker-side faults, available when the simulator runs the broker itself (the embedded
// broker). Against a remote broker there is none, and scenarios with broker faults are refused.
class BrokerControl
{
public:
    virtual ~BrokerControl() = default;
    virtual Result<void> setPartitionOffline(const std::string &topic, int partition,
                                             bool offline) = 0;
    // Every request delayed by ms (+- jitter); 0 clears.
    virtual void setStall(int ms, int jitterMs) = 0;
    // Slow commits (ms per commit) and a full disk.
    virtual void setDiskFault(int commitDelayMs, bool full) = 0;
    // Stops the broker and starts it again from its store (clients reconnect by themselves).
    virtual Result<void> restart() = 0;
    // Puts a line on the broker's event log and live stream.
    virtual void announce(const std::string &kind, const std::string &subject,
                          const std::string &detail) = 0;
};

} // namespace eddy::sim
