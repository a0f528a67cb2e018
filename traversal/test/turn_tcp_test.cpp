// TURN over TCP between the real TurnClient and TurnServer, sans-I/O: the client's
// connection is an in-memory byte stream cut into chunks of a chosen size, the peer a
// UDP endpoint. Virtual time, so hours of refreshes take milliseconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_test_server.hpp"

namespace natsim::traversal::turn {
namespace {

using Bytes = std::vector<std::uint8_t>;

using test::kListen;
using test::server_config;
const Endpoint kClient = *Endpoint::parse("203.0.113.2:40001");
const Endpoint kPeer = *Endpoint::parse("192.0.2.77:6000");

ClientConfig client_config() {
  ClientConfig c;
  c.local = kClient;
  c.server = kListen;
  c.transport = Transport::tcp;
  c.username = "alice";
  c.password = "secret";
  return c;
}

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// Client and server joined by one TCP connection, the peer by UDP.
struct TcpWorld {
  explicit TcpWorld(std::size_t chunk_size = 65536) : chunk(chunk_size) {}

  TurnServer server{7, server_config()};
  TurnClient client{8, client_config()};
  TimePoint now = at(seconds(1));
  std::size_t chunk;
  bool connected = true;
  Bytes to_server, to_client;                       // stream bytes written and not yet delivered
  std::vector<std::pair<Endpoint, Bytes>> at_peer;  // (relay it came from, payload)
  std::vector<std::size_t> client_frame_sizes;      // each server write on the connection
  std::vector<ClientEvent> events;
  Bytes buffer = Bytes(65536);

