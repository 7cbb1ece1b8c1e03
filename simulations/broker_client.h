#pragma once

#include "broker.h"
#include "group_types.h"
#include "result.h"
#include "topic_config.h"

#include <memory>
#include <string>
#include <vector>

namespace eddy::sim {

// The simulator's only way to a broker: a producer, a consumer and a little administration. The
// NNG backend (nng_backend.h) implements it with Eddy's client library; a backend for another
// engine (a Kafka or NATS JetStream cluster) implements the same three classes and runs every
// scenario unchanged. Implementations are used from one actor thread each.

struct SimDelivery {
    int32_t partition = -1;
    int64_t offset = -1;
};

class SimProducer
{
public:
    virtual ~SimProducer() = default;
    // Sends one record and waits for its acknowledgement (per the producer's acks).
    virtual Result<SimDelivery> send(const std::string &topic, Record record) = 0;
    virtual void close() = 0;
};

struct SimRecord {
    std::string topic;
    int32_t partition = 0;
    Record record;
};

class SimConsumer
{
public:
    virtual ~SimConsumer() = default;
    // Records from the assigned partitions, waiting up to timeoutMs.
    virtual Result<std::vector<SimRecord>> poll(int timeoutMs) = 0;
    // Commits everything poll() returned so far.
    virtual Result<void> commit() = 0;
    // The group generation the consumer holds (for the checker's reorder rule).
    virtual int32_t generation() const = 0;
    virtual std::vector<TopicPartition> assignment() const = 0;
    // Stops heartbeating without leaving (a frozen process); resume() picks up again.
    virtual void pause() = 0;
    virtual void resume() = 0;
    // Leaves the group cleanly.
    virtual void close() = 0;
    // Disappears without leaving or committing, as a crashed process.
    virtual void crash() = 0;
};

struct ProducerSettings {
    std::string clientId;
    Acks acks = Acks::Leader;
    bool idempotent = true;
    int requestTimeoutMs = 5000;
};

struct ConsumerSettings {
    std::string clientId;
    std::string group;
    std::vector<std::string> topics;
    int sessionTimeoutMs = 3000;
    int requestTimeoutMs = 5000;
};

class BrokerBackend
{
public:
    virtual ~BrokerBackend() = default;
    virtual Result<void> ensureTopic(const TopicSpec &spec) = 0;
    virtual Result<std::unique_ptr<SimProducer>> producer(const ProducerSettings &settings) = 0;
    virtual Result<std::unique_ptr<SimConsumer>> consumer(const ConsumerSettings &settings) = 0;
    // Total lag of a group over its topics (committed offsets against the high watermarks).
    virtual Result<int64_t> groupLag(const std::string &group) = 0;
    // Every record of a topic from its log start, read outside any group (the checker's final
    // read): the value of header `idHeader` of each record that has one.
    virtual Result<std::vector<std::string>> readIds(const std::string &topic,
                                                     const std::string &idHeader) = 0;
};

} // namespace eddy::sim
