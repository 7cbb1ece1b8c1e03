// The workload the crash tests run against a broker they keep killing or freezing, and the
// checks they make after each restart. Producers (acks=durable, idempotent) record every
// acknowledged (partition, offset, payload id); a consumer group member records every record it
// is given and every commit the broker acknowledged. verify() then reads the whole topic back
// and checks: each acknowledged record is at its acknowledged offset with its payload; offsets
// run 0..high watermark without a hole; no payload id is stored twice; the group's committed
// offsets are at least every acknowledged commit and never move back. The consumer checks as it
// goes that it never skips an offset (a record past the one after the last it saw), and
// finish() drains it to the end and checks it saw everything.
#pragma once

#include "admin.h"
#include "connection.h"
#include "consumer.h"
#include "producer.h"

#include <QString>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace crash {

using eddy::client::Json;

struct WorkloadOptions {
    std::string url;
    std::string topic = "crash";
    int partitions = 3;
    std::string group = "crash-group";
    int producers = 2;
    int burst = 10;           // records a producer sends before waiting for their acks
    int pauseMs = 30;         // between bursts
    int sessionTimeoutMs = 6000;
    bool checkDeliveredPayloads = true; // false in fast mode: readers may see records a crash
                                        // takes back before they were acknowledged
};

struct Stats {
    std::size_t acked = 0;
    std::size_t failedSends = 0;
    std::size_t delivered = 0;
    std::size_t commits = 0;
    std::size_t failedCommits = 0;
    std::size_t stored = 0;
};

class Workload
{
public:
    explicit Workload(WorkloadOptions options) : m_options(std::move(options)) {}
    ~Workload() { stopAll(); }

