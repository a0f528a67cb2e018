// TcpStreamSet on loopback: real listeners, real connections, real byte streams. Every run
// is bounded by a wall-clock deadline so a lost byte fails the test instead of hanging it.
#include "natsim/io/tcp_stream_set.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "natsim/io/endpoint_conversion.hpp"

namespace natsim::io {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

struct Seen {
  Endpoint local;
  Endpoint remote;
  bool operator==(const Seen&) const = default;
};

// Runs the io_context's handlers one at a time until `done()` holds. The deadline only
// guards against a hang; false when it passed or the io_context ran out of work first.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (io.stopped() || std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_until(deadline);
  }
  return true;
}

// Connects and runs until the connect completes; the connection's local endpoint.
std::optional<Endpoint> connect(TcpStreamSet& set, const Endpoint& remote) {
  std::optional<boost::system::result<Endpoint>> outcome;
  set.connect(remote, [&outcome](boost::system::result<Endpoint> local) { outcome = local; });
  if (!run_until(set.context(), [&] { return outcome.has_value(); }) || !*outcome)
    return std::nullopt;
  return **outcome;
}

// Records what a set reports: every byte received in order, and every connection closed.
struct Recorder {
  explicit Recorder(TcpStreamSet& set) {
    set.on_receive([this](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
      received.insert(received.end(), bytes.begin(), bytes.end());
      receivers.push_back({local, remote});
    });
    set.on_closed([this](const Endpoint& local, const Endpoint& remote) {
      closed.push_back({local, remote});
      received_at_close.push_back(received.size());
    });
  }
  Bytes received;
  std::vector<Seen> receivers;
  std::vector<Seen> closed;
  std::vector<std::size_t> received_at_close;
};

// Answers every read with the same bytes on the same connection.
void echo(TcpStreamSet& set) {
  set.on_receive([&set](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    EXPECT_TRUE(set.send(local, remote, bytes));
  });
}

Bytes pattern(std::size_t size, std::size_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i)
    out[i] = static_cast<std::uint8_t>((seed * 131 + i * 7) & 0xff);
  return out;
}

bool ipv6_loopback_available() {
  boost::asio::io_context io;
  TcpStreamSet probe(io);
  return probe.listen(ep("[::1]:0")).has_value();
}

void echo_round_trip(const Endpoint& listen_on) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(listen_on).value();
  ASSERT_NE(listening.port, 0);
  EXPECT_EQ(server.listen_endpoints(), std::vector<Endpoint>{listening});
  std::vector<Seen> server_seen;
  server.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    server_seen.push_back({local, remote});
    EXPECT_TRUE(server.send(local, remote, bytes));
  });

  TcpStreamSet client(io);
  Recorder client_rec(client);
  std::size_t tapped_in = 0;
  std::size_t tapped_out = 0;
  client.on_traffic(
      [&](TcpStreamSet::Direction direction, const Endpoint&, const Endpoint&, ByteView bytes) {
        (direction == TcpStreamSet::Direction::in ? tapped_in : tapped_out) += bytes.size();
      });
  const auto local = connect(client, listening);
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->address, listening.address);
  EXPECT_EQ(client.connection_count(), 1u);

  const Bytes hello{'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(client.send(*local, listening, hello));
  ASSERT_TRUE(run_until(io, [&] {
    return client_rec.received.size() >= hello.size() && server.counters().sent_bytes == 5;
  }));
  EXPECT_EQ(client_rec.received, hello);
  ASSERT_FALSE(server_seen.empty());
  EXPECT_EQ(server_seen[0], (Seen{listening, *local}));
  EXPECT_EQ(client_rec.receivers[0], (Seen{*local, listening}));
  EXPECT_EQ(server.counters().accepted, 1u);
  EXPECT_EQ(server.counters().received_bytes, 5u);
  EXPECT_EQ(server.connection_count(), 1u);
  EXPECT_EQ(client.counters().connected, 1u);
  EXPECT_EQ(client.counters().sent_bytes, 5u);
  EXPECT_EQ(client.counters().received_bytes, 5u);
  EXPECT_EQ(tapped_in, 5u);
  EXPECT_EQ(tapped_out, 5u);
  EXPECT_TRUE(client_rec.closed.empty());
}

