// TcpStreamSet against hostile loopback peers: too many connections from one source, a
// full set, idle connections, and peers that send without reading. Nothing sleeps: loops
// drive the io_context with poll() and are bounded by counts; the wall-clock deadline in
// run_until only guards against a hang.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "natsim/io/endpoint_conversion.hpp"
#include "natsim/io/tcp_stream_set.hpp"

namespace natsim::io {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using boost::asio::ip::tcp;

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (io.stopped() || std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_until(deadline);
  }
  return true;
}

// A raw client socket from `from` (any port); nullptr when that address cannot be bound.
std::unique_ptr<tcp::socket> dial(boost::asio::io_context& io, const Endpoint& to,
                                  const char* from = "127.0.0.1:0") {
  auto s = std::make_unique<tcp::socket>(io);
  boost::system::error_code ec;
  s->open(tcp::v4(), ec);
  if (!ec) s->bind(to_asio_tcp(ep(from)), ec);
  if (!ec) s->connect(to_asio_tcp(to), ec);
  if (ec) return nullptr;
  return s;
}

void echo(TcpStreamSet& set) {
  set.on_receive([&set](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    (void)set.send(local, remote, bytes);
  });
}

TEST(TcpStreamLimits, ASourceOverItsLimitIsRefusedWhileAnotherIsServed) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.max_per_source = 2;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  echo(server);
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 3; ++i)
    held.push_back(dial(io, listening));
  ASSERT_TRUE(run_until(io, [&] {
    return server.counters().accepted == 2 && server.counters().refused_per_source == 1;
  }));
  EXPECT_EQ(server.connection_count(), 2u);

  auto other = dial(io, listening, "127.0.0.2:0");
  if (!other) GTEST_SKIP() << "could not bind 127.0.0.2 (no 127/8 loopback?)";
  const Bytes hello{'h', 'i'};
  boost::asio::write(*other, boost::asio::buffer(hello));
  ASSERT_TRUE(run_until(io, [&] { return server.counters().sent_bytes == 2; }));
  Bytes back(2);
  boost::asio::read(*other, boost::asio::buffer(back));
  EXPECT_EQ(back, hello);
  EXPECT_EQ(server.counters().accepted, 3u);
  EXPECT_EQ(server.counters().refused, 0u);
}

TEST(TcpStreamLimits, AFullSetEvictsFromTheBusiestSource) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.max_connections = 4;
  limits.max_per_source = 0;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  std::vector<Endpoint> closed;
  server.on_closed([&](const Endpoint&, const Endpoint& remote) { closed.push_back(remote); });
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 4; ++i)
    held.push_back(dial(io, listening));
  ASSERT_TRUE(run_until(io, [&] { return server.counters().accepted == 4; }));

  auto newcomer = dial(io, listening, "127.0.0.2:0");
  if (!newcomer) GTEST_SKIP() << "could not bind 127.0.0.2 (no 127/8 loopback?)";
  ASSERT_TRUE(run_until(io, [&] { return server.counters().accepted == 5 && !closed.empty(); }));
  EXPECT_EQ(server.counters().evicted, 1u);
  EXPECT_EQ(server.counters().refused, 0u);
  EXPECT_EQ(server.connection_count(), 4u);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].address, *IpAddress::parse("127.0.0.1"));  // never the newcomer

  // 127.0.0.1 holds 3 of 4 now: one more from it would be its 4th, so nobody is busier.
  held.push_back(dial(io, listening));
  ASSERT_TRUE(run_until(io, [&] { return server.counters().refused == 1; }));
  EXPECT_EQ(server.counters().evicted, 1u);
  EXPECT_EQ(server.connection_count(), 4u);
}

