#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eddy::net {

// Standard base64 (RFC 4648, with padding).
std::string base64Encode(std::string_view bytes);
// Decodes standard base64; padding optional; nullopt on any invalid character or length.
std::optional<std::string> base64Decode(std::string_view text);
// True when bytes are well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool isValidUtf8(std::string_view bytes);

} // namespace eddy::net
