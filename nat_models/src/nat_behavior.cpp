#include "natsim/nat_models/nat_behavior.hpp"

#include <array>
#include <utility>

namespace natsim::nat {

namespace {

// One table per enum: the spelling used in scenario files and reports.
template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Mapping, 3> kMappingNames{{
    {Mapping::endpoint_independent, "endpoint-independent"},
    {Mapping::address_dependent, "address-dependent"},
    {Mapping::address_and_port_dependent, "address-and-port-dependent"},
}};
constexpr Names<Filtering, 3> kFilteringNames{{
    {Filtering::endpoint_independent, "endpoint-independent"},
    {Filtering::address_dependent, "address-dependent"},
    {Filtering::address_and_port_dependent, "address-and-port-dependent"},
}};
constexpr Names<PortAssignment, 3> kPortNames{{
    {PortAssignment::preserve, "preserve"},
    {PortAssignment::sequential, "sequential"},
    {PortAssignment::random, "random"},
}};
constexpr Names<Pooling, 2> kPoolingNames{{
    {Pooling::paired, "paired"},
    {Pooling::arbitrary, "arbitrary"},
}};
constexpr Names<PortCollision, 2> kCollisionNames{{
    {PortCollision::next_free, "next-free"},
    {PortCollision::random, "random"},
}};
constexpr Names<Translation, 3> kTranslationNames{{
    {Translation::translate, "translate"},
    {Translation::firewall, "firewall"},
    {Translation::open, "open"},
}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "?";
}

template <class E, std::size_t N>
std::optional<E> value_of(const Names<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) return v;
  }
  return std::nullopt;
}

