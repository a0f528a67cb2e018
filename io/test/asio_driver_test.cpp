// The Asio driver on loopback sockets: real datagrams, real timers. Every run is bounded
// by a wall-clock deadline so a lost datagram fails the test instead of hanging it.
#include "natsim/io/asio_driver.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <vector>

#include "natsim/io/endpoint_conversion.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/traversal/nat_discovery.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_server.hpp"

namespace natsim::io {
namespace {

using namespace std::chrono_literals;
using traversal::stun::BindingResult;
using traversal::stun::StunClient;
using traversal::stun::StunServer;

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

// Echoes every datagram back from the endpoint it arrived on; records what it saw.
struct EchoMachine {
  struct Seen {
    Endpoint local;
    Endpoint remote;
  };
  bool handle_datagram(TimePoint, const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    seen.push_back({local, remote});
    out.push(reply_from.value_or(local), remote, bytes);
    return true;
  }
  void handle_timeout(TimePoint) {}
  std::optional<traversal::Transmit> poll_transmit(MutableByteView buf) { return out.pop(buf); }
  std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  std::optional<int> poll_event() { return std::nullopt; }

  std::optional<Endpoint> reply_from;
  std::vector<Seen> seen;
  traversal::TransmitQueue out;
};
static_assert(traversal::ProtocolMachine<EchoMachine>);
static_assert(traversal::ProtocolMachine<StunServer>);
static_assert(traversal::ProtocolMachine<StunClient>);
static_assert(traversal::ProtocolMachine<traversal::NatDiscovery>);

TEST(AsioDriver, BindingRequestOnLoopback) {
  boost::asio::io_context io;
  UdpSocketSet server_sockets(io);
  const Endpoint primary = server_sockets.bind(ep("127.0.0.1:0")).value();
  ASSERT_NE(primary.port, 0);
  traversal::stun::ServerConfig config;
  config.primary = primary;
  StunServer server(config);
  AsioDriver<StunServer> server_driver(server_sockets, server);

  UdpSocketSet client_sockets(io);
  const Endpoint local = client_sockets.bind(ep("127.0.0.1:0")).value();
  StunClient client(random_seed());
  AsioDriver<StunClient> client_driver(client_sockets, client);
  const auto id = client.send_binding(client_driver.now(), local, primary);
  client_driver.pump();

  const auto result = client_driver.run_until_event(RealClock::Steady::now() + 5s);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->transaction, id);
  EXPECT_EQ(result->outcome, BindingResult::Outcome::success);
  EXPECT_EQ(result->mapped, local);  // loopback: no NAT
  EXPECT_EQ(result->local, local);
  EXPECT_EQ(result->from, primary);
  EXPECT_EQ(server.counters().requests, 1u);
  EXPECT_EQ(server.counters().responses, 1u);
  EXPECT_EQ(client_sockets.counters().sent, 1u);
  EXPECT_EQ(client_sockets.counters().received, 1u);
}

TEST(AsioDriver, TimerDrivesRetransmissionsAndTimeout) {
  boost::asio::io_context io;
  // A bound socket that never answers: the client must retransmit and then give up.
  UdpSocketSet silent(io);
  const Endpoint sink = silent.bind(ep("127.0.0.1:0")).value();

  UdpSocketSet sockets(io);
  const Endpoint local = sockets.bind(ep("127.0.0.1:0")).value();
  StunClient client(random_seed(), traversal::stun::RetransmitPolicy{10ms, 3, 2});
  AsioDriver<StunClient> driver(sockets, client);
  // The instant the client schedules from: its deadlines are this plus the policy's
  // intervals, so no scheduling delay can make the timeout look early.
  const auto start = driver.now();
  (void)client.send_binding(start, local, sink);
  driver.pump();

  const auto result = driver.run_until_event(RealClock::Steady::now() + 5s);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, BindingResult::Outcome::timeout);
  EXPECT_EQ(result->transmissions, 3);
  EXPECT_EQ(client.counters().retransmissions, 2u);
  EXPECT_EQ(sockets.counters().sent, 3u);
  // Sent at 0, 10 ms, 30 ms; gives up 2 x 10 ms after the last. A loose lower bound only:
  // timers never fire early, so the event cannot come before start + 50 ms.
  EXPECT_GE(driver.now() - start, 50ms);
}