TEST(TcpStreamLimits, IdleConnectionsAreClosed) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.idle_timeout = 40ms;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  int closed = 0;
  server.on_closed([&](const Endpoint&, const Endpoint&) { ++closed; });
  auto idle = dial(io, listening);
  ASSERT_TRUE(idle);
  ASSERT_TRUE(run_until(io, [&] { return closed == 1; }));
  EXPECT_EQ(server.counters().idle_closed, 1u);
  EXPECT_EQ(server.connection_count(), 0u);
  // The client sees the end: EOF on its next read.
  boost::system::error_code ec;
  Bytes one(1);
  (void)idle->read_some(boost::asio::buffer(one), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
}

TEST(TcpStreamLimits, OnOpenedFiresOnAcceptBeforeAnyBytes) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  std::vector<std::string> calls;
  server.on_opened([&](const Endpoint& local, const Endpoint& remote) {
    EXPECT_EQ(local, listening);
    calls.push_back("opened " + remote.to_string());
  });
  server.on_receive([&](const Endpoint&, const Endpoint& remote, ByteView) {
    calls.push_back("bytes " + remote.to_string());
  });
  auto client = dial(io, listening);
  ASSERT_TRUE(client);
  const std::string me = from_asio(client->local_endpoint()).to_string();
  const Bytes hello{1, 2, 3};
  boost::asio::write(*client, boost::asio::buffer(hello));
  ASSERT_TRUE(run_until(io, [&] { return calls.size() >= 2; }));
  EXPECT_EQ(calls[0], "opened " + me);
  EXPECT_EQ(calls[1], "bytes " + me);
}

// A peer that sends as fast as it can and reads nothing, against a server that answers
// every byte (a request per byte, as far as the set can tell).
struct NoReadPeer {
  static constexpr std::size_t kChunk = 16 * 1024;
  boost::asio::io_context io;
  TcpStreamSet server;
  Endpoint listening;
  std::unique_ptr<tcp::socket> client;
  std::size_t written = 0;
  std::size_t max_queued = 0;

  explicit NoReadPeer(const TcpLimits& limits) : server(io, limits) {
    listening = server.listen(ep("127.0.0.1:0")).value();
    echo(server);
    client = dial(io, listening);
    client->non_blocking(true);
  }
  std::uint8_t byte(std::size_t i) const { return static_cast<std::uint8_t>(i % 251); }

  // Writes until neither side makes progress for a while; bounded by `rounds`.
  void flood(int rounds) {
    Bytes chunk(kChunk);
    int stalled = 0;
    for (int i = 0; i < rounds && stalled < 200; ++i) {
      for (std::size_t k = 0; k < kChunk; ++k)
        chunk[k] = byte(written + k);
      boost::system::error_code ec;
      const std::size_t n = client->write_some(boost::asio::buffer(chunk), ec);
      written += ec ? 0 : n;
      const std::size_t ran = io.poll();
      max_queued = std::max(max_queued, server.queued_bytes());
      stalled = (ec && ran == 0) ? stalled + 1 : 0;
    }
  }
};

TEST(TcpStreamLimits, APeerThatDoesNotReadIsNoLongerReadFromThenDrainsInFull) {
  TcpLimits limits;
  limits.max_queued_bytes = 512 * 1024;
  limits.pause_reading_above = 32 * 1024;
  limits.resume_reading_below = 8 * 1024;
  NoReadPeer p(limits);
  p.flood(20000);

  // The set stopped reading instead of queueing until the cap closed the connection.
  EXPECT_EQ(p.server.counters().queue_overflows, 0u);
  EXPECT_EQ(p.server.connection_count(), 1u);
  EXPECT_EQ(p.server.paused_count(), 1u);
  EXPECT_GE(p.server.counters().read_pauses, 1u);
  // At most the threshold plus what one read (64 KiB) made.
  EXPECT_LE(p.max_queued, limits.pause_reading_above + 64 * 1024);
  EXPECT_LT(p.server.counters().received_bytes, p.written);  // the kernel holds the rest

  // Now the client reads: everything comes back, byte for byte, and reading resumed.
  Bytes in(64 * 1024);
  std::size_t read = 0;
  bool intact = true;
  for (int i = 0; i < 100000 && read < p.written; ++i) {
    boost::system::error_code ec;
    const std::size_t n = p.client->read_some(boost::asio::buffer(in), ec);
    for (std::size_t k = 0; !ec && k < n; ++k)
      intact = intact && in[k] == p.byte(read + k);
    read += ec ? 0 : n;
    p.io.poll();
  }
  EXPECT_EQ(read, p.written);
  EXPECT_TRUE(intact);
  EXPECT_EQ(p.server.paused_count(), 0u);
  EXPECT_EQ(p.server.queued_bytes(), 0u);
  EXPECT_EQ(p.server.counters().queue_overflows, 0u);
}