TEST(TcpStreamSet, TcpEndpointsRoundTrip) {
  const Endpoint v4 = ep("192.0.2.7:3478");
  EXPECT_EQ(to_asio_tcp(v4).address().to_string(), "192.0.2.7");
  EXPECT_EQ(to_asio_tcp(v4).port(), 3478);
  EXPECT_EQ(from_asio(to_asio_tcp(v4)), v4);
  const Endpoint v6 = ep("[2001:db8::1]:5349");
  EXPECT_TRUE(to_asio_tcp(v6).address().is_v6());
  EXPECT_EQ(from_asio(to_asio_tcp(v6)), v6);
}

TEST(TcpStreamSet, EchoRoundTripIpv4) {
  echo_round_trip(ep("127.0.0.1:0"));
}

TEST(TcpStreamSet, EchoRoundTripIpv6) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "could not listen on ::1 (no IPv6 loopback?)";
  echo_round_trip(ep("[::1]:0"));
}

TEST(TcpStreamSet, ListeningTwiceOnOnePortFails) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  EXPECT_FALSE(server.listen(listening).has_value());
  EXPECT_EQ(server.listen_endpoints().size(), 1u);
}

TEST(TcpStreamSet, WildcardListenerNamesTheSpecificAddressAndAnswersFromTheBoundEndpoint) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint wildcard = server.listen(ep("0.0.0.0:0")).value();
  EXPECT_TRUE(wildcard.address.is_unspecified());
  std::vector<Seen> server_seen;
  server.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    server_seen.push_back({local, remote});
    // Named by the listener's bound endpoint: the connection of the same port answers.
    EXPECT_TRUE(server.send(wildcard, remote, bytes));
  });

  TcpStreamSet client(io);
  Recorder client_rec(client);
  const Endpoint target{*IpAddress::parse("127.0.0.1"), wildcard.port};
  const auto local = connect(client, target);
  ASSERT_TRUE(local.has_value());
  ASSERT_TRUE(client.send(*local, target, Bytes{1, 2, 3}));
  ASSERT_TRUE(run_until(io, [&] { return client_rec.received.size() >= 3; }));
  EXPECT_EQ(client_rec.received, (Bytes{1, 2, 3}));
  ASSERT_EQ(server_seen.size(), 1u);
  EXPECT_EQ(server_seen[0], (Seen{target, *local}));  // the specific address, not 0.0.0.0
  EXPECT_EQ(server.counters().unroutable, 0u);
}

TEST(TcpStreamSet, ManySmallSendsArriveInOrderAndComplete) {
  constexpr std::size_t kSends = 1000;
  constexpr std::size_t kSize = 100;
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  echo(server);
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const auto local = connect(client, listening);
  ASSERT_TRUE(local.has_value());

  Bytes expected;
  for (std::size_t i = 0; i < kSends; ++i) {
    const Bytes chunk = pattern(kSize, i);
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    ASSERT_TRUE(client.send(*local, listening, chunk));
  }
  ASSERT_TRUE(run_until(io, [&] {
    return client_rec.received.size() >= expected.size() &&
           server.counters().sent_bytes == expected.size();
  }));
  EXPECT_EQ(client_rec.received, expected);  // byte for byte, through both directions
  EXPECT_EQ(client.counters().sent_bytes, expected.size());
  EXPECT_EQ(server.counters().received_bytes, expected.size());
  EXPECT_EQ(client.counters().queue_overflows, 0u);
  EXPECT_EQ(server.counters().send_errors, 0u);
}

