#pragma once
// A NAT's behaviour as independent knobs, in RFC 4787 (UDP) and RFC 5382 (TCP)
// vocabulary, and the named presets built from them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/time.hpp"

namespace natsim::nat {

// RFC 4787 §4.1: what decides whether two flows from one internal endpoint share a mapping.
enum class Mapping : std::uint8_t {
  endpoint_independent,        // EIM: one mapping per internal endpoint
  address_dependent,           // ADM: one per (internal endpoint, remote address)
  address_and_port_dependent,  // APDM: one per (internal endpoint, remote endpoint)
};

// RFC 4787 §5: which inbound packets a mapping admits.
enum class Filtering : std::uint8_t {
  endpoint_independent,        // EIF: anyone who knows the external endpoint
  address_dependent,           // ADF: addresses the internal endpoint has sent to
  address_and_port_dependent,  // APDF: endpoints the internal endpoint has sent to
};

// RFC 4787 §4.2.1: how a new mapping's external port is chosen.
enum class PortAssignment : std::uint8_t {
  preserve,    // the internal port when free, else the next free one upward
  sequential,  // the next free port after the last one given out
  random,      // a random free port
};

// RFC 4787 §4.1: which external address a new mapping gets when there are several.
enum class Pooling : std::uint8_t {
  paired,     // every mapping of one internal address uses the same external address
  arbitrary,  // each mapping may get any external address
};

// What the NAT does when the port it would give a new mapping is taken.
enum class PortCollision : std::uint8_t {
  next_free,  // the next free port upward (wrapping within the range)
  random,     // a random start in the range (or class), then upward
};

// What the NAT does with traffic of a family (IPv4, IPv6).
enum class Translation : std::uint8_t {
  translate,  // NAPT onto the external address pool
  firewall,   // no translation; state and filtering as for a NAT (a stateful firewall)
  open,       // plain routing: no state, no filtering
};

// What the NAT does with an inbound TCP SYN it does not admit.
enum class UnsolicitedSyn : std::uint8_t {
  drop,   // silently (RFC 5382 REQ-4a)
  reset,  // answer with a RST at once, as many real NATs do (RFC 5382 REQ-4 says wait 6 s)
};

struct NatBehavior {
  Mapping mapping = Mapping::endpoint_independent;
  Filtering filtering = Filtering::address_and_port_dependent;
  PortAssignment port_assignment = PortAssignment::preserve;
  std::uint16_t port_first = 1024;  // external port range for new mappings
  std::uint16_t port_last = 65535;
  bool preserve_parity = false;  // RFC 4787 REQ-4: external port parity = internal parity
  Pooling pooling = Pooling::paired;
  // RFC 4787 REQ-5: not below 2 minutes; 5 minutes or more recommended.
  Duration udp_timeout = minutes(5);
  // RFC 5382 REQ-5: established >= 2 h 4 min, transitory >= 4 min.
  Duration tcp_established_timeout = hours(2) + minutes(4);
  Duration tcp_transitory_timeout = minutes(4);
  UnsolicitedSyn tcp_unsolicited_syn = UnsolicitedSyn::drop;
  // RFC 4787 REQ-6: outbound packets always refresh; inbound ones only when this is set.
  bool inbound_refresh = false;
  // RFC 4787 REQ-9: hairpinning, and (REQ-9a) whether the hairpinned packet's source is
  // the sender's external endpoint (true) or its internal one (false, non-compliant).
  bool hairpinning = true;
  bool hairpin_translate_source = true;
  // 0 = unlimited. Reaching a cap drops the packet that needed a new mapping (exhausted).
  std::uint32_t max_mappings_per_host = 0;
  std::uint32_t max_mappings = 0;
  // RFC 6888 REQ-3/4 style CGN port blocks: each internal address gets one block of this
  // many consecutive ports on its external address (0 = no blocks).
  std::uint16_t port_block_size = 0;
  Translation ipv4 = Translation::translate;
  Translation ipv6 = Translation::firewall;

  // Linux netfilter fidelity (docs/fidelity.md). With `conntrack`, UDP state is one entry
  // per 5-tuple as in nf_conntrack: an external port is unique per reply tuple only
  // (nf_nat_used_tuple, so hosts may share one port towards different remotes), flows
  // time out after `udp_timeout` while unreplied and after `udp_timeout_stream` once
  // assured, and an inbound packet matching no flow leaves an unreplied entry that
  // blocks its port towards that remote.
  bool conntrack = false;
  Duration udp_timeout_stream = minutes(2);  // nf_conntrack_udp_timeout_stream
  // nf_nat_l4proto_unique_tuple without a port range: new ports come from the internal
  // port's class, 1-511, 600-1023 or 1024-65535, instead of port_first..port_last.
  bool port_classes = false;
  PortCollision port_collision = PortCollision::next_free;
  // `iifname wan ct state new drop`: inbound packets matching no flow leave no state.
  bool wan_drop_new = false;
  // The NAT's own stack answers ICMP port unreachable to inbound packets matching no
  // flow (unless wan_drop_new) and to hairpin attempts (when hairpinning is off).
  bool icmp_unreachable = false;
};

[[nodiscard]] std::string_view to_string(Mapping m);
[[nodiscard]] std::string_view to_string(Filtering f);
[[nodiscard]] std::string_view to_string(PortAssignment p);
[[nodiscard]] std::string_view to_string(Pooling p);
[[nodiscard]] std::string_view to_string(Translation t);
[[nodiscard]] std::string_view to_string(PortCollision c);
[[nodiscard]] std::optional<Mapping> parse_mapping(std::string_view text);
[[nodiscard]] std::optional<Filtering> parse_filtering(std::string_view text);
[[nodiscard]] std::optional<PortAssignment> parse_port_assignment(std::string_view text);
[[nodiscard]] std::optional<Pooling> parse_pooling(std::string_view text);
[[nodiscard]] std::optional<Translation> parse_translation(std::string_view text);
[[nodiscard]] std::optional<PortCollision> parse_port_collision(std::string_view text);

// nf_nat_l4proto_unique_tuple: the class [first, last] a Linux NAT without a port range
// picks a replacement for `port` from.
struct PortClass {
  std::uint16_t first;
  std::uint16_t last;
};
[[nodiscard]] constexpr PortClass linux_port_class(std::uint16_t port) {
  if (port < 512) return {1, 511};
  if (port < 1024) return {600, 1023};  // 512-599 are never handed out
  return {1024, 65535};
}

struct Preset {
  std::string_view name;
  std::string_view description;
  NatBehavior behavior;
};

// Every preset, in the order docs/nat-models.md lists them.
[[nodiscard]] const std::vector<Preset>& presets();
[[nodiscard]] std::optional<NatBehavior> preset(std::string_view name);

}  // namespace natsim::nat