std::vector<Preset> make_presets() {
  std::vector<Preset> out;

  NatBehavior open;
  open.ipv4 = Translation::open;
  open.ipv6 = Translation::open;
  out.push_back({"open", "no translation and no filtering: a plain router", open});

  NatBehavior full_cone;
  full_cone.filtering = Filtering::endpoint_independent;
  out.push_back({"full-cone", "EIM + EIF, port-preserving, hairpinning", full_cone});

  NatBehavior restricted = full_cone;
  restricted.filtering = Filtering::address_dependent;
  out.push_back({"restricted-cone", "EIM + ADF, port-preserving, hairpinning", restricted});

  NatBehavior port_restricted = full_cone;
  port_restricted.filtering = Filtering::address_and_port_dependent;
  out.push_back(
      {"port-restricted-cone", "EIM + APDF, port-preserving, hairpinning", port_restricted});

  NatBehavior symmetric;
  symmetric.mapping = Mapping::address_and_port_dependent;
  symmetric.filtering = Filtering::address_and_port_dependent;
  symmetric.port_assignment = PortAssignment::sequential;
  symmetric.hairpinning = false;
  out.push_back({"symmetric", "APDM + APDF, sequential ports, no hairpinning", symmetric});

  // RFC 6888: EIM, paired pooling, a port block per subscriber, shared address space
  // 100.64.0.0/10 on the inside (RFC 6598), hairpinning.
  NatBehavior cgnat;
  cgnat.filtering = Filtering::endpoint_independent;
  cgnat.port_assignment = PortAssignment::random;
  cgnat.port_block_size = 512;
  cgnat.udp_timeout = minutes(2);
  out.push_back({"cgnat",
                 "carrier-grade NAT: EIM + EIF, 512-port block per subscriber, random "
                 "ports in the block, paired pooling, 2 min UDP timeout",
                 cgnat});

  // Linux nftables/iptables masquerade (docs/fidelity.md has each value's source):
  // conntrack keeps the source port while the 5-tuple is free (in effect EIM), admits
  // only replies (APDF), refreshes on packets both ways, times flows out after 30 s
  // (nf_conntrack_udp_timeout) or 120 s once assured (nf_conntrack_udp_timeout_stream),
  // picks a colliding flow's port at random within the source port's class, and its own
  // stack answers ICMP port unreachable where no flow matches (no hairpinning).
  NatBehavior linux_masq;
  linux_masq.filtering = Filtering::address_and_port_dependent;
  linux_masq.udp_timeout = seconds(30);
  linux_masq.udp_timeout_stream = minutes(2);
  linux_masq.inbound_refresh = true;
  linux_masq.hairpinning = false;
  linux_masq.port_first = 1;
  linux_masq.conntrack = true;
  linux_masq.port_classes = true;
  linux_masq.port_collision = PortCollision::random;
  linux_masq.icmp_unreachable = true;
  out.push_back({"linux-masquerade",
                 "Linux netfilter masquerade: conntrack flows (30 s unreplied, 120 s "
                 "assured), source port kept per 5-tuple, random in class on collision, "
                 "APDF, ICMP port unreachable, no hairpinning",
                 linux_masq});

  // `masquerade random` / `fully-random` (NF_NAT_RANGE_PROTO_RANDOM_ALL): get_unique_tuple
  // skips keeping the source port, so every flow gets a random port in its class.
  NatBehavior linux_random = linux_masq;
  linux_random.mapping = Mapping::address_and_port_dependent;
  linux_random.port_assignment = PortAssignment::random;
  out.push_back({"linux-masquerade-random",
                 "Linux masquerade random: a random port in class per flow (APDM), "
                 "otherwise as linux-masquerade",
                 linux_random});
  out.push_back({"linux-masquerade-fully-random",
                 "Linux masquerade fully-random: as linux-masquerade-random (Linux >= 5 "
                 "draws both offsets at random)",
                 linux_random});

  // A strict enterprise firewall NAT: a new random port per destination, short timers
  // (30 s, below RFC 4787 REQ-5: traversal must keep alive often), no hairpinning.
  NatBehavior strict;
  strict.mapping = Mapping::address_and_port_dependent;
  strict.filtering = Filtering::address_and_port_dependent;
  strict.port_assignment = PortAssignment::random;
  strict.udp_timeout = seconds(30);
  strict.hairpinning = false;
  out.push_back(
      {"enterprise-strict", "APDM + APDF, random ports, 30 s UDP timeout, no hairpinning", strict});

  // No translation at all, but a stateful firewall for both families.
  NatBehavior firewall;
  firewall.ipv4 = Translation::firewall;
  firewall.ipv6 = Translation::firewall;
  out.push_back(
      {"firewall", "no translation; outbound allowed, inbound only as APDF replies", firewall});
  return out;
}

}  // namespace

std::string_view to_string(Mapping m) {
  return name_of(kMappingNames, m);
}
std::string_view to_string(Filtering f) {
  return name_of(kFilteringNames, f);
}
std::string_view to_string(PortAssignment p) {
  return name_of(kPortNames, p);
}
std::string_view to_string(Pooling p) {
  return name_of(kPoolingNames, p);
}
std::string_view to_string(Translation t) {
  return name_of(kTranslationNames, t);
}
std::string_view to_string(PortCollision c) {
  return name_of(kCollisionNames, c);
}
std::optional<PortCollision> parse_port_collision(std::string_view t) {
  return value_of(kCollisionNames, t);
}
std::optional<Mapping> parse_mapping(std::string_view t) {
  return value_of(kMappingNames, t);
}
std::optional<Filtering> parse_filtering(std::string_view t) {
  return value_of(kFilteringNames, t);
}
std::optional<PortAssignment> parse_port_assignment(std::string_view t) {
  return value_of(kPortNames, t);
}
std::optional<Pooling> parse_pooling(std::string_view t) {
  return value_of(kPoolingNames, t);
}
std::optional<Translation> parse_translation(std::string_view t) {
  return value_of(kTranslationNames, t);
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = make_presets();
  return all;
}

std::optional<NatBehavior> preset(std::string_view name) {
  for (const Preset& p : presets()) {
    if (p.name == name) return p.behavior;
  }
  return std::nullopt;
}

}  // namespace natsim::nat
