// tcp_punch: TCP hole punching by simultaneous open. Each host opens a TCP connection to
// a STUN server and learns, with a Binding over it (RFC 8489 §6.2.2), the public endpoint
// its NAT gave that TCP connection; after an exchange delay (the signalling) both
// connect() to each other's endpoint at the same instant, from the port of their STUN
// connection. Where the NATs map endpoint-independently, each SYN finds the mapping the
// other side's SYN made, and both ends go SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (RFC
// 9293 §3.5, figure 8). Optionally `bytes` then go from host to peer.
#include "../action_type.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "tcp_outcome.hpp"

namespace natsim::scenarios::detail {

namespace {

namespace stun = traversal::stun;

struct TcpPunch final : ActionSpec {
  std::string host;
  std::string peer;
  std::string server;
  Duration exchange = milliseconds(100);
  Duration stagger{0};  // the peer connects this much after the host
  std::size_t bytes = 0;
};

// One side: its STUN client over TCP, what it learnt, and its punching socket.
struct Side {
  std::unique_ptr<stun::StunClient> stun;
  std::unique_ptr<SimDriver<stun::StunClient>> driver;
  std::uint16_t port = 0;
  std::optional<Endpoint> mapped;
  sim::TcpSocket* socket = nullptr;
  std::optional<std::string> outcome;  // connected | refused | reset | timed_out
};

class TcpPunchRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    result.report(a);
    a["host_mapped"] = endpoint_json(sides[0].mapped);
    a["peer_mapped"] = endpoint_json(sides[1].mapped);
    a["mapped_ms"] = mapped_at ? nlohmann::json(ms(*mapped_at - started)) : nlohmann::json(nullptr);
    a["host_outcome"] = sides[0].outcome.value_or("pending");
    a["peer_outcome"] = sides[1].outcome.value_or("pending");
    if (!detail.empty()) a["detail"] = detail;
  }
  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    result.check(as<TcpCheck>(c), checks);
  }

  std::array<Side, 2> sides;
  TimePoint started;
  std::optional<TimePoint> mapped_at;
  std::size_t bytes = 0;
  std::size_t written = 0;
  std::vector<std::uint8_t> chunk;
  TcpResult result;
  std::string detail;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto x = std::make_shared<TcpPunch>();
  x->host = names.require(r.at("host"), "host");
  x->peer = names.require(r.at("peer"), "host");
  if (x->peer == x->host) r.at("peer").fail("the peer must be another host");
  x->server = names.require_server(r.at("server"), ServerKind::stun);
  if (auto f = r.get("exchange")) x->exchange = f->duration();
  if (auto f = r.get("stagger")) x->stagger = f->duration();
  if (x->exchange < Duration::zero() || x->exchange > minutes(10))
    r.at("exchange").fail("expected a duration from 0s to 10m");
  if (x->stagger < Duration::zero() || x->stagger > minutes(10))
    r.at("stagger").fail("expected a duration from 0s to 10m");
  if (auto b = r.get("bytes")) x->bytes = static_cast<std::size_t>(b->integer(0, kMaxTcpBytes));
  return x;
}

void write_more(TcpPunchRun* r) {
  sim::TcpSocket* s = r->sides[0].socket;
  while (s != nullptr && r->written < r->bytes) {
    const std::size_t n = std::min(r->chunk.size(), r->bytes - r->written);
    auto sent = s->send(ByteView(r->chunk.data(), n));
    if (!sent || *sent == 0) return;
    r->written += *sent;
  }
}

void end(TcpPunchRun* r, const ActionContext& ctx) {
  for (Side& side : r->sides) {
    if (side.driver) side.driver->close();  // the STUN connections are no longer needed
    if (side.socket != nullptr) side.socket->close();
    side.socket = nullptr;
  }
  ctx.finish();
}

void connected(TcpPunchRun* r, const ActionContext& ctx) {
  const TimePoint now = ctx.world.net.now();
  r->result.connected_at = now;
  r->result.connect = now - r->started;
  if (r->bytes == 0) {
    r->result.outcome = "success";
    end(r, ctx);
    return;
  }
  write_more(r);
}