TEST(AsioDriver, DeadlineStopsARunThatNeverFinishes) {
  boost::asio::io_context io;
  UdpSocketSet sockets(io);
  (void)sockets.bind(ep("127.0.0.1:0")).value();
  EchoMachine echo;
  AsioDriver<EchoMachine> driver(sockets, echo);
  const auto r = driver.run_for([] { return false; }, 50ms);
  EXPECT_EQ(r, RunResult::deadline);
  io.stop();
  EXPECT_EQ(driver.run_until([] { return false; }), RunResult::stopped);
}

TEST(AsioDriver, WildcardSocketReportsItsBoundEndpointAndSendsBySamePort) {
  boost::asio::io_context io;
  UdpSocketSet echo_sockets(io);
  const Endpoint wildcard = echo_sockets.bind(ep("0.0.0.0:0")).value();
  EXPECT_TRUE(wildcard.address.is_unspecified());
  ASSERT_NE(wildcard.port, 0);
  EchoMachine echo;
  // Replies name a specific address: the driver falls back to the same-port socket.
  echo.reply_from = Endpoint{*IpAddress::parse("127.0.0.1"), wildcard.port};
  AsioDriver<EchoMachine> echo_driver(echo_sockets, echo);

  UdpSocketSet client_sockets(io);
  const Endpoint local = client_sockets.bind(ep("127.0.0.1:0")).value();
  StunClient client(random_seed());
  AsioDriver<StunClient> client_driver(client_sockets, client);
  // The echo returns the request itself, which a client does not take as a response;
  // count what the client's socket received instead.
  (void)client.send_binding(client_driver.now(), local,
                            Endpoint{echo.reply_from->address, wildcard.port});
  client_driver.pump();
  const auto r = client_driver.run_for([&] { return client_sockets.counters().received > 0; }, 5s);
  ASSERT_EQ(r, RunResult::done);
  ASSERT_EQ(echo.seen.size(), 1u);
  EXPECT_EQ(echo.seen[0].local, wildcard);  // the bound endpoint, wildcard address kept
  EXPECT_EQ(echo.seen[0].remote, local);
  EXPECT_EQ(echo_sockets.counters().sent, 1u);
  EXPECT_EQ(echo_sockets.counters().unroutable, 0u);
}

TEST(AsioDriver, UnroutableTransmitIsCounted) {
  boost::asio::io_context io;
  UdpSocketSet sockets(io);
  (void)sockets.bind(ep("127.0.0.1:0")).value();
  StunClient client(random_seed());
  AsioDriver<StunClient> driver(sockets, client);
  // No socket is bound to port 9 on any address.
  (void)client.send_binding(driver.now(), ep("127.0.0.1:9"), ep("127.0.0.1:3478"));
  driver.pump();
  EXPECT_EQ(driver.send_failures(), 1u);
  EXPECT_EQ(sockets.counters().unroutable, 1u);
}

// Binds 127.0.0.1 and 127.0.0.2 on two ports: the four endpoints of an RFC 5780 server.
std::optional<std::pair<std::uint16_t, std::uint16_t>> bind_rfc5780(UdpSocketSet& s) {
  const auto a = s.bind(ep("127.0.0.1:0"));
  const auto b = s.bind(ep("127.0.0.1:0"));
  if (!a || !b) return std::nullopt;
  const auto c = s.bind(Endpoint{*IpAddress::parse("127.0.0.2"), a->port});
  const auto d = s.bind(Endpoint{*IpAddress::parse("127.0.0.2"), b->port});
  if (!c || !d) return std::nullopt;
  return std::pair{a->port, b->port};
}

