#pragma once
// What a gateway's port-mapping service does (PCP and NAT-PMP on port 5351), including
// the misbehaviour real routers show.
#include <cstdint>

namespace natsim::nat {

struct PortMappingConfig {
  bool pcp = true;     // RFC 6887 server; off: PCP requests get NAT-PMP's UNSUPP_VERSION
  bool natpmp = true;  // RFC 6886 server; off: NAT-PMP requests get PCP's UNSUPP_VERSION
  // RFC 6887 §15: requested lifetimes are clamped into [min, max] seconds.
  std::uint32_t min_lifetime = 120;
  std::uint32_t max_lifetime = 24 * 3600;
  // Explicit mappings one internal address may hold (0: none); beyond it USER_EX_QUOTA
  // (PCP) or "out of resources" (NAT-PMP).
  std::uint32_t quota_per_host = 32;
  // RFC 6887 §13.1: THIRD_PARTY is refused (NOT_AUTHORIZED) unless allowed.
  bool allow_third_party = false;
  // Misbehaviour: false ignores the suggested external port (a different port than asked).
  bool honour_suggested_port = true;
};

}  // namespace natsim::nat