// Both connect() to each other's mapped endpoint from their STUN connection's port.
void punch(TcpPunchRun* r, const ActionContext& ctx, std::size_t i, sim::Host& h) {
  Side& self = r->sides[i];
  const Endpoint remote = *r->sides[1 - i].mapped;
  auto s = h.tcp_connect(remote, {}, self.port);
  if (!s) {
    ctx.out.error = "cannot connect: " + s.error().message();
    end(r, ctx);
    return;
  }
  self.socket = *s;
  self.socket->on_connect([r, ctx, i](Result<void> ok) {
    Side& side = r->sides[i];
    if (!ok) {
      TcpResult failed;
      failed.fail(ok.error());
      side.outcome = failed.outcome;
      if (!r->result.outcome) r->result.outcome = failed.outcome;
      side.socket->close();
      side.socket = nullptr;
      end(r, ctx);
      return;
    }
    side.outcome = "connected";
    if (r->sides[1 - i].outcome == "connected") connected(r, ctx);
  });
  if (i == 0) {
    self.socket->on_writable([r] { write_more(r); });
  } else {
    self.socket->on_receive([r, ctx](ByteView v) {
      r->result.transferred += v.size();
      if (r->result.transferred < r->bytes || r->result.outcome) return;
      r->result.outcome = "success";
      r->result.duration = ctx.world.net.now() - *r->result.connected_at;
      end(r, ctx);
    });
  }
  self.socket->on_close([r, ctx, i](Result<void> how) {
    if (r->result.outcome) return;
    if (how) {
      r->result.outcome = "closed";
    } else {
      r->result.fail(how.error());
    }
    r->sides[i].socket->close();
    r->sides[i].socket = nullptr;
    end(r, ctx);
  });
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<TcpPunch>(spec);
  auto run = std::make_unique<TcpPunchRun>();
  TcpPunchRun* r = run.get();
  World& w = ctx.world;
  r->started = w.net.now();
  r->bytes = body.bytes;
  r->chunk.assign(std::min<std::size_t>(body.bytes, 16384), 0x5a);
  const Endpoint server = w.server(body.server);
  sim::Host* hosts[2] = {&w.host(body.host), &w.host(body.peer)};
  // RFC 8489 §6.2.2: over TCP a request is sent once and fails after Ti.
  stun::RetransmitPolicy once;
  once.rto = once.ti;
  once.rc = 1;
  once.rm = 1;
  const Duration delays[2] = {body.exchange, body.exchange + body.stagger};
  for (std::size_t i = 0; i < 2; ++i) {
    Side& side = r->sides[i];
    side.stun =
        std::make_unique<stun::StunClient>(ctx.seed(i == 0 ? "stun/host" : "stun/peer"), once);
    side.driver = std::make_unique<SimDriver<stun::StunClient>>(*hosts[i], *side.stun,
                                                                std::vector<sim::UdpSocket*>{});
    auto s = side.driver->open(server);
    if (!s) {
      ctx.out.error = "cannot connect to the STUN server: " + s.error().message();
      end(r, ctx);
      return run;
    }
    side.port = (*s)->local().port;
    side.driver->on_event([r, ctx, i, hosts, delays](const stun::BindingResult& b) {
      if (b.outcome != stun::BindingResult::Outcome::success || !b.mapped) {
        r->result.outcome = "no_mapping";
        r->detail = (i == 0 ? "host" : "peer") + std::string(": no Binding answer over TCP");
        end(r, ctx);
        return;
      }
      r->sides[i].mapped = b.mapped;
      if (!r->sides[1 - i].mapped) return;
      // Both know their endpoints: after the exchange both connect at the same instant.
      r->mapped_at = ctx.world.net.now();
      for (std::size_t k = 0; k < 2; ++k) {
        sim::Host* h = hosts[k];
        (void)h->schedule_in(delays[k], [r, ctx, k, h] {
          if (!r->result.outcome) punch(r, ctx, k, *h);
        });
      }
    });
    side.stun->send_binding(w.net.now(), (*s)->local(), server);
    side.driver->pump();
  }
  return run;
}

std::string line(const nlohmann::json& a) {
  return tcp_line(a) + ", mapped " +
         (a["host_mapped"].is_null() ? "-" : a["host_mapped"].get<std::string>()) + " / " +
         (a["peer_mapped"].is_null() ? "-" : a["peer_mapped"].get<std::string>());
}

}  // namespace

const ActionType& tcp_punch_action() {
  static const ActionType kType{
      .name = "tcp_punch",
      .summary = "TCP hole punching: STUN over TCP, then a simultaneous open",
      .keys = {{"host", ""},
               {"peer", ""},
               {"server", "STUN"},
               {"exchange", "signalling delay before both connect (default 100ms)"},
               {"stagger", "the peer connects this much later (default 0s)"},
               {"bytes", "sent host to peer once connected (default 0)"}},
      .expect_keys = kTcpExpectKeys,
      .parse = parse,
      .parse_check = parse_tcp_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
