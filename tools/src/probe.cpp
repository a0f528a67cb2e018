#include "probe.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/endpoint_conversion.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/io/route_source.hpp"
#include "natsim/traversal/nat_discovery.hpp"

namespace natsim::tools {

namespace {

using traversal::DiscoveryOptions;
using traversal::DiscoveryReport;
using traversal::FilteringBehavior;
using traversal::MappingBehavior;

constexpr int kDefaultTimeoutMs = 30'000;             // worst case without --lifetime: ~17 s
constexpr int kDefaultLifetimeTimeoutMs = 3'600'000;  // the lifetime search idles for minutes
// One per lifetime trial: a 10 min search to 1 s needs 11, the promotion check none extra.
constexpr int kFreshSockets = 16;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim probe: %s\n", message.c_str());
  return 2;
}

std::string classic_name(const DiscoveryReport& r) {
  if (r.mapping == MappingBehavior::none) {
    switch (r.filtering) {
      case FilteringBehavior::endpoint_independent:
        return "open internet (no NAT)";
      case FilteringBehavior::undetermined:
        return "no NAT (filtering unknown)";
      default:
        return "no NAT, filtered (firewall)";
    }
  }
  if (r.mapping == MappingBehavior::address_dependent ||
      r.mapping == MappingBehavior::address_and_port_dependent) {
    return "symmetric";
  }
  if (r.mapping != MappingBehavior::endpoint_independent) return "unknown";
  switch (r.filtering) {
    case FilteringBehavior::endpoint_independent:
      return "full cone";
    case FilteringBehavior::address_dependent:
      return "restricted cone";
    case FilteringBehavior::address_and_port_dependent:
      return "port-restricted cone";
    case FilteringBehavior::undetermined:
      break;
  }
  return "unknown";
}

template <class T>
nlohmann::ordered_json or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(v->to_string()) : nlohmann::ordered_json(nullptr);
}

void print_json(const DiscoveryReport& r, const Endpoint& server, bool completed) {
  nlohmann::ordered_json j;
  j["server"] = server.to_string();
  j["local"] = r.local.to_string();
  j["mapped"] = or_null(r.mapped);
  j["other_address"] = or_null(r.other_address);
  j["mapping"] = std::string(traversal::to_string(r.mapping));
  j["filtering"] = std::string(traversal::to_string(r.filtering));
  j["hairpinning"] = r.hairpinning ? nlohmann::ordered_json(*r.hairpinning) : nullptr;
  j["binding_lifetime_ms"] =
      r.binding_lifetime
          ? nlohmann::ordered_json(
                std::chrono::duration_cast<milliseconds>(*r.binding_lifetime).count())
          : nullptr;
  j["binding_lifetime_at_least_max"] = r.lifetime_at_least_max;
  j["binding_lifetime_fresh_flow"] = r.lifetime_of_fresh_flow;
  j["established_flow_outlived_fresh"] =
      r.established_flow_outlived_fresh ? nlohmann::ordered_json(*r.established_flow_outlived_fresh)
                                        : nullptr;
  j["notes"] = r.notes;
  j["completed"] = completed;
  j["elapsed_ms"] = std::chrono::duration_cast<milliseconds>(r.elapsed).count();
  std::printf("%s\n", j.dump(2).c_str());
}

void print_table(const DiscoveryReport& r, const Endpoint& server, bool lifetime_requested) {
  const auto show = [](const char* key, const std::string& value) {
    std::printf("  %-18s %s\n", key, value.c_str());
  };
  std::printf("natsim probe: RFC 5780 NAT behaviour discovery against %s\n",
              server.to_string().c_str());
  show("local", r.local.to_string());
  show("mapped", r.mapped ? r.mapped->to_string() : "-");
  show("other address", r.other_address ? r.other_address->to_string() : "- (no RFC 5780)");
  show("mapping", std::string(traversal::to_string(r.mapping)));
  show("filtering", std::string(traversal::to_string(r.filtering)));
  show("hairpinning", r.hairpinning ? (*r.hairpinning ? "yes" : "no") : "not tested");
  std::string lifetime = "not measured";
  if (r.binding_lifetime) {
    lifetime = (r.lifetime_at_least_max ? ">= " : "") + format_duration(*r.binding_lifetime) +
               (r.lifetime_of_fresh_flow ? " (a fresh flow)" : "");
    if (r.established_flow_outlived_fresh && *r.established_flow_outlived_fresh)
      lifetime += "; longer once established";
  } else if (!lifetime_requested) {
    lifetime += " (--lifetime)";
  }
  show("binding lifetime", lifetime);
  show("classic name", classic_name(r));
  show("elapsed",
       std::to_string(std::chrono::duration_cast<milliseconds>(r.elapsed).count()) + " ms");
  for (const std::string& note : r.notes)
    std::printf("  note: %s\n", note.c_str());
}

}  // namespace

