#pragma once

#include "broker_client.h"

#include <string>

namespace eddy::sim {

// The backend for Eddy brokers: Eddy's own client library over NNG (inproc:// for the
// embedded broker, tcp:// or any other URL for a remote one). A token authenticates every
// client it opens, for a broker with access control (docs/security.md).
std::unique_ptr<BrokerBackend> makeNngBackend(const std::string &url,
                                              const std::string &token = {});

} // namespace eddy::sim
