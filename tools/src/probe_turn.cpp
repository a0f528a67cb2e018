#include "probe_turn.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/endpoint_conversion.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/io/route_source.hpp"
#include "natsim/io/tcp_stream_set.hpp"
#include "natsim/traversal/stun_constants.hpp"
#include "natsim/traversal/turn_client.hpp"

namespace natsim::tools {

namespace {

using traversal::turn::Allocated;
using traversal::turn::ChannelBound;
using traversal::turn::ClientEvent;
using traversal::turn::Failed;
using traversal::turn::PeerData;
using traversal::turn::PermissionCreated;
using traversal::turn::Released;
using traversal::turn::TurnClient;
using Steady = std::chrono::steady_clock;

constexpr int kDefaultTimeoutMs = 30'000;
constexpr auto kEchoRetry = std::chrono::milliseconds(1000);  // resend an unanswered echo
constexpr int kEchoAttempts = 3;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim probe: %s\n", message.c_str());
  return 2;
}

std::string method_name(std::uint16_t m) {
  namespace method = traversal::stun::method;
  switch (m) {
    case method::allocate:
      return "Allocate";
    case method::refresh:
      return "Refresh";
    case method::create_permission:
      return "CreatePermission";
    case method::channel_bind:
      return "ChannelBind";
    default:
      return "method " + std::to_string(m);
  }
}

std::string describe(const Failed& f) {
  if (f.code == 0) return method_name(f.method) + ": " + f.reason;
  return method_name(f.method) + " failed: " + std::to_string(f.code) + " " + f.reason;
}

double ms_between(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Report {
  Endpoint server;
  bool tcp = false;
  Endpoint local;
  std::optional<Endpoint> peer;
  std::optional<Allocated> allocation;
  std::optional<bool> permission;
  std::optional<std::uint16_t> channel;
  std::optional<bool> send_echo;
  std::optional<double> send_rtt_ms;
  std::optional<bool> channel_echo;
  std::optional<double> channel_rtt_ms;
  std::optional<bool> released;
  std::vector<std::string> errors;
  double elapsed_ms = 0;
};

// Runs the client on real sockets and hands its events to the probe one at a time.
class Session {
 public:
  Session(io::UdpSocketSet& sockets, io::TcpStreamSet& streams, TurnClient& client,
          Steady::time_point deadline)
      : client_(client), driver_(sockets, client, &streams), deadline_(deadline) {
    driver_.on_event([this](const ClientEvent& e) { events_.push_back(e); });
  }

  TurnClient& client() { return client_; }
  [[nodiscard]] TimePoint now() const { return driver_.now(); }
  void pump() { driver_.pump(); }

  // The next event `match` accepts, a Failed event, or nullopt when `until` (bounded by
  // the probe's deadline) passes first. Other events are skipped.
  std::optional<ClientEvent> wait(const std::function<bool(const ClientEvent&)>& match,
                                  Steady::time_point until) {
    until = std::min(until, deadline_);
    for (;;) {
      while (!events_.empty()) {
        ClientEvent e = std::move(events_.front());
        events_.pop_front();
        if (std::holds_alternative<Failed>(e) || match(e)) return e;
      }
      if (driver_.run_until([this] { return !events_.empty(); }, until) != io::RunResult::done) {
        return std::nullopt;
      }
    }
  }
  std::optional<ClientEvent> wait(const std::function<bool(const ClientEvent&)>& match) {
    return wait(match, deadline_);
  }
  [[nodiscard]] bool expired() const { return Steady::now() >= deadline_; }

  // Lets the client run (refreshes, retransmissions) until `until`; the first Failed
  // event ends the wait and is returned.
  std::optional<Failed> hold(Steady::time_point until) {
    const auto failed = [this] {
      return std::any_of(events_.begin(), events_.end(),
                         [](const ClientEvent& e) { return std::holds_alternative<Failed>(e); });
    };
    driver_.run_until(failed, std::min(until, deadline_));
    for (const ClientEvent& e : events_) {
      if (const auto* f = std::get_if<Failed>(&e)) return *f;
    }
    return std::nullopt;
  }

 private:
  TurnClient& client_;
  io::AsioDriver<TurnClient> driver_;
  Steady::time_point deadline_;
  std::deque<ClientEvent> events_;
};

template <class E>
bool is(const ClientEvent& e) {
  return std::holds_alternative<E>(e);
}

// Sends `payload` to the peer through the relay until it comes back (as ChannelData when
// `via_channel`, else as a Data indication). Returns the round-trip time in ms.
std::optional<double> echo(Session& s, const Endpoint& peer, const std::string& payload,
                           bool via_channel, std::string& error) {
  const std::vector<std::uint8_t> bytes(payload.begin(), payload.end());
  const auto match = [&](const ClientEvent& e) {
    const auto* d = std::get_if<PeerData>(&e);
    return d != nullptr && d->peer == peer && d->data == bytes && d->via_channel == via_channel;
  };
  for (int attempt = 0; attempt < kEchoAttempts && !s.expired(); ++attempt) {
    const auto sent = Steady::now();
    s.client().send(s.now(), peer, bytes);
    s.pump();
    const auto e = s.wait(match, sent + kEchoRetry);
    if (e && is<Failed>(*e)) {
      error = describe(std::get<Failed>(*e));
      return std::nullopt;
    }
    if (e) return ms_between(sent, Steady::now());
  }
  error = std::string("no echo from ") + peer.to_string() + " via " +
          (via_channel ? "ChannelData" : "Send/Data indications") + " after " +
          std::to_string(kEchoAttempts) + " tries";
  return std::nullopt;
}

nlohmann::ordered_json counters_json(const traversal::turn::TurnClientCounters& c) {
  nlohmann::ordered_json j;
  j["requests"] = c.requests;
  j["retransmissions"] = c.retransmissions;
  j["responses"] = c.responses;
  j["timeouts"] = c.timeouts;
  j["unauthenticated"] = c.unauthenticated;
  j["stale_nonce"] = c.stale_nonce;
  j["error_responses"] = c.error_responses;
  j["bad_integrity"] = c.bad_integrity;
  j["malformed"] = c.malformed;
  j["unmatched"] = c.unmatched;
  j["foreign"] = c.foreign;
  j["connection_lost"] = c.connection_lost;
  j["allocation_refreshes"] = c.allocation_refreshes;
  j["permission_refreshes"] = c.permission_refreshes;
  j["channel_refreshes"] = c.channel_refreshes;
  j["send_indications"] = c.send_indications;
  j["channel_data_out"] = c.channel_data_out;
  j["data_indications"] = c.data_indications;
  j["channel_data_in"] = c.channel_data_in;
  j["bytes_out"] = c.bytes_out;
  j["bytes_in"] = c.bytes_in;
  return j;
}

template <class T>
nlohmann::ordered_json or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

void print_json(const Report& r, const TurnClient& client, bool ok) {
  nlohmann::ordered_json j;
  j["server"] = r.server.to_string();
  j["transport"] = r.tcp ? "tcp" : "udp";
  j["local"] = r.local.to_string();
  j["realm"] = client.realm().empty() ? nlohmann::ordered_json(nullptr)
                                      : nlohmann::ordered_json(client.realm());
  j["password_algorithm"] =
      client.password_algorithm() == traversal::stun::PasswordAlgorithm::sha256 ? "sha256" : "md5";
  j["relayed"] = r.allocation ? nlohmann::ordered_json(r.allocation->relayed.to_string())
                              : nlohmann::ordered_json(nullptr);
  j["mapped"] = r.allocation ? nlohmann::ordered_json(r.allocation->mapped.to_string())
                             : nlohmann::ordered_json(nullptr);
  j["lifetime_s"] =
      r.allocation
          ? nlohmann::ordered_json(
                std::chrono::duration_cast<std::chrono::seconds>(r.allocation->lifetime).count())
          : nlohmann::ordered_json(nullptr);
  j["peer"] =
      r.peer ? nlohmann::ordered_json(r.peer->to_string()) : nlohmann::ordered_json(nullptr);
  j["permission"] = or_null(r.permission);
  j["channel"] = or_null(r.channel);
  j["send_indication_echo"] = or_null(r.send_echo);
  j["send_indication_rtt_ms"] = or_null(r.send_rtt_ms);
  j["channel_data_echo"] = or_null(r.channel_echo);
  j["channel_data_rtt_ms"] = or_null(r.channel_rtt_ms);
  j["released"] = or_null(r.released);
  j["errors"] = r.errors;
  j["ok"] = ok;
  j["elapsed_ms"] = r.elapsed_ms;
  j["counters"] = counters_json(client.counters());
  std::printf("%s\n", j.dump(2).c_str());
}

std::string yes_no(const std::optional<bool>& v, const std::string& extra = {}) {
  if (!v) return "-";
  return (*v ? "yes" : "no") + extra;
}

void print_table(const Report& r, const TurnClient& client, bool ok) {
  const auto show = [](const char* key, const std::string& value) {
    std::printf("  %-22s %s\n", key, value.c_str());
  };
  const auto rtt = [](const std::optional<double>& ms) {
    if (!ms) return std::string();
    char buf[48];
    std::snprintf(buf, sizeof buf, " (%.2f ms)", *ms);
    return std::string(buf);
  };
  std::printf("natsim probe: TURN (RFC 8656, %s) against %s\n", r.tcp ? "TCP" : "UDP",
              r.server.to_string().c_str());
  show("local", r.local.to_string());
  show("realm", client.realm().empty() ? "-" : client.realm());
  show("password algorithm",
       client.password_algorithm() == traversal::stun::PasswordAlgorithm::sha256 ? "SHA-256"
                                                                                 : "MD5");
  show("relayed", r.allocation ? r.allocation->relayed.to_string() : "-");
  show("mapped", r.allocation ? r.allocation->mapped.to_string() : "-");
  show("lifetime", r.allocation ? format_duration(r.allocation->lifetime) : "-");
  show("peer", r.peer ? r.peer->to_string() : "- (--peer)");
  show("permission", yes_no(r.permission));
  show("channel", r.channel ? std::to_string(*r.channel) : "-");
  show("echo via Send/Data", yes_no(r.send_echo, rtt(r.send_rtt_ms)));
  show("echo via ChannelData", yes_no(r.channel_echo, rtt(r.channel_rtt_ms)));
  show("released", yes_no(r.released));
  show("result", ok ? "ok" : "FAILED");
  for (const std::string& e : r.errors)
    std::printf("  error: %s\n", e.c_str());
}

// Prints the report (JSON or table); the exit status: 0 when every step worked, else 1.
int report(const Report& r, const TurnClient& client, bool ok, bool json) {
  if (json) {
    print_json(r, client, ok);
  } else {
    print_table(r, client, ok);
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

int run_probe_turn(const ProbeTurnOptions& options) {
  const auto server = Endpoint::parse(options.server);
  if (!server || server->port == 0 || server->address.is_unspecified())
    return usage_error("--turn: expected IP:PORT with a specific address and port (e.g. " +
                       std::string("127.0.0.1:3478), got '") + options.server + "'");
  const auto colon = options.user.find(':');
  if (colon == std::string::npos || colon == 0)
    return usage_error("--user: expected NAME:PASSWORD, got '" + options.user + "'");
  std::optional<Endpoint> peer;
  if (!options.peer.empty()) {
    peer = Endpoint::parse(options.peer);
    if (!peer || peer->port == 0 || peer->address.is_unspecified())
      return usage_error("--peer: expected IP:PORT, got '" + options.peer + "'");
    if (peer->address.family() != server->address.family())
      return usage_error("--peer and --turn must be the same address family");
  }
  std::optional<Endpoint> requested;
  if (!options.local.empty()) {
    requested = Endpoint::parse(options.local);
    if (!requested)
      return usage_error("--local: expected IP:PORT (port 0: any), got '" + options.local + "'");
    if (requested->address.family() != server->address.family())
      return usage_error("--local and --turn must be the same address family");
  }
  if (options.timeout_ms < 0) return usage_error("--timeout-ms must be positive");
  if (options.hold_ms < 0) return usage_error("--hold-ms must not be negative");

  boost::asio::io_context io;
  Endpoint local = requested.value_or(Endpoint{});
  if (!requested || requested->address.is_unspecified()) {
    std::string error;
    const auto source = io::route_source(io, *server, error);
    if (!source) {
      std::fprintf(stderr, "natsim probe: %s\n", error.c_str());
      return 1;
    }
    local.address = *source;
  }
  const auto started = Steady::now();
  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : kDefaultTimeoutMs;
  const auto deadline =
      started + std::chrono::milliseconds(timeout_ms) + std::chrono::milliseconds(options.hold_ms);
  io::UdpSocketSet sockets(io);
  io::TcpStreamSet streams(io);
  Endpoint bound;
  std::string connect_error;  // over TCP: why there is no connection to the server
  if (options.tcp) {
    std::optional<boost::system::result<Endpoint>> connected;
    streams.connect(
        *server, [&connected](boost::system::result<Endpoint> l) { connected = l; }, local);
    while (!connected && !io.stopped() && Steady::now() < deadline)
      io.run_one_until(deadline);
    if (!connected) {
      connect_error = "timed out (--timeout-ms " + std::to_string(timeout_ms) + ") connecting to " +
                      server->to_string() + " over TCP";
    } else if (!*connected) {
      connect_error = "cannot connect to " + server->to_string() + " over TCP from " +
                      local.to_string() + ": " + connected->error().message();
    } else {
      bound = connected->value();
    }
  } else {
    const auto b = sockets.bind(local);
    if (!b) return usage_error("cannot bind " + local.to_string() + ": " + b.error().message());
    bound = *b;
  }

  traversal::turn::ClientConfig config;
  config.local = bound;
  config.server = *server;
  config.transport = options.tcp ? traversal::Transport::tcp : traversal::Transport::udp;
  config.username = options.user.substr(0, colon);
  config.password = options.user.substr(colon + 1);
  TurnClient client(io::random_seed(), config);

  Session s(sockets, streams, client, deadline);
  Report r;
  r.server = *server;
  r.tcp = options.tcp;
  r.local = connect_error.empty() ? bound : local;
  r.peer = peer;
  const auto fail = [&r](std::string message) { r.errors.push_back(std::move(message)); };
  const auto timed_out = [&](const char* what) {
    fail(std::string("timed out (--timeout-ms ") + std::to_string(timeout_ms) + ") waiting for " +
         what);
  };
  if (!connect_error.empty()) {
    fail(connect_error);
    r.elapsed_ms = ms_between(started, Steady::now());
    return report(r, client, false, options.json);
  }

  // 1. Allocate (401 → long-term credentials → Allocate again).
  client.allocate(s.now());
  s.pump();
  if (const auto e = s.wait(is<Allocated>); !e) {
    timed_out("the allocation");
  } else if (const auto* f = std::get_if<Failed>(&*e)) {
    fail(describe(*f));
  } else {
    r.allocation = std::get<Allocated>(*e);
  }
  if (r.allocation && !options.realm.empty() && client.realm() != options.realm) {
    fail("the server's realm is '" + client.realm() + "', not '" + options.realm + "' (--realm)");
  }

  if (r.allocation && peer) {
    // 2. CreatePermission for the peer's address.
    client.create_permission(s.now(), peer->address);
    s.pump();
    if (const auto e = s.wait(is<PermissionCreated>); !e) {
      r.permission = false;
      timed_out("CreatePermission");
    } else if (const auto* f = std::get_if<Failed>(&*e)) {
      r.permission = false;
      fail(describe(*f));
    } else {
      r.permission = true;
    }
    // 3. Send indication → peer → Data indication.
    if (r.permission == true) {
      std::string error;
      r.send_rtt_ms = echo(s, *peer, "natsim-turn-probe send-indication", false, error);
      r.send_echo = r.send_rtt_ms.has_value();
      if (!r.send_echo.value()) fail(error);
    }
    // --hold-ms: keep everything alive for a while (Refresh, 438 with a new NONCE, ...).
    if (options.hold_ms > 0 && r.permission == true) {
      if (const auto f = s.hold(Steady::now() + std::chrono::milliseconds(options.hold_ms))) {
        fail(describe(*f));
      }
    }
    // 4. ChannelBind, then ChannelData → peer → ChannelData.
    if (r.permission == true && r.errors.empty()) {
      client.bind_channel(s.now(), *peer);
      s.pump();
      if (const auto e = s.wait(is<ChannelBound>); !e) {
        timed_out("ChannelBind");
      } else if (const auto* f = std::get_if<Failed>(&*e)) {
        fail(describe(*f));
      } else {
        r.channel = std::get<ChannelBound>(*e).channel;
      }
    }
    if (r.channel) {
      std::string error;
      r.channel_rtt_ms = echo(s, *peer, "natsim-turn-probe channel-data", true, error);
      r.channel_echo = r.channel_rtt_ms.has_value();
      if (!r.channel_echo.value()) fail(error);
    }
  }

  if (r.allocation && !peer && options.hold_ms > 0) {
    if (const auto f = s.hold(Steady::now() + std::chrono::milliseconds(options.hold_ms))) {
      fail(describe(*f));
    }
  }

  // 5. Release (Refresh with LIFETIME 0), even after a failed step.
  if (client.allocated()) {
    client.release(s.now());
    s.pump();
    if (const auto e = s.wait(is<Released>); !e) {
      r.released = false;
      timed_out("the release");
    } else if (const auto* f = std::get_if<Failed>(&*e)) {
      r.released = false;
      fail(describe(*f));
    } else {
      r.released = true;
    }
  }
  r.elapsed_ms = ms_between(started, Steady::now());

  const bool ok = r.errors.empty() && r.allocation.has_value() && r.released == true;
  return report(r, client, ok, options.json);
}

}  // namespace natsim::tools
