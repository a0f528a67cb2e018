#include "probe_portmap.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/io/route_source.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::tools {

namespace {

using traversal::MappingProtocol;
using traversal::PortMapper;
using traversal::PortMapperEvent;
using Steady = std::chrono::steady_clock;
using Kind = PortMapperEvent::Kind;

constexpr int kDefaultTimeoutMs = 30'000;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim probe: %s\n", message.c_str());
  return 2;
}

std::string result_name(MappingProtocol p, std::uint16_t code) {
  return std::string(
      p == MappingProtocol::pcp
          ? traversal::pcp::to_string(static_cast<traversal::pcp::ResultCode>(code))
          : traversal::natpmp::to_string(static_cast<traversal::natpmp::ResultCode>(code)));
}

// One step's answer: the event that ended it, or nothing (timed out).
struct Step {
  const char* name;
  std::optional<PortMapperEvent> event;
  double ms = 0;
};

nlohmann::ordered_json step_json(const Step& s) {
  nlohmann::ordered_json j{{"step", s.name}};
  if (!s.event) {
    j["outcome"] = "timeout";
    return j;
  }
  const PortMapperEvent& e = *s.event;
  const bool ok = e.kind != Kind::failed;
  j["outcome"] = ok ? "success" : (e.result == 0 ? "timeout" : "error");
  if (!ok && e.result != 0) j["result"] = result_name(e.protocol, e.result);
  if (ok && e.kind != Kind::deleted) {
    j["external"] = e.external.to_string();
    j["lifetime"] = e.lifetime;
  }
  j["epoch"] = e.epoch;
  j["ms"] = s.ms;
  return j;
}

}  // namespace

void add_probe_portmap_options(CLI::App& probe, ProbePortmapOptions& o,
                               std::initializer_list<CLI::Option*> exclude) {
  CLI::Option* pcp = probe.add_option(
      "--pcp", o.pcp, "Instead of --stun: ask a PCP gateway IP[:PORT] (5351) for a mapping");
  CLI::Option* natpmp = probe.add_option(
      "--natpmp", o.natpmp, "Instead of --stun: ask a NAT-PMP gateway IP[:PORT] (5351)");
  pcp->excludes(natpmp);
  for (CLI::Option* other : exclude) {
    pcp->excludes(other);
    natpmp->excludes(other);
  }
  probe.add_option("--internal-port", o.internal_port,
                   "With --pcp/--natpmp: the internal port (default: the probe's own)");
  probe.add_option("--suggested-port", o.suggested_port,
                   "With --pcp/--natpmp: the external port asked for (default 0: any)");
  probe.add_option("--lease", o.lifetime, "With --pcp/--natpmp: the lifetime asked for, s")
      ->capture_default_str()
      ->check(CLI::Range(1u, 0xffffffffu));
  probe.add_option("--transport", o.transport, "With --pcp/--natpmp: udp or tcp")
      ->check(CLI::IsMember({"udp", "tcp"}))
      ->capture_default_str();
  probe.add_flag("--refresh", o.refresh, "With --pcp/--natpmp: refresh the mapping once");
  probe.add_flag("--keep", o.keep, "With --pcp/--natpmp: leave the mapping (do not delete it)");
}

