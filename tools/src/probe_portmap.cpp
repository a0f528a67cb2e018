#include "probe_portmap.hpp"

#include <poll.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/io/route_source.hpp"
#include "natsim/io/tcp_stream_set.hpp"
#include "natsim/traversal/igd_description.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_client.hpp"
#include "natsim/traversal/port_mapper.hpp"
#include "natsim/traversal/ssdp.hpp"

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

// A failure's name: PCP's and NAT-PMP's result codes as their RFCs spell them; UPnP's
// error code as scenario reports spell it (upnp_718), or, for failures without one, the
// client's outcome (http_error, unreachable, not_authorized, ...).
std::string result_name(const PortMapperEvent& e) {
  if (e.protocol == MappingProtocol::upnp) {
    if (e.result != 0) return "upnp_" + std::to_string(e.result);
    std::string name(traversal::upnp::to_string(e.upnp_outcome));
    for (char& c : name)
      c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  return std::string(
      e.protocol == MappingProtocol::pcp
          ? traversal::pcp::to_string(static_cast<traversal::pcp::ResultCode>(e.result))
          : traversal::natpmp::to_string(static_cast<traversal::natpmp::ResultCode>(e.result)));
}

// UPnP fails without a result code too (an HTTP refusal, an unreadable answer); only no
// answer at all is a timeout.
bool timed_out(const PortMapperEvent& e) {
  if (e.protocol != MappingProtocol::upnp) return e.result == 0;
  return e.result == 0 && (e.upnp_outcome == traversal::upnp::Outcome::timeout ||
                           e.upnp_outcome == traversal::upnp::Outcome::no_gateway);
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
  j["outcome"] = ok ? "success" : (timed_out(e) ? "timeout" : "error");
  if (!ok && (e.result != 0 || e.protocol == MappingProtocol::upnp)) j["result"] = result_name(e);
  if (!ok && !e.detail.empty()) j["detail"] = e.detail;
  if (ok && e.kind != Kind::deleted) {
    j["external"] = e.external.to_string();
    j["lifetime"] = e.lifetime;
  }
  if (e.protocol != MappingProtocol::upnp) j["epoch"] = e.epoch;  // UPnP has none
  j["ms"] = s.ms;
  return j;
}

// Sends `request` to `gateway` until an answer to `ask` arrives or `deadline` passes,
// retransmitting after 3 s, doubling (RFC 6887 §8.1.1, without the random factor).
std::optional<traversal::MappingAnswer> exchange(boost::asio::ip::udp::socket& socket,
                                                 const boost::asio::ip::udp::endpoint& gateway,
                                                 ByteView request, const traversal::MappingAsk& ask,
                                                 Steady::time_point deadline) {
  std::array<std::uint8_t, traversal::pcp::kMaxMessageSize> in{};
  auto resend = Steady::now();
  auto rto = std::chrono::seconds(3);
  while (Steady::now() < deadline) {
    if (Steady::now() >= resend) {
      boost::system::error_code ec;
      socket.send_to(boost::asio::buffer(request.data(), request.size()), gateway, 0, ec);
      resend = Steady::now() + rto;
      rto *= 2;
    }
    const auto wait = std::min(resend, deadline) - Steady::now();
    pollfd p{socket.native_handle(), POLLIN, 0};
    const int ms = static_cast<int>(
        std::max<std::int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (::poll(&p, 1, ms) <= 0) continue;
    boost::asio::ip::udp::endpoint from;
    boost::system::error_code ec;
    const std::size_t n = socket.receive_from(boost::asio::buffer(in), from, 0, ec);
    if (ec || from != gateway) continue;
    if (auto a = traversal::pcp_client::read(ByteView(in.data(), n), ask)) return a;
  }
  return std::nullopt;
}

PortMapperEvent as_event(const traversal::MappingAnswer& a, bool deleting) {
  PortMapperEvent e;
  e.protocol = MappingProtocol::pcp;
  e.kind = a.kind != traversal::MappingAnswer::Kind::mapped ? Kind::failed
           : deleting                                       ? Kind::deleted
                                                            : Kind::mapped;
  e.external = a.external;
  e.lifetime = a.lifetime;
  e.result = a.result;
  e.epoch = a.epoch;
  return e;
}

// Completes the report with the steps, the outcome and the elapsed time, prints it (the
// JSON, or a line per step and `summary` with the external endpoint) and returns the
// exit status.
int finish_report(nlohmann::ordered_json& j, const std::vector<Step>& steps, bool ok,
                  Steady::time_point started, bool json, const std::string& summary) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Step& s : steps)
    list.push_back(step_json(s));
  j["steps"] = list;
  j["outcome"] = ok ? "success" : "failed";
  j["elapsed_ms"] = std::chrono::duration<double, std::milli>(Steady::now() - started).count();
  if (json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& s : list) {
      std::printf("  %-8s %-8s %s%s\n", s["step"].get<std::string>().c_str(),
                  s["outcome"].get<std::string>().c_str(),
                  s.contains("external") ? s["external"].get<std::string>().c_str() : "",
                  s.contains("result") ? s["result"].get<std::string>().c_str() : "");
    }
    std::printf("%s -> %s\n", summary.c_str(),
                j.contains("external") ? j["external"].get<std::string>().c_str() : "nothing");
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

// --third-party: a MAP for another host's address (RFC 6887 §13.1), which the port
// mapper does not do (it maps for itself), so the request is built and sent here.
int run_third_party(const ProbePortmapOptions& options, const Endpoint& gateway,
                    const Endpoint& local, const IpAddress& third_party) {
  namespace ip = boost::asio::ip;
  boost::asio::io_context io;
  ip::udp::socket socket(io);
  boost::system::error_code ec;
  (void)socket.open(ip::udp::v4(), ec);
  const ip::udp::endpoint bind_to(ip::make_address_v4(local.address.v4_value()), local.port);
  if (!ec) (void)socket.bind(bind_to, ec);
  if (ec) return usage_error("cannot bind " + local.to_string() + ": " + ec.message());
  const auto bound_asio = socket.local_endpoint();
  const Endpoint bound{local.address, bound_asio.port()};
  const ip::udp::endpoint to(ip::make_address_v4(gateway.address.v4_value()), gateway.port);

  traversal::MappingAsk ask;
  ask.protocol = options.transport == "tcp" ? 6 : 17;
  ask.internal_port = options.internal_port != 0 ? options.internal_port : bound.port;
  ask.suggested_port = options.suggested_port;
  ask.lifetime = options.lifetime;
  ask.third_party = third_party;
  std::mt19937_64 random(io::random_seed());  // §11.2: a nonce others cannot guess
  for (auto& b : ask.nonce)
    b = static_cast<std::uint8_t>(random());

  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : kDefaultTimeoutMs;
  const auto started = Steady::now();
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  std::array<std::uint8_t, traversal::pcp::kMaxMessageSize> out{};
  std::vector<Step> steps;
  const auto step = [&](const char* name) {
    steps.push_back({name, std::nullopt, 0});
    const auto t0 = Steady::now();
    const auto n = traversal::pcp_client::map_request(bound.address, ask, out);
    std::optional<traversal::MappingAnswer> a;
    if (n) a = exchange(socket, to, ByteView(out.data(), *n), ask, deadline);
    if (a) steps.back().event = as_event(*a, ask.lifetime == 0);
    steps.back().ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    return a && a->kind == traversal::MappingAnswer::Kind::mapped;
  };
  bool ok = step("map");
  const std::optional<PortMapperEvent> granted = steps.front().event;
  if (ok && !options.keep) {
    ask.lifetime = 0;  // §15: delete, with the same nonce
    ok = step("delete");
  }

  nlohmann::ordered_json j{{"protocol", "pcp"},
                           {"gateway", gateway.to_string()},
                           {"local", bound.to_string()},
                           {"transport", options.transport},
                           {"internal_port", ask.internal_port},
                           {"third_party", third_party.to_string()}};
  if (granted && granted->kind != Kind::failed) {
    j["external"] = granted->external.to_string();
    j["external_address"] = granted->external.address.to_string();
    j["lifetime"] = granted->lifetime;
  }
  return finish_report(j, steps, ok, started, options.json,
                       "PCP " + gateway.to_string() + ": " + (ok ? "mapped" : "failed to map") +
                           (ask.protocol == 6 ? " TCP " : " UDP ") + third_party.to_string() + ":" +
                           std::to_string(ask.internal_port));
}

// Map, then --refresh, then delete unless --keep, each step awaited on the driver until
// its event (or a failure) arrives or the --timeout-ms deadline passes. The steps, in
// order; `ok` when every one succeeded.
bool run_steps(io::AsioDriver<PortMapper>& driver, PortMapper& mapper,
               const ProbePortmapOptions& options, std::uint8_t transport,
               std::uint16_t internal_port, Steady::time_point deadline, std::vector<Step>& steps) {
  std::vector<PortMapperEvent> events;
  driver.on_event([&events](const PortMapperEvent& e) { events.push_back(e); });
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
  driver.on_event(nullptr);
  return ok;
}

// --upnp: the port mapper with UPnP IGD only, i.e. the sans-I/O upnp::UpnpClient, on a
// UDP socket for SSDP and TCP connections it opens itself for HTTP (AsioDriver's
// open_on_send). M-SEARCH goes to --upnp's address, else to the SSDP group
// 239.255.255.250 (UDA 1.1 §1.3.2), on --ssdp-port; --description-url skips it.
// The probe's local endpoint: --local, its address (when not given) the source of the
// route toward `to`; nullopt (after saying why) when there is no route.
std::optional<Endpoint> local_toward(boost::asio::io_context& io,
                                     const std::optional<Endpoint>& requested, const Endpoint& to) {
  Endpoint local = requested.value_or(Endpoint{});
  if (!local.address.is_unspecified()) return local;
  std::string error;
  const auto source = io::route_source(io, to, error);
  if (!source) {
    std::fprintf(stderr, "natsim probe: %s\n", error.c_str());
    return std::nullopt;
  }
  local.address = *source;
  return local;
}

// Maps, refreshes and deletes with a port mapper on `sockets` (and `streams`, UPnP's HTTP)
// as the options ask, and reports: `gateway` names where it asked, `label` starts the
// summary line ("PCP 192.168.1.1:5351").
int map_and_report(const ProbePortmapOptions& options, const traversal::PortMapperConfig& config,
                   io::UdpSocketSet& sockets, io::TcpStreamSet* streams, const Endpoint& bound,
                   const std::string& gateway, const std::string& label) {
  PortMapper mapper(config);
  io::AsioDriver<PortMapper> driver(sockets, mapper, streams);
  if (streams != nullptr) driver.open_on_send();
  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : kDefaultTimeoutMs;
  const auto started = Steady::now();
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  const std::uint8_t transport = options.transport == "tcp" ? 6 : 17;
  const std::uint16_t internal_port =
      options.internal_port != 0 ? options.internal_port : bound.port;
  std::vector<Step> steps;
  const bool ok = run_steps(driver, mapper, options, transport, internal_port, deadline, steps);

  nlohmann::ordered_json j{{"protocol", traversal::to_string(config.protocols.front())},
                           {"gateway", gateway},
                           {"local", bound.to_string()},
                           {"transport", options.transport},
                           {"internal_port", internal_port}};
  const Step& first = steps.front();
  if (first.event && first.event->kind != Kind::failed) {
    j["external"] = first.event->external.to_string();
    j["external_address"] = first.event->external.address.to_string();
    j["lifetime"] = first.event->lifetime;
    j["double_nat"] = first.event->double_nat;
  }
  return finish_report(j, steps, ok, started, options.json,
                       label + ": " + (ok ? "mapped" : "failed to map") +
                           (transport == 6 ? " TCP " : " UDP ") + std::to_string(internal_port));
}

int run_probe_upnp(const ProbePortmapOptions& options, const std::optional<Endpoint>& requested) {
  Endpoint search_to{traversal::ssdp::kMulticastV4, options.ssdp_port};
  if (!options.upnp_gateway.empty()) {
    auto e = Endpoint::parse(options.upnp_gateway);
    if (!e) {
      if (auto a = IpAddress::parse(options.upnp_gateway)) e = Endpoint{*a, options.ssdp_port};
    }
    if (!e || !e->address.is_v4() || e->address.is_unspecified() || e->port == 0)
      return usage_error("--upnp: expected an IPv4 address or IP:PORT (e.g. 192.168.1.1), got '" +
                         options.upnp_gateway + "'");
    search_to = *e;
  }
  // Where the first packet goes: the description's host, or where M-SEARCH goes.
  Endpoint first_hop = search_to;
  if (!options.description_url.empty()) {
    const auto url = traversal::upnp::parse_http_url(options.description_url);
    const auto host = url ? IpAddress::parse(url->host) : std::nullopt;
    if (!host || !host->is_v4())
      return usage_error("--description-url: expected http://IPv4:PORT/PATH, got '" +
                         options.description_url + "'");
    first_hop = Endpoint{*host, url->port};
  }
  if (options.ssdp_port == 0) return usage_error("--ssdp-port must not be 0");

  boost::asio::io_context io;
  // The socket's address is the mapping's NewInternalClient, which a gateway in secure
  // mode accepts only when it is the connection's source (miniupnpd's secure_mode).
  const auto local = local_toward(io, requested, first_hop);
  if (!local) return 1;
  io::UdpSocketSet sockets(io);
  const auto bound = sockets.bind(*local);
  if (!bound)
    return usage_error("cannot bind " + local->to_string() + ": " + bound.error().message());
  io::TcpStreamSet streams(io);

  traversal::PortMapperConfig config;
  config.local = *bound;
  config.gateway = search_to;
  config.seed = io::random_seed();
  config.protocols = {MappingProtocol::upnp};
  config.upnp_client.local = *bound;
  config.upnp_client.description_url = options.description_url;
  config.upnp_client.ssdp_group = search_to;
  const std::string gateway =
      options.description_url.empty() ? "ssdp://" + search_to.to_string() : options.description_url;
  return map_and_report(options, config, sockets, &streams, *bound, gateway, "UPnP IGD " + gateway);
}

}  // namespace