TEST(TcpStreamLimits, APeerThatLeavesWithoutReadingReleasesItsQueue) {
  TcpLimits limits;
  limits.pause_reading_above = 32 * 1024;
  limits.resume_reading_below = 8 * 1024;
  NoReadPeer p(limits);
  int closed = 0;
  p.server.on_closed([&](const Endpoint&, const Endpoint&) { ++closed; });
  p.flood(20000);
  ASSERT_GT(p.server.queued_bytes(), 0u);
  ASSERT_EQ(p.server.paused_count(), 1u);

  // Unread data at close: the kernel resets the connection, and the write in flight fails.
  p.client->set_option(boost::asio::socket_base::linger(true, 0));
  p.client->close();
  ASSERT_TRUE(run_until(p.io, [&] { return closed == 1; }));
  EXPECT_EQ(p.server.connection_count(), 0u);
  EXPECT_EQ(p.server.queued_bytes(), 0u);
  EXPECT_EQ(p.server.paused_count(), 0u);
}

// The server closes (e.g. TURN's setup timeout) a connection whose peer never reads: the
// queue cannot drain, so without a deadline the connection (and its place in the set)
// would stay until the idle timeout.
TEST(TcpStreamLimits, AClosingConnectionThatCannotFlushIsClosedAtItsCloseTimeout) {
  TcpLimits limits;
  limits.pause_reading_above = 32 * 1024;
  limits.resume_reading_below = 8 * 1024;
  limits.close_timeout = 100ms;
  NoReadPeer p(limits);
  int closed = 0;
  p.server.on_closed([&](const Endpoint&, const Endpoint&) { ++closed; });
  p.flood(20000);
  ASSERT_GT(p.server.queued_bytes(), 0u);

  const auto started = std::chrono::steady_clock::now();
  p.server.close(p.listening, from_asio(p.client->local_endpoint()));
  p.io.poll();
  EXPECT_EQ(p.server.connection_count(), 1u);  // still flushing
  ASSERT_TRUE(run_until(p.io, [&] { return closed == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, limits.close_timeout);
  EXPECT_EQ(p.server.counters().close_timeouts, 1u);
  EXPECT_EQ(p.server.connection_count(), 0u);
  EXPECT_EQ(p.server.queued_bytes(), 0u);
  EXPECT_EQ(p.server.paused_count(), 0u);
}

TEST(TcpStreamLimits, AClosingConnectionThatFlushesInTimeIsNotCountedAsTimedOut) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.close_timeout = 50ms;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  int closed = 0;
  server.on_closed([&](const Endpoint&, const Endpoint&) { ++closed; });
  server.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    (void)server.send(local, remote, bytes);
    server.close(local, remote);
  });
  auto client = dial(io, listening);
  ASSERT_TRUE(client);
  const Bytes hello{'h', 'i'};
  boost::asio::write(*client, boost::asio::buffer(hello));
  ASSERT_TRUE(run_until(io, [&] { return closed == 1; }));
  Bytes back(2);
  boost::asio::read(*client, boost::asio::buffer(back));
  EXPECT_EQ(back, hello);
  // The deadline passes with nothing left to do.
  io.run_for(80ms);
  EXPECT_EQ(server.counters().close_timeouts, 0u);
}

}  // namespace
}  // namespace natsim::io
