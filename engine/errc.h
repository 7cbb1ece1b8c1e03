#pragma once

#include <string>
#include <string_view>

namespace eddy {

// Every failure the engine reports. The names (errcName) are the stable codes of the wire
// protocol, so a value's meaning never changes once published; new codes are appended.
enum class Errc {
    InvalidRequest,      // a field is missing, of the wrong type or out of its documented range
    InvalidTopicName,    // not 1-249 characters of [A-Za-z0-9._-], or "." / ".."
    InvalidPartitions,   // partition count outside 1-1024, or not an increase on alter
    InvalidConfig,       // retention or other topic setting out of range
    TopicAlreadyExists,
    UnknownTopic,
    UnknownPartition,    // partition index negative or >= the topic's partition count
    InvalidOffset,       // negative offset where a position was required
    OffsetOutOfRange,    // before the log-start offset or past the high watermark
    RecordTooLarge,      // one record's key, value or headers exceed the configured limit
    BatchTooLarge,       // too many records or bytes in one produce
    EmptyBatch,
    OutOfOrderSequence,  // idempotent produce whose sequence leaves a gap
    DuplicateSequence,   // idempotent retry too old to be matched to its original offsets
    InvalidProducerId,
    InvalidGroupId,
    UnknownGroup,
    UnknownMember,
    StaleGeneration,     // the caller's generation is older than the group's current one
    GroupNotEmpty,       // operation needs a group without active members (offset reset)
    InvalidSessionTimeout,
    OffsetRegression,    // commit lower than the committed offset without an explicit reset
    NotAssigned,         // member commits or reads a partition it does not own
    StorageFull,         // the store is out of space; nothing of the request was acknowledged
    StorageError,        // the store failed to persist; nothing of the request was acknowledged
    CorruptStore,        // the store failed its integrity check at start-up
    Timeout,
    ShuttingDown,
    Internal,
    MalformedRequest,    // not valid JSON / not a valid binary frame, or nested too deeply
    UnknownOp,
    UnsupportedVersion,  // protocol version the broker does not speak
    PartitionOffline,    // the partition is unavailable for now (injected fault); retry later
    Unauthenticated,     // access control is on and the connection has not authenticated (or
                         // the token given to `auth` matches no principal)
    Forbidden,           // the connection's principal may not do this op on this topic/group
    AuthRateLimited,     // too many failed `auth` attempts from this address; wait and retry
};

// The last code of Errc, for code that walks every value.
inline constexpr Errc kLastErrc = Errc::AuthRateLimited;

// The stable upper-snake code of an error, e.g. "UNKNOWN_TOPIC".
std::string_view errcName(Errc code);

// True for errors a client may retry unchanged (storage pressure, timeouts, an offline
// partition).
bool errcRetriable(Errc code);

} // namespace eddy
