// send: datagrams from one socket on a schedule. Two forms:
//  - `host` to an echo `server`: the server counts them (delivered) and echoes them back
//    (echoed);
//  - `from` a host or server to `to` (a server, a site's WAN address, or whoever sends to
//    this socket first), one-way: nothing is expected back, and the action records what
//    its socket receives, and when. This is what probes of NAT timers need: unreplied
//    and inbound-only traffic, or a datagram that reaches a NAT before the host has sent.
#include <algorithm>

#include "../action_type.hpp"
#include "../limits.hpp"
#include "traffic.hpp"

namespace natsim::scenarios::detail {

namespace {

// Payloads start with this tag or'ed with the action's index: the echo server counts
// deliveries per tag (runner.cpp). One-way sends follow it with the datagram's index.
constexpr std::uint32_t kTagMagic = 0x6e730000;
// Arrivals one action keeps (times, indices); it counts the rest.
constexpr std::size_t kMaxArrivals = 1000;

enum class Target : std::uint8_t { echo, server, site, first_sender };

struct Send final : ActionSpec {
  std::string from;  // a host, or a server (one-way form)
  bool from_server = false;
  Target target = Target::echo;
  std::string to;             // server or site name
  std::uint16_t to_port = 0;  // 0: the server's port
  Traffic traffic;
  std::vector<Duration> times;  // instead of count/interval: offsets from the start
  std::uint16_t port = 0;
  [[nodiscard]] bool one_way() const { return target != Target::echo; }
};

struct SendCheck final : ActionCheck {
  EchoCheck echoes;
  std::optional<Range> received;
  std::optional<std::vector<Range>> received_ms;
  std::optional<bool> from_target;
  std::optional<Range> unreachable;
};

struct Arrival {
  Duration after;  // since the action started
  Endpoint from;
  std::int64_t index;  // the sender's datagram index, -1 if not a one-way send's
};

std::uint32_t read_u32(ByteView b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

class SendRun final : public ActionRun {
 public:
  SendRun(const Send& spec, std::uint32_t tag, TimePoint started)
      : spec_(&spec), tag_(tag), started_(started) {}

  void finish(const World& w) override {
    if (spec_->target != Target::echo) return;
    const auto& counts = w.servers.at(spec_->to).echo_received;
    auto it = counts.find(tag_);
    delivered = it == counts.end() ? 0 : it->second;
  }
  void report(nlohmann::json& a) const override {
    a["sent"] = sent;
    if (!spec_->one_way()) {
      a["delivered"] = delivered;
      a["echoed"] = received;
      return;
    }
    a["to"] = target ? nlohmann::json(target->to_string()) : nlohmann::json(nullptr);
    a["received"] = received;
    nlohmann::json at = nlohmann::json::array();
    nlohmann::json index = nlohmann::json::array();
    for (const Arrival& r : arrivals) {
      at.push_back(ms(r.after));
      index.push_back(r.index < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.index));
    }
    a["received_ms"] = at;
    a["received_index"] = index;
    a["first_from"] = arrivals.empty() ? nlohmann::json(nullptr)
                                       : nlohmann::json(arrivals.front().from.to_string());
    const auto ft = from_target();
    a["from_target"] = ft ? nlohmann::json(*ft) : nlohmann::json(nullptr);
    a["unreachable"] = unreachable;
  }
  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    const auto& e = as<SendCheck>(c);
    check_echoes(e.echoes, delivered, received, checks);
    if (e.received) checks.check_range("received", *e.received, static_cast<double>(received));
    if (e.unreachable)
      checks.check_range("unreachable", *e.unreachable, static_cast<double>(unreachable));
    if (e.received_ms) {
      const auto& want = *e.received_ms;
      bool ok = want.size() == arrivals.size();
      std::string got;
      for (std::size_t i = 0; i < arrivals.size(); ++i) {
        const double t = ms(arrivals[i].after);
        if (ok && !want[i].contains(t)) ok = false;
        got += (got.empty() ? "" : ", ") + number_text(t);
      }
      std::string expected;
      for (const Range& r : want)
        expected += (expected.empty() ? "" : ", ") + range_text(r);
      checks.check(ok, "received_ms: expected [" + expected + "], got [" + got + "]");
    }
    if (e.from_target) {
      const auto got = from_target();
      checks.check(got == *e.from_target,
                   std::string("from_target: expected ") + (*e.from_target ? "true" : "false") +
                       ", got " + (got ? (*got ? "true" : "false") : "nothing received"));
    }
  }

