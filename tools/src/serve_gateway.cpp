#include "serve_gateway.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <array>
#include <map>
#include <memory>
#include <utility>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/tcp_stream_set.hpp"
#include "natsim/nat_models/igd_service.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_wire.hpp"
#include "server_report.hpp"

namespace natsim::tools {

namespace {

namespace pcp = traversal::pcp;
namespace natpmp = traversal::natpmp;
using nlohmann::ordered_json;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim serve gateway: %s\n", message.c_str());
  return 2;
}

const char* transport_name(std::uint8_t protocol) {
  return protocol == 17 ? "UDP" : protocol == 6 ? "TCP" : "protocol";
}

// What a request asks, as one line and as JSON; never trusts the datagram (a parse
// failure is described by its size).
struct Described {
  std::string text;
  ordered_json json;
};

Described describe_request(ByteView bytes) {
  Described d;
  d.json["size"] = bytes.size();
  if (!bytes.empty() && bytes[0] == natpmp::kVersion) {
    d.json["protocol"] = "natpmp";
    auto q = natpmp::parse_request(bytes);
    if (!q) {
      d.text = "NAT-PMP malformed (" + std::to_string(bytes.size()) + " bytes)";
      d.json["malformed"] = true;
      return d;
    }
    if (q->opcode == natpmp::Opcode::external_address) {
      d.text = "NAT-PMP external address";
      d.json["op"] = "external_address";
      return d;
    }
    const char* t = q->opcode == natpmp::Opcode::map_udp ? "UDP" : "TCP";
    d.text = std::string("NAT-PMP map ") + t + " " + std::to_string(q->internal_port) +
             " (suggested " + std::to_string(q->suggested_port) + ", " +
             std::to_string(q->lifetime) + " s)";
    d.json["op"] = q->opcode == natpmp::Opcode::map_udp ? "map_udp" : "map_tcp";
    d.json["internal_port"] = q->internal_port;
    d.json["suggested_port"] = q->suggested_port;
    d.json["lifetime"] = q->lifetime;
    return d;
  }
  d.json["protocol"] = "pcp";
  auto q = pcp::parse_request(bytes);
  if (!q) {
    d.text = "PCP malformed (" + std::to_string(bytes.size()) + " bytes)";
    d.json["malformed"] = true;
    return d;
  }
  const char* op = q->opcode == pcp::Opcode::map    ? "MAP"
                   : q->opcode == pcp::Opcode::peer ? "PEER"
                                                    : "ANNOUNCE";
  d.json["op"] = op;
  d.json["lifetime"] = q->lifetime;
  d.json["client"] = q->client_address.to_string();
  d.text = std::string("PCP ") + op;
  if (q->opcode != pcp::Opcode::announce) {
    d.text += std::string(" ") + transport_name(q->data.protocol) + " " +
              std::to_string(q->data.internal_port) + " (suggested " +
              std::to_string(q->data.external_port) + ", " + std::to_string(q->lifetime) + " s)";
    d.json["transport"] = q->data.protocol;
    d.json["internal_port"] = q->data.internal_port;
    d.json["suggested_port"] = q->data.external_port;
    if (q->options.third_party) d.json["third_party"] = q->options.third_party->to_string();
    if (q->options.prefer_failure) d.json["prefer_failure"] = true;
  }
  return d;
}

Described describe_response(ByteView bytes) {
  Described d;
  if (!bytes.empty() && bytes[0] == natpmp::kVersion) {
    auto r = natpmp::parse_response(bytes);
    if (!r) {
      // An unsupported opcode is answered with the request echoed (RFC 6886 §3.5).
      d.text = std::string(natpmp::to_string(natpmp::ResultCode::unsupported_opcode));
      d.json["result"] = d.text;
      return d;
    }
    d.text = std::string(natpmp::to_string(r->result));
    d.json["result"] = natpmp::to_string(r->result);
    d.json["epoch"] = r->epoch;
    if (r->result != natpmp::ResultCode::success) return d;
    if (r->opcode == natpmp::Opcode::external_address) {
      d.text += " " + r->external_address.to_string();
      d.json["external_address"] = r->external_address.to_string();
    } else {
      d.text += " port " + std::to_string(r->external_port) + " for " +
                std::to_string(r->lifetime) + " s";
      d.json["external_port"] = r->external_port;
      d.json["lifetime"] = r->lifetime;
    }
    return d;
  }
  auto r = pcp::parse_response(bytes);
  if (!r) {
    // An error answer to a request that did not parse keeps its opcode (RFC 6887 §8.3),
    // which the response parser refuses; its result code is still at octet 3.
    d.text = bytes.size() >= 4 ? std::string(pcp::to_string(static_cast<pcp::ResultCode>(bytes[3])))
                               : std::string("unparsable answer");
    d.json["result"] = d.text;
    return d;
  }
  d.text = std::string(pcp::to_string(r->result));
  d.json["result"] = pcp::to_string(r->result);
  d.json["lifetime"] = r->lifetime;
  d.json["epoch"] = r->epoch;
  if (r->result == pcp::ResultCode::success && r->opcode != pcp::Opcode::announce) {
    const Endpoint external{r->data.external_address, r->data.external_port};
    d.text += " " + external.to_string() + " for " + std::to_string(r->lifetime) + " s";
    d.json["external"] = external.to_string();
  } else if (r->result != pcp::ResultCode::success) {
    d.text += " (retry after " + std::to_string(r->lifetime) + " s)";
  }
  return d;
}

// The service as the driver runs it, with a line (and a JSON line) per request: what was
// asked and what was answered, or that it was dropped. The driver drains transmits before
// events after every datagram, so a request still pending at poll_event got no answer.
class LoggedService {
 public:
  LoggedService(nat::PcpServer& server, const nat::NatTable& table, bool json_log)
      : server_(server), table_(table), json_log_(json_log) {}

  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes) {
    pending_ = describe_request(bytes);
    now_ = now;
    remote_ = remote;
    return server_.handle_datagram(now, local, remote, bytes);
  }
  void handle_timeout(TimePoint now) { server_.handle_timeout(now); }
  [[nodiscard]] std::optional<traversal::Transmit> poll_transmit(MutableByteView out) {
    auto t = server_.poll_transmit(out);
    if (t && pending_) {
      const Described answer = describe_response(ByteView(out.data(), t->size));
      log(&answer);
    }
    return t;
  }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const { return server_.poll_timeout(); }
  [[nodiscard]] std::optional<int> poll_event() {
    if (pending_) {
      ++dropped_;
      log(nullptr);
    }
    return server_.poll_event();
  }