int run_probe(const ProbeOptions& options) {
  const auto server = Endpoint::parse(options.stun);
  if (!server)
    return usage_error("--stun: expected IP:PORT (e.g. 192.0.2.1:3478), got '" + options.stun +
                       "'");
  if (server->port == 0 || server->address.is_unspecified())
    return usage_error("--stun: needs a specific address and a port other than 0");
  std::optional<Endpoint> requested;
  if (!options.local.empty()) {
    requested = Endpoint::parse(options.local);
    if (!requested)
      return usage_error("--local: expected IP:PORT (port 0: any), got '" + options.local + "'");
    if (requested->address.family() != server->address.family())
      return usage_error("--local and --stun must be the same address family");
  }
  const auto lifetime_max = parse_duration(options.lifetime_max);
  if (!lifetime_max || *lifetime_max < seconds(1))
    return usage_error("--lifetime-max: expected a duration of at least 1s (e.g. 90s, 10m), got '" +
                       options.lifetime_max + "'");
  const auto lifetime_precision = parse_duration(options.lifetime_precision);
  if (!lifetime_precision || *lifetime_precision < milliseconds(100) ||
      *lifetime_precision > *lifetime_max)
    return usage_error(
        "--lifetime-precision: expected a duration from 100ms to --lifetime-max (e.g. 1s), got '" +
        options.lifetime_precision + "'");
  if (options.software.size() >= 128) return usage_error("--software: at most 127 characters");

  boost::asio::io_context io;
  std::string error;
  // No --local, or a wildcard one: probe from the address the kernel routes to the server
  // from, so "mapped == local" (no NAT) can be recognised.
  Endpoint local = requested.value_or(Endpoint{});
  if (!requested || requested->address.is_unspecified()) {
    const auto source = io::route_source(io, *server, error);
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
  DiscoveryOptions discovery_options;
  discovery_options.local = *bound;
  discovery_options.server = *server;
  discovery_options.lifetime_max = *lifetime_max;
  discovery_options.lifetime_precision = *lifetime_precision;
  discovery_options.software = options.software;
  if (options.lifetime) {
    // RFC 5780 §4.6: a second socket asks the server to answer the first one's mapping.
    const auto second = sockets.bind(Endpoint{bound->address, 0});
    if (!second) return usage_error("cannot bind a second socket: " + second.error().message());
    discovery_options.lifetime_local = *second;
    // A fresh socket (a new flow) per trial, unless --lifetime-reuse: trials on one flow
    // inherit what earlier ones did to the NAT's state (docs/stun.md).
    for (int i = 0; i < kFreshSockets && !options.lifetime_reuse; ++i) {
      const auto fresh = sockets.bind(Endpoint{bound->address, 0});
      if (!fresh) return usage_error("cannot bind a trial socket: " + fresh.error().message());
      discovery_options.lifetime_fresh_locals.push_back(*fresh);
    }
    std::fprintf(stderr,
                 "natsim probe: --lifetime idles up to %s per trial and searches in steps; "
                 "this can take many minutes\n",
                 format_duration(*lifetime_max).c_str());
  }

  traversal::NatDiscovery discovery(io::random_seed(), discovery_options);
  io::AsioDriver<traversal::NatDiscovery> driver(sockets, discovery);
  discovery.start(driver.now());
  driver.pump();

  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms
                         : options.lifetime     ? kDefaultLifetimeTimeoutMs
                                                : kDefaultTimeoutMs;
  const auto result =
      driver.run_for([&] { return discovery.done(); }, std::chrono::milliseconds(timeout_ms));
  DiscoveryReport report = discovery.report();
  const bool completed = result == io::RunResult::done;
  if (!completed) {
    report.elapsed = driver.now() - TimePoint{};
    report.notes.push_back("gave up after " + std::to_string(timeout_ms) +
                           " ms (--timeout-ms) before discovery finished");
  }
  // NatDiscovery notes a server without RFC 5780 only when it finds a NAT; say it always.
  if (report.mapped && !report.other_address &&
      std::none_of(report.notes.begin(), report.notes.end(),
                   [](const std::string& n) { return n.find("RFC 5780") != std::string::npos; })) {
    report.notes.push_back("the server does not support RFC 5780 (no OTHER-ADDRESS)");
  }
  if (options.lifetime && completed && !report.binding_lifetime) {
    report.notes.push_back(report.mapping == MappingBehavior::none
                               ? "binding lifetime not measured: no NAT on the path"
                               : "binding lifetime not measured");
  }

  if (options.json) {
    print_json(report, *server, completed);
  } else {
    print_table(report, *server, options.lifetime);
  }
  std::fflush(stdout);
  const bool unreachable = report.mapping == MappingBehavior::undetermined && !report.mapped;
  return completed && !unreachable ? 0 : 1;
}

}  // namespace natsim::tools