  void deliver(Bytes& stream, bool to_srv) {
    while (!stream.empty() && connected) {
      const std::size_t n = std::min(chunk, stream.size());
      const Bytes piece(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
      stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
      if (to_srv) {
        server.handle_stream(now, kListen, kClient, piece);
      } else {
        client.handle_stream(now, kClient, kListen, piece);
      }
    }
  }
  void close_connection() {
    if (!connected) return;
    connected = false;
    server.handle_stream_closed(now, kListen, kClient);
    client.handle_stream_closed(now, kClient, kListen);
  }

  // Moves every transmit until both machines are quiet.
  void flush() {
    for (int guard = 0; guard < 10000; ++guard) {
      bool moved = false;
      while (auto t = client.poll_transmit(buffer)) {
        moved = true;
        EXPECT_EQ(t->transport, Transport::tcp);
        EXPECT_EQ(t->local, kClient);
        EXPECT_EQ(t->remote, kListen);
        if (t->close) {
          close_connection();
          continue;
        }
        if (connected) to_server.insert(to_server.end(), buffer.begin(), buffer.begin() + t->size);
      }
      while (auto t = server.poll_transmit(buffer)) {
        moved = true;
        Bytes b(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
        if (t->transport == Transport::udp) {
          EXPECT_EQ(t->remote, kPeer);
          at_peer.emplace_back(t->local, std::move(b));
          continue;
        }
        EXPECT_EQ(t->local, kListen);
        EXPECT_EQ(t->remote, kClient);
        if (t->close) {
          close_connection();
          continue;
        }
        client_frame_sizes.push_back(b.size());
        if (connected) to_client.insert(to_client.end(), b.begin(), b.end());
      }
      deliver(to_server, true);
      deliver(to_client, false);
      if (!moved && to_server.empty() && to_client.empty()) break;
    }
    while (auto e = client.poll_event())
      events.push_back(std::move(*e));
  }
  void peer_sends(const Endpoint& relay, std::string_view text) {
    server.handle_datagram(now, relay, kPeer, bytes_of(text));
    flush();
  }
  // Runs both machines' timers in virtual time up to `end`.
  void run_until(TimePoint end) {
    for (;;) {
      flush();
      auto next = client.poll_timeout();
      if (auto s = server.poll_timeout(); s && (!next || *s < *next)) next = s;
      if (!next || *next > end) break;
      now = std::max(now, *next);
      client.handle_timeout(now);
      server.handle_timeout(now);
    }
    now = std::max(now, end);
  }

  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const ClientEvent& e : events) {
      if (const E* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
  Endpoint allocate() {
    client.allocate(now);
    flush();
    const auto allocated = all<Allocated>();
    EXPECT_EQ(allocated.size(), 1u);
    return allocated.empty() ? Endpoint{} : allocated.front().relayed;
  }
};

class TurnOverTcp : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TurnOverTcp, AllocatesAndRelaysBothWaysWhateverTheSegmentSizes) {
  TcpWorld w(GetParam());
  const Endpoint relay = w.allocate();
  EXPECT_EQ(relay, Endpoint::parse("198.51.100.50:50000"));
  EXPECT_EQ(w.client.mapped(), kClient);
  EXPECT_EQ(w.server.counters().challenges, 1u);

  // Send indication first (permission), then a channel.
  w.client.create_permission(w.now, kPeer.address);
  w.flush();
  ASSERT_EQ(w.all<PermissionCreated>().size(), 1u);
  w.client.send(w.now, kPeer, bytes_of("via send"));
  w.flush();
  ASSERT_EQ(w.at_peer.size(), 1u);
  EXPECT_EQ(w.at_peer[0].first, relay);
  EXPECT_EQ(w.at_peer[0].second, bytes_of("via send"));
  w.peer_sends(relay, "via data");

  w.client.bind_channel(w.now, kPeer);
  w.flush();
  ASSERT_EQ(w.all<ChannelBound>().size(), 1u);
  w.client.send(w.now, kPeer, bytes_of("odd"));  // 3 bytes: padded on the stream
  w.flush();
  ASSERT_EQ(w.at_peer.size(), 2u);
  EXPECT_EQ(w.at_peer[1].second, bytes_of("odd"));  // the padding is not relayed
  w.peer_sends(relay, "hello");

  const auto data = w.all<PeerData>();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_FALSE(data[0].via_channel);
  EXPECT_EQ(data[0].data, bytes_of("via data"));
  EXPECT_TRUE(data[1].via_channel);
  EXPECT_EQ(data[1].data, bytes_of("hello"));
  EXPECT_EQ(data[1].peer, kPeer);
  // RFC 8656 §12.5: over TCP the server pads ChannelData to a multiple of 4.
  EXPECT_EQ(w.client_frame_sizes.back(), 12u);
  EXPECT_EQ(w.client.counters().malformed, 0u);
  EXPECT_EQ(w.server.counters().dropped_malformed, 0u);
  EXPECT_EQ(w.client.counters().retransmissions, 0u);
}

INSTANTIATE_TEST_SUITE_P(Chunks, TurnOverTcp, ::testing::Values(1, 3, 7, 20, 65536));

TEST(TurnOverTcp, SeveralFramesInOneSegmentAreAllHandled) {
  TcpWorld w;
  const Endpoint relay = w.allocate();
  w.client.bind_channel(w.now, kPeer);
  w.flush();
  // Three sends before the stream is delivered: one write of three frames.
  w.client.send(w.now, kPeer, bytes_of("a"));
  w.client.send(w.now, kPeer, bytes_of("bb"));
  w.client.send(w.now, kPeer, bytes_of("ccccc"));
  Bytes stream;
  while (auto t = w.client.poll_transmit(w.buffer))
    stream.insert(stream.end(), w.buffer.begin(), w.buffer.begin() + t->size);
  EXPECT_EQ(stream.size(), 8u + 8u + 12u);
  w.server.handle_stream(w.now, kListen, kClient, stream);
  w.flush();
  ASSERT_EQ(w.at_peer.size(), 3u);
  EXPECT_EQ(w.at_peer[2].first, relay);
  EXPECT_EQ(w.at_peer[2].second, bytes_of("ccccc"));
}

TEST(TurnOverTcp, RefreshesKeepTheAllocationForHours) {
  TcpWorld w(5);
  const Endpoint relay = w.allocate();
  w.client.bind_channel(w.now, kPeer);
  w.run_until(w.now + hours(3));
  EXPECT_TRUE(w.client.allocated());
  EXPECT_EQ(w.server.allocation_count(), 1u);
  EXPECT_GE(w.client.counters().allocation_refreshes, 18u);  // every 9 of 10 minutes
  EXPECT_GE(w.client.counters().channel_refreshes, 19u);
  EXPECT_EQ(w.server.counters().allocations_expired, 0u);
  w.peer_sends(relay, "still here");
  ASSERT_FALSE(w.all<PeerData>().empty());
  EXPECT_TRUE(w.all<PeerData>().back().via_channel);
}

TEST(TurnOverTcp, ClosingTheConnectionDeletesTheAllocation) {
  TcpWorld w;
  const Endpoint relay = w.allocate();
  w.client.create_permission(w.now, kPeer.address);
  w.flush();
  w.close_connection();
  w.flush();
  EXPECT_EQ(w.server.allocation_count(), 0u);
  EXPECT_EQ(w.server.counters().allocations_closed, 1u);
  EXPECT_EQ(w.client.state(), TurnClient::State::failed);
  EXPECT_EQ(w.client.counters().connection_lost, 1u);
  const auto failed = w.all<Failed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code, 0);
  EXPECT_EQ(failed[0].reason, "connection closed");
  // The peer reaches nobody, and a new connection gets the freed relay port.
  w.peer_sends(relay, "anyone?");
  EXPECT_EQ(w.server.counters().relayed_to_client, 0u);
  w.connected = true;
  w.events.clear();
  EXPECT_EQ(w.allocate(), relay);
}

TEST(TurnOverTcp, ReleaseThenCloseEndsCleanly) {
  TcpWorld w;
  w.allocate();
  w.client.release(w.now);
  w.flush();
  EXPECT_EQ(w.all<Released>().size(), 1u);
  EXPECT_EQ(w.server.allocation_count(), 0u);
  w.close_connection();
  w.flush();
  EXPECT_EQ(w.client.state(), TurnClient::State::idle);
  EXPECT_EQ(w.all<Failed>().size(), 0u);
  EXPECT_EQ(w.server.counters().allocations_closed, 0u);
}

TEST(TurnOverTcp, JunkOnTheStreamClosesTheConnectionAndItsAllocation) {
  TcpWorld w;
  w.allocate();
  // 0xC0 starts neither STUN (0b00) nor ChannelData (0b01).
  w.server.handle_stream(w.now, kListen, kClient, Bytes{0xC0, 0x01, 0x02, 0x03});
  w.flush();
  EXPECT_FALSE(w.connected);  // the server asked for the close
  EXPECT_EQ(w.server.counters().dropped_malformed, 1u);
  EXPECT_EQ(w.server.allocation_count(), 0u);
  EXPECT_EQ(w.client.state(), TurnClient::State::failed);
}

TEST(TurnOverTcp, ClientClosesOnJunkFromTheServer) {
  TcpWorld w;
  w.allocate();
  w.client.handle_stream(w.now, kClient, kListen, Bytes{0xFF, 0xFF, 0xFF, 0xFF});
  w.flush();
  EXPECT_FALSE(w.connected);
  EXPECT_EQ(w.client.counters().malformed, 1u);
  EXPECT_EQ(w.client.state(), TurnClient::State::failed);
  EXPECT_EQ(w.server.allocation_count(), 0u);
}

TEST(TurnOverTcp, RequestsAreSentOnceAndTimeOutAfterTi) {
  // RFC 8489 §6.2.2: no retransmissions over TCP; the transaction fails after Ti.
  TurnClient client(1, client_config());
  const TimePoint t0 = at(seconds(5));
  client.allocate(t0);
  Bytes buf(2048);
  ASSERT_TRUE(client.poll_transmit(buf));
  EXPECT_FALSE(client.poll_transmit(buf));
  ASSERT_EQ(client.poll_timeout(), t0 + milliseconds(39500));
  client.handle_timeout(t0 + seconds(39));
  EXPECT_FALSE(client.poll_transmit(buf));
  client.handle_timeout(t0 + milliseconds(39500));
  EXPECT_FALSE(client.poll_transmit(buf));
  EXPECT_EQ(client.counters().retransmissions, 0u);
  EXPECT_EQ(client.counters().timeouts, 1u);
  auto e = client.poll_event();
  ASSERT_TRUE(e);
  ASSERT_TRUE(std::holds_alternative<Failed>(*e));
  EXPECT_EQ(std::get<Failed>(*e).reason, "timeout");
}

TEST(TurnOverTcp, UdpAndTcpFromTheSameAddressAndPortAreTwoAllocations) {
  // RFC 8656 §2: the 5-tuple includes the transport protocol.
  TcpWorld w;
  const Endpoint tcp_relay = w.allocate();
  ClientConfig udp_config = client_config();
  udp_config.transport = Transport::udp;
  TurnClient udp_client(9, udp_config);
  udp_client.allocate(w.now);
  Bytes buf(2048);
  std::optional<Endpoint> udp_relay;
  for (int round = 0; round < 4 && !udp_relay; ++round) {
    while (auto t = udp_client.poll_transmit(buf)) {
      EXPECT_EQ(t->transport, Transport::udp);
      w.server.handle_datagram(w.now, kListen, kClient, ByteView(buf.data(), t->size));
    }
    while (auto t = w.server.poll_transmit(buf)) {
      if (t->transport == Transport::udp && t->remote == kClient) {
        udp_client.handle_datagram(w.now, kClient, kListen, ByteView(buf.data(), t->size));
      }
    }
    while (auto e = udp_client.poll_event()) {
      if (auto* a = std::get_if<Allocated>(&*e)) udp_relay = a->relayed;
    }
  }
  ASSERT_TRUE(udp_relay);
  EXPECT_NE(*udp_relay, tcp_relay);
  EXPECT_EQ(w.server.allocation_count(), 2u);
  // Closing the TCP connection leaves the UDP allocation alone.
  w.close_connection();
  EXPECT_EQ(w.server.allocation_count(), 1u);
}

TEST(TurnOverTcp, StreamBytesFromAnotherConnectionOrOverUdpAreForeign) {
  TurnClient client(1, client_config());
  const Bytes junk{0x00, 0x01};
  client.handle_stream(at(seconds(1)), kClient, kPeer, junk);
  client.handle_datagram(at(seconds(1)), kClient, kListen, junk);
  EXPECT_EQ(client.counters().foreign, 2u);
  EXPECT_EQ(client.counters().malformed, 0u);
}

}  // namespace
}  // namespace natsim::traversal::turn