  [[nodiscard]] std::uint64_t dropped() const { return dropped_; }

 private:
  void log(const Described* answer) {
    std::printf("%s %s -> %s\n", remote_.to_string().c_str(), pending_->text.c_str(),
                answer != nullptr ? answer->text.c_str() : "dropped");
    std::fflush(stdout);
    if (json_log_) {
      ordered_json line{{"t_ms", static_cast<double>(to_ns(now_)) / 1e6},
                        {"remote", remote_.to_string()},
                        {"request", pending_->json}};
      if (answer != nullptr) {
        line["response"] = answer->json;
      } else {
        line["dropped"] = true;
      }
      line["mappings"] = table_.mappings(now_).size();
      std::fprintf(stderr, "%s\n", line.dump().c_str());
    }
    pending_.reset();
  }

  nat::PcpServer& server_;
  const nat::NatTable& table_;
  bool json_log_;
  std::optional<Described> pending_;
  TimePoint now_{};
  Endpoint remote_;
  std::uint64_t dropped_ = 0;
};

}  // namespace

CLI::App* add_serve_gateway(CLI::App& serve, ServeGatewayOptions& o) {
  CLI::App* cmd = serve.add_subcommand(
      "gateway",
      "PCP (RFC 6887) and NAT-PMP (RFC 6886) service on a UDP socket, mappings in a "
      "simulated NAT table, until SIGINT/SIGTERM");
  cmd->add_option("--listen", o.listen, "IP:PORT to answer on")->capture_default_str();
  cmd->add_option("--external", o.external, "The NAT's external IPv4 address")
      ->capture_default_str();
  cmd->add_option("--nat", o.nat, "NAT preset of the table (port assignment)")
      ->capture_default_str();
  cmd->add_flag(
      "--no-pcp", [&o](std::int64_t) { o.pcp = false; },
      "No PCP: PCP requests get NAT-PMP's 'unsupported version'");
  cmd->add_flag(
      "--no-natpmp", [&o](std::int64_t) { o.natpmp = false; },
      "No NAT-PMP: NAT-PMP requests get PCP's UNSUPP_VERSION");
  cmd->add_option("--min-lifetime", o.min_lifetime, "Shortest lifetime granted, s")
      ->capture_default_str()
      ->check(CLI::Range(1u, 0xffffffffu));
  cmd->add_option("--max-lifetime", o.max_lifetime, "Longest lifetime granted (lease cap), s")
      ->capture_default_str()
      ->check(CLI::Range(1u, 0xffffffffu));
  cmd->add_option("--quota", o.quota, "Mappings per internal address")
      ->capture_default_str()
      ->check(CLI::Range(0u, 65535u));
  cmd->add_flag("--allow-third-party", o.allow_third_party,
                "Accept PCP THIRD_PARTY (mappings for another address)");
  cmd->add_flag("--upnp", o.upnp,
                "Also UPnP IGD: HTTP on --upnp-http-port, M-SEARCH answered on --ssdp-port, "
                "both on the --listen address (docs/upnp-igd.md)");
  cmd->add_option("--upnp-http-port", o.upnp_http_port,
                  "UPnP description and control port (0: the kernel picks)")
      ->capture_default_str();
  cmd->add_option("--ssdp-port", o.ssdp_port,
                  "UDP port answering SSDP M-SEARCH (0: the kernel picks)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_flag("--upnp-v1-only", o.upnp_v1_only,
                "UPnP: InternetGatewayDevice:1 / WANIPConnection:1 only");
  cmd->add_flag("--upnp-insecure", o.upnp_insecure,
                "UPnP: secure mode off (a host may map to another host's address)");
  cmd->add_option("--upnp-idle-timeout", o.upnp_idle_timeout,
                  "UPnP: close an HTTP connection silent this long, s")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  cmd->add_flag("--json-log", o.json_log,
                "Log every request and the final counters as JSON Lines on stderr");
  return cmd;
}