TEST(TcpStreamSet, RemoteCloseFiresOnClosedOnceOnBothSides) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const auto local = connect(client, listening);
  ASSERT_TRUE(local.has_value());
  ASSERT_TRUE(run_until(io, [&] { return server.connection_count() == 1; }));

  client.close(*local, listening);
  EXPECT_TRUE(client_rec.closed.empty());                  // callbacks never run inside close()
  EXPECT_FALSE(client.send(*local, listening, Bytes{1}));  // closing: refused
  ASSERT_TRUE(
      run_until(io, [&] { return client_rec.closed.size() + server_rec.closed.size() == 2; }));
  io.poll();  // whatever is still ready must not fire on_closed again
  ASSERT_EQ(client_rec.closed.size(), 1u);
  ASSERT_EQ(server_rec.closed.size(), 1u);
  EXPECT_EQ(client_rec.closed[0], (Seen{*local, listening}));
  EXPECT_EQ(server_rec.closed[0], (Seen{listening, *local}));
  EXPECT_EQ(client.counters().closed, 1u);
  EXPECT_EQ(server.counters().closed, 1u);
  EXPECT_EQ(client.connection_count(), 0u);
  EXPECT_EQ(server.connection_count(), 0u);
  client.close(*local, listening);  // gone: ignored
  EXPECT_FALSE(server.send(listening, *local, Bytes{1}));
  EXPECT_EQ(server.counters().unroutable, 1u);
}

TEST(TcpStreamSet, PeerResetFiresOnClosedOnce) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  boost::asio::ip::tcp::socket peer(io);
  peer.connect(to_asio_tcp(listening));  // the kernel completes the handshake
  const Endpoint peer_local = from_asio(peer.local_endpoint());
  ASSERT_TRUE(run_until(io, [&] { return server.connection_count() == 1; }));

  peer.set_option(boost::asio::socket_base::linger(true, 0));
  peer.close();  // linger 0: RST instead of FIN
  ASSERT_TRUE(run_until(io, [&] { return !server_rec.closed.empty(); }));
  io.poll();
  ASSERT_EQ(server_rec.closed.size(), 1u);
  EXPECT_EQ(server_rec.closed[0], (Seen{listening, peer_local}));
  EXPECT_EQ(server.counters().receive_errors, 1u);
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(TcpStreamSet, CloseAfterSendFlushesTheBytesBeforeClosing) {
  constexpr std::size_t kChunks = 64;
  constexpr std::size_t kChunk = 8 * 1024;
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  Bytes expected;
  for (std::size_t i = 0; i < kChunks; ++i) {
    const Bytes chunk = pattern(kChunk, i);
    expected.insert(expected.end(), chunk.begin(), chunk.end());
  }
  // On the request: queue 512 KiB, close at once, and no more sends after that.
  server.on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView) {
    for (std::size_t i = 0; i < kChunks; ++i)
      EXPECT_TRUE(server.send(local, remote, ByteView(expected).subspan(i * kChunk, kChunk)));
    server.close(local, remote);
    EXPECT_FALSE(server.send(local, remote, Bytes{1}));
  });
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const auto local = connect(client, listening);
  ASSERT_TRUE(local.has_value());
  ASSERT_TRUE(client.send(*local, listening, Bytes{'g', 'o'}));

  ASSERT_TRUE(
      run_until(io, [&] { return !client_rec.closed.empty() && !server_rec.closed.empty(); }));
  EXPECT_EQ(client_rec.received_at_close[0], expected.size());  // everything, then EOF
  EXPECT_EQ(client_rec.received, expected);
  EXPECT_EQ(server.counters().sent_bytes, expected.size());
  EXPECT_EQ(server.counters().send_errors, 0u);
  EXPECT_EQ(server.counters().unroutable, 1u);
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_EQ(client.connection_count(), 0u);
}

TEST(TcpStreamSet, ConnectToAPortNobodyListensOnReportsAnError) {
  boost::asio::io_context io;
  // Bound but not listening: nobody else gets the port, and a SYN to it is answered by RST.
  boost::asio::ip::tcp::socket holder(io);
  holder.open(boost::asio::ip::tcp::v4());
  holder.bind(to_asio_tcp(ep("127.0.0.1:0")));
  const Endpoint nobody = from_asio(holder.local_endpoint());

  TcpStreamSet client(io);
  Recorder client_rec(client);
  std::optional<boost::system::result<Endpoint>> outcome;
  client.connect(nobody, [&](boost::system::result<Endpoint> local) { outcome = local; });
  ASSERT_TRUE(run_until(io, [&] { return outcome.has_value(); }));
  ASSERT_FALSE(outcome->has_value());
  EXPECT_EQ(outcome->error(), boost::asio::error::connection_refused);
  EXPECT_EQ(client.counters().connect_failures, 1u);
  EXPECT_EQ(client.counters().connected, 0u);
  EXPECT_EQ(client.counters().closed, 0u);
  EXPECT_EQ(client.connection_count(), 0u);
  io.poll();
  EXPECT_TRUE(client_rec.closed.empty());  // a failed connect reports through done only
}

