#include "serve_turn.hpp"

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/traversal/stun_constants.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "server_report.hpp"
#include "stun_text.hpp"

namespace natsim::tools {

namespace {

using traversal::turn::ServerConfig;
using traversal::turn::TurnServer;

constexpr std::uint32_t kMaxRelayPorts = 16384;
// The default TCP connection limit is what the open-files limit leaves after the relay
// sockets and this many for everything else, and at most kMaxTcpConnections.
constexpr std::size_t kSpareDescriptors = 64;
constexpr std::size_t kMaxTcpConnections = 4096;

// Raises the soft open-files limit to the hard one (as coturn does): each relay port and
// each TCP connection is a descriptor. Returns the soft limit in force.
std::size_t raise_open_files() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? kMaxTcpConnections * 4
                                         : static_cast<std::size_t>(limit.rlim_cur);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim serve turn: %s\n", message.c_str());
  return 2;
}

// Peers a client may not reach through the relay (CreatePermission and ChannelBind get
// 403): the server's defaults (special-purpose ranges, RFC 8656 §21.3, IPv4 embedded in
// IPv6 included) plus what a relay on a real network must not open up either: RFC 1918
// and IPv6 unique-local. --allow-loopback-peers takes 127.0.0.0/8 and ::1/128 off.
std::vector<Prefix> denied_peers(bool allow_loopback) {
  std::vector<Prefix> out = traversal::turn::default_denied_peers();
  for (const char* extra : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"})
    out.push_back(*Prefix::parse(extra));
  if (allow_loopback) {
    std::erase_if(out, [](const Prefix& p) {
      return p == *Prefix::parse("127.0.0.0/8") || p == *Prefix::parse("::1/128");
    });
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A decimal number in [min, max], the whole of `text`.
std::optional<std::uint32_t> parse_number(std::string_view text, std::uint32_t min,
                                          std::uint32_t max) {
  std::uint32_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max)
    return std::nullopt;
  return value;
}

// What a datagram on the listening socket is (peer datagrams are opaque).
std::string describe_turn(ByteView bytes) {
  using namespace traversal::stun;
  if (!bytes.empty() && (bytes[0] & 0xC0) == 0x40) {
    // Any channel number a client may use (what the server accepts is its business).
    auto cd = traversal::turn::parse_channel_data(bytes, traversal::turn::ChannelRange::rfc5766);
    if (!cd) return "malformed channel-data";
    char buf[48];
    std::snprintf(buf, sizeof buf, "channel-data 0x%04x", cd->channel);
    return buf;
  }
  auto m = Message::parse(bytes);
  if (!m) return "not-stun";
  std::string text = message_summary(*m);
  // What it is about: the (first) peer, the channel, the relayed address, and the
  // Allocate options a client asked for or the server granted.
  if (auto peer = m->xor_address(attr::xor_peer_address)) text += " peer " + peer->to_string();
  if (auto number = m->u32(attr::channel_number)) {
    char buf[24];
    std::snprintf(buf, sizeof buf, " channel 0x%04x", static_cast<unsigned>(*number >> 16));
    text += buf;
  }
  if (auto relayed = m->xor_address(attr::xor_relayed_address))
    text += " relayed " + relayed->to_string();
  if (auto even = m->find(attr::even_port))
    text += !even->value.empty() && (even->value[0] & 0x80) != 0 ? " even-port+R" : " even-port";
  if (m->has(attr::reservation_token)) text += " reservation-token";
  if (auto family = m->find(attr::requested_address_family); family && !family->value.empty())
    text += family->value[0] == 0x02 ? " family-ipv6" : " family-ipv4";
  if (m->has(attr::dont_fragment)) text += " dont-fragment";
  return text;
}

// Cuts each TCP connection's byte stream (one per direction) into TURN frames for the
// log, the way the server does.
class StreamLog {
 public:
  template <class Line>
  void add(bool in, const Endpoint& local, const Endpoint& remote, ByteView bytes, Line line) {
    const Key key{in, local, remote};
    auto& framer = framers_[key];
    if (!framer.push(bytes)) {
      line(bytes.size(), "not-turn-stream");
      framers_.erase(key);
      return;
    }
    while (auto frame = framer.next())
      line(frame->size(), describe_turn(*frame));
    // Only a partial frame needs remembering, so closed connections leave nothing behind.
    if (framer.buffered() == 0) framers_.erase(key);
  }

 private:
  using Key = std::tuple<bool, Endpoint, Endpoint>;
  std::map<Key, traversal::turn::StreamFramer> framers_;
};

nlohmann::ordered_json counters_json(const TurnServer& server, const io::SocketCounters& s,
                                     const io::StreamCounters& t) {
  const auto& c = server.counters();
  nlohmann::ordered_json j{{"requests", c.requests},
                           {"challenges", c.challenges},
                           {"stale_nonces", c.stale_nonces},
                           {"auth_failures", c.auth_failures},
                           {"allocations", c.allocations},
                           {"allocations_expired", c.allocations_expired},
                           {"allocations_closed", c.allocations_closed},
                           {"reservations", c.reservations},
                           {"reservations_used", c.reservations_used},
                           {"reservations_expired", c.reservations_expired},
                           {"allocations_active", server.allocation_count()},
                           {"quota_rejections", c.quota_rejections},
                           {"capacity_rejections", c.capacity_rejections},
                           {"forbidden", c.forbidden},
                           {"dropped_forbidden", c.dropped_forbidden},
                           {"streams_setup_timeout", c.streams_setup_timeout},
                           {"streams_oversized", c.streams_oversized},
                           {"errors", c.errors},
                           {"relayed_to_peer", c.relayed_to_peer},
                           {"relayed_to_client", c.relayed_to_client},
                           {"bytes_to_peer", c.bytes_to_peer},
                           {"bytes_to_client", c.bytes_to_client},
                           {"dropped_no_permission", c.dropped_no_permission},
                           {"dropped_malformed", c.dropped_malformed}};
  add_socket_counters(j, s);
  j["tcp_accepted"] = t.accepted;
  j["tcp_refused"] = t.refused;
  j["tcp_closed"] = t.closed;
  j["tcp_bytes_received"] = t.received_bytes;
  j["tcp_bytes_sent"] = t.sent_bytes;
  j["tcp_queue_overflows"] = t.queue_overflows;
  j["tcp_refused_per_source"] = t.refused_per_source;
  j["tcp_evicted"] = t.evicted;
  j["tcp_idle_closed"] = t.idle_closed;
  j["tcp_read_pauses"] = t.read_pauses;
  j["tcp_close_timeouts"] = t.close_timeouts;
  return j;
}

}  // namespace

int serve_turn(const ServeTurnOptions& options) {
  // --listen: a port of 0 lets the kernel choose (printed once bound).
  const auto listen = Endpoint::parse(options.listen);
  if (!listen)
    return usage_error("--listen: expected IP:PORT (e.g. 127.0.0.1:3478), got '" + options.listen +
                       "'");

  // --relay-ip: a specific address of --listen's family.
  IpAddress relay_ip = listen->address;
  if (!options.relay_ip.empty()) {
    auto parsed = IpAddress::parse(options.relay_ip);
    if (!parsed)
      return usage_error("--relay-ip: expected an IP address, got '" + options.relay_ip + "'");
    relay_ip = *parsed;
  }
  if (relay_ip.is_unspecified()) {
    return usage_error(options.relay_ip.empty()
                           ? "--listen " + options.listen +
                                 " is a wildcard address: give --relay-ip (the address "
                                 "relayed transport addresses use)"
                           : "--relay-ip must be a specific address, not a wildcard");
  }
  if (relay_ip.family() != listen->address.family()) {
    return usage_error(
        "--relay-ip must be the same address family as --listen (REQUESTED-ADDRESS-FAMILY "
        "is not supported)");
  }

  // --relay-ports FIRST:COUNT.
  const std::string& ports = options.relay_ports;
  const auto colon = ports.find(':');
  const auto first = colon == std::string::npos
                         ? std::nullopt
                         : parse_number(std::string_view(ports).substr(0, colon), 1, 65535);
  const auto count =
      colon == std::string::npos
          ? std::nullopt
          : parse_number(std::string_view(ports).substr(colon + 1), 1, kMaxRelayPorts);
  if (!first || !count)
    return usage_error("--relay-ports: expected FIRST:COUNT (e.g. 49152:64, COUNT 1 to " +
                       std::to_string(kMaxRelayPorts) + "), got '" + ports + "'");
  if (*first + *count - 1 > 65535)
    return usage_error("--relay-ports " + ports + " runs past port 65535");
  if (listen->address == relay_ip && listen->port >= *first && listen->port < *first + *count)
    return usage_error("--listen port " + std::to_string(listen->port) +
                       " is inside --relay-ports " + ports);

  // --user NAME:PASSWORD (RFC 8489 §14.3: USERNAME is fewer than 513 bytes).
  if (options.users.empty()) return usage_error("--user NAME:PASSWORD is required");
  std::map<std::string, std::string> users;
  for (const std::string& u : options.users) {
    const auto c = u.find(':');
    if (c == std::string::npos || c == 0)
      return usage_error("--user: expected NAME:PASSWORD, got '" + u + "'");
    if (c >= 513) return usage_error("--user: the name must be fewer than 513 bytes");
    if (!users.emplace(u.substr(0, c), u.substr(c + 1)).second)
      return usage_error("--user: '" + u.substr(0, c) + "' is given twice");
  }
  // RFC 8489 §14.9 and §14.14: REALM and SOFTWARE are fewer than 128 characters.
  if (options.realm.empty()) return usage_error("--realm must not be empty");
  if (options.realm.size() >= 128) return usage_error("--realm: at most 127 characters");
  if (options.software.size() >= 128) return usage_error("--software: at most 127 characters");
  if (options.max_allocations_per_user == 0)
    return usage_error("--max-allocations-per-user must be at least 1");
  std::vector<Prefix> extra_denied;
  for (const std::string& text : options.denied_peer_ips) {
    auto prefix = Prefix::parse(text);
    if (!prefix) return usage_error("--denied-peer-ip: expected IP or IP/LEN, got '" + text + "'");
    extra_denied.push_back(*prefix);
  }
  std::vector<Prefix> allowed;
  for (const std::string& text : options.allowed_peer_ips) {
    auto prefix = Prefix::parse(text);
    if (!prefix) return usage_error("--allowed-peer-ip: expected IP or IP/LEN, got '" + text + "'");
    allowed.push_back(*prefix);
  }
  if (options.max_tcp_output < 4096) return usage_error("--max-tcp-output: at least 4096 bytes");

  const std::size_t open_files = raise_open_files();

  // Bind everything up front: the listening socket first (it may use port 0), then every
  // relay port.
  boost::asio::io_context io;
  io::UdpSocketSet sockets(io);
  const auto bound = sockets.bind(*listen);
  if (!bound)
    return usage_error("cannot bind " + listen->to_string() + ": " + bound.error().message());

  ServerConfig config;
  config.listen = *bound;
  config.relay_address = relay_ip;
  config.relay_port_first = static_cast<std::uint16_t>(*first);
  config.relay_port_count = static_cast<std::uint16_t>(*count);
  config.realm = options.realm;
  config.users = std::move(users);
  config.max_allocations_per_user = options.max_allocations_per_user;
  config.denied_peers = denied_peers(options.allow_loopback_peers);
  config.denied_peers.insert(config.denied_peers.end(), extra_denied.begin(), extra_denied.end());
  config.allowed_peers = std::move(allowed);
  config.unallocated_stream_timeout = seconds(options.setup_timeout_s);
  config.rfc5766_channels = options.rfc5766_channels;
  config.software = options.software;
  const auto user_names = [&config] {
    std::string names;
    for (const auto& entry : config.users)
      names += (names.empty() ? "" : ", ") + entry.first;
    return names;
  }();
  TurnServer server(io::random_seed(), config);
  const std::vector<Endpoint> endpoints = server.local_endpoints();  // listen first: bound
  for (std::size_t i = 1; i < endpoints.size(); ++i) {
    if (auto b = sockets.bind(endpoints[i]); !b) {
      return usage_error("cannot bind relay port " + endpoints[i].to_string() + ": " +
                         b.error().message());
    }
  }

  // TURN over TCP on the same address and port (RFC 8656 §3.1).
  io::TcpLimits tcp_limits;
  const std::size_t descriptors_left = open_files > endpoints.size() + kSpareDescriptors
                                           ? open_files - endpoints.size() - kSpareDescriptors
                                           : 0;
  tcp_limits.max_connections = options.max_tcp_connections != 0
                                   ? options.max_tcp_connections
                                   : std::min(kMaxTcpConnections, descriptors_left);
  if (options.tcp && tcp_limits.max_connections == 0) {
    return usage_error("no file descriptors left for TCP connections (open-files limit " +
                       std::to_string(open_files) +
                       "): raise it, use fewer --relay-ports or --no-tcp");
  }
  tcp_limits.max_per_source = options.max_tcp_per_source;
  tcp_limits.max_queued_bytes = options.max_tcp_output;
  // Stop reading a connection at a quarter of its output cap: what one more read can make
  // (a 64 KiB read of requests) then still fits under the cap.
  tcp_limits.pause_reading_above = options.max_tcp_output / 4;
  tcp_limits.resume_reading_below = options.max_tcp_output / 16;
  tcp_limits.idle_timeout = std::chrono::seconds(options.tcp_idle_timeout_s);
  io::TcpStreamSet streams(io, tcp_limits);
  if (options.tcp) {
    if (auto b = streams.listen(config.listen); !b) {
      return usage_error("cannot listen on TCP " + config.listen.to_string() + ": " +
                         b.error().message());
    }
  }

  io::AsioDriver<TurnServer> driver(sockets, server, &streams);
  StreamLog stream_log;
  if (options.json_log) {
    const Endpoint listen_endpoint = config.listen;
    const auto log = [&driver](const char* transport, bool in, const char* side,
                               const Endpoint& local, const Endpoint& remote, std::size_t size,
                               const std::string& what) {
      const nlohmann::ordered_json line = {{"t_ms", static_cast<double>(to_ns(driver.now())) / 1e6},
                                           {"dir", in ? "in" : "out"},
                                           {"transport", transport},
                                           {"side", side},
                                           {"local", local.to_string()},
                                           {"remote", remote.to_string()},
                                           {"size", size},
                                           {"turn", what}};
      std::fprintf(stderr, "%s\n", line.dump().c_str());
    };
    sockets.on_traffic([log, listen_endpoint](io::UdpSocketSet::Direction dir,
                                              const Endpoint& local, const Endpoint& remote,
                                              ByteView bytes) {
      const bool client_side = local == listen_endpoint;
      log("udp", dir == io::UdpSocketSet::Direction::in, client_side ? "client" : "peer", local,
          remote, bytes.size(), client_side ? describe_turn(bytes) : "peer-data");
    });
    streams.on_traffic([log, &stream_log](io::TcpStreamSet::Direction dir, const Endpoint& local,
                                          const Endpoint& remote, ByteView bytes) {
      const bool in = dir == io::TcpStreamSet::Direction::in;
      stream_log.add(in, local, remote, bytes, [&](std::size_t size, const std::string& what) {
        log("tcp", in, "client", local, remote, size, what);
      });
    });
  }

  int stop_signal = 0;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) stop_signal = signal;
    io.stop();
  });

  // Readiness: scripts wait for the "listening on" line, so it comes after every bind,
  // and everything is flushed.
  const std::uint32_t last = *first + *count - 1;
  std::printf("listening on %s (TURN, %s)\n", config.listen.to_string().c_str(),
              options.tcp ? "UDP and TCP" : "UDP");
  std::printf("relay addresses %s ports %u-%u (%u)\n", relay_ip.to_string().c_str(), *first, last,
              *count);
  std::printf("realm \"%s\", users: %s, at most %u allocations per user\n", config.realm.c_str(),
              user_names.c_str(), config.max_allocations_per_user);
  std::string denied;
  for (const Prefix& p : config.denied_peers)
    denied += " " + p.to_string();
  std::printf("denied peers:%s%s\n", denied.c_str(),
              options.allow_loopback_peers ? " (loopback peers allowed)" : "");
  if (!config.allowed_peers.empty()) {
    std::string allowed_text;
    for (const Prefix& p : config.allowed_peers)
      allowed_text += " " + p.to_string();
    std::printf("allowed peers:%s\n", allowed_text.c_str());
  }
  if (options.tcp) {
    std::printf(
        "tcp limits: %zu connections, %zu per source, %zu bytes output each, setup %us, idle "
        "%us\n",
        tcp_limits.max_connections, tcp_limits.max_per_source, tcp_limits.max_queued_bytes,
        options.setup_timeout_s, options.tcp_idle_timeout_s);
  }
  std::printf("channel numbers %s\n",
              options.rfc5766_channels ? "0x4000-0x7FFF (RFC 5766)" : "0x4000-0x4FFF (RFC 8656)");
  std::printf("natsim TURN server (RFC 8656, long-term credentials); SIGINT or SIGTERM stops it\n");
  std::fflush(stdout);

  io.run();

  return report_stopped(stop_signal, counters_json(server, sockets.counters(), streams.counters()),
                        options.json_log);
}