int serve_gateway(const ServeGatewayOptions& options) {
  const auto listen = Endpoint::parse(options.listen);
  if (!listen || !listen->address.is_v4())
    return usage_error("--listen: expected IPv4:PORT (e.g. 127.0.0.1:5351), got '" +
                       options.listen + "'");
  const auto external = IpAddress::parse(options.external);
  if (!external || !external->is_v4() || external->is_unspecified())
    return usage_error("--external: expected an IPv4 address, got '" + options.external + "'");
  const auto behavior = nat::preset(options.nat);
  if (!behavior) return usage_error("--nat: unknown preset '" + options.nat + "'");
  if (!options.pcp && !options.natpmp) return usage_error("--no-pcp and --no-natpmp: nothing left");
  if (options.max_lifetime < options.min_lifetime)
    return usage_error("--max-lifetime is shorter than --min-lifetime");

  boost::asio::io_context io;
  io::UdpSocketSet sockets(io);
  auto bound = sockets.bind(*listen);
  if (!bound)
    return usage_error("cannot bind " + listen->to_string() + ": " + bound.error().message());

  nat::NatTable table(*behavior, {*external}, true, Rng(1));
  nat::PortMappingConfig config;
  config.pcp = options.pcp;
  config.natpmp = options.natpmp;
  config.min_lifetime = options.min_lifetime;
  config.max_lifetime = options.max_lifetime;
  config.quota_per_host = options.quota;
  config.allow_third_party = options.allow_third_party;
  // The driver's clock starts at 0 when it is made: the epoch starts with it.
  nat::PcpServer server(table, config, TimePoint{});
  LoggedService service(server, table, options.json_log);
  io::AsioDriver<LoggedService> driver(sockets, service);

  // UPnP IGD on the same table: HTTP over real TCP, framed by the service's own reader
  // (Beast), one request per connection; M-SEARCH answered on a UDP socket. NOTIFY is not
  // multicast from here (a loopback tool has no LAN to announce to).
  // The simulated gateway's HTTP limits hold here too: at most max_connections at once
  // (16), and a connection silent for --upnp-idle-timeout is closed.
  io::TcpLimits http_limits;
  http_limits.max_connections = nat::UpnpConfig{}.max_connections;
  http_limits.idle_timeout = std::chrono::seconds(options.upnp_idle_timeout);
  io::TcpStreamSet http(io, http_limits);
  io::UdpSocketSet ssdp(io);
  std::optional<nat::upnp::IgdService> igd;
  std::map<std::pair<Endpoint, Endpoint>, std::unique_ptr<nat::upnp::HttpRequestReader>> readers;
  Endpoint ssdp_bound;
  if (options.upnp) {
    auto h = http.listen(Endpoint{listen->address, options.upnp_http_port});
    if (!h)
      return usage_error("cannot listen on " + listen->address.to_string() + ":" +
                         std::to_string(options.upnp_http_port) + ": " + h.error().message());
    auto u = ssdp.bind(Endpoint{listen->address, options.ssdp_port});
    if (!u)
      return usage_error("cannot bind SSDP on " + listen->address.to_string() + ":" +
                         std::to_string(options.ssdp_port) + ": " + u.error().message());
    ssdp_bound = *u;
    config.upnp.enabled = true;
    config.upnp.http_port = h->port;
    config.upnp.v1_only = options.upnp_v1_only;
    config.upnp.secure_mode = !options.upnp_insecure;
    igd.emplace(table, config, listen->address, TimePoint{});
    http.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
      auto& reader = readers[{local, remote}];
      if (!reader) reader = std::make_unique<nat::upnp::HttpRequestReader>(config.upnp.max_body);
      if (reader->state() != nat::upnp::HttpRequestReader::State::more) return;
      const auto state = reader->feed(bytes);
      if (state == nat::upnp::HttpRequestReader::State::more) return;
      std::string answer;
      std::string what;
      if (state == nat::upnp::HttpRequestReader::State::done) {
        const auto& q = reader->request();
        answer = igd->answer_http(driver.now(), remote, q);
        what = "UPnP " + q.method + " " + q.target;
        if (!q.soap_action.empty()) what += " " + q.soap_action;
      } else {
        answer = igd->answer_unreadable(state, reader->header_too_large());
        what = "UPnP unreadable request";
      }
      const std::string status = answer.substr(0, answer.find('\r'));
      std::printf("%s %s -> %s\n", remote.to_string().c_str(), what.c_str(), status.c_str());
      std::fflush(stdout);
      (void)http.send(
          local, remote,
          ByteView(reinterpret_cast<const std::uint8_t*>(answer.data()), answer.size()));
      http.close(local, remote);
    });
    http.on_closed([&](const Endpoint& local, const Endpoint& remote) {
      readers.erase({local, remote});
    });
    ssdp.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
      (void)igd->handle_datagram(driver.now(), local, remote, bytes);
      std::array<std::uint8_t, traversal::ssdp::kMaxMessageSize> out{};
      while (auto t = igd->poll_transmit(out)) {
        if (t->remote.address.is_multicast()) continue;
        (void)ssdp.send(local, t->remote, ByteView(out.data(), t->size));
      }
    });
  }

  int stop_signal = 0;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) stop_signal = signal;
    io.stop();
  });

  // Readiness: scripts wait for this line, so it comes after the bind and is flushed.
  std::printf("listening on %s (%s%s%s), external address %s\n", bound->to_string().c_str(),
              options.pcp ? "PCP" : "", options.pcp && options.natpmp ? ", " : "",
              options.natpmp ? "NAT-PMP" : "", external->to_string().c_str());
  if (igd) {
    std::printf("UPnP IGD description %s, SSDP on %s\n", igd->description_url().c_str(),
                ssdp_bound.to_string().c_str());
  }
  std::fflush(stdout);

  io.run();

  const TimePoint now = driver.now();
  for (const nat::MappingInfo& m : table.mappings(now)) {
    std::printf("mapping %s %s -> %s (%s, %lld s left)\n",
                m.proto == sim::IpProto::udp ? "UDP" : "TCP", m.internal.to_string().c_str(),
                m.external.to_string().c_str(), std::string(nat::to_string(m.owner)).c_str(),
                static_cast<long long>((m.expires - now) / seconds(1)));
  }
  ordered_json counters;
  for (const auto& [name, value] : nat::port_mapping_metrics(server))
    counters[name] = value;
  if (igd) {
    for (const auto& [name, value] : nat::upnp::igd_metrics(igd->counters()))
      counters[name] = value;
  }
  counters["dropped_unanswered"] = service.dropped();
  counters["mappings"] = table.mappings(now).size();
  add_socket_counters(counters, sockets.counters());
  return report_stopped(stop_signal, counters, options.json_log);
}

}  // namespace natsim::tools
