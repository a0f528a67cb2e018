#pragma once
// Short human descriptions of STUN/TURN messages for the servers' --json-log lines.
#include <cstdint>
#include <string>

#include "natsim/traversal/stun_message.hpp"

namespace natsim::tools {

// "binding", "allocate", "create-permission", ... or "method-<n>".
[[nodiscard]] std::string method_name(std::uint16_t method);
// "<method> <class>", with the error code for errors and " (rfc3489)" for classic STUN.
[[nodiscard]] std::string message_summary(const traversal::stun::Message& m);

}  // namespace natsim::tools