// A local port nobody holds now (the kernel's pick, released).
Endpoint free_local(boost::asio::io_context& io) {
  boost::asio::ip::tcp::socket s(io);
  s.open(boost::asio::ip::tcp::v4());
  s.bind(to_asio_tcp(ep("127.0.0.1:0")));
  return from_asio(s.local_endpoint());
}

TEST(TcpStreamSet, OpenQueuesWhatIsSentBeforeTheHandshakeAndClosesAfterIt) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const Endpoint local = free_local(io);
  client.open(local, listening);
  // Named at once: a request and its close, both before the connection is established.
  EXPECT_TRUE(client.has(local, listening));
  const Bytes request{'G', 'E', 'T'};
  ASSERT_TRUE(client.send(local, listening, request));
  client.close(local, listening);
  EXPECT_EQ(client.counters().sent_bytes, 0u);
  ASSERT_TRUE(
      run_until(io, [&] { return !server_rec.closed.empty() && !client_rec.closed.empty(); }));
  EXPECT_EQ(server_rec.received, request);
  EXPECT_EQ(server_rec.receivers[0], (Seen{listening, local}));  // from the named port
  EXPECT_EQ(client_rec.closed[0], (Seen{local, listening}));
  EXPECT_EQ(client.counters().connected, 1u);
  EXPECT_EQ(client.counters().sent_bytes, 3u);
  EXPECT_EQ(client.counters().unroutable, 0u);
  EXPECT_FALSE(client.has(local, listening));
}

TEST(TcpStreamSet, OpenToAPortNobodyListensOnEndsWithOnClosed) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket holder(io);
  holder.open(boost::asio::ip::tcp::v4());
  holder.bind(to_asio_tcp(ep("127.0.0.1:0")));
  const Endpoint nobody = from_asio(holder.local_endpoint());
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const Endpoint local = free_local(io);
  client.open(local, nobody);
  EXPECT_TRUE(client.send(local, nobody, Bytes{1, 2}));
  EXPECT_TRUE(client_rec.closed.empty());  // never from inside open()
  // A machine learns a refused connection as an ended one, by (local, remote) as named.
  ASSERT_TRUE(run_until(io, [&] { return !client_rec.closed.empty(); }));
  EXPECT_EQ(client_rec.closed[0], (Seen{local, nobody}));
  EXPECT_EQ(client.counters().connect_failures, 1u);
  EXPECT_EQ(client.counters().connected, 0u);
  EXPECT_EQ(client.connection_count(), 0u);
  EXPECT_EQ(client.queued_bytes(), 0u);
}

TEST(TcpStreamSet, ConnectFromAGivenLocalEndpoint) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  // A free port to connect from: bind one, note it, let it go.
  boost::asio::ip::tcp::socket probe(io);
  probe.open(boost::asio::ip::tcp::v4());
  probe.bind(to_asio_tcp(ep("127.0.0.1:0")));
  const Endpoint wanted = from_asio(probe.local_endpoint());
  probe.close();

  TcpStreamSet client(io);
  std::optional<boost::system::result<Endpoint>> outcome;
  client.connect(
      listening, [&](boost::system::result<Endpoint> l) { outcome = l; }, wanted);
  ASSERT_TRUE(run_until(io, [&] { return outcome.has_value(); }));
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ(outcome->value(), wanted);
  ASSERT_TRUE(client.send(wanted, listening, Bytes{1, 2, 3}));
  ASSERT_TRUE(run_until(io, [&] { return server_rec.received.size() == 3; }));
  EXPECT_EQ(server_rec.receivers.front().remote, wanted);

  // An address this machine does not have fails through done, not on_closed.
  outcome.reset();
  client.connect(
      listening, [&](boost::system::result<Endpoint> l) { outcome = l; }, ep("192.0.2.1:0"));
  ASSERT_TRUE(run_until(io, [&] { return outcome.has_value(); }));
  ASSERT_FALSE(outcome->has_value());
  EXPECT_EQ(outcome->error(), boost::system::errc::address_not_available);
  EXPECT_EQ(client.counters().connect_failures, 1u);
}

