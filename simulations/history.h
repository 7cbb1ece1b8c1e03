#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace eddy::sim {

// What the simulation observed, record by record, for the correctness checker. Every produced
// record carries a unique id (the producer instance and a sequence number) in a header, so the
// checker can follow it regardless of offsets.

struct ProduceEvent {
    std::string recordId;   // "<service>#<instance>:<seq>"
    std::string topic;
    int32_t partition = -1; // -1 when not acknowledged
    int64_t offset = -1;    // -1 when not acknowledged
    std::string key;
    bool acknowledged = false; // the broker acknowledged it (acks != none)
    int64_t timeMs = 0;     // simulation clock (ms since start)
};

struct ConsumeEvent {
    std::string recordId;
    std::string group;      // the consuming group
    std::string consumer;   // "<service>#<instance>"
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int32_t generation = 0; // group generation the consumer held when it received the record
    int64_t timeMs = 0;
};

struct DeadLetterEvent {
    std::string recordId;
    std::string group;
    std::string deadLetterTopic;
    int attempts = 0;
    int64_t timeMs = 0;
    bool stored = false; // the dead-letter topic acknowledged the record
};

struct History {
    std::vector<ProduceEvent> produced;
    std::vector<ConsumeEvent> consumed;
    std::vector<DeadLetterEvent> deadLettered;
    // group -> topics it subscribes to (a record must be consumed by every subscribing group)
    std::vector<std::pair<std::string, std::vector<std::string>>> subscriptions;
    // Record ids found in each topic's log by a read after the run (Jepsen's final read). For a
    // topic listed here, an acknowledged record a group never consumed is lost only when it is
    // missing from the log too; still in the log, it is backlog the group had not reached
    // ("unconsumed"). Topics not listed: every such record counts as lost.
    std::map<std::string, std::unordered_set<std::string>> finalRead;
};

// The checker's verdict, per group and overall.
struct GroupVerdict {
    std::string group;
    int64_t expected = 0;      // acknowledged records on the group's topics
    int64_t consumed = 0;      // distinct records consumed
    int64_t lost = 0;          // acknowledged, never consumed nor dead-lettered, not in the log
    int64_t unconsumed = 0;    // acknowledged and in the log, but the group never got to it
    int64_t duplicates = 0;    // extra deliveries of already consumed records
    int64_t reordered = 0;     // per-partition offset order violations within a consumer session
    int64_t deadLettered = 0;
    // Phantoms: distinct ids consumed or dead-lettered that no producer ever produced. Always an
    // error, whatever the delivery guarantee.
    int64_t unknown = 0;
    std::vector<std::string> lostSamples;      // up to 10 ids, for the report
    std::vector<std::string> duplicateSamples;
    std::vector<std::string> reorderSamples;
    std::vector<std::string> unknownSamples;   // added with `unknown`, same rules as the others
};

struct Verdict {
    int64_t produced = 0;
    int64_t acknowledged = 0;
    int64_t lost = 0;
    int64_t unconsumed = 0;
    int64_t duplicates = 0;
    int64_t reordered = 0;
    int64_t deadLettered = 0;
    int64_t unknown = 0;       // phantom records, summed over groups (see GroupVerdict::unknown)
    bool atLeastOnce = true;   // duplicates allowed (and counted) when true
    bool ok = true;            // no loss, reorder or phantom; no duplicates unless at-least-once
    std::vector<GroupVerdict> groups;
};

// Computes the verdict from a history, Jepsen-style: from record identities, not from counters.
// A delivery counts as reordered when a consumer receives, on one partition within one
// generation, an offset lower than one it already received there (after a rebalance a new owner
// legitimately restarts from the committed offset).
Verdict checkHistory(const History &history, bool atLeastOnce);

// A human summary of a verdict, one line per group, e.g.
// "billing: 10000 expected, 10000 consumed, 0 lost, 12 duplicates, 0 reordered, 3 dead-lettered"
// (", N unknown" is appended only when there are phantom records).
std::string verdictSummary(const Verdict &verdict);

} // namespace eddy::sim