void add_serve_turn_limit_options(CLI::App& command, ServeTurnOptions& options) {
  command.add_option("--denied-peer-ip", options.denied_peer_ips,
                     "Also deny relaying to IP or IP/LEN (repeat; CreatePermission and "
                     "ChannelBind get 403)");
  command.add_option("--allowed-peer-ip", options.allowed_peer_ips,
                     "Allow IP or IP/LEN even inside a denied range (repeat)");
  command
      .add_option("--setup-timeout", options.setup_timeout_s,
                  "Seconds a TCP connection may stay open without an allocation")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  command
      .add_option("--max-tcp-connections", options.max_tcp_connections,
                  "TCP connections at once (0: what the open-files limit leaves, at most 4096)")
      ->capture_default_str();
  command
      .add_option("--max-tcp-per-source", options.max_tcp_per_source,
                  "TCP connections per IPv4 address or IPv6 /64 (0: no limit)")
      ->capture_default_str();
  command
      .add_option("--max-tcp-output", options.max_tcp_output,
                  "Bytes queued to one TCP connection before it is closed (reading from it "
                  "stops at a quarter of this)")
      ->capture_default_str();
  command
      .add_option("--tcp-idle-timeout", options.tcp_idle_timeout_s,
                  "Seconds without a byte either way before a TCP connection is closed (0: never)")
      ->capture_default_str();
}

}  // namespace natsim::tools
