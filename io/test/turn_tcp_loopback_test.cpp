// TURN over a real TCP connection on loopback: natsim's client and server, each under an
// AsioDriver, and a UDP echo peer. Runs are bounded by a wall-clock deadline only as a
// hang guard.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/io/tcp_stream_set.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"

namespace natsim::io {
namespace {

using namespace std::chrono_literals;
using traversal::turn::Allocated;
using traversal::turn::ChannelBound;
using traversal::turn::ClientEvent;
using traversal::turn::Failed;
using traversal::turn::PeerData;
using traversal::turn::TurnClient;
using traversal::turn::TurnServer;

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

// Sends every datagram back where it came from.
struct UdpEcho {
  bool handle_datagram(TimePoint, const Endpoint& local, const Endpoint& remote, ByteView bytes) {
    out.push(local, remote, bytes);
    return true;
  }
  void handle_timeout(TimePoint) {}
  std::optional<traversal::Transmit> poll_transmit(MutableByteView buf) { return out.pop(buf); }
  std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  std::optional<int> poll_event() { return std::nullopt; }
  traversal::TransmitQueue out;
};

static_assert(traversal::StreamMachine<TurnServer>);
static_assert(traversal::StreamMachine<TurnClient>);

struct Loopback {
  boost::asio::io_context io;
  UdpSocketSet server_sockets{io};
  TcpStreamSet server_streams{io};
  std::optional<TurnServer> server;
  std::optional<AsioDriver<TurnServer>> server_driver;
  UdpSocketSet peer_sockets{io};
  UdpEcho echo;
  std::optional<AsioDriver<UdpEcho>> peer_driver;
  Endpoint listen, peer;

  // False when loopback sockets cannot be had (then the test skips).
  bool start() {
    const auto l = server_sockets.bind(ep("127.0.0.1:0"));
    const auto relay = server_sockets.bind(ep("127.0.0.1:0"));
    if (!l || !relay || !server_streams.listen(*l)) return false;
    listen = *l;
    traversal::turn::ServerConfig config;
    config.listen = listen;
    config.relay_address = relay->address;
    config.relay_port_first = relay->port;
    config.relay_port_count = 1;
    config.users = {{"alice", "secret"}};
    config.allowed_peers = {*Prefix::parse("127.0.0.0/8")};  // the peer is on loopback
    server.emplace(random_seed(), config);
    server_driver.emplace(server_sockets, *server, &server_streams);
    const auto p = peer_sockets.bind(ep("127.0.0.1:0"));
    if (!p) return false;
    peer = *p;
    peer_driver.emplace(peer_sockets, echo);
    return true;
  }
};

TEST(TurnOverTcpLoopback, AllocatesRelaysThroughAChannelAndLosesTheAllocationWithTheConnection) {
  Loopback net;
  if (!net.start()) GTEST_SKIP() << "no loopback sockets";

  UdpSocketSet no_udp(net.io);
  TcpStreamSet streams(net.io);
  std::optional<boost::system::result<Endpoint>> connected;
  streams.connect(net.listen, [&](boost::system::result<Endpoint> local) { connected = local; });
  const auto guard = RealClock::Steady::now() + 5s;
  while (!connected && RealClock::Steady::now() < guard)
    net.io.run_one_until(guard);
  ASSERT_TRUE(connected && *connected);

  traversal::turn::ClientConfig config;
  config.local = connected->value();
  config.server = net.listen;
  config.transport = traversal::Transport::tcp;
  config.username = "alice";
  config.password = "secret";
  TurnClient client(random_seed(), config);
  AsioDriver<TurnClient> driver(no_udp, client, &streams);
  std::vector<ClientEvent> events;
  driver.on_event([&](const ClientEvent& e) { events.push_back(e); });
  const auto wait_for = [&](auto is) {
    return driver.run_for(
               [&] {
                 return std::any_of(events.begin(), events.end(),
                                    [&](const ClientEvent& e) { return is(e); });
               },
               5s) == RunResult::done;
  };

  client.allocate(driver.now());
  driver.pump();
  ASSERT_TRUE(wait_for([](const ClientEvent& e) { return std::holds_alternative<Allocated>(e); }));
  EXPECT_EQ(client.mapped(), config.local);

  client.bind_channel(driver.now(), net.peer);
  driver.pump();
  ASSERT_TRUE(
      wait_for([](const ClientEvent& e) { return std::holds_alternative<ChannelBound>(e); }));
  const std::vector<std::uint8_t> odd{'o', 'd', 'd'};  // padded on the stream, not relayed
  client.send(driver.now(), net.peer, odd);
  driver.pump();
  ASSERT_TRUE(wait_for([](const ClientEvent& e) { return std::holds_alternative<PeerData>(e); }));
  for (const ClientEvent& e : events) {
    if (const auto* d = std::get_if<PeerData>(&e)) {
      EXPECT_EQ(d->data, odd);
      EXPECT_TRUE(d->via_channel);
      EXPECT_EQ(d->peer, net.peer);
    }
  }
  EXPECT_EQ(net.server->counters().relayed_to_peer, 1u);
  EXPECT_EQ(net.server->counters().relayed_to_client, 1u);
  EXPECT_EQ(client.counters().retransmissions, 0u);
  EXPECT_EQ(driver.send_failures(), 0u);

  // The client goes away: the server deletes the allocation with the connection.
  streams.close(config.local, net.listen);
  ASSERT_TRUE(wait_for([](const ClientEvent& e) { return std::holds_alternative<Failed>(e); }));
  const auto server_done = [&] { return net.server->allocation_count() == 0; };
  ASSERT_EQ(driver.run_for(server_done, 5s), RunResult::done);
  EXPECT_EQ(net.server->counters().allocations_closed, 1u);
  EXPECT_EQ(client.counters().connection_lost, 1u);
}

}  // namespace
}  // namespace natsim::io
