// Names and retry classes of the engine's error codes. The names are part of the wire protocol,
// which is why they are spelled out here once rather than derived from the enumerator text.
#include "errc.h"

namespace eddy {

std::string_view errcName(Errc code)
{
    switch (code) {
    case Errc::InvalidRequest: return "INVALID_REQUEST";
    case Errc::InvalidTopicName: return "INVALID_TOPIC_NAME";
    case Errc::InvalidPartitions: return "INVALID_PARTITIONS";
    case Errc::InvalidConfig: return "INVALID_CONFIG";
    case Errc::TopicAlreadyExists: return "TOPIC_ALREADY_EXISTS";
    case Errc::UnknownTopic: return "UNKNOWN_TOPIC";
    case Errc::UnknownPartition: return "UNKNOWN_PARTITION";
    case Errc::InvalidOffset: return "INVALID_OFFSET";
    case Errc::OffsetOutOfRange: return "OFFSET_OUT_OF_RANGE";
    case Errc::RecordTooLarge: return "RECORD_TOO_LARGE";
    case Errc::BatchTooLarge: return "BATCH_TOO_LARGE";
    case Errc::EmptyBatch: return "EMPTY_BATCH";
    case Errc::OutOfOrderSequence: return "OUT_OF_ORDER_SEQUENCE";
    case Errc::DuplicateSequence: return "DUPLICATE_SEQUENCE";
    case Errc::InvalidProducerId: return "INVALID_PRODUCER_ID";
    case Errc::InvalidGroupId: return "INVALID_GROUP_ID";
    case Errc::UnknownGroup: return "UNKNOWN_GROUP";
    case Errc::UnknownMember: return "UNKNOWN_MEMBER";
    case Errc::StaleGeneration: return "STALE_GENERATION";
    case Errc::GroupNotEmpty: return "GROUP_NOT_EMPTY";
    case Errc::InvalidSessionTimeout: return "INVALID_SESSION_TIMEOUT";
    case Errc::OffsetRegression: return "OFFSET_REGRESSION";
    case Errc::NotAssigned: return "NOT_ASSIGNED";
    case Errc::StorageFull: return "STORAGE_FULL";
    case Errc::StorageError: return "STORAGE_ERROR";
    case Errc::CorruptStore: return "CORRUPT_STORE";
    case Errc::Timeout: return "TIMEOUT";
    case Errc::ShuttingDown: return "SHUTTING_DOWN";
    case Errc::Internal: return "INTERNAL";
    case Errc::MalformedRequest: return "MALFORMED_REQUEST";
    case Errc::UnknownOp: return "UNKNOWN_OP";
    case Errc::UnsupportedVersion: return "UNSUPPORTED_VERSION";
    case Errc::PartitionOffline: return "PARTITION_OFFLINE";
    case Errc::Unauthenticated: return "UNAUTHENTICATED";
    case Errc::Forbidden: return "FORBIDDEN";
    case Errc::AuthRateLimited: return "AUTH_RATE_LIMITED";
    }
    return "INTERNAL";
}

bool errcRetriable(Errc code)
{
    switch (code) {
    case Errc::StorageFull:
    case Errc::StorageError:
    case Errc::Timeout:
    case Errc::StaleGeneration:
    case Errc::PartitionOffline:
        return true;
    default:
        return false;
    }
}

} // namespace eddy
