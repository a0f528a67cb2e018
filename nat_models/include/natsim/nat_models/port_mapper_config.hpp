#pragma once
// What a gateway's port-mapping service does (PCP and NAT-PMP on port 5351), including
// the misbehaviour real routers show.
#include <cstdint>
#include <optional>
#include <string>
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

// Which remote hosts (NewRemoteHost) an IGD accepts in AddPortMapping.
enum class RemoteHostSupport : std::uint8_t {
  any,            // a wildcard ("") or one host, as miniupnpd
  wildcard_only,  // a specific host: 726 RemoteHostOnlySupportsWildcard
  specific_only,  // a wildcard: 715 WildCardNotPermittedInSrcIP
};

// The gateway's UPnP IGD service (SSDP on 239.255.255.250:1900, HTTP on `http_port` of
// its LAN address, WANIPConnection control), off by default. Its mappings are explicit
// mappings in the same NAT table as PCP's and NAT-PMP's (MappingOwner::upnp), capped by
// PortMappingConfig::quota_per_host and kept or lost on reboot as `on_reboot` says.
struct UpnpConfig {
  bool enabled = false;
  std::uint16_t http_port = 5000;
  // Secure mode (miniupnpd's secure_mode=yes, its default): a host may map only to its
  // own address (606 otherwise) and delete or list only its own mappings.
  bool secure_mode = true;
  // SSDP CACHE-CONTROL max-age and the interval of the periodic ssdp:alive round (UDA
  // 1.1 §1.2.2: re-advertise well before max-age runs out).
  std::uint32_t max_age = 1800;
  std::uint32_t notify_interval = 900;
  // HTTP limits: a request body larger than this is answered 413 and the connection
  // closed; a connection that has not sent a whole request (or not read its answer)
  // after `idle_timeout` seconds is reset; more than `max_connections` at once are reset.
  std::uint32_t max_body = 16 * 1024;
  std::uint32_t idle_timeout = 30;
  std::uint32_t max_connections = 16;
  // Also offers a WANPPPConnection:1 service next to WANIPConnection (same mappings).
  bool ppp = false;
  // UDA 1.1 §1.3.3: answer a multicast M-SEARCH after a random delay within its MX (at
  // most 5 s), as devices do so that answers do not all arrive at once; drawn from the
  // searcher's endpoint and the search count, so runs repeat. Off: at once.
  bool answer_within_mx = false;

  // Misbehaviour of real routers:
  bool v1_only = false;                      // InternetGatewayDevice:1 / WANIPConnection:1 only
  bool only_permanent_leases = false;        // a lease other than 0 is 725
  bool ignores_lease = false;                // success, but the mapping never expires
  bool conflict_on_any_port_in_use = false;  // 718 even for the host's own mapping
  bool refuse_control = false;  // answers SSDP and serves descriptions; every action 606
  // Announces control URLs on this host instead of its own address ("" : relative URLs).
  std::string control_url_host;
  bool same_port_only = false;               // external != internal port: 724
  bool external_port_wildcard_only = false;  // a specific external port: 727
  RemoteHostSupport remote_host = RemoteHostSupport::any;
};

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
  UpnpConfig upnp;
};

}  // namespace natsim::nat
