#include "natsim/scenarios/world_builder.hpp"

#include <set>

#include "natsim/base/input_error.hpp"
#include "topology_check.hpp"

namespace natsim::scenarios {

namespace {

IpAddress parse_address(std::string_view text) {
  auto a = IpAddress::parse(text);
  if (!a) throw InputError("", "bad IP address '" + std::string(text) + "'");
  return *a;
}

void collect_names(const std::vector<SiteSpec>& sites, std::set<std::string>& names) {
  for (const SiteSpec& s : sites) {
    if (!names.insert(s.name).second) throw InputError("", "duplicate name '" + s.name + "'");
    for (const std::string& h : s.hosts) {
      if (!names.insert(h).second) throw InputError("", "duplicate name '" + h + "'");
    }
    collect_names(s.sites, names);
  }
}

}  // namespace

WorldBuilder& WorldBuilder::core_link(const sim::LinkParams& params) {
  scenario_.core = params;
  return *this;
}

WorldBuilder& WorldBuilder::add_server(std::string name, ServerKind kind, std::string_view address,
                                       std::uint16_t port) {
  ServerSpec s;
  s.name = std::move(name);
  s.kind = kind;
  s.address = parse_address(address);
  s.port = port;
  s.link = scenario_.core;
  scenario_.servers.push_back(std::move(s));
  return *this;
}

WorldBuilder& WorldBuilder::stun_server(std::string name, std::string_view address,
                                        std::string_view alternate_address) {
  add_server(std::move(name), ServerKind::stun, address, 3478);
  if (!alternate_address.empty()) {
    scenario_.servers.back().alternate_address = parse_address(alternate_address);
  }
  return *this;
}

WorldBuilder& WorldBuilder::echo_server(std::string name, std::string_view address,
                                        std::uint16_t port) {
  return add_server(std::move(name), ServerKind::echo, address, port);
}

WorldBuilder& WorldBuilder::public_host(std::string name, std::string_view address) {
  return add_server(std::move(name), ServerKind::host, address, 0);
}

SiteSpec* WorldBuilder::find_site(std::vector<SiteSpec>& sites, const std::string& name) {
  for (SiteSpec& s : sites) {
    if (s.name == name) return &s;
    if (SiteSpec* nested = find_site(s.sites, name)) return nested;
  }
  return nullptr;
}

WorldBuilder& WorldBuilder::site(std::string name, const nat::NatBehavior& nat,
                                 std::vector<std::string> hosts, std::string parent) {
  SiteSpec s;
  s.name = std::move(name);
  s.nat = nat;
  s.hosts = std::move(hosts);
  s.uplink = parent.empty() ? scenario_.core : sim::LinkParams{};
  std::vector<SiteSpec>* into = &scenario_.sites;
  if (!parent.empty()) {
    SiteSpec* p = find_site(scenario_.sites, parent);
    if (p == nullptr)
      throw InputError("", "no site named '" + parent + "' to nest '" + s.name + "' in");
    into = &p->sites;
  }
  into->push_back(std::move(s));
  last_site_ = &into->back();
  return *this;
}

WorldBuilder& WorldBuilder::site(std::string name, std::string_view preset,
                                 std::vector<std::string> hosts, std::string parent) {
  auto behavior = nat::preset(preset);
  if (!behavior) throw InputError("", "unknown preset '" + std::string(preset) + "'");
  return site(std::move(name), *behavior, std::move(hosts), std::move(parent));
}

WorldBuilder& WorldBuilder::uplink(const sim::LinkParams& params) {
  if (last_site_ == nullptr) throw InputError("", "uplink() before any site()");
  last_site_->uplink = params;
  return *this;
}

WorldBuilder& WorldBuilder::lan_link(const sim::LinkParams& params) {
  if (last_site_ == nullptr) throw InputError("", "lan_link() before any site()");
  last_site_->lan_link = params;
  return *this;
}

WorldBuilder& WorldBuilder::ipv6() {
  if (last_site_ == nullptr) throw InputError("", "ipv6() before any site()");
  last_site_->ipv6 = true;
  return *this;
}

std::unique_ptr<World> WorldBuilder::build() const {
  return build(RunOptions{});
}

std::unique_ptr<World> WorldBuilder::build(const RunOptions& options) const {
  std::set<std::string> names;
  for (const ServerSpec& s : scenario_.servers) {
    if (!names.insert(s.name).second) throw InputError("", "duplicate name '" + s.name + "'");
  }
  collect_names(scenario_.sites, names);
  // The same checks as a scenario file gets: clashing addresses are errors, not aborts.
  detail::check_topology(scenario_);
  return std::make_unique<World>(scenario_, seed_, options);
}

}  // namespace natsim::scenarios
