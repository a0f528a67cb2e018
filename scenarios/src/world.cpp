#include "natsim/scenarios/world.hpp"

#include <stdexcept>

#include "natsim/base/input_error.hpp"

namespace natsim::scenarios {

namespace {
// Address plan (docs/scenario-format.md): infrastructure links in 198.18.0.0/15, top-level
// site WANs as /30s in 203.0.0.0/16, nested site WANs as /30s in 100.64.0.0/10, and site
// LANs 10.<n>.0.0/24.
IpAddress add(const char* base, std::uint32_t n) {
  return nat::offset_address(*IpAddress::parse(base), n);
}
}  // namespace

World::World(Scenario scenario, std::uint64_t seed, const RunOptions& options)
    : scenario_(std::move(scenario)),
      net(seed),
      core(&net.add_router("internet")),
      options_(options) {
  if (!options.trace_path.empty() && !net.trace().open_log(options.trace_path.c_str())) {
    throw InputError(options.trace_path, "cannot write the trace file");
  }
  // Built from the member copy: servers and sites keep pointers to their specs.
  for (std::size_t i = 0; i < scenario_.servers.size(); ++i)
    add_server(scenario_.servers[i], i);
  for (const SiteSpec& s : scenario_.sites)
    add_site(s, *core, false);
}

void World::add_server(const ServerSpec& spec, std::size_t index) {
  ServerNode node;
  node.spec = &spec;
  node.host = &net.add_host(spec.name);
  auto c = net.connect(*node.host, *core, spec.link, spec.name + ".link");
  node.link = &c.link;
  const IpAddress core_side = add("198.18.0.0", static_cast<std::uint32_t>(index + 1));
  const std::uint8_t full = static_cast<std::uint8_t>(spec.address.size() * 8);
  node.host->add_address(c.a_iface, InterfaceAddress{spec.address, full});
  if (spec.alternate_address)
    node.host->add_address(c.a_iface, InterfaceAddress{*spec.alternate_address, full});
  core->add_address(c.b_iface, InterfaceAddress{core_side, 32});
  node.host->add_route(Prefix(core_side, 32), c.a_iface);
  (void)node.host->set_default_route(core_side);
  core->add_route(Prefix(spec.address, full), c.b_iface);
  if (spec.alternate_address) core->add_route(Prefix(*spec.alternate_address, full), c.b_iface);

  if (spec.kind == ServerKind::stun) {
    traversal::stun::ServerConfig config;
    config.primary = Endpoint{spec.address, spec.port};
    if (spec.alternate_address) {
      config.alternate_address = spec.alternate_address;
      config.alternate_port = spec.alternate_port;
    }
    node.stun = std::make_unique<traversal::stun::StunServer>(config);
    std::vector<sim::UdpSocket*> sockets;
    for (const Endpoint& e : node.stun->local_endpoints())
      sockets.push_back(node.host->udp_bind(e).value());
    node.driver =
        std::make_unique<SimDriver<traversal::stun::StunServer>>(*node.host, *node.stun, sockets);
  }
  if (spec.kind == ServerKind::turn) {
    traversal::turn::ServerConfig config;
    config.listen = Endpoint{spec.address, spec.port};
    config.relay_address = spec.address;
    config.relay_port_count = spec.relay_ports;
    config.realm = spec.realm;
    config.users = spec.users;
    node.turn =
        std::make_unique<traversal::turn::TurnServer>(net.rng_for("turn:" + spec.name)(), config);
    // Every relay port is bound up front: the machine hands them out.
    std::vector<sim::UdpSocket*> sockets;
    for (const Endpoint& e : node.turn->local_endpoints())
      sockets.push_back(node.host->udp_bind(e).value());
    node.turn_driver =
        std::make_unique<SimDriver<traversal::turn::TurnServer>>(*node.host, *node.turn, sockets);
  }
  if (!options_.pcap_dir.empty()) {
    captures.push_back(std::make_unique<sim::PcapWriter>());
    if (!captures.back()->open(options_.pcap_dir + "/" + spec.name + ".pcap")) {
      throw InputError(options_.pcap_dir, "cannot write pcap files there");
    }
    node.host->capture(captures.back().get());
  }
  servers.emplace(spec.name, std::move(node));
}

void World::add_site(const SiteSpec& spec, sim::Router& upstream, bool nested) {
  nat::SiteOptions o;
  o.behavior = spec.nat;
  o.host_names = spec.hosts;
  o.hosts = static_cast<int>(spec.hosts.size());
  const std::size_t n = next_site_++;
  o.lan =
      spec.lan.value_or(InterfaceAddress{add("10.0.0.1", static_cast<std::uint32_t>(n) << 16), 24});
  const std::uint32_t block = static_cast<std::uint32_t>(nested ? next_nested_++ : n) * 4;
  const char* wan_base = nested ? "100.64.0.0" : "203.0.0.0";
  o.wan = spec.wan.value_or(InterfaceAddress{add(wan_base, block + 2), 30});
  o.upstream = spec.wan ? InterfaceAddress{nat::offset_address(spec.wan->subnet().address(), 1),
                                           spec.wan->prefix_length}
                        : InterfaceAddress{add(wan_base, block + 1), 30};
  if (o.upstream.address == o.wan.address) {
    o.upstream.address = nat::offset_address(spec.wan->subnet().address(), 2);
  }
  o.wan_link = spec.uplink;
  o.lan_link = spec.lan_link;
  nat::Site site = nat::add_site(net, upstream, spec.name, o);
  // Without translation the LAN must be routable from upstream.
  if (spec.nat.ipv4 != nat::Translation::translate) {
    upstream.add_route(o.lan.subnet(), site.upstream_iface, o.wan.address);
  }
  for (sim::Host* h : site.hosts)
    hosts.emplace(h->name(), h);
  if (!options_.pcap_dir.empty()) {
    captures.push_back(std::make_unique<sim::PcapWriter>());
    if (!captures.back()->open(options_.pcap_dir + "/" + spec.name + ".pcap")) {
      throw InputError(options_.pcap_dir, "cannot write pcap files there");
    }
    site.gateway.capture(captures.back().get());
  }
  sites.emplace(spec.name, SiteNode{&spec, &site.gateway, &site.wan, &site.lan, &upstream,
                                    site.upstream_iface});
  for (const SiteSpec& child : spec.sites)
    add_site(child, site.gateway, true);
}

}  // namespace natsim::scenarios
