// The correctness checker: turns what a simulation observed (a History) into a Jepsen-style
// Verdict. It works from record identities only - the unique id every simulated producer stamps
// on its records - never from broker counters, so a broker that miscounts cannot hide a loss.
// Every produced id gets a dense index; each group then counts deliveries and dead letters per
// index, which yields lost, duplicated and dead-lettered records in one sequential walk, while
// ids nobody produced (phantoms) go to a small side table. Offset order is judged per consumer,
// (topic, partition) and generation. Ids are never copied: the indexes hold string_views into
// the History, and the id table is open-addressed, so a million produce and a million consume
// events check in a few hundred milliseconds rather than seconds of node allocations.
#include "history.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace eddy::sim {

namespace {

constexpr size_t MaxSamples = 10;
constexpr uint32_t NoRecord = UINT32_MAX;

// What the checker needs to know about a produced id.
struct ProducedRecord {
    std::string_view id;
    uint32_t topic = 0;        // interned topic name
    bool acknowledged = false;
    bool inLog = false;        // found by the final read
};

// Produced id -> dense record index. Open addressing with linear probing, sized once for the
// number of produce events (load factor <= 1/2), because this table takes one insert per
// produce and one lookup per delivery and dead letter: std::unordered_map spends most of the
// checker's time allocating nodes and chasing them.
class IdIndex
{
public:
    explicit IdIndex(size_t capacityHint)
    {
        size_t capacity = 16;
        while (capacity < capacityHint * 2)
            capacity <<= 1;
        m_slots.assign(capacity, Slot{});
        m_mask = capacity - 1;
    }

    // The index stored for `id`, inserting `next` when absent; second is true when inserted.
    std::pair<uint32_t, bool> insert(std::string_view id, uint32_t next)
    {
        const size_t hash = std::hash<std::string_view>{}(id);
        Slot &slot = m_slots[position(id, hash)];
        if (slot.index != NoRecord)
            return {slot.index, false};
        slot = Slot{id.data(), uint32_t(id.size()), uint32_t(hash), next};
        return {next, true};
    }

    uint32_t find(std::string_view id) const
    {
        return m_slots[position(id, std::hash<std::string_view>{}(id))].index;
    }

private:
    struct Slot {
        const char *data = nullptr;
        uint32_t size = 0;
        uint32_t hash = 0;     // low bits of the hash: skips reading other ids' bytes on a probe
        uint32_t index = NoRecord;
    };

    size_t position(std::string_view id, size_t hash) const
    {
        size_t at = hash & m_mask;
        for (;;) {
            const Slot &slot = m_slots[at];
            if (slot.index == NoRecord
                || (slot.hash == uint32_t(hash) && slot.size == id.size()
                    && std::memcmp(slot.data, id.data(), id.size()) == 0))
                return at;
            at = (at + 1) & m_mask;
        }
    }

    std::vector<Slot> m_slots;
    size_t m_mask = 0;
};

// Small names (topics, consumers, groups) -> dense integers.
class NameTable
{
public:
    uint32_t intern(std::string_view name)
    {
        // Consecutive events mostly repeat the previous name; skip the hash for those.
        if (m_last != NoRecord && name == m_lastName)
            return m_last;
        const auto [it, inserted] = m_ids.try_emplace(name, uint32_t(m_ids.size()));
        m_lastName = name;
        m_last = it->second;
        return m_last;
    }

    uint32_t find(std::string_view name) const
    {
        const auto it = m_ids.find(name);
        return it == m_ids.end() ? NoRecord : it->second;
    }

    size_t size() const { return m_ids.size(); }

private:
    std::unordered_map<std::string_view, uint32_t> m_ids;
    std::string_view m_lastName;
    uint32_t m_last = NoRecord;
};

// One consumer's view of one partition in one group generation: the unit within which offsets
// must only grow.
struct StreamKey {
    uint32_t consumer = 0;
    uint32_t topic = 0;
    int32_t partition = 0;
    int32_t generation = 0;