int run_probe_portmap(const ProbePortmapOptions& options) {
  const bool use_pcp = !options.pcp.empty();
  const std::string& text = use_pcp ? options.pcp : options.natpmp;
  auto gateway = Endpoint::parse(text);
  if (!gateway) {
    if (auto a = IpAddress::parse(text)) gateway = Endpoint{*a, traversal::pcp::kServerPort};
  }
  if (!gateway || !gateway->address.is_v4() || gateway->address.is_unspecified() ||
      gateway->port == 0)
    return usage_error(std::string(use_pcp ? "--pcp" : "--natpmp") +
                       ": expected an IPv4 address or IP:PORT (e.g. 192.168.1.1), got '" + text +
                       "'");
  std::optional<Endpoint> requested;
  if (!options.local.empty()) {
    requested = Endpoint::parse(options.local);
    if (!requested || !requested->address.is_v4())
      return usage_error("--local: expected IPv4:PORT (port 0: any), got '" + options.local + "'");
  }
  if (options.timeout_ms < 0) return usage_error("--timeout-ms must be positive");

  boost::asio::io_context io;
  Endpoint local = requested.value_or(Endpoint{});
  if (local.address.is_unspecified()) {
    // PCP carries the client's address, which must be the request's source (RFC 6887 §8.1).
    std::string error;
    const auto source = io::route_source(io, *gateway, error);
    if (!source) {
      std::fprintf(stderr, "natsim probe: %s\n", error.c_str());
      return 1;
    }
    local.address = *source;
  }
  io::UdpSocketSet sockets(io);
  const auto bound = sockets.bind(local);
  if (!bound)
    return usage_error("cannot bind " + local.to_string() + ": " + bound.error().message());

  traversal::PortMapperConfig config;
  config.local = *bound;
  config.gateway = *gateway;
  config.seed = io::random_seed();
  config.only = use_pcp ? MappingProtocol::pcp : MappingProtocol::natpmp;
  PortMapper mapper(config);
  io::AsioDriver<PortMapper> driver(sockets, mapper);
  std::vector<PortMapperEvent> events;
  driver.on_event([&events](const PortMapperEvent& e) { events.push_back(e); });

  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : kDefaultTimeoutMs;
  const auto started = Steady::now();
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  // Runs until an event of `kinds` (or failed) arrives for the mapping.
  const auto await = [&](Step& step, std::initializer_list<Kind> kinds) {
    const auto t0 = Steady::now();
    std::optional<PortMapperEvent> found;
    (void)driver.run_until(
        [&] {
          for (const PortMapperEvent& e : events) {
            for (Kind k : kinds) {
              if (e.kind == k || e.kind == Kind::failed) found = e;
            }
          }
          events.clear();
          return found.has_value();
        },
        deadline);
    step.event = found;
    step.ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    return found && found->kind != Kind::failed;
  };

  const std::uint8_t transport = options.transport == "tcp" ? 6 : 17;
  const std::uint16_t internal_port =
      options.internal_port != 0 ? options.internal_port : bound->port;
  std::vector<Step> steps;
  steps.push_back({"map", std::nullopt, 0});
  const std::size_t id =
      mapper.add(driver.now(), transport, internal_port, options.lifetime, options.suggested_port);
  driver.pump();
  bool ok = await(steps.back(), {Kind::mapped});
  if (ok && options.refresh) {
    steps.push_back({"refresh", std::nullopt, 0});
    mapper.refresh(driver.now(), id);
    driver.pump();
    ok = await(steps.back(), {Kind::refreshed, Kind::recreated});
  }
  if (ok && !options.keep) {
    steps.push_back({"delete", std::nullopt, 0});
    mapper.remove(driver.now(), id);
    driver.pump();
    ok = await(steps.back(), {Kind::deleted});
  }

  const Step& first = steps.front();
  nlohmann::ordered_json j{{"protocol", use_pcp ? "pcp" : "natpmp"},
                           {"gateway", gateway->to_string()},
                           {"local", bound->to_string()},
                           {"transport", options.transport},
                           {"internal_port", internal_port}};
  if (first.event && first.event->kind != Kind::failed) {
    j["external"] = first.event->external.to_string();
    j["external_address"] = first.event->external.address.to_string();
    j["lifetime"] = first.event->lifetime;
    j["double_nat"] = first.event->double_nat;
  }
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Step& s : steps)
    list.push_back(step_json(s));
  j["steps"] = list;
  j["outcome"] = ok ? "success" : "failed";
  j["elapsed_ms"] = std::chrono::duration<double, std::milli>(Steady::now() - started).count();

  if (options.json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& s : list) {
      std::printf("  %-8s %-8s %s%s\n", s["step"].get<std::string>().c_str(),
                  s["outcome"].get<std::string>().c_str(),
                  s.contains("external") ? s["external"].get<std::string>().c_str() : "",
                  s.contains("result") ? s["result"].get<std::string>().c_str() : "");
    }
    std::printf("%s %s: %s %s %d -> %s\n", use_pcp ? "PCP" : "NAT-PMP",
                gateway->to_string().c_str(), ok ? "mapped" : "failed to map",
                transport == 6 ? "TCP" : "UDP", internal_port,
                j.contains("external") ? j["external"].get<std::string>().c_str() : "nothing");
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace natsim::tools
