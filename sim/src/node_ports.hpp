#pragma once
// What a node's UDP and TCP socket tables share: the ephemeral range and the wildcard
// address a socket bound to "any" is filed under.
#include <cstdint>

#include "natsim/base/ip_address.hpp"

namespace natsim::sim::detail {

// RFC 6335 §6: the dynamic (ephemeral) port range.
inline constexpr std::uint16_t kEphemeralFirst = 49152;
inline constexpr std::uint32_t kEphemeralCount = 65536 - kEphemeralFirst;

[[nodiscard]] inline IpAddress wildcard(IpFamily family) {
  return family == IpFamily::v4 ? IpAddress{} : IpAddress::v6({});
}

}  // namespace natsim::sim::detail