    bool operator==(const StreamKey &) const = default;
};

struct StreamKeyHash {
    size_t operator()(const StreamKey &key) const noexcept
    {
        uint64_t h = (uint64_t(key.consumer) << 32) | key.topic;
        h ^= ((uint64_t(uint32_t(key.partition)) << 32) | uint32_t(key.generation))
             * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        return size_t(h ^ (h >> 32));
    }
};

// Keeps the smallest MaxSamples distinct ids offered, so samples are deterministic whatever the
// order of the walk, without sorting a million lost ids in a catastrophic run.
class SampleSet
{
public:
    void offer(std::string_view id)
    {
        if (m_ids.size() == MaxSamples && id >= *m_ids.rbegin())
            return;
        m_ids.insert(id);
        if (m_ids.size() > MaxSamples)
            m_ids.erase(std::prev(m_ids.end()));
    }

    std::vector<std::string> take() const { return {m_ids.begin(), m_ids.end()}; }

private:
    std::set<std::string_view> m_ids;
};

struct GroupState {
    std::string_view name;
    std::vector<char> subscribed;           // by interned topic
    std::vector<uint32_t> deliveries;       // by record index: times delivered to the group
    std::vector<char> deadLettered;         // by record index
    // Ids nobody produced, kept apart so the dense vectors stay indexed by produced records.
    std::unordered_map<std::string_view, int64_t> phantomDeliveries;
    std::unordered_set<std::string_view> phantomDeadLetters;
    std::unordered_map<StreamKey, int64_t, StreamKeyHash> highestOffset;
    int64_t reordered = 0;
    SampleSet reorderSamples;
};

} // namespace