    // Creates the topic (retrying while the broker starts) and starts the clients.
    QString start()
    {
        for (int attempt = 0; attempt < 50; ++attempt) {
            auto admin = eddy::client::Admin::open(m_options.url, 3000);
            if (admin) {
                auto created = (*admin)->createTopic(m_options.topic, m_options.partitions);
                if (created || created.code() == eddy::Errc::TopicAlreadyExists)
                    break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (attempt == 49)
                return "could not create the topic";
        }
        for (int i = 0; i < m_options.producers; ++i)
            m_producers.emplace_back([this, i] { producerLoop(i); });
        m_consumer = std::thread([this] { consumerLoop(); });
        return {};
    }

    // Waits until the workload has made progress since the call: at least `acks` more
    // acknowledged records (or the timeout).
    bool waitForAcks(std::size_t acks, int timeoutMs)
    {
        const std::size_t target = ackedCount() + acks;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (ackedCount() < target && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return ackedCount() >= target;
    }

    // Reads everything back from the (running) broker and checks every invariant against what
    // was acknowledged so far. Returns the first violation, or an empty string.
    QString verify()
    {
        // Snapshots first, the store read after them: the clients keep working meanwhile, and
        // everything acknowledged, delivered or committed before the read must be in it.
        std::vector<Ack> acked;
        std::map<int32_t, int64_t> ackedCommits;
        std::map<int32_t, std::map<int64_t, std::string>> delivered;
        {
            std::lock_guard lock(m_mutex);
            acked = m_acked;
            ackedCommits = m_ackedCommits;
            if (m_options.checkDeliveredPayloads)
                delivered = m_delivered;
        }
        auto connection = eddy::client::Connection::open(m_options.url);
        if (!connection)
            return "verify: cannot connect: " + QString::fromStdString(connection.error().message);
        auto committed = (*connection)->call(
            {{"op", "committed"}, {"group", m_options.group}, {"topic", m_options.topic}}, 10000);
        if (!committed && committed.code() != eddy::Errc::UnknownGroup)
            return "verify: committed: " + QString::fromStdString(committed.error().message);
        std::vector<std::vector<std::string>> stored(m_options.partitions);
        std::unordered_set<std::string> ids;
        std::size_t total = 0;
        for (int32_t p = 0; p < m_options.partitions; ++p) {
            int64_t next = 0;
            int64_t highWatermark = -1;
            while (highWatermark < 0 || next < highWatermark) {
                auto reply = (*connection)->call({{"op", "fetch"},
                                                  {"topic", m_options.topic},
                                                  {"partition", p},
                                                  {"offset", next},
                                                  {"max_records", 5000},
                                                  {"max_bytes", 4 << 20}},
                                                 10000);
                if (!reply)
                    return QString("verify: fetch %1@%2: %3")
                        .arg(p)
                        .arg(next)
                        .arg(QString::fromStdString(reply.error().message));
                highWatermark = (*reply)["high_watermark"].get<int64_t>();
                if ((*reply)["log_start_offset"].get<int64_t>() != 0)
                    return QString("partition %1 lost its log start").arg(p);
                const auto &records = (*reply)["records"];
                if (records.empty() && next < highWatermark)
                    return QString("partition %1: no records at %2 below the high watermark %3")
                        .arg(p)
                        .arg(next)
                        .arg(highWatermark);
                for (const auto &r : records) {
                    const int64_t offset = r["offset"].get<int64_t>();
                    if (offset != next)
                        return QString("partition %1: offset %2 where %3 was due (a hole or a "
                                       "repeat)")
                            .arg(p)
                            .arg(offset)
                            .arg(next);
                    const std::string id = payloadId(r["value"].get<std::string>());
                    if (!ids.insert(id).second)
                        return QString("payload %1 is stored twice")
                            .arg(QString::fromStdString(id));
                    stored[p].push_back(id);
                    ++next;
                }
            }
            total += stored[p].size();
            std::lock_guard lock(m_mutex);
            if (int64_t(stored[p].size()) < m_highestVerified[p])
                return QString("partition %1 shrank from %2 to %3 records")
                    .arg(p)
                    .arg(m_highestVerified[p])
                    .arg(stored[p].size());
            m_highestVerified[p] = int64_t(stored[p].size());
        }
        for (const auto &a : acked) {
            if (a.offset < 0 || a.offset >= int64_t(stored[a.partition].size()))
                return QString("acknowledged %1 at %2@%3 is gone (the partition ends at %4)")
                    .arg(QString::fromStdString(a.id))
                    .arg(a.partition)
                    .arg(a.offset)
                    .arg(stored[a.partition].size());
            if (stored[a.partition][a.offset] != a.id)
                return QString("%1@%2 holds %3, but %4 was acknowledged there")
                    .arg(a.partition)
                    .arg(a.offset)
                    .arg(QString::fromStdString(stored[a.partition][a.offset]))
                    .arg(QString::fromStdString(a.id));
        }
        std::map<int32_t, int64_t> now;
        if (committed)
            for (const auto &o : (*committed)["offsets"])
                now[o["partition"].get<int32_t>()] = o["offset"].get<int64_t>();
        std::lock_guard lock(m_mutex);
        for (int32_t p = 0; p < m_options.partitions; ++p) {
            const int64_t c = now.count(p) ? now[p] : -1;
            if (ackedCommits.count(p) && c < ackedCommits[p])
                return QString("partition %1: committed offset %2 is behind the acknowledged "
                               "commit %3")
                    .arg(p)
                    .arg(c)
                    .arg(ackedCommits[p]);
            if (m_observedCommits.count(p) && c < m_observedCommits[p])
                return QString("partition %1: committed offset went back from %2 to %3")
                    .arg(p)
                    .arg(m_observedCommits[p])
                    .arg(c);
            if (c > int64_t(stored[p].size()))
                return QString("partition %1: committed offset %2 is past the end %3")
                    .arg(p)
                    .arg(c)
                    .arg(stored[p].size());
            m_observedCommits[p] = c;
            if (m_options.checkDeliveredPayloads) {
                for (const auto &[offset, id] : delivered[p])
                    if (offset >= int64_t(stored[p].size()) || stored[p][offset] != id)
                        return QString("the consumer was given %1 at %2@%3, which the store "
                                       "does not hold there")
                            .arg(QString::fromStdString(id))
                            .arg(p)
                            .arg(offset);
            }
        }
        if (!m_violation.isEmpty())
            return m_violation;
        m_stats.stored = total;
        return {};
    }

    // Stops the producers, lets the consumer read and commit up to the end, stops it, and checks
    // that it was given every offset and committed the end of every partition.
    QString finish(int timeoutMs)
    {
        m_stopProducers = true;
        for (auto &t : m_producers)
            t.join();
        m_producers.clear();
        if (auto v = verify(); !v.isEmpty())
            return v;
        std::vector<int64_t> ends;
        {
            std::lock_guard lock(m_mutex);
            for (int32_t p = 0; p < m_options.partitions; ++p)
                ends.push_back(m_highestVerified[p]);
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        bool drained = false;
        while (!drained && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            std::lock_guard lock(m_mutex);
            drained = true;
            for (int32_t p = 0; p < m_options.partitions; ++p)
                if (m_ackedCommits[p] < ends[p])
                    drained = false;
        }
        m_stopConsumer = true;
        m_consumer.join();
        if (!drained) {
            QString state;
            std::lock_guard lock(m_mutex);
            for (int32_t p = 0; p < m_options.partitions; ++p)
                state += QString(" %1: seen up to %2, committed %3, end %4;")
                             .arg(p)
                             .arg(m_maxSeen.count(p) ? m_maxSeen[p] : -1)
                             .arg(m_ackedCommits[p])
                             .arg(ends[p]);
            return "the consumer did not reach the end of every partition:" + state;
        }
        return verify();
    }

    Stats stats()
    {
        std::lock_guard lock(m_mutex);
        Stats s = m_stats;
        s.acked = m_acked.size();
        return s;
    }

private:
    struct Ack {
        int32_t partition;
        int64_t offset;
        std::string id;
    };

    static std::string payloadId(const std::string &value)
    {
        return value.substr(0, value.find(':'));
    }

    std::size_t ackedCount()
    {
        std::lock_guard lock(m_mutex);
        return m_acked.size();
    }

    void stopAll()
    {
        m_stopProducers = true;
        m_stopConsumer = true;
        for (auto &t : m_producers)
            t.join();
        m_producers.clear();
        if (m_consumer.joinable())
            m_consumer.join();
    }

    void producerLoop(int index)
    {
        std::unique_ptr<eddy::client::Producer> producer;
        std::mt19937 random(static_cast<unsigned>(index * 7919 + 1));
        uint64_t n = 0;
        while (!m_stopProducers) {
            if (!producer) {
                eddy::client::ProducerOptions o;
                o.url = m_options.url;
                o.acks = eddy::Acks::Durable;
                o.lingerMs = 2;
                o.requestTimeoutMs = 2000;
                o.retries = 10;
                o.retryBackoffMs = 100;
                o.clientId = "crash-producer-" + std::to_string(index);
                auto opened = eddy::client::Producer::open(o);
                if (!opened) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    continue;
                }
                producer = std::move(*opened);
            }
            std::vector<
                std::pair<std::string, std::future<eddy::Result<eddy::client::DeliveryReport>>>>
                sent;
            for (int i = 0; i < m_options.burst; ++i) {
                const std::string id = "p" + std::to_string(index) + "-" + std::to_string(n++);
                eddy::Record record;
                record.key = id;
                record.value = id + ":" + std::string(48 + random() % 64, char('a' + n % 26));
                sent.emplace_back(id, producer->send(m_options.topic, std::move(record)));
            }
            bool failed = false;
            for (auto &[id, future] : sent) {
                const auto report = future.get();
                std::lock_guard lock(m_mutex);
                if (report) {
                    m_acked.push_back({report->partition, report->offset, id});
                } else {
                    ++m_stats.failedSends;
                    failed = true;
                }
            }
            // A batch that failed may leave a gap in this producer's sequences: start over with
            // a new producer id, as an application would.
            if (failed)
                producer.reset();
            std::this_thread::sleep_for(std::chrono::milliseconds(m_options.pauseMs));
        }
    }

    void consumerLoop()
    {
        std::unique_ptr<eddy::client::Consumer> consumer;
        while (!m_stopConsumer) {
            if (!consumer) {
                eddy::client::ConsumerOptions o;
                o.url = m_options.url;
                o.group = m_options.group;
                o.topics = {m_options.topic};
                o.sessionTimeoutMs = m_options.sessionTimeoutMs;
                o.autoCommit = false;
                o.requestTimeoutMs = 2000;
                o.clientId = "crash-consumer";
                auto opened = eddy::client::Consumer::open(o);
                if (!opened) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    continue;
                }
                consumer = std::move(*opened);
            }
            auto polled = consumer->poll(300);
            if (!polled)
                continue; // the broker is down or restarting; the consumer rejoins by itself
            std::map<eddy::TopicPartition, int64_t> next;
            {
                std::lock_guard lock(m_mutex);
                for (const auto &r : *polled) {
                    const int64_t offset = r.record.offset;
                    const int64_t seen = m_maxSeen.count(r.partition) ? m_maxSeen[r.partition] : -1;
                    if (offset > seen + 1 && m_violation.isEmpty())
                        m_violation = QString("the consumer skipped from %1 to %2 on partition %3")
                                          .arg(seen)
                                          .arg(offset)
                                          .arg(r.partition);
                    m_maxSeen[r.partition] = std::max(seen, offset);
                    m_delivered[r.partition][offset] = payloadId(r.record.value);
                    next[{r.topic, r.partition}] = offset + 1;
                    ++m_stats.delivered;
                }
            }
            if (next.empty())
                continue;
            const auto committed = consumer->commit(next);
            std::lock_guard lock(m_mutex);
            if (committed) {
                ++m_stats.commits;
                for (const auto &[tp, offset] : next)
                    m_ackedCommits[tp.partition] = std::max(m_ackedCommits[tp.partition], offset);
            } else {
                ++m_stats.failedCommits;
            }
        }
        if (consumer)
            [[maybe_unused]] const auto left = consumer->close();
    }

    const WorkloadOptions m_options;
    std::vector<std::thread> m_producers;
    std::thread m_consumer;
    std::atomic<bool> m_stopProducers{false};
    std::atomic<bool> m_stopConsumer{false};

    std::mutex m_mutex;
    std::vector<Ack> m_acked;
    std::map<int32_t, int64_t> m_ackedCommits;     // highest commit the broker acknowledged
    std::map<int32_t, int64_t> m_observedCommits;  // committed offsets verify() read last
    std::map<int32_t, int64_t> m_highestVerified;  // records verify() found last
    std::map<int32_t, int64_t> m_maxSeen;          // highest offset the consumer was given
    std::map<int32_t, std::map<int64_t, std::string>> m_delivered;
    QString m_violation;
    Stats m_stats;
};

} // namespace crash
