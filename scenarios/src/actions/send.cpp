// send: datagrams from a host to an echo server, which counts them and echoes them back.
#include "../action_type.hpp"
#include "traffic.hpp"

namespace natsim::scenarios::detail {

namespace {

// Payloads start with this tag or'ed with the action's index: the echo server counts
// deliveries per tag (runner.cpp).
constexpr std::uint32_t kTagMagic = 0x6e730000;

struct Send final : ActionSpec {
  std::string host;
  std::string server;  // an echo server
  Traffic traffic;
  std::uint16_t port = 0;
};

struct SendCheck final : ActionCheck {
  EchoCheck echoes;
};

class SendRun final : public ActionRun {
 public:
  SendRun(std::string server, std::uint32_t tag) : server_(std::move(server)), tag_(tag) {}

  void finish(const World& w) override {
    const auto& counts = w.servers.at(server_).echo_received;
    auto it = counts.find(tag_);
    delivered = it == counts.end() ? 0 : it->second;
  }
  void report(nlohmann::json& a) const override {
    a["sent"] = sent;
    a["delivered"] = delivered;
    a["echoed"] = echoed;
  }
  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    check_echoes(as<SendCheck>(c).echoes, delivered, echoed, checks);
  }

  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // counted by the echo server, read after the run
  std::uint64_t echoed = 0;

 private:
  std::string server_;
  std::uint32_t tag_;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto s = std::make_shared<Send>();
  s->host = names.require(r.at("host"), "host");
  s->server = names.require_server(r.at("server"), ServerKind::echo);
  s->traffic = parse_traffic(r, Traffic{}, 4, 1400);
  if (auto p = r.get("port")) s->port = static_cast<std::uint16_t>(p->integer(1, 65535));
  return s;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<SendCheck>();
  e->echoes = parse_echo_check(r);
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Send>(spec);
  const std::uint32_t tag = kTagMagic | ctx.index;
  auto run = std::make_unique<SendRun>(body.server, tag);
  sim::Host& h = ctx.world.host(body.host);
  sim::UdpSocket* s = ctx.bind(h, body.port);
  if (s == nullptr) return run;
  SendRun* r = run.get();
  s->on_receive([r](const sim::Datagram&) { ++r->echoed; });
  const Endpoint to = ctx.world.server(body.server);
  std::vector<std::uint8_t> payload(body.traffic.size, 0);
  for (int k = 0; k < 4; ++k)
    payload[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(tag >> (24 - 8 * k));
  for (int k = 0; k < body.traffic.count; ++k) {
    (void)h.schedule_in(body.traffic.interval * k, [r, s, to, payload] {
      ++r->sent;
      (void)s->send_to(to, payload);
    });
  }
  ctx.finish();  // its numbers are read at the end of the run
  return run;
}

std::string line(const nlohmann::json& a) {
  return traffic_line(a);
}

}  // namespace

const ActionType& send_action() {
  static const ActionType kType{
      .name = "send",
      .summary = "datagrams to an echo server",
      .keys = {{"host", ""},
               {"server", "echo"},
               {"count", ""},
               {"interval", ""},
               {"size", ""},
               {"port", ""}},
      .expect_keys = {{"delivered", "range"}, {"echoed", "range"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