TEST(AsioDriver, NatDiscoveryOnLoopbackFindsNoNat) {
  boost::asio::io_context io;
  UdpSocketSet server_sockets(io);
  const auto ports = bind_rfc5780(server_sockets);
  if (!ports) GTEST_SKIP() << "could not bind 127.0.0.2 (no 127/8 loopback?)";
  traversal::stun::ServerConfig config;
  config.primary = Endpoint{*IpAddress::parse("127.0.0.1"), ports->first};
  config.alternate_address = IpAddress::parse("127.0.0.2");
  config.alternate_port = ports->second;
  StunServer server(config);
  AsioDriver<StunServer> server_driver(server_sockets, server);

  UdpSocketSet sockets(io);
  traversal::DiscoveryOptions options;
  options.local = sockets.bind(ep("127.0.0.1:0")).value();
  options.server = Endpoint{*IpAddress::parse("127.0.0.1"), ports->first};
  traversal::NatDiscovery discovery(random_seed(), options);
  AsioDriver<traversal::NatDiscovery> driver(sockets, discovery);
  discovery.start(driver.now());
  driver.pump();

  const auto report = driver.run_until_event(RealClock::Steady::now() + 10s);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(discovery.done());
  EXPECT_EQ(report->mapped, options.local);
  EXPECT_EQ(report->other_address, (Endpoint{*IpAddress::parse("127.0.0.2"), ports->second}));
  EXPECT_EQ(report->mapping, traversal::MappingBehavior::none);
  EXPECT_EQ(report->filtering, traversal::FilteringBehavior::endpoint_independent);
  EXPECT_FALSE(report->hairpinning.has_value());  // not tested without a NAT
}

// A stream machine that sees connections open and closes each as soon as it opens, the
// way a server's setup timeout of zero would.
struct OpenCloser {
  bool handle_datagram(TimePoint, const Endpoint&, const Endpoint&, ByteView) { return false; }
  void handle_stream_opened(TimePoint, const Endpoint& local, const Endpoint& remote) {
    calls.push_back("opened");
    out.push_close(local, remote);
  }
  void handle_stream(TimePoint, const Endpoint&, const Endpoint&, ByteView) {
    calls.push_back("bytes");
  }
  void handle_stream_closed(TimePoint, const Endpoint&, const Endpoint&) {
    calls.push_back("closed");
  }
  void handle_timeout(TimePoint) {}
  std::optional<traversal::Transmit> poll_transmit(MutableByteView buf) { return out.pop(buf); }
  std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  std::optional<int> poll_event() { return std::nullopt; }
  std::vector<std::string> calls;
  traversal::TransmitQueue out;
};

TEST(AsioDriver, AcceptedConnectionsReachHandleStreamOpened) {
  boost::asio::io_context io;
  UdpSocketSet sockets(io);
  (void)sockets.bind(ep("127.0.0.1:0")).value();
  TcpStreamSet streams(io);
  const Endpoint listening = streams.listen(ep("127.0.0.1:0")).value();
  OpenCloser machine;
  AsioDriver<OpenCloser> driver(sockets, machine, &streams);

  boost::asio::ip::tcp::socket client(io);
  client.connect(to_asio_tcp(listening));
  const auto r = driver.run_for([&] { return machine.calls.size() >= 2; }, 5s);
  ASSERT_EQ(r, RunResult::done);
  EXPECT_EQ(machine.calls, (std::vector<std::string>{"opened", "closed"}));
  // The client sees the server's close.
  boost::system::error_code ec;
  std::array<std::uint8_t, 1> one{};
  (void)client.read_some(boost::asio::buffer(one), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
  EXPECT_EQ(streams.counters().accepted, 1u);
  EXPECT_EQ(streams.connection_count(), 0u);
}

TEST(AsioDriver, DestroyingTheDriverLeavesNoDanglingHandlers) {
  boost::asio::io_context io;
  UdpSocketSet sockets(io);
  const Endpoint local = sockets.bind(ep("127.0.0.1:0")).value();
  {
    StunClient client(random_seed());
    AsioDriver<StunClient> driver(sockets, client);
    (void)client.send_binding(driver.now(), local, ep("127.0.0.1:9"));
    driver.pump();  // arms a timer, then the driver goes away
  }
  {
    UdpSocketSet gone(io);
    (void)gone.bind(ep("127.0.0.1:0")).value();
  }
  io.run_for(20ms);  // the aborted handlers run here and must not touch freed memory
  SUCCEED();
}

}  // namespace
}  // namespace natsim::io
