#pragma once

// Private to the network layer: the JSON ops that protocol_handler.cpp dispatches to. Not part
// of the API.

#include "broker.h"
#include "json_codec.h"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace eddy::net {

using Reply = std::function<void(Json)>;
using OpFn = std::function<void(Broker &, const Json &, Reply)>;

// Every JSON op by name, except hello and clients (the handler answers those itself).
const std::unordered_map<std::string, OpFn> &opTable();

// How the `clients` op classifies a client by the ops it sends.
bool isProduceOp(std::string_view op);
bool isConsumeOp(std::string_view op);

} // namespace eddy::net
