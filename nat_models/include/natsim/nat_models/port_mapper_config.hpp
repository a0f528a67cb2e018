#pragma once
// What a gateway's port-mapping service does (PCP and NAT-PMP on port 5351), including
// the misbehaviour real routers show.
#include <cstdint>
#include <optional>
#include <string_view>

namespace natsim::nat {

// What a gateway reboot does to the service's explicit mappings.
enum class RebootMappings : std::uint8_t {
  // RFC 6887 §8.5, RFC 6886 §3.6: the mappings are lost, the epoch starts again at 0 and
  // the LAN is told (announcements); clients re-create at once.
  forget,
  // Routers that keep port forwards in NVRAM: the explicit mappings (and their nonces)
  // survive with their remaining lifetime, and since no state was lost the epoch keeps
  // counting and nothing is announced (§8.5 asks for a reset only when state is lost).
  // Connection state made by traffic is still lost.
  persist,
  // Misbehaviour: the mappings are lost but the epoch keeps counting and nothing is
  // announced, so a client learns of it only when its refresh re-creates the mapping.
  forget_silently,
};
[[nodiscard]] std::string_view to_string(RebootMappings r);
[[nodiscard]] std::optional<RebootMappings> parse_reboot_mappings(std::string_view text);

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
  RebootMappings on_reboot = RebootMappings::forget;
};

}  // namespace natsim::nat