TEST(TcpStreamSet, ConnectionsOverTheLimitAreRefused) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.max_connections = 1;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  TcpStreamSet client(io);
  Recorder client_rec(client);
  int connected = 0;
  for (int i = 0; i < 2; ++i)
    client.connect(listening, [&](boost::system::result<Endpoint> local) {
      EXPECT_TRUE(local.has_value());
      ++connected;
    });
  // Both handshakes complete in the kernel; the server accepts one, refuses the other.
  ASSERT_TRUE(run_until(io, [&] {
    return connected == 2 && server.counters().refused == 1 && client_rec.closed.size() == 1;
  }));
  EXPECT_EQ(server.counters().accepted, 1u);
  EXPECT_EQ(server.connection_count(), 1u);
  EXPECT_EQ(client.connection_count(), 1u);
  io.poll();
  EXPECT_TRUE(server_rec.closed.empty());  // a refused connection was never reported open
  EXPECT_EQ(server.counters().closed, 0u);
}

TEST(TcpStreamSet, ConnectingOverTheLimitFailsThroughDone) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  TcpLimits limits;
  limits.max_connections = 1;
  TcpStreamSet client(io, limits);
  std::vector<boost::system::result<Endpoint>> outcomes;
  auto done = [&](boost::system::result<Endpoint> local) { outcomes.push_back(local); };
  client.connect(listening, done);
  client.connect(listening, done);  // the first is still connecting: counts against the limit
  EXPECT_TRUE(outcomes.empty());    // never reported from inside connect()
  ASSERT_TRUE(run_until(io, [&] { return outcomes.size() == 2; }));
  const auto failed = outcomes[0].has_value() ? outcomes[1] : outcomes[0];
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), boost::asio::error::no_buffer_space);
  EXPECT_EQ(client.counters().connected, 1u);
  EXPECT_EQ(client.counters().connect_failures, 1u);
  EXPECT_EQ(client.connection_count(), 1u);
}

TEST(TcpStreamSet, SendToAnUnknownConnectionIsUnroutable) {
  boost::asio::io_context io;
  TcpStreamSet set(io);
  const Endpoint listening = set.listen(ep("127.0.0.1:0")).value();
  EXPECT_FALSE(set.send(listening, ep("127.0.0.1:9"), Bytes{1, 2, 3}));
  EXPECT_FALSE(set.send(ep("127.0.0.1:9"), ep("127.0.0.1:10"), Bytes{1}));
  set.close(listening, ep("127.0.0.1:9"));  // ignored
  EXPECT_EQ(set.counters().unroutable, 2u);
  EXPECT_EQ(set.counters().sent_bytes, 0u);
  EXPECT_EQ(set.connection_count(), 0u);
}

TEST(TcpStreamSet, QueueOverflowClosesTheConnection) {
  boost::asio::io_context io;
  TcpLimits limits;
  limits.max_queued_bytes = 64 * 1024;
  TcpStreamSet server(io, limits);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  boost::asio::ip::tcp::socket peer(io);  // connects, then never reads
  peer.connect(to_asio_tcp(listening));
  const Endpoint peer_local = from_asio(peer.local_endpoint());
  ASSERT_TRUE(run_until(io, [&] { return server.connection_count() == 1; }));

  // The kernel's buffers fill up first, then the queue: the send past 64 KiB fails.
  const Bytes chunk(16 * 1024, 0x5a);
  bool overflowed = false;
  for (int i = 0; i < 100000 && !overflowed; ++i) {
    overflowed = !server.send(listening, peer_local, chunk);
    io.poll();
  }
  ASSERT_TRUE(overflowed);
  EXPECT_GT(server.counters().sent_bytes, 64u * 1024);  // the kernel took its share first
  EXPECT_EQ(server.counters().queue_overflows, 1u);
  EXPECT_EQ(server.connection_count(), 0u);
  ASSERT_TRUE(run_until(io, [&] { return !server_rec.closed.empty(); }));
  io.poll();
  ASSERT_EQ(server_rec.closed.size(), 1u);
  EXPECT_EQ(server_rec.closed[0], (Seen{listening, peer_local}));
  EXPECT_FALSE(server.send(listening, peer_local, chunk));
  EXPECT_EQ(server.counters().unroutable, 1u);
}

