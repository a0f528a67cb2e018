// tcp: a host opens a TCP connection to a server, sends `bytes` and (by default) reads
// them back from the echo server; reports when it connected, how much came through and
// how long the transfer took, or why the connection failed.
#include "../action_type.hpp"
#include "tcp_outcome.hpp"

namespace natsim::scenarios::detail {

namespace {

struct Tcp final : ActionSpec {
  std::string host;
  std::string server;
  std::uint16_t port = 0;  // 0: the server's port
  std::size_t bytes = 100000;
  bool echo = true;
};

class TcpRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    result.report(a);
    a["bytes"] = bytes;
  }
  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    result.check(as<TcpCheck>(c), checks);
  }

  // Writes what fits of the payload still to send.
  void write_more() {
    while (written < bytes) {
      const std::size_t n = std::min(chunk.size(), bytes - written);
      auto sent = socket->send(ByteView(chunk.data(), n));
      if (!sent || *sent == 0) return;
      written += *sent;
    }
  }
  // Without echo the transfer is done once the server acknowledged every byte.
  void check_acked(const ActionContext& ctx) {
    if (echo || result.outcome || written < bytes || socket->connection().unacked() != 0) return;
    result.transferred = bytes;
    done(ctx);
  }
  void done(const ActionContext& ctx) {
    const TimePoint now = ctx.world.net.now();
    result.outcome = "success";
    result.duration = now - *result.connected_at;
    socket->close();
    socket = nullptr;
    ctx.finish();
  }

  sim::TcpSocket* socket = nullptr;
  std::vector<std::uint8_t> chunk;
  std::size_t bytes = 0;
  std::size_t written = 0;
  bool echo = true;
  TcpResult result;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto x = std::make_shared<Tcp>();
  x->host = names.require(r.at("host"), "host");
  x->server = names.require(r.at("server"), "server");
  if (auto p = r.get("port")) x->port = static_cast<std::uint16_t>(p->integer(1, 65535));
  if (auto b = r.get("bytes")) x->bytes = static_cast<std::size_t>(b->integer(0, kMaxTcpBytes));
  if (auto e = r.get("echo")) x->echo = e->boolean();
  return x;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Tcp>(spec);
  auto run = std::make_unique<TcpRun>();
  World& w = ctx.world;
  Endpoint remote = w.server(body.server);
  if (body.port != 0) remote.port = body.port;
  auto s = w.host(body.host).tcp_connect(remote);
  if (!s) {
    ctx.out.error = "cannot connect: " + s.error().message();
    ctx.finish();
    return run;
  }
  TcpRun* r = run.get();
  r->socket = *s;
  r->bytes = body.bytes;
  r->echo = body.echo;
  r->chunk.assign(std::min<std::size_t>(body.bytes, 16384), 0x5a);
  const TimePoint started = w.net.now();
  r->socket->on_connect([ctx, r, started](Result<void> ok) {
    if (!ok) {
      r->result.fail(ok.error());
      r->socket->close();
      r->socket = nullptr;
      ctx.finish();
      return;
    }
    const TimePoint now = ctx.world.net.now();
    r->result.connected_at = now;
    r->result.connect = now - started;
    r->write_more();
    if (r->bytes == 0) r->done(ctx);
  });
  r->socket->on_writable([ctx, r] {
    r->write_more();
    r->check_acked(ctx);
  });
  r->socket->on_receive([ctx, r](ByteView v) {
    if (!r->echo) {
      r->check_acked(ctx);
      return;
    }
    r->result.transferred += v.size();
    if (r->result.transferred >= r->bytes) r->done(ctx);
  });
  r->socket->on_close([ctx, r](Result<void> how) {
    // The server closed or the connection failed before the transfer completed.
    if (how) {
      r->result.outcome = "closed";
    } else {
      r->result.fail(how.error());
    }
    r->socket->close();
    r->socket = nullptr;
    ctx.finish();
  });
  return run;
}

}  // namespace

const ActionType& tcp_action() {
  static const ActionType kType{
      .name = "tcp",
      .summary = "a TCP connection to a server: connect, send bytes, read the echo",
      .keys = {{"host", ""},
               {"server", ""},
               {"port", "default: the server's"},
               {"bytes", "to send (default 100000)"},
               {"echo", "read the bytes back (default true); false: until acknowledged"}},
      .expect_keys = kTcpExpectKeys,
      .parse = parse,
      .parse_check = parse_tcp_check,
      .start = start,
      .line = tcp_line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
