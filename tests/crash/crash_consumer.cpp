// A consumer group member as its own process, for tests that freeze a client with SIGSTOP. It
// polls, commits what it was given after every poll and reports on stdout, one line each:
//   R <partition> <offset> <payload id>   a record it was given
//   J <partition> <offset> <committed>    the record starts a new run on that partition (first
//                                         one, or not the one after the last): the group's
//                                         committed offset as read right after, which a resume
//                                         must not pass (-1: nothing committed)
//   C <partition> <offset>                a commit the broker acknowledged
// SIGTERM makes it commit, leave the group and exit 0.
// Usage: crash_consumer URL GROUP TOPIC SESSION_TIMEOUT_MS
#include "admin.h"
#include "consumer.h"

#include <csignal>
#include <cstdio>
#include <map>
#include <string>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void onTerm(int)
{
    g_stop = 1;
}

int64_t committedOffset(eddy::client::Admin &admin, const std::string &group,
                        const std::string &topic, int32_t partition)
{
    auto offsets = admin.committed(group, topic);
    if (!offsets)
        return -2; // unknown: the check is skipped
    for (const auto &o : *offsets)
        if (o.partition == partition)
            return o.offset;
    return -1;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: crash_consumer URL GROUP TOPIC SESSION_TIMEOUT_MS\n");
        return 2;
    }
    std::signal(SIGTERM, onTerm);
    eddy::client::ConsumerOptions options;
    options.url = argv[1];
    options.group = argv[2];
    options.topics = {argv[3]};
    options.sessionTimeoutMs = std::stoi(argv[4]);
    options.autoCommit = false;
    options.requestTimeoutMs = 3000;
    options.clientId = "crash-consumer";
    auto consumer = eddy::client::Consumer::open(options);
    auto admin = eddy::client::Admin::open(options.url, 3000);
    if (!consumer || !admin) {
        std::fprintf(stderr, "crash_consumer: cannot connect to %s\n", argv[1]);
        return 1;
    }
    std::map<int32_t, int64_t> last; // last offset given per partition
    while (!g_stop) {
        auto polled = (*consumer)->poll(200);
        if (!polled)
            continue; // evicted while frozen, or a timeout: the consumer rejoins by itself
        std::map<eddy::TopicPartition, int64_t> next;
        for (const auto &r : *polled) {
            const int64_t offset = r.record.offset;
            const std::string id = r.record.value.substr(0, r.record.value.find(':'));
            std::printf("R %d %lld %s\n", r.partition, static_cast<long long>(offset), id.c_str());
            const auto it = last.find(r.partition);
            if (it == last.end() || offset != it->second + 1)
                std::printf("J %d %lld %lld\n", r.partition, static_cast<long long>(offset),
                            static_cast<long long>(
                                committedOffset(**admin, options.group, r.topic, r.partition)));
            last[r.partition] = offset;
            next[{r.topic, r.partition}] = offset + 1;
        }
        if (!next.empty() && (*consumer)->commit(next))
            for (const auto &[tp, offset] : next)
                std::printf("C %d %lld\n", tp.partition, static_cast<long long>(offset));
        std::fflush(stdout);
    }
    const auto closed = (*consumer)->close();
    return closed ? 0 : 1;
}
