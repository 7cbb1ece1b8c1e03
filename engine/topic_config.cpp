// Validation of topic names and specs, shared by the broker API and every protocol front end so
// that all of them reject the same inputs with the same codes.
#include "topic_config.h"

namespace eddy {

Result<void> validateTopicName(std::string_view name)
{
    if (name.empty())
        return makeError(Errc::InvalidTopicName, "topic name is empty");
    if (name.size() > kMaxTopicNameLength)
        return makeError(Errc::InvalidTopicName,
                         "topic name is " + std::to_string(name.size())
                             + " characters; the limit is 249");
    if (name == "." || name == "..")
        return makeError(Errc::InvalidTopicName, "topic name cannot be '.' or '..'");
    for (std::size_t i = 0; i < name.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(name[i]);
        const bool okChar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!okChar)
            return makeError(Errc::InvalidTopicName,
                             "topic name has a character outside [A-Za-z0-9._-] at position "
                                 + std::to_string(i));
    }
    return {};
}

Result<void> validateTopicSpec(const TopicSpec &spec)
{
    if (auto r = validateTopicName(spec.name); !r)
        return r;
    if (spec.partitions < 1 || spec.partitions > kMaxPartitions)
        return makeError(Errc::InvalidPartitions,
                         "partition count " + std::to_string(spec.partitions)
                             + " is outside 1-1024");
    const auto &ret = spec.retention;
    if (ret.maxRecords < 0 || ret.maxBytes < 0 || ret.maxAgeMs < 0)
        return makeError(Errc::InvalidConfig, "retention limits must be >= 0 (0 = unlimited)");
    return {};
}

} // namespace eddy
