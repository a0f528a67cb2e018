#include "address_plan.hpp"

#include "natsim/nat_models/site.hpp"

namespace natsim::scenarios::detail {

namespace {

// Infrastructure links are in 198.18.0.0/15, top-level site WANs are /30s in 203.0.0.0/16,
// nested site WANs /30s in 100.64.0.0/10 (RFC 6598), and site LANs 10.<n>.0.0/24.
// IPv6 sites (RFC 3849 documentation prefix 2001:db8::/32): the LAN of site n is
// 2001:db8:<n+1>::/64, top-level WANs are /126s in 2001:db8:ffff::/48, nested ones in
// 2001:db8:fffe::/48.
IpAddress add(const char* base, std::uint32_t n) {
  return nat::offset_address(*IpAddress::parse(base), n);
}

// `base` with the 16-bit group at byte `at` (0-based, even) set to `value`.
IpAddress with_group(const char* base, std::size_t at, std::uint32_t value) {
  IpAddress::Bytes16 b = IpAddress::parse(base)->bytes();
  b[at] = static_cast<std::uint8_t>(value >> 8);
  b[at + 1] = static_cast<std::uint8_t>(value);
  return IpAddress::v6(b);
}

struct Counters {
  std::uint32_t site = 0;
  std::uint32_t nested = 0;
};

void plan(const SiteSpec& spec, std::ptrdiff_t parent, Counters& n, std::vector<PlannedSite>& out) {
  const bool nested = parent >= 0;
  PlannedSite p;
  p.spec = &spec;
  p.parent = parent;
  const std::uint32_t index = n.site++;
  const std::uint32_t slot = nested ? n.nested++ : index;  // the WAN link's number
  if (spec.ipv6) {
    // A /64 per LAN (RFC 4291 §2.5.1) and a /126 per WAN link, one /64 apart.
    p.lan = spec.lan.value_or(InterfaceAddress{with_group("2001:db8::1", 4, index + 1), 64});
    const IpAddress wan_net = with_group(nested ? "2001:db8:fffe::" : "2001:db8:ffff::", 6, slot);
    p.wan = spec.wan.value_or(InterfaceAddress{nat::offset_address(wan_net, 2), 126});
    p.upstream = InterfaceAddress{nat::offset_address(wan_net, 1), 126};
  } else {
    p.lan = spec.lan.value_or(InterfaceAddress{add("10.0.0.1", index << 16), 24});
    const char* wan_base = nested ? "100.64.0.0" : "203.0.0.0";
    p.wan = spec.wan.value_or(InterfaceAddress{add(wan_base, slot * 4 + 2), 30});
    p.upstream = InterfaceAddress{add(wan_base, slot * 4 + 1), 30};
  }
  if (spec.wan) {
    p.upstream = InterfaceAddress{nat::offset_address(spec.wan->subnet().address(), 1),
                                  spec.wan->prefix_length};
  }
  if (p.upstream.address == p.wan.address) {
    p.upstream.address = nat::offset_address(spec.wan->subnet().address(), 2);
  }
  out.push_back(p);
  const auto self = static_cast<std::ptrdiff_t>(out.size() - 1);
  for (const SiteSpec& child : spec.sites)
    plan(child, self, n, out);
}

}  // namespace

std::vector<PlannedSite> plan_sites(const std::vector<SiteSpec>& sites) {
  std::vector<PlannedSite> out;
  Counters n;
  for (const SiteSpec& s : sites)
    plan(s, -1, n, out);
  return out;
}

}  // namespace natsim::scenarios::detail
