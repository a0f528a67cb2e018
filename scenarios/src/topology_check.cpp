#include "topology_check.hpp"

#include <algorithm>
#include <map>

#include "address_plan.hpp"
#include "limits.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/nat_models/igd_service.hpp"
#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/nat_models/site.hpp"
#include "natsim/sim/counters.hpp"

namespace natsim::scenarios::detail {

namespace {

constexpr std::uint32_t kRelayPortFirst = 49152;  // as traversal::turn::ServerConfig

// Every address a node of the world answers on, with who owns it, so a second owner is
// an error that names the first.
class Addresses {
 public:
  void claim(const IpAddress& a, const std::string& owner, const std::string& pointer) {
    auto [it, fresh] = owners_.emplace(a, owner);
    if (!fresh) {
      throw InputError(pointer, "address " + a.to_string() + " is already " + it->second + "'s");
    }
  }

 private:
  std::map<IpAddress, std::string> owners_;
};

std::string server_pointer(std::size_t i) {
  return "/topology/servers/" + std::to_string(i);
}

void check_server(const ServerSpec& s, const std::string& at) {
  if (s.kind == ServerKind::stun && s.alternate_address) {
    if (*s.alternate_address == s.address) {
      throw InputError(at + "/alternate_address",
                       "equal to 'address': an RFC 5780 server needs a second address");
    }
    if (s.alternate_port == s.port) {
      throw InputError(at + "/port", "port " + std::to_string(s.port) +
                                         " is also the alternate port (alternate_port " +
                                         std::to_string(s.alternate_port) + ")");
    }
  }
  if (s.kind == ServerKind::turn && s.port >= kRelayPortFirst &&
      s.port < kRelayPortFirst + s.relay_ports) {
    throw InputError(at + "/port", "port " + std::to_string(s.port) +
                                       " is one of the relayed ports (" +
                                       std::to_string(kRelayPortFirst) + " and the " +
                                       std::to_string(s.relay_ports - 1) + " after it)");
  }
}

void check_lan(const PlannedSite& p) {
  const SiteSpec& s = *p.spec;
  const Prefix lan = p.lan.subnet();
  if (p.lan.address == lan.address()) {
    throw InputError(s.pointer + "/lan", "the gateway's address " + p.lan.address.to_string() +
                                             " is the network address of " + lan.to_string());
  }
  // The gateway, its hosts after it, and room left for the broadcast address.
  const IpAddress past =
      nat::offset_address(p.lan.address, static_cast<std::uint32_t>(s.hosts.size() + 1));
  if (!lan.contains(past) || past <= p.lan.address) {
    throw InputError(s.pointer + "/lan",
                     std::to_string(s.hosts.size()) + " host(s) after the gateway's " +
                         p.lan.address.to_string() + " do not fit in " + lan.to_string());
  }
  if (lan.contains(p.wan.address) || p.wan.subnet().contains(p.lan.address)) {
    throw InputError(s.pointer + "/lan",
                     lan.to_string() + " overlaps the WAN " + p.wan.subnet().to_string());
  }
}

std::string family_name(bool ipv6) {
  return ipv6 ? "IPv6" : "IPv4";
}

// An IPv6 site is IPv6 throughout: its addresses, its nested sites, and a NAT that does not
// translate (natsim has no NAT66, RFC 6296's NPTv6 included), so its hosts' addresses are
// global and a firewall only filters.
void check_family(const PlannedSite& p, const std::vector<PlannedSite>& plan) {
  const SiteSpec& s = *p.spec;
  const IpFamily want = s.ipv6 ? IpFamily::v6 : IpFamily::v4;
  if (s.ipv6 &&
      (s.nat.ipv4 == nat::Translation::translate || s.nat.ipv6 == nat::Translation::translate)) {
    throw InputError(s.pointer + "/nat",
                     "an IPv6 site has no address translation (no NAT66): use the 'open' or "
                     "'firewall' preset, or a profile with ipv4 and ipv6 'open' or 'firewall'");
  }
  if (s.ipv6 && s.port_mapping) {
    throw InputError(s.pointer + "/port_mapping",
                     "PCP and NAT-PMP serve IPv4 sites only, not an IPv6 site");
  }
  for (const auto& [key, address] :
       {std::pair<const char*, const InterfaceAddress&>{"/lan", p.lan}, {"/wan", p.wan}}) {
    if (address.address.family() != want) {
      throw InputError(s.pointer + key, address.to_string() + " is not an " + family_name(s.ipv6) +
                                            " address, as an " + family_name(s.ipv6) +
                                            " site needs" +
                                            (s.ipv6 ? "" : " (\"ipv6\": true makes it IPv6)"));
    }
  }
  if (p.parent >= 0) {
    const SiteSpec& parent = *plan[static_cast<std::size_t>(p.parent)].spec;
    if (parent.ipv6 != s.ipv6) {
      throw InputError(s.pointer + "/ipv6",
                       "an " + family_name(s.ipv6) + " site cannot be nested in the " +
                           family_name(parent.ipv6) + " site '" + parent.name + "'");
    }
  }
}

std::size_t count_nodes(const std::vector<SiteSpec>& sites) {
  std::size_t n = 0;
  for (const SiteSpec& s : sites)
    n += 1 + s.hosts.size() + count_nodes(s.sites);
  return n;
}

}  // namespace

void check_topology(const Scenario& s) {
  const std::size_t nodes = s.servers.size() + count_nodes(s.sites);
  if (nodes > limits::kMaxNodes) {
    throw InputError("/topology", std::to_string(nodes) + " hosts, sites and servers; at most " +
                                      std::to_string(limits::kMaxNodes));
  }
  std::size_t relay_ports = 0;
  Addresses addresses;
  for (std::size_t i = 0; i < s.servers.size(); ++i) {
    const ServerSpec& server = s.servers[i];
    const std::string at = server_pointer(i);
    check_server(server, at);
    relay_ports += server.kind == ServerKind::turn ? server.relay_ports : 0;
    addresses.claim(server.address, "server '" + server.name + "'", at + "/address");
    if (server.alternate_address) {
      addresses.claim(*server.alternate_address, "server '" + server.name + "'",
                      at + "/alternate_address");
    }
  }
  if (relay_ports > limits::kMaxRelayPorts) {
    throw InputError("/topology/servers", std::to_string(relay_ports) +
                                              " relayed ports in all; at most " +
                                              std::to_string(limits::kMaxRelayPorts));
  }
  const std::vector<PlannedSite> plan = plan_sites(s.sites);
  for (const PlannedSite& p : plan) {
    check_family(p, plan);
    const std::string owner = "site '" + p.spec->name + "'";
    // The WAN link holds the gateway and its upstream router.
    if (std::size_t{p.wan.prefix_length} + 2 > p.wan.address.size() * 8) {
      throw InputError(p.spec->pointer + "/wan",
                       p.wan.to_string() + " leaves no room for the upstream router: use a /" +
                           std::to_string(p.wan.address.size() * 8 - 2) + " or shorter prefix");
    }
    addresses.claim(p.wan.address, owner + " (its WAN)", p.spec->pointer + "/wan");
    addresses.claim(p.upstream.address, owner + " (its upstream router)", p.spec->pointer + "/wan");
    check_lan(p);
  }
}

void check_counter_names(const Scenario& s) {
  // What the world will call its nodes and links (world.cpp, nat::add_site).
  std::map<std::string, std::string> kinds{{"network", "network"}, {"internet", "router"}};
  for (const ServerSpec& server : s.servers) {
    kinds[server.name] = server.kind == ServerKind::turn ? "turn" : "node";
    kinds[server.name + ".link"] = "link";
  }
  const std::vector<PlannedSite> plan = plan_sites(s.sites);
  for (const PlannedSite& p : plan) {
    kinds[p.spec->name] = p.spec->port_mapping ? "port-mapping gateway" : "gateway";
    kinds[p.spec->name + "-lan"] = "link";
    const std::string up =
        p.parent < 0 ? "internet" : plan[static_cast<std::size_t>(p.parent)].spec->name;
    kinds[p.spec->name + "--" + up] = "link";
    for (const std::string& h : p.spec->hosts)
      kinds[h] = "node";
  }
  std::vector<std::string> common{"sent", "delivered", "forwarded", "dropped"};
  for (std::size_t r = 0; r < sim::kDropReasonCount; ++r)
    common.push_back("drops." + std::string(sim::to_string(static_cast<sim::DropReason>(r))));
  std::vector<std::string> gateway{
      "nat.outbound",        "nat.inbound",           "nat.hairpinned",
      "nat.mappings",        "nat.mappings_created",  "nat.mappings_expired",
      "nat.mappings_mapped", "nat.mappings_unmapped", "nat.icmp_unreachable"};
  for (std::size_t r = 0; r < nat::kNatDropCount; ++r)
    gateway.push_back("nat.drops." + std::string(nat::to_string(static_cast<nat::NatDrop>(r))));
  const std::vector<std::string> turn{"turn.allocations",          "turn.relayed_to_peer",
                                      "turn.relayed_to_client",    "turn.bytes_to_peer",
                                      "turn.bytes_to_client",      "turn.auth_failures",
                                      "turn.dropped_no_permission"};
  for (const Expectation& e : s.expectations) {
    if (e.counter.empty()) continue;
    auto it = kinds.find(e.counter);
    if (it == kinds.end()) {
      throw InputError(e.pointer + "/counter",
                       "no node or link named '" + e.counter +
                           "' (nodes: hosts, sites, servers, internet; links: <server>.link, "
                           "<site>-lan, <site>--internet, <site>--<parent>; or network)");
    }
    std::vector<std::string> known = common;
    if (it->second.ends_with("gateway")) known.insert(known.end(), gateway.begin(), gateway.end());
    if (it->second == "port-mapping gateway") {
      for (const auto& [name, value] : nat::port_mapping_metrics({}, {}, true))
        known.push_back(name);
      for (const auto& [name, value] : nat::upnp::igd_metrics({}, true))
        known.push_back(name);
    }
    if (it->second == "turn") known.insert(known.end(), turn.begin(), turn.end());
    if (std::find(known.begin(), known.end(), e.metric) == known.end()) {
      std::string list;
      for (const std::string& m : known)
        list += (list.empty() ? "" : ", ") + m;
      throw InputError(e.pointer + "/metric", "unknown metric '" + e.metric + "' for '" +
                                                  e.counter + "', expected one of " + list);
    }
  }
}

}  // namespace natsim::scenarios::detail
