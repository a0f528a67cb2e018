// Arbitrary segments, timeouts and commands fed to a TCP endpoint brought first to one
// of its states (the input's first byte picks it): the machine never reads or writes
// out of bounds, never emits a segment longer than its MSS, and a closed machine asks
// for no timer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "natsim/sim/tcp_connection.hpp"

using namespace natsim;
using namespace natsim::sim;
using namespace natsim::sim::tcp_flags;

namespace {

constexpr std::uint32_t kIss = 0xfffff000u;  // wraps soon: exercises modulo comparisons
constexpr std::uint32_t kPeer = 0x7ffffff0u;

struct Harness {
  Harness() {
    TcpConfig c;
    c.receive_buffer = 3000;
    c.send_buffer = 5000;
    c.mss = 536;
    conn.emplace(c, 536);
  }
  void drain() {
    std::size_t len = 0;
    for (int i = 0; i < 10000; ++i) {
      auto h = conn->poll_transmit(now, out, len);
      if (!h) break;
      if (len > conn->mss() || len > out.size()) std::abort();
    }
    while (conn->poll_event()) {
      auto pieces = conn->peek();
      conn->consume(pieces[0].size() + pieces[1].size());
    }
    if (auto due = conn->poll_timeout(); due && conn->state() == TcpConnState::closed)
      std::abort();  // a closed machine wants no timer
  }
  void feed(TcpHeader h, ByteView payload = {}) {
    conn->handle_segment(now, h, payload);
    drain();
  }
  void established() {
    conn->open_active(now, kIss);
    drain();
    feed(TcpHeader{kPeer, kIss + 1, 65535, syn | ack, 1460});
  }

  std::optional<TcpConnection> conn;
  TimePoint now = kTimeZero;
  std::array<std::uint8_t, 2048> out{};
};

std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  Harness m;
  const std::uint8_t data_bytes[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  switch (data[0] % 10) {
    case 0:  // CLOSED
      break;
    case 1:  // SYN-SENT
      m.conn->open_active(m.now, kIss);
      m.drain();
      break;
    case 2:  // SYN-RECEIVED (passive)
      m.conn->open_passive(m.now, kIss, TcpHeader{kPeer, 0, 65535, syn, 1460});
      m.drain();
      break;
    case 3:  // ESTABLISHED with data in flight
      m.established();
      (void)m.conn->send(ByteView(data_bytes, 8));
      m.drain();
      break;
    case 4:  // FIN-WAIT-1
      m.established();
      m.conn->close(m.now);
      m.drain();
      break;
    case 5:  // FIN-WAIT-2
      m.established();
      m.conn->close(m.now);
      m.drain();
      m.feed(TcpHeader{kPeer + 1, kIss + 2, 65535, ack, 0});
      break;
    case 6:  // CLOSE-WAIT
      m.established();
      m.feed(TcpHeader{kPeer + 1, kIss + 1, 65535, fin | ack, 0});
      break;
    case 7:  // LAST-ACK
      m.established();
      m.feed(TcpHeader{kPeer + 1, kIss + 1, 65535, fin | ack, 0});
      m.conn->close(m.now);
      m.drain();
      break;
    case 8:  // CLOSING
      m.established();
      m.conn->close(m.now);
      m.drain();
      m.feed(TcpHeader{kPeer + 1, kIss + 1, 65535, fin | ack, 0});
      break;
    case 9:  // TIME-WAIT
      m.established();
      m.conn->close(m.now);
      m.drain();
      m.feed(TcpHeader{kPeer + 1, kIss + 2, 65535, fin | ack, 0});
      break;
  }
  // Records: op(1) flags(1) seq(4) ack(4) window(2) length(1) payload(length).
  std::size_t i = 1;
  while (i + 13 <= size) {
    const std::uint8_t op = data[i];
    const std::uint8_t flags = data[i + 1];
    // Offsets relative to the connection's numbers, so many segments are in window.
    const std::uint32_t seq = kPeer + get32(data + i + 2);
    const std::uint32_t ack_no = kIss + get32(data + i + 6);
    const auto window = static_cast<std::uint16_t>((data[i + 10] << 8) | data[i + 11]);
    std::size_t len = data[i + 12];
    i += 13;
    len = len > size - i ? size - i : len;
    const ByteView payload(data + i, len);
    i += len;
    m.now += milliseconds(op & 0x3f);
    switch (op >> 6) {
      case 0:
      case 1:
        m.feed(TcpHeader{seq, ack_no, window, flags, static_cast<std::uint16_t>(window & 0xfff)},
               payload);
        break;
      case 2:
        if (auto due = m.conn->poll_timeout()) {
          if (*due > m.now) m.now = *due;
          m.conn->handle_timeout(m.now);
          m.drain();
        }
        break;
      case 3:
        if (flags % 3 == 0) (void)m.conn->send(payload);
        if (flags % 3 == 1) m.conn->close(m.now);
        if (flags % 3 == 2 && flags > 200) m.conn->abort();
        m.drain();
        break;
    }
  }
  return 0;
}