void add_probe_portmap_options(CLI::App& probe, ProbePortmapOptions& o,
                               std::initializer_list<CLI::Option*> exclude) {
  CLI::Option* pcp = probe.add_option(
      "--pcp", o.pcp, "Instead of --stun: ask a PCP gateway IP[:PORT] (5351) for a mapping");
  CLI::Option* natpmp = probe.add_option(
      "--natpmp", o.natpmp, "Instead of --stun: ask a NAT-PMP gateway IP[:PORT] (5351)");
  CLI::Option* upnp =
      probe
          .add_option_function<std::vector<std::string>>(
              "--upnp",
              [&o](const std::vector<std::string>& v) {
                o.upnp = true;
                o.upnp_gateway = v.empty() ? std::string() : v.front();
              },
              "Instead of --stun: ask a UPnP IGD for a mapping; M-SEARCH to IP[:PORT], or "
              "without one to 239.255.255.250 (docs/upnp-igd.md)")
          ->expected(0, 1)
          ->type_name("[IP[:PORT]]");
  pcp->excludes(natpmp);
  pcp->excludes(upnp);
  natpmp->excludes(upnp);
  for (CLI::Option* other : exclude) {
    pcp->excludes(other);
    natpmp->excludes(other);
    upnp->excludes(other);
  }
  probe
      .add_option("--description-url", o.description_url,
                  "With --upnp: fetch this description (http://IP:PORT/PATH), no SSDP")
      ->needs(upnp);
  probe.add_option("--ssdp-port", o.ssdp_port, "With --upnp: the port M-SEARCH goes to")
      ->capture_default_str()
      ->needs(upnp);
  probe.add_option("--internal-port", o.internal_port,
                   "With --pcp/--natpmp/--upnp: the internal port (default: the probe's own)");
  probe.add_option("--suggested-port", o.suggested_port,
                   "With --pcp/--natpmp/--upnp: the external port asked for (default 0: any)");
  probe
      .add_option("--lease", o.lifetime,
                  "With --pcp/--natpmp/--upnp: the lifetime (lease) asked for, s")
      ->capture_default_str()
      ->check(CLI::Range(1u, 0xffffffffu));
  probe.add_option("--transport", o.transport, "With --pcp/--natpmp/--upnp: udp or tcp")
      ->check(CLI::IsMember({"udp", "tcp"}))
      ->capture_default_str();
  probe.add_flag("--refresh", o.refresh, "With --pcp/--natpmp/--upnp: refresh the mapping once");
  probe.add_flag("--keep", o.keep,
                 "With --pcp/--natpmp/--upnp: leave the mapping (do not delete it)");
  probe.add_option("--third-party", o.third_party,
                   "With --pcp: map for this IPv4 address instead (THIRD_PARTY); no --refresh");
}