Verdict checkHistory(const History &history, bool atLeastOnce)
{
    Verdict verdict;
    verdict.atLeastOnce = atLeastOnce;

    // Produced ids. A producer retry may report the same id twice; the record counts as
    // acknowledged if any attempt was, and then on the topic that attempt reported.
    NameTable topics;
    IdIndex index(history.produced.size());
    std::vector<ProducedRecord> records;
    records.reserve(history.produced.size());
    for (const ProduceEvent &event : history.produced) {
        ++verdict.produced;
        if (event.acknowledged)
            ++verdict.acknowledged;
        const uint32_t topic = topics.intern(event.topic);
        const auto log = history.finalRead.find(event.topic);
        const bool inLog = log != history.finalRead.end() && log->second.contains(event.recordId);
        const auto [at, inserted] = index.insert(event.recordId, uint32_t(records.size()));
        if (inserted) {
            records.push_back(ProducedRecord{event.recordId, topic, event.acknowledged, inLog});
        } else {
            records[at].acknowledged = records[at].acknowledged || event.acknowledged;
            records[at].inLog = records[at].inLog || inLog;
        }
    }

    // Groups: the subscribed ones, plus any group seen only in deliveries or dead letters -
    // it expects nothing, but its duplicates, reorderings and phantoms still deserve a verdict.
    std::vector<GroupState> groups;
    std::unordered_map<std::string_view, size_t> groupIndex;
    auto groupOf = [&](std::string_view name) -> GroupState & {
        const auto [it, inserted] = groupIndex.try_emplace(name, groups.size());
        if (inserted) {
            groups.emplace_back();
            GroupState &group = groups.back();
            group.name = name;
            group.subscribed.assign(topics.size(), 0);
            group.deliveries.assign(records.size(), 0);
            group.deadLettered.assign(records.size(), 0);
        }
        return groups[it->second];
    };
    for (const auto &[group, subscribedTopics] : history.subscriptions) {
        GroupState &state = groupOf(group);
        for (const std::string &topic : subscribedTopics) {
            // A topic nothing was produced to has no records to expect.
            if (const uint32_t t = topics.find(topic); t != NoRecord)
                state.subscribed[t] = 1;
        }
    }

    // Deliveries, in the order the history recorded them: that is the order consumers received
    // them, which is what offset order is judged against.
    NameTable consumers;
    NameTable streamTopics; // consumed topics may include ones nothing was produced to
    GroupState *group = nullptr;
    for (const ConsumeEvent &event : history.consumed) {
        if (!group || group->name != event.group)
            group = &groupOf(event.group);
        if (const uint32_t at = index.find(event.recordId); at != NoRecord)
            ++group->deliveries[at];
        else
            ++group->phantomDeliveries[event.recordId];

        const StreamKey key{consumers.intern(event.consumer), streamTopics.intern(event.topic),
                            event.partition, event.generation};
        const auto [it, first] = group->highestOffset.try_emplace(key, event.offset);
        if (first)
            continue;
        if (event.offset < it->second) {
            // Equal offsets are a redelivery (a duplicate), not a step backwards.
            ++group->reordered;
            group->reorderSamples.offer(event.recordId);
        } else {
            it->second = event.offset;
        }
    }

    for (const DeadLetterEvent &event : history.deadLettered) {
        GroupState &state = groupOf(event.group);
        if (const uint32_t at = index.find(event.recordId); at != NoRecord)
            state.deadLettered[at] = 1;
        else
            state.phantomDeadLetters.insert(event.recordId);
    }

    for (const GroupState &state : groups) {
        GroupVerdict result;
        result.group = std::string(state.name);
        result.reordered = state.reordered;
        SampleSet lostSamples;
        SampleSet duplicateSamples;
        SampleSet unknownSamples;

        for (size_t i = 0; i < records.size(); ++i) {
            const ProducedRecord &record = records[i];
            const uint32_t delivered = state.deliveries[i];
            if (delivered > 0) {
                ++result.consumed;
                if (delivered > 1) {
                    result.duplicates += delivered - 1;
                    duplicateSamples.offer(record.id);
                }
            }
            if (state.deadLettered[i])
                ++result.deadLettered;
            // Unacknowledged records promise nothing: consumed they are fine (counted above),
            // missing they are not lost.
            if (!record.acknowledged || !state.subscribed[record.topic])
                continue;
            ++result.expected;
            if (delivered == 0 && !state.deadLettered[i]) {
                if (record.inLog) {
                    ++result.unconsumed;
                } else {
                    ++result.lost;
                    lostSamples.offer(record.id);
                }
            }
        }

        for (const auto &[id, delivered] : state.phantomDeliveries) {
            ++result.consumed;
            ++result.unknown;
            unknownSamples.offer(id);
            if (delivered > 1) {
                result.duplicates += delivered - 1;
                duplicateSamples.offer(id);
            }
        }
        // A dead letter for an id nobody produced is a phantom too (counted once per id).
        for (const std::string_view id : state.phantomDeadLetters) {
            ++result.deadLettered;
            if (!state.phantomDeliveries.contains(id)) {
                ++result.unknown;
                unknownSamples.offer(id);
            }
        }

        result.lostSamples = lostSamples.take();
        result.duplicateSamples = duplicateSamples.take();
        result.reorderSamples = state.reorderSamples.take();
        result.unknownSamples = unknownSamples.take();

        verdict.lost += result.lost;
        verdict.unconsumed += result.unconsumed;
        verdict.duplicates += result.duplicates;
        verdict.reordered += result.reordered;
        verdict.deadLettered += result.deadLettered;
        verdict.unknown += result.unknown;
        verdict.groups.push_back(std::move(result));
    }

    std::sort(verdict.groups.begin(), verdict.groups.end(),
              [](const GroupVerdict &a, const GroupVerdict &b) { return a.group < b.group; });

    verdict.ok = verdict.lost == 0 && verdict.reordered == 0 && verdict.unknown == 0
                 && (atLeastOnce || verdict.duplicates == 0);
    return verdict;
}

std::string verdictSummary(const Verdict &verdict)
{
    std::string out;
    for (const GroupVerdict &group : verdict.groups) {
        out += group.group + ": " + std::to_string(group.expected) + " expected, "
               + std::to_string(group.consumed) + " consumed, " + std::to_string(group.lost)
               + " lost, " + std::to_string(group.duplicates) + " duplicates, "
               + std::to_string(group.reordered) + " reordered, "
               + std::to_string(group.deadLettered) + " dead-lettered";
        if (group.unknown > 0)
            out += ", " + std::to_string(group.unknown) + " unknown";
        if (group.unconsumed > 0)
            out += ", " + std::to_string(group.unconsumed) + " still unconsumed";
        out += '\n';
    }
    return out;
}

} // namespace eddy::sim
