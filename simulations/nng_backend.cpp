// BrokerBackend over Eddy's client library. Producers are used synchronously per record by the
// simulated actors, so linger is off: each send goes out at once and the actor measures the
// real acknowledgement time.
#include "nng_backend.h"

#include "admin.h"
#include "consumer.h"
#include "producer.h"
#include "reader.h"

namespace eddy::sim {

namespace {

class NngProducer : public SimProducer
{
public:
    explicit NngProducer(std::unique_ptr<client::Producer> producer)
        : m_producer(std::move(producer))
    {
    }
    Result<SimDelivery> send(const std::string &topic, Record record) override
    {
        auto report = m_producer->send(topic, std::move(record)).get();
        if (!report)
            return report.error();
        return SimDelivery{report->partition, report->offset};
    }
    void close() override { m_producer->close(); }

private:
    std::unique_ptr<client::Producer> m_producer;
};

class NngConsumer : public SimConsumer
{
public:
    explicit NngConsumer(std::unique_ptr<client::Consumer> consumer)
        : m_consumer(std::move(consumer))
    {
    }
    ~NngConsumer() override
    {
        if (m_crashed)
            return;
        (void)m_consumer->close();
    }
    Result<std::vector<SimRecord>> poll(int timeoutMs) override
    {
        auto polled = m_consumer->poll(timeoutMs);
        if (!polled)
            return polled.error();
        std::vector<SimRecord> out;
        out.reserve(polled->size());
        for (auto &r : *polled)
            out.push_back({std::move(r.topic), r.partition, std::move(r.record)});
        return out;
    }
    Result<void> commit() override { return m_consumer->commitSync(); }
    int32_t generation() const override { return m_consumer->generation(); }
    std::vector<TopicPartition> assignment() const override { return m_consumer->assignment(); }
    void pause() override { m_consumer->pause(); }
    void resume() override { m_consumer->resume(); }
    void close() override { (void)m_consumer->close(); }
    void crash() override
    {
        m_crashed = true;
        m_consumer->abandon();
    }

private:
    std::unique_ptr<client::Consumer> m_consumer;
    bool m_crashed = false;
};

class NngBackend : public BrokerBackend
{
public:
    NngBackend(std::string url, std::string token)
        : m_url(std::move(url))
        , m_token(std::move(token))
    {
    }

    Result<void> ensureTopic(const TopicSpec &spec) override
    {
        auto admin = this->admin();
        if (!admin)
            return admin.error();
        auto created = (*admin)->createTopic(spec.name, spec.partitions, spec.retention);
        if (created || created.code() == Errc::TopicAlreadyExists)
            return {};
        return created.error();
    }

    Result<std::unique_ptr<SimProducer>> producer(const ProducerSettings &s) override
    {
        client::ProducerOptions o;
        o.url = m_url;
        o.token = m_token;
        o.acks = s.acks;
        o.idempotent = s.idempotent && s.acks != Acks::None;
        o.lingerMs = 0;
        o.clientId = s.clientId;
        o.requestTimeoutMs = s.requestTimeoutMs;
        auto p = client::Producer::open(o);
        if (!p)
            return p.error();
        return std::unique_ptr<SimProducer>(new NngProducer(std::move(*p)));
    }

    Result<std::unique_ptr<SimConsumer>> consumer(const ConsumerSettings &s) override
    {
        client::ConsumerOptions o;
        o.url = m_url;
        o.token = m_token;
        o.group = s.group;
        o.topics = s.topics;
        o.sessionTimeoutMs = s.sessionTimeoutMs;
        o.autoCommit = false; // the actor commits as its scenario says
        o.clientId = s.clientId;
        o.requestTimeoutMs = s.requestTimeoutMs;
        o.maxPollRecords = 100;
        auto c = client::Consumer::open(o);
        if (!c)
            return c.error();
        return std::unique_ptr<SimConsumer>(new NngConsumer(std::move(*c)));
    }

    Result<int64_t> groupLag(const std::string &group) override
    {
        auto admin = this->admin();
        if (!admin)
            return admin.error();
        auto d = (*admin)->describeGroup(group);
        if (!d)
            return d.error();
        return d->totalLag;
    }

    Result<std::vector<std::string>> readIds(const std::string &topic,
                                             const std::string &idHeader) override
    {
        client::ReaderOptions o;
        o.url = m_url;
        o.token = m_token;
        o.topic = topic;
        o.maxRecords = 5000;
        o.maxBytes = 8 << 20;
        auto reader = client::Reader::open(o);
        if (!reader)
            return reader.error();
        std::vector<std::string> out;
        while (!(*reader)->caughtUp()) {
            auto records = (*reader)->read(0);
            if (!records)
                return records.error();
            if (records->empty())
                break;
            for (const auto &r : *records)
                for (const auto &h : r.record.headers)
                    if (h.key == idHeader)
                        out.push_back(h.value);
        }
        return out;
    }

private:
    Result<client::Admin *> admin()
    {
        std::lock_guard lock(m_mutex);
        if (!m_admin) {
            client::ConnectionOptions o;
            o.url = m_url;
            o.token = m_token;
            auto a = client::Admin::open(o, 5000);
            if (!a)
                return a.error();
            m_admin = std::move(*a);
        }
        return m_admin.get();
    }

    std::string m_url;
    std::string m_token;
    std::mutex m_mutex;
    std::unique_ptr<client::Admin> m_admin;
};

} // namespace

std::unique_ptr<BrokerBackend> makeNngBackend(const std::string &url, const std::string &token)
{
    return std::make_unique<NngBackend>(url, token);
}

} // namespace eddy::sim