int run_probe_portmap(const ProbePortmapOptions& options) {
  std::optional<Endpoint> requested;
  if (!options.local.empty()) {
    requested = Endpoint::parse(options.local);
    if (!requested || !requested->address.is_v4())
      return usage_error("--local: expected IPv4:PORT (port 0: any), got '" + options.local + "'");
  }
  if (options.timeout_ms < 0) return usage_error("--timeout-ms must be positive");
  if (options.upnp) {
    if (!options.third_party.empty())
      return usage_error("--third-party needs --pcp (UPnP IGD has no such option)");
    return run_probe_upnp(options, requested);
  }
  if (!options.description_url.empty()) return usage_error("--description-url needs --upnp");
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
  std::optional<IpAddress> third_party;
  if (!options.third_party.empty()) {
    third_party = IpAddress::parse(options.third_party);
    if (!use_pcp) return usage_error("--third-party needs --pcp (NAT-PMP has no such option)");
    if (!third_party || !third_party->is_v4() || third_party->is_unspecified())
      return usage_error("--third-party: expected an IPv4 address, got '" + options.third_party +
                         "'");
    if (options.refresh) return usage_error("--third-party does not take --refresh");
  }

  boost::asio::io_context io;
  // PCP carries the client's address, which must be the request's source (RFC 6887 §8.1).
  const auto local = local_toward(io, requested, *gateway);
  if (!local) return 1;
  if (third_party) return run_third_party(options, *gateway, *local, *third_party);
  io::UdpSocketSet sockets(io);
  const auto bound = sockets.bind(*local);
  if (!bound)
    return usage_error("cannot bind " + local->to_string() + ": " + bound.error().message());

  traversal::PortMapperConfig config;
  config.local = *bound;
  config.gateway = *gateway;
  config.seed = io::random_seed();
  config.protocols = {use_pcp ? MappingProtocol::pcp : MappingProtocol::natpmp};
  return map_and_report(options, config, sockets, nullptr, *bound, gateway->to_string(),
                        std::string(use_pcp ? "PCP " : "NAT-PMP ") + gateway->to_string());
}

}  // namespace natsim::tools
