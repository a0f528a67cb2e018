#include "natsim/scenarios/world.hpp"

#include <memory>
#include <stdexcept>
#include <vector>

#include "address_plan.hpp"
#include "natsim/base/input_error.hpp"

namespace natsim::scenarios {

namespace {
// Servers' infrastructure links are in 198.18.0.0/15, or for an IPv6 server in
// 2001:db8:0:ffff::/64; sites follow address_plan.hpp.
IpAddress add(const char* base, std::uint32_t n) {
  return nat::offset_address(*IpAddress::parse(base), n);
}

bool translates(const SiteSpec& s) {
  return (s.ipv6 ? s.nat.ipv6 : s.nat.ipv4) == nat::Translation::translate;
}

// The echo server on TCP: every connection's bytes go back on it. Bytes that do not fit
// in the send buffer wait, and receiving pauses meanwhile (flow control does the rest).
void listen_echo(sim::Host& host, const Endpoint& local) {
  sim::TcpListener* l = host.tcp_listen(local).value();
  l->on_accept([](sim::TcpSocket* s) {
    auto pending = std::make_shared<std::vector<std::uint8_t>>();
    s->on_receive([s, pending](ByteView bytes) {
      std::size_t sent = 0;
      if (pending->empty()) {
        auto n = s->send(bytes);
        if (!n) return;
        sent = *n;
      }
      if (sent < bytes.size()) {
        pending->insert(pending->end(), bytes.begin() + static_cast<std::ptrdiff_t>(sent),
                        bytes.end());
        s->pause_receive(true);
      }
    });
    s->on_writable([s, pending] {
      if (pending->empty()) return;
      auto n = s->send(*pending);
      if (!n) return;
      pending->erase(pending->begin(), pending->begin() + static_cast<std::ptrdiff_t>(*n));
      if (pending->empty()) s->pause_receive(false);
    });
    // The client's FIN or a failure: close our side too.
    s->on_close([s](Result<void>) { s->close(); });
  });
}
}  // namespace

World::World(Scenario scenario, std::uint64_t seed, const RunOptions& options)
    : owned_(std::move(scenario)),
      scenario_(&*owned_),
      net(seed),
      core(&net.add_router("internet")),
      options_(options) {
  build();
}

World::World(const Scenario* scenario, std::uint64_t seed, const RunOptions& options)
    : scenario_(scenario), net(seed), core(&net.add_router("internet")), options_(options) {
  build();
}

void World::build() {
  const RunOptions& options = options_;
  if (!options.trace_path.empty() && !net.trace().open_log(options.trace_path.c_str())) {
    throw InputError(options.trace_path, "cannot write the trace file");
  }
  // Servers and sites keep pointers to their specs: the scenario outlives them.
  for (std::size_t i = 0; i < scenario_->servers.size(); ++i)
    add_server(scenario_->servers[i], i);
  const std::vector<detail::PlannedSite> plan = detail::plan_sites(scenario_->sites);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    sim::Router& upstream =
        plan[i].parent < 0
            ? *core
            : *sites.at(plan[static_cast<std::size_t>(plan[i].parent)].spec->name).gateway;
    add_site(plan[i], upstream);
    route_nested(plan, i);
  }
}

void World::add_server(const ServerSpec& spec, std::size_t index) {
  ServerNode node;
  node.spec = &spec;
  node.host = &net.add_host(spec.name);
  node.host->set_icmp_port_unreachable(spec.icmp_unreachable);
  auto c = net.connect(*node.host, *core, spec.link, spec.name + ".link");
  node.link = &c.link;
  const std::uint8_t full = static_cast<std::uint8_t>(spec.address.size() * 8);
  const IpAddress core_side = add(spec.address.is_v4() ? "198.18.0.0" : "2001:db8:0:ffff::",
                                  static_cast<std::uint32_t>(index + 1));
  node.host->add_address(c.a_iface, InterfaceAddress{spec.address, full});
  if (spec.alternate_address)
    node.host->add_address(c.a_iface, InterfaceAddress{*spec.alternate_address, full});
  core->add_address(c.b_iface, InterfaceAddress{core_side, full});
  node.host->add_route(Prefix(core_side, full), c.a_iface);
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
    // RFC 8489 §6.2.2: Binding requests over TCP too, on the primary endpoint; the mapped
    // address of a TCP connection is what TCP hole punching needs.
    node.driver->listen(node.host->tcp_listen(config.primary).value());
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
    // RFC 8656 §3.1: clients may reach the server over TCP; relays to peers stay UDP.
    node.turn_driver->listen(node.host->tcp_listen(config.listen).value());
  }
  if (spec.kind == ServerKind::echo) listen_echo(*node.host, Endpoint{spec.address, spec.port});
  if (!options_.pcap_dir.empty()) {
    captures.push_back(std::make_unique<sim::PcapWriter>());
    if (!captures.back()->open(options_.pcap_dir + "/" + spec.name + ".pcap")) {
      throw InputError(options_.pcap_dir, "cannot write pcap files there");
    }
    node.host->capture(captures.back().get());
  }
  servers.emplace(spec.name, std::move(node));
}

void World::add_site(const detail::PlannedSite& planned, sim::Router& upstream) {
  const SiteSpec& spec = *planned.spec;
  nat::SiteOptions o;
  o.behavior = spec.nat;
  o.host_names = spec.hosts;
  o.hosts = static_cast<int>(spec.hosts.size());
  o.lan = planned.lan;
  o.wan = planned.wan;
  o.upstream = planned.upstream;
  o.wan_link = spec.uplink;
  o.lan_link = spec.lan_link;
  nat::Site site = nat::add_site(net, upstream, spec.name, o);
  if (spec.port_mapping) site.gateway.enable_port_mapping(*spec.port_mapping);
  // Without translation the LAN must be routable from upstream.
  if (!translates(spec)) {
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
}

// A site nested under sites that do not translate (open, firewall) is addressed from
// above: its WAN prefix (and its LAN, if it does not translate either) must be routed
// through every such ancestor up to the first that translates or the core.
void World::route_nested(const std::vector<detail::PlannedSite>& plan, std::size_t index) {
  const detail::PlannedSite& site = plan[index];
  std::vector<Prefix> prefixes{site.wan.subnet()};
  if (!translates(*site.spec)) prefixes.push_back(site.lan.subnet());
  for (std::ptrdiff_t a = site.parent; a >= 0; a = plan[static_cast<std::size_t>(a)].parent) {
    const detail::PlannedSite& ancestor = plan[static_cast<std::size_t>(a)];
    if (translates(*ancestor.spec)) break;
    const SiteNode& node = sites.at(ancestor.spec->name);
    for (const Prefix& p : prefixes)
      node.upstream->add_route(p, node.upstream_iface, ancestor.wan.address);
  }
}

}  // namespace natsim::scenarios
