#pragma once
// Helpers shared by the TCP tests: a machine harness that records what a lone
// TcpConnection sends, and a client/server pair of sockets on two hosts.
#include <string>
#include <vector>

#include "natsim/sim/network.hpp"
#include "natsim/sim/tcp_connection.hpp"
#include "test_world.hpp"

namespace natsim::sim::testing {

struct Segment {
  TcpHeader h;
  std::string payload;
};

// A TcpConnection with nothing around it: inputs by hand, outputs collected.
struct Machine {
  explicit Machine(TcpConfig config = {}, std::uint16_t mss = 1460) : conn(config, mss) {}

  std::vector<Segment> drain(TimePoint now) {
    std::vector<Segment> out;
    std::vector<std::uint8_t> buf(2048);
    std::size_t len = 0;
    while (auto h = conn.poll_transmit(now, buf, len))
      out.push_back({*h, std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len))});
    return out;
  }
  std::vector<TcpEventKind> events() {
    std::vector<TcpEventKind> out;
    while (auto e = conn.poll_event())
      out.push_back(e->kind);
    return out;
  }
  void feed(TimePoint now, TcpHeader h, const std::string& payload = {}) {
    conn.handle_segment(now, h, bytes(payload));
  }
  std::string read() {
    std::string s;
    for (ByteView piece : conn.peek())
      s.append(piece.begin(), piece.end());
    conn.consume(s.size());
    return s;
  }

  TcpConnection conn;
};

inline TcpHeader seg(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                     std::uint16_t window = 65535, std::uint16_t mss = 0) {
  TcpHeader h;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = window;
  h.mss = mss;
  return h;
}

// A server on b:80 that records what it receives; a client from a.
struct TcpPair : Pair {
  explicit TcpPair(const LinkParams& params = {}, std::uint64_t seed = 1, TcpConfig config = {})
      : Pair(params, seed) {
    listener = b.tcp_listen(80, config).value();
    listener->on_accept([this](TcpSocket* s) {
      server = s;
      accepted_at = net.now();
      s->on_receive([this](ByteView v) { received.append(v.begin(), v.end()); });
      s->on_close([this](Result<void> r) {
        server_closed_at = net.now();
        server_close = r;
      });
    });
  }
  TcpSocket* connect(TcpConfig config = {}) {
    client = a.tcp_connect(ep("10.0.0.2:80"), config).value();
    client->on_connect([this](Result<void> r) {
      connect_result = r;
      connected_at = net.now();
    });
    client->on_receive([this](ByteView v) { client_received.append(v.begin(), v.end()); });
    client->on_close([this](Result<void> r) {
      client_closed_at = net.now();
      client_close = r;
    });
    return client;
  }

  TcpListener* listener = nullptr;
  TcpSocket* client = nullptr;
  TcpSocket* server = nullptr;
  std::string received;
  std::string client_received;
  std::optional<Result<void>> connect_result;
  std::optional<Result<void>> client_close;
  std::optional<Result<void>> server_close;
  TimePoint connected_at{};
  TimePoint accepted_at{};
  TimePoint client_closed_at{};
  TimePoint server_closed_at{};
};

inline TimePoint at(Duration d) {
  return kTimeZero + d;
}

}  // namespace natsim::sim::testing
