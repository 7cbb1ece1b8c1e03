// The design document's seed scenario in Eddy's client library: a producer sends a
// `user.created` event to topic `events`, partition 0, and a consumer with auto-commit off logs
// each event it receives and commits it. Usage: eddy_seed_example [--broker URL]. Creates the
// topic when it is missing; stops once it has consumed the event it sent (or after 10 s).
#include "admin.h"
#include "consumer.h"
#include "producer.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

using namespace eddy;

namespace {

int failWith(const char *what, const Error &error)
{
    std::fprintf(stderr, "seed example: %s: %s: %s\n", what,
                 std::string(errcName(error.code)).c_str(), error.message.c_str());
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    std::string url = "tcp://127.0.0.1:7650";
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--broker") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--broker URL]\n", argv[0]);
            return 2;
        }
    }

    // The topic, created on first run (a second run finds it and carries on).
    auto admin = client::Admin::open(url);
    if (!admin)
        return failWith("connect", admin.error());
    if (auto created = (*admin)->createTopic("events", 1); !created
        && created.code() != Errc::TopicAlreadyExists)
        return failWith("create topic", created.error());

    // Producer: one event to partition 0, acknowledged once it is in the log.
    client::ProducerOptions producerOptions;
    producerOptions.url = url;
    producerOptions.acks = Acks::Leader;
    producerOptions.clientId = "seed-example";
    auto producer = client::Producer::open(producerOptions);
    if (!producer)
        return failWith("open producer", producer.error());
    const client::Json event = {
        {"type", "user.created"},
        {"payload", {{"id", 123}, {"name", "John Doe"}, {"email", "john@example.com"}}}};
    Record record;
    record.key = "user-123";
    record.value = event.dump();
    auto delivered = (*producer)->send("events", std::move(record), 0).get();
    (*producer)->close();
    if (!delivered)
        return failWith("send", delivered.error());
    std::printf("produced %s to events/%d at offset %lld\n", event.dump().c_str(),
                delivered->partition, static_cast<long long>(delivered->offset));

    // Consumer: manual commits, so an event counts as handled only once it was logged.
    client::ConsumerOptions consumerOptions;
    consumerOptions.url = url;
    consumerOptions.group = "seed-example";
    consumerOptions.topics = {"events"};
    consumerOptions.autoCommit = false;
    consumerOptions.autoOffsetReset = "earliest";
    consumerOptions.clientId = "seed-example";
    auto consumer = client::Consumer::open(consumerOptions);
    if (!consumer)
        return failWith("open consumer", consumer.error());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool sawOwn = false;
    while (!sawOwn && std::chrono::steady_clock::now() < deadline) {
        auto records = (*consumer)->poll(500);
        if (!records)
            return failWith("poll", records.error());
        for (const auto &r : *records) {
            const auto parsed = client::Json::parse(r.record.value, nullptr, false);
            const std::string type = parsed.is_object() && parsed.contains("type")
                                             && parsed["type"].is_string()
                                         ? parsed["type"].get<std::string>()
                                         : std::string("(not JSON)");
            std::printf("consumed %s/%d@%lld type=%s value=%s\n", r.topic.c_str(), r.partition,
                        static_cast<long long>(r.record.offset), type.c_str(),
                        r.record.value.c_str());
            sawOwn = sawOwn
                     || (r.partition == delivered->partition
                         && r.record.offset == delivered->offset);
        }
        if (!records->empty()) {
            if (auto committed = (*consumer)->commitSync(); !committed)
                return failWith("commit", committed.error());
            std::printf("committed\n");
        }
    }
    if (auto closed = (*consumer)->close(); !closed)
        return failWith("close consumer", closed.error());
    if (!sawOwn) {
        std::fprintf(stderr, "seed example: the event was not consumed within 10 s\n");
        return 1;
    }
    return 0;
}
