#include "serve_stun.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "natsim/io/asio_driver.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/stun_server.hpp"
#include "server_report.hpp"
#include "stun_text.hpp"

namespace natsim::tools {

namespace {

using traversal::stun::ServerConfig;
using traversal::stun::StunServer;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim serve stun: %s\n", message.c_str());
  return 2;
}

std::optional<Endpoint> parse_endpoint(const std::string& option, const std::string& text,
                                       std::string& error) {
  auto e = Endpoint::parse(text);
  if (!e) error = option + ": expected IP:PORT (e.g. 127.0.0.1:3478), got '" + text + "'";
  return e;
}

// RFC 5780 mode needs four distinct endpoints on two specific addresses and two ports.
std::string check_rfc5780(const Endpoint& primary, const Endpoint& alternate) {
  if (primary.address.family() != alternate.address.family())
    return "--listen and --alternate must be the same address family";
  if (primary.address.is_unspecified() || alternate.address.is_unspecified())
    return "--listen and --alternate need specific addresses, not a wildcard, with --alternate";
  if (primary.address == alternate.address)
    return "--alternate must use a different IP address than --listen";
  if (primary.port == 0 || alternate.port == 0)
    return "--listen and --alternate need explicit ports (not 0) with --alternate";
  if (primary.port == alternate.port) return "--alternate must use a different port than --listen";
  return {};
}

const char* role(const StunServer& server, const Endpoint& e, const ServerConfig& c) {
  if (!server.rfc5780()) return "primary";
  const bool a1 = e.address == c.primary.address;
  const bool p1 = e.port == c.primary.port;
  if (a1 && p1) return "primary";
  if (a1) return "primary address, alternate port";
  if (p1) return "alternate address, primary port";
  return "alternate";
}

std::string describe_stun(ByteView bytes) {
  using namespace traversal::stun;
  auto m = Message::parse(bytes);
  if (!m) return "not-stun";
  return message_summary(*m);
}

nlohmann::ordered_json counters_json(const traversal::stun::ServerCounters& c,
                                     const io::SocketCounters& s) {
  nlohmann::ordered_json j{{"requests", c.requests},
                           {"responses", c.responses},
                           {"error_responses", c.error_responses},
                           {"classic", c.classic},
                           {"indications", c.indications},
                           {"dropped_malformed", c.dropped_malformed},
                           {"dropped_bad_fingerprint", c.dropped_bad_fingerprint},
                           {"dropped_other", c.dropped_other}};
  add_socket_counters(j, s);
  return j;
}

}  // namespace

int serve_stun(const ServeStunOptions& options) {
  std::string error;
  const auto listen = parse_endpoint("--listen", options.listen, error);
  if (!listen) return usage_error(error);
  std::optional<Endpoint> alternate;
  if (!options.alternate.empty()) {
    alternate = parse_endpoint("--alternate", options.alternate, error);
    if (!alternate) return usage_error(error);
    if (auto e = check_rfc5780(*listen, *alternate); !e.empty()) return usage_error(e);
  }
  // RFC 8489 §14.14: SOFTWARE is fewer than 128 characters.
  if (options.software.size() >= 128) return usage_error("--software: at most 127 characters");

  boost::asio::io_context io;
  io::UdpSocketSet sockets(io);
  ServerConfig config;
  config.primary = *listen;
  config.software = options.software;
  if (alternate) {
    config.alternate_address = alternate->address;
    config.alternate_port = alternate->port;
  }
  std::optional<StunServer> server;
  if (alternate) {
    server.emplace(config);
    for (const Endpoint& e : server->local_endpoints()) {
      if (auto bound = sockets.bind(e); !bound)
        return usage_error("cannot bind " + e.to_string() + ": " + bound.error().message());
    }
  } else {
    // A single socket may use port 0: the server learns the port the kernel chose.
    auto bound = sockets.bind(*listen);
    if (!bound)
      return usage_error("cannot bind " + listen->to_string() + ": " + bound.error().message());
    config.primary = *bound;
    server.emplace(config);
  }

  io::AsioDriver<StunServer> driver(sockets, *server);
  if (options.json_log) {
    sockets.on_traffic([&driver](io::UdpSocketSet::Direction dir, const Endpoint& local,
                                 const Endpoint& remote, ByteView bytes) {
      const nlohmann::ordered_json line = {
          {"t_ms", static_cast<double>(to_ns(driver.now())) / 1e6},
          {"dir", dir == io::UdpSocketSet::Direction::in ? "in" : "out"},
          {"local", local.to_string()},
          {"remote", remote.to_string()},
          {"size", bytes.size()},
          {"stun", describe_stun(bytes)}};
      std::fprintf(stderr, "%s\n", line.dump().c_str());
    });
  }

  int stop_signal = 0;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) stop_signal = signal;
    io.stop();
  });

  // Readiness: scripts wait for these lines, so they come after every bind and flush.
  for (const Endpoint& e : sockets.local_endpoints()) {
    std::printf("listening on %s (%s)\n", e.to_string().c_str(), role(*server, e, config));
  }
  std::printf("natsim STUN server%s; SIGINT or SIGTERM stops it\n",
              server->rfc5780() ? " with RFC 5780 (OTHER-ADDRESS, CHANGE-REQUEST)" : "");
  std::fflush(stdout);

  io.run();

  return report_stopped(stop_signal, counters_json(server->counters(), sockets.counters()),
                        options.json_log);
}

}  // namespace natsim::tools