TEST(TcpStreamSet, DestroyingTheSetInsideOnReceiveIsSafe) {
  boost::asio::io_context io;
  auto server = std::make_unique<TcpStreamSet>(io);
  const Endpoint listening = server->listen(ep("127.0.0.1:0")).value();
  server->on_receive([&](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    EXPECT_TRUE(server->send(local, remote, bytes));  // a write in flight, then gone
    server.reset();
  });
  TcpStreamSet client(io);
  Recorder client_rec(client);
  const auto local = connect(client, listening);
  ASSERT_TRUE(local.has_value());
  ASSERT_TRUE(client.send(*local, listening, Bytes{1, 2, 3}));
  // The destructor closes the server's side: the client sees its connection end.
  ASSERT_TRUE(run_until(io, [&] { return !server && client_rec.closed.size() == 1; }));
  EXPECT_EQ(client.connection_count(), 0u);
}

TEST(TcpStreamSet, DestroyingTheSetInsideOnClosedAndTheTapIsSafe) {
  boost::asio::io_context io;
  auto server = std::make_unique<TcpStreamSet>(io);
  const Endpoint listening = server->listen(ep("127.0.0.1:0")).value();
  echo(*server);
  // The server goes away when its first write completes, from inside the tap.
  server->on_traffic(
      [&](TcpStreamSet::Direction direction, const Endpoint&, const Endpoint&, ByteView) {
        if (direction == TcpStreamSet::Direction::out) server.reset();
      });

  auto client = std::make_unique<TcpStreamSet>(io);
  int client_closed = 0;
  // The client goes away when its first connection ends, with a second one still open.
  client->on_closed([&](const Endpoint&, const Endpoint&) {
    ++client_closed;
    client.reset();
  });
  const auto first = connect(*client, listening);
  const auto second = connect(*client, listening);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(client->send(*first, listening, Bytes{1, 2, 3}));
  ASSERT_TRUE(client->send(*second, listening, Bytes(1000, 7)));
  ASSERT_TRUE(run_until(io, [&] { return !server && !client; }));
  EXPECT_EQ(client_closed, 1);
  // Nothing is left but the aborted handlers, which must not touch freed memory.
  ASSERT_TRUE(run_until(io, [&] { return io.stopped(); }));
}

TEST(TcpStreamSet, DestroyingTheSetInsideConnectedOrWithAConnectPendingIsSafe) {
  boost::asio::io_context io;
  TcpStreamSet server(io);
  const Endpoint listening = server.listen(ep("127.0.0.1:0")).value();
  Recorder server_rec(server);
  auto client = std::make_unique<TcpStreamSet>(io);
  int done_calls = 0;
  client->connect(listening, [&](boost::system::result<Endpoint> local) {
    EXPECT_TRUE(local.has_value());
    ++done_calls;
    client.reset();
  });
  ASSERT_TRUE(run_until(io, [&] { return !client; }));
  ASSERT_TRUE(run_until(io, [&] { return server_rec.closed.size() == 1; }));
  EXPECT_EQ(done_calls, 1);

  auto pending = std::make_unique<TcpStreamSet>(io);
  pending->connect(listening, [&](boost::system::result<Endpoint>) { ++done_calls; });
  pending.reset();  // the connect is aborted; its handler must not run `done`
  io.poll();
  EXPECT_EQ(done_calls, 1);
}

}  // namespace
}  // namespace natsim::io
