#include "address_plan.hpp"

#include "natsim/nat_models/site.hpp"

namespace natsim::scenarios::detail {

namespace {

// Infrastructure links are in 198.18.0.0/15, top-level site WANs are /30s in 203.0.0.0/16,
// nested site WANs /30s in 100.64.0.0/10 (RFC 6598), and site LANs 10.<n>.0.0/24.
IpAddress add(const char* base, std::uint32_t n) {
  return nat::offset_address(*IpAddress::parse(base), n);
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
  p.lan = spec.lan.value_or(InterfaceAddress{add("10.0.0.1", index << 16), 24});
  const std::uint32_t block = (nested ? n.nested++ : index) * 4;
  const char* wan_base = nested ? "100.64.0.0" : "203.0.0.0";
  p.wan = spec.wan.value_or(InterfaceAddress{add(wan_base, block + 2), 30});
  p.upstream = spec.wan ? InterfaceAddress{nat::offset_address(spec.wan->subnet().address(), 1),
                                           spec.wan->prefix_length}
                        : InterfaceAddress{add(wan_base, block + 1), 30};
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