  // Whether the first datagram received came from the endpoint this action sends to:
  // false when a NAT answered from another port than the one addressed.
  [[nodiscard]] std::optional<bool> from_target() const {
    if (arrivals.empty() || !target) return std::nullopt;
    return arrivals.front().from == *target;
  }

  void received_one(const sim::Datagram& d) {
    ++received;
    if (arrivals.size() >= kMaxArrivals) return;
    std::int64_t index = -1;
    // A one-way send's payload: its tag, then the datagram's index.
    if (d.payload.size() >= 8 && (read_u32(d.payload, 0) & 0xffff0000u) == kTagMagic) {
      index = read_u32(d.payload, 4);
    }
    arrivals.push_back(Arrival{d.at - started_, d.from, index});
  }

  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;    // counted by the echo server, read after the run
  std::uint64_t received = 0;     // at this action's socket (the echoes, for an echo send)
  std::uint64_t unreachable = 0;  // ICMP port unreachable about its datagrams
  std::vector<Arrival> arrivals;
  std::optional<Endpoint> target;

 private:
  const Send* spec_;
  std::uint32_t tag_;
  TimePoint started_;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto s = std::make_shared<Send>();
  if (r.has("host") == r.has("from")) r.fail("give either 'host' or 'from'");
  if (r.has("server") == r.has("to")) r.fail("give either 'server' (an echo server) or 'to'");
  if (auto h = r.get("host")) {
    s->from = names.require(*h, "host");
  } else {
    const Reader f = r.at("from");
    auto it = names.kinds.find(f.string());
    if (it == names.kinds.end() || (it->second != "host" && it->second != "server"))
      f.fail("no host or server named '" + f.string() + "'");
    s->from = f.string();
    s->from_server = it->second == "server";
  }
  if (auto srv = r.get("server")) {
    s->to = names.require_server(*srv, ServerKind::echo);
    s->target = Target::echo;
  } else {
    const Reader t = r.at("to");
    if (t.string() == "first_sender") {
      s->target = Target::first_sender;
    } else {
      auto it = names.kinds.find(t.string());
      if (it == names.kinds.end() || (it->second != "server" && it->second != "site"))
        t.fail("no server or site named '" + t.string() + "' (or \"first_sender\")");
      s->to = t.string();
      s->target = it->second == "site" ? Target::site : Target::server;
    }
  }
  if (auto p = r.get("to_port")) {
    if (!s->one_way() || s->target == Target::first_sender)
      p->fail("'to_port' goes with 'to' naming a server or a site");
    s->to_port = static_cast<std::uint16_t>(p->integer(1, 65535));
  }
  if (s->target == Target::site && s->to_port == 0)
    r.fail("'to' names a site: give 'to_port' (the port on its WAN address)");
  // One-way payloads carry the tag and the datagram's index.
  s->traffic = parse_traffic(r, Traffic{}, s->one_way() ? 8 : 4, 1400);
  if (auto t = r.get("times")) {
    if (r.has("count") || r.has("interval")) t->fail("give either 'times' or 'count'/'interval'");
    if (!s->one_way()) t->fail("'times' goes with 'to'");
    if (t->size() == 0 || t->size() > static_cast<std::size_t>(limits::kMaxSendsPerInstant))
      t->fail("expected 1 to " + std::to_string(limits::kMaxSendsPerInstant) + " times");
    for (std::size_t i = 0; i < t->size(); ++i) {
      const Duration d = (*t)[i].duration();
      if (d > limits::kMaxDuration) (*t)[i].fail("later than the longest run");
      if (!s->times.empty() && d < s->times.back()) (*t)[i].fail("times must not decrease");
      s->times.push_back(d);
    }
  }
  if (auto p = r.get("port")) s->port = static_cast<std::uint16_t>(p->integer(1, 65535));
  if (s->target == Target::first_sender && s->port == 0)
    r.fail("'to': \"first_sender\" needs a 'port' others can send to");
  return s;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<SendCheck>();
  e->echoes = parse_echo_check(r);
  if (auto f = r.get("received")) e->received = parse_range(*f);
  if (auto f = r.get("received_ms")) {
    std::vector<Range> want;
    for (std::size_t i = 0; i < f->size(); ++i)
      want.push_back(parse_range((*f)[i]));
    e->received_ms = std::move(want);
  }
  if (auto f = r.get("from_target")) e->from_target = f->boolean();
  if (auto f = r.get("unreachable")) e->unreachable = parse_range(*f);
  return e;
}

sim::Host& sender(const Send& s, const World& w) {
  return s.from_server ? w.server_host(s.from) : w.host(s.from);
}

// The first address of the site's gateway on its WAN side.
std::optional<IpAddress> wan_address(const nat::NatGateway& g) {
  for (sim::IfaceId i = 0; i < g.interface_count(); ++i) {
    if (!g.is_wan(i)) continue;
    for (const InterfaceAddress& a : g.interface(i).addresses)
      return a.address;
  }
  return std::nullopt;
}

// Schedules the datagrams (at `offsets` from now) towards `to`.
void schedule(SendRun* r, sim::Host& h, sim::UdpSocket* s, const Send& body, std::uint32_t tag,
              Endpoint to) {
  r->target = to;
  std::vector<Duration> offsets = body.times;
  if (offsets.empty()) {
    for (int k = 0; k < body.traffic.count; ++k)
      offsets.push_back(body.traffic.interval * k);
  }
  std::vector<std::uint8_t> payload(body.traffic.size, 0);
  for (int k = 0; k < 4; ++k)
    payload[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(tag >> (24 - 8 * k));
  for (std::size_t k = 0; k < offsets.size(); ++k) {
    if (body.one_way()) {
      for (int b = 0; b < 4; ++b)
        payload[static_cast<std::size_t>(4 + b)] = static_cast<std::uint8_t>(k >> (24 - 8 * b));
    }
    (void)h.schedule_in(offsets[k], [r, s, to, payload] {
      ++r->sent;
      (void)s->send_to(to, payload);
    });
  }
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Send>(spec);
  const std::uint32_t tag = kTagMagic | ctx.index;
  auto run = std::make_unique<SendRun>(body, tag, ctx.world.net.now());
  sim::Host& h = sender(body, ctx.world);
  sim::UdpSocket* s = ctx.bind(h, body.port);
  if (s == nullptr) return run;
  SendRun* r = run.get();
  ctx.finish();  // its numbers are read at the end of the run
  switch (body.target) {
    case Target::echo:
      s->on_receive([r](const sim::Datagram&) { ++r->received; });
      schedule(r, h, s, body, tag, ctx.world.server(body.to));
      return run;
    case Target::server: {
      Endpoint to = ctx.world.server(body.to);
      if (body.to_port != 0) to.port = body.to_port;
      schedule(r, h, s, body, tag, to);
      break;
    }
    case Target::site: {
      auto a = wan_address(ctx.world.gateway(body.to));
      if (!a) {
        ctx.out.error = "site '" + body.to + "' has no WAN address";
        return run;
      }
      schedule(r, h, s, body, tag, Endpoint{*a, body.to_port});
      break;
    }
    case Target::first_sender:
      break;
  }
  const Send* b = &body;
  // What a connected socket would read as ECONNREFUSED.
  s->on_error([r](const sim::SocketError& e) {
    if (e.type == sim::icmp::dest_unreachable && e.code == sim::icmp::port_unreachable)
      ++r->unreachable;
  });
  s->on_receive([r, b, s, &h, tag](const sim::Datagram& d) {
    // "first_sender": the schedule starts when the first datagram arrives, towards where
    // it came from (as a peer learns a host's mapped address from its first datagram).
    if (b->target == Target::first_sender && !r->target) schedule(r, h, s, *b, tag, d.from);
    r->received_one(d);
  });
  return run;
}

std::string line(const nlohmann::json& a) {
  if (a.contains("delivered")) return traffic_line(a);
  return std::to_string(a["sent"].get<std::uint64_t>()) + " sent to " +
         (a["to"].is_null() ? "-" : a["to"].get<std::string>()) + ", " +
         std::to_string(a["received"].get<std::uint64_t>()) + " received" +
         (a["unreachable"].get<std::uint64_t>() > 0
              ? ", " + std::to_string(a["unreachable"].get<std::uint64_t>()) + " port unreachable"
              : "");
}

}  // namespace

const ActionType& send_action() {
  static const ActionType kType{
      .name = "send",
      .summary = "datagrams to an echo server, or one-way to a server or a site",
      .keys = {{"host", ""},
               {"server", "echo"},
               {"from", "host or server"},
               {"to", "server, site or first_sender"},
               {"to_port", ""},
               {"count", ""},
               {"interval", ""},
               {"times", "list of durations"},
               {"size", ""},
               {"port", ""}},
      .expect_keys = {{"delivered", "range"},
                      {"echoed", "range"},
                      {"received", "range"},
                      {"received_ms", "list of ranges"},
                      {"from_target", "bool"},
                      {"unreachable", "range"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
