// The TURN server against hostile clients: malformed peer addresses, denied peers,
// quota escapes through reservations, unbounded state (deadline heap, permissions,
// channels), oversized 420s, and what handle_datagram says was its own.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "natsim/traversal/turn_server.hpp"
#include "turn_server_harness.hpp"

namespace natsim::traversal::turn {
namespace {

using test::code_of;
using test::Harness;
using test::kClient;
using test::kListen;
using test::kPeer;
namespace attr = stun::attr;
namespace method = stun::method;
using stun::Class;
using stun::Message;
using stun::Writer;

const Endpoint kRelay = *Endpoint::parse("198.51.100.50:50000");

// The shared test server with the library's default peer denylist.
ServerConfig defaults() {
  ServerConfig c = test::server_config();
  c.max_allocations_per_user = 2;
  return c;
}

std::function<void(Writer&)> permit(const Endpoint& peer) {
  return [peer](Writer& w) { w.add_xor_address(attr::xor_peer_address, peer); };
}
std::function<void(Writer&)> bind(std::uint16_t channel, const Endpoint& peer) {
  return [channel, peer](Writer& w) {
    w.add_u32(attr::channel_number, std::uint32_t{channel} << 16);
    w.add_xor_address(attr::xor_peer_address, peer);
  };
}
std::function<void(Writer&)> lifetime(std::uint32_t seconds) {
  return [seconds](Writer& w) { w.add_u32(attr::lifetime, seconds); };
}

// An XOR-PEER-ADDRESS longer than any address used to make the server read a pointer
// out of the attacker's bytes (an empty optional dereferenced). Now it is a 400.
TEST(TurnServerLimits, OverlongPeerAddressIs400) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  for (std::size_t size : {21u, 44u, 100u, 1000u}) {
    std::vector<std::uint8_t> value(size, 0x41);
    value[1] = 0x01;  // family IPv4
    auto r = h.request(method::create_permission,
                       [&](Writer& w) { w.add(attr::xor_peer_address, value); });
    EXPECT_EQ(code_of(r), 400) << size;
  }
  EXPECT_EQ(h.server.counters().relayed_to_peer, 0u);
}

Endpoint peer(const char* address) {
  return Endpoint{*IpAddress::parse(address), 7000};
}

TEST(TurnServerLimits, DefaultDenylistRefusesSpecialPurposePeersOverIpv4) {
  Harness h(defaults());
  ASSERT_TRUE(h.allocate());
  for (const char* a :
       {"255.255.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.1.2.3", "240.0.0.1",
        "100.64.0.1", "198.18.0.1", "198.19.1.1", "127.0.0.1", "169.254.169.254"}) {
    EXPECT_EQ(code_of(h.request(method::create_permission, permit(peer(a)))), 403) << a;
    EXPECT_EQ(code_of(h.request(method::channel_bind, bind(0x4000, peer(a)))), 403) << a;
  }
  // Private and documentation ranges stay usable (the simulator's networks use them).
  for (const char* a : {"10.1.2.3", "192.168.1.1", "172.16.0.9", "192.0.2.77", "8.8.8.8"})
    EXPECT_EQ(h.request(method::create_permission, permit(peer(a)))->cls(), Class::success) << a;
  EXPECT_EQ(h.server.counters().forbidden, 22u);
}

TEST(TurnServerLimits, DefaultDenylistRefusesEmbeddedIpv4FormsOverIpv6) {
  ServerConfig c = defaults();
  c.relay_address = *IpAddress::parse("2001:db8::50");
  Harness h(c);
  ASSERT_TRUE(h.allocate());
  for (const char* a :
       {"::", "::1", "ff02::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:255.255.255.255",
        "::127.0.0.1", "::224.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::100.64.0.1", "2002:7f00:1::1",
        "2002:a9fe:a9fe::1", "::ffff:198.18.0.1"}) {
    EXPECT_EQ(code_of(h.request(method::create_permission, permit(peer(a)))), 403) << a;
    EXPECT_EQ(code_of(h.request(method::channel_bind, bind(0x4000, peer(a)))), 403) << a;
  }
  for (const char* a : {"2001:db8::77", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "fd00::1"})
    EXPECT_EQ(h.request(method::create_permission, permit(peer(a)))->cls(), Class::success) << a;
}

TEST(TurnServerLimits, AllowedPeersOverrideTheDefaultDenial) {
  ServerConfig c = defaults();
  c.allowed_peers = {*Prefix::parse("100.64.0.0/10"), *Prefix::parse("127.0.0.0/8")};
  Harness h(c);
  ASSERT_TRUE(h.allocate());
  EXPECT_EQ(h.request(method::create_permission, permit(peer("100.64.0.1")))->cls(),
            Class::success);
  EXPECT_EQ(h.request(method::channel_bind, bind(0x4000, peer("127.0.0.1")))->cls(),
            Class::success);
  EXPECT_EQ(code_of(h.request(method::create_permission, permit(peer("198.18.0.1")))), 403);
}

TEST(TurnServerLimits, SendIndicationsToDeniedPeersAreDropped) {
  Harness h(defaults());
  ASSERT_TRUE(h.allocate());
  const std::uint8_t payload[] = {1, 2, 3};
  for (const char* a : {"127.0.0.1", "255.255.255.255", "224.0.0.251"}) {
    std::array<std::uint8_t, 128> buf{};
    Writer send(buf, method::send, Class::indication, stun::TransactionId{});
    send.add_xor_address(attr::xor_peer_address, peer(a));
    send.add(attr::data, payload);
    EXPECT_TRUE(h.feed(kClient, kListen, *send.finish()).empty()) << a;
  }
  EXPECT_EQ(h.server.counters().dropped_forbidden, 3u);
  EXPECT_EQ(h.server.counters().relayed_to_peer, 0u);
}

// EVEN-PORT with R, then Refresh 0, repeated, used to leave one reservation each time
// outside the quota, until one user held every port.
TEST(TurnServerLimits, ReservationsCountAgainstTheQuota) {
  Harness h(defaults());  // quota 2, ports 50000-50003
  const auto even_r = [](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    const std::uint8_t r[] = {0x80};
    w.add(attr::even_port, r);
  };
  (void)h.request(method::allocate, even_r, "");  // the nonce
  const Endpoint a1 = *Endpoint::parse("203.0.113.2:40001");
  const Endpoint a2 = *Endpoint::parse("203.0.113.2:40002");
  auto first = h.request(method::allocate, even_r, "alice", "secret", a1);
  ASSERT_EQ(first->cls(), Class::success);
  EXPECT_EQ(h.server.reservation_count(), 1u);
  ASSERT_EQ(h.request(method::refresh, lifetime(0), "alice", "secret", a1)->cls(), Class::success);
  // The reservation still holds a port, so alice has one unit left: not enough for an
  // allocation plus a reservation...
  EXPECT_EQ(code_of(h.request(method::allocate, even_r, "alice", "secret", a2)), 486);
  EXPECT_EQ(h.server.counters().quota_rejections, 1u);
  // ...and bob can still allocate from the ports alice did not take.
  const Endpoint b1 = *Endpoint::parse("203.0.113.3:40001");
  const auto plain = [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
  EXPECT_EQ(h.request(method::allocate, plain, "bob", "hunter2", b1)->cls(), Class::success);
  // After the reservation lapses (30 s, RFC 8656 §7.2) alice's quota is whole again.
  h.now += seconds(29);
  EXPECT_EQ(code_of(h.request(method::allocate, even_r, "alice", "secret", a2)), 486);
  h.now += seconds(1);
  h.server.handle_timeout(h.now);
  EXPECT_EQ(h.server.counters().reservations_expired, 1u);
  EXPECT_EQ(h.request(method::allocate, even_r, "alice", "secret", a2)->cls(), Class::success);
}

TEST(TurnServerLimits, ClaimingOnesOwnReservationNeedsNoExtraQuota) {
  Harness h(defaults());  // quota 2
  const auto even_r = [](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    const std::uint8_t r[] = {0x80};
    w.add(attr::even_port, r);
  };
  (void)h.request(method::allocate, even_r, "");
  auto first = h.request(method::allocate, even_r, "alice", "secret");
  ASSERT_EQ(first->cls(), Class::success);
  const auto token = first->find(attr::reservation_token);
  ASSERT_TRUE(token);
  const std::vector<std::uint8_t> value(token->value.begin(), token->value.end());
  auto claim = h.request(
      method::allocate,
      [&](Writer& w) {
        w.add_u32(attr::requested_transport, kTransportUdp << 24);
        w.add(attr::reservation_token, value);
      },
      "alice", "secret", *Endpoint::parse("203.0.113.2:40009"));
  ASSERT_EQ(claim->cls(), Class::success);
  EXPECT_EQ(claim->xor_address(attr::xor_relayed_address)->port, 50001);
}

// Every Refresh used to push a heap entry that lived up to an hour.
TEST(TurnServerLimits, RefreshesDoNotGrowTheDeadlineHeap) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  const std::size_t before = h.server.deadline_count();
  for (int i = 0; i < 5000; ++i) {
    h.now += milliseconds(100);
    ASSERT_EQ(h.request(method::refresh, lifetime(600))->cls(), Class::success);
  }
  EXPECT_EQ(h.server.deadline_count(), before);
  // The allocation lapses exactly 600 s after the last Refresh, not at an older deadline.
  const TimePoint last = h.now;
  h.server.handle_timeout(last + seconds(599));
  EXPECT_EQ(h.server.allocation_count(), 1u);
  EXPECT_EQ(h.server.poll_timeout(), last + seconds(600));
  h.server.handle_timeout(last + seconds(600));
  EXPECT_EQ(h.server.allocation_count(), 0u);
  EXPECT_EQ(h.server.counters().allocations_expired, 1u);
}

// Shortening Refreshes need earlier entries; the stale ones are compacted away.
TEST(TurnServerLimits, ShorteningRefreshesKeepTheHeapBounded) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  // The Allocate queued 600 s; 599, 598, ... 1 s each need an earlier entry.
  std::size_t peak = 0;
  std::uint32_t last = 0;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    last = 599 - (i % 599);
    ASSERT_EQ(h.request(method::refresh, lifetime(last))->cls(), Class::success);
    peak = std::max(peak, h.server.deadline_count());
  }
  EXPECT_LE(peak, 2u * 1 + 64);
  // It lapses exactly `last` seconds after the last Refresh.
  h.server.handle_timeout(h.now + seconds(last - 1));
  EXPECT_EQ(h.server.allocation_count(), 1u);
  h.server.handle_timeout(h.now + seconds(last));
  EXPECT_EQ(h.server.allocation_count(), 0u);
}

TEST(TurnServerLimits, PermissionsPerAllocationAreCappedWith508) {
  ServerConfig c = test::config();
  c.max_permissions_per_allocation = 3;
  Harness h(c);
  ASSERT_TRUE(h.allocate());
  for (const char* a : {"192.0.2.1", "192.0.2.2", "192.0.2.3"})
    ASSERT_EQ(h.request(method::create_permission, permit(peer(a)))->cls(), Class::success);
  EXPECT_EQ(code_of(h.request(method::create_permission, permit(peer("192.0.2.4")))), 508);
  // Refreshing one it has is fine, and so is a ChannelBind to a permitted peer...
  EXPECT_EQ(h.request(method::create_permission, permit(peer("192.0.2.2")))->cls(), Class::success);
  EXPECT_EQ(h.request(method::channel_bind, bind(0x4000, peer("192.0.2.1")))->cls(),
            Class::success);
  // ...but not one that needs a fourth permission.
  EXPECT_EQ(code_of(h.request(method::channel_bind, bind(0x4001, peer("192.0.2.9")))), 508);
  // Many addresses in one request: refused whole.
  auto many = [](Writer& w) {
    for (std::uint8_t i = 10; i < 20; ++i)
      w.add_xor_address(attr::xor_peer_address, Endpoint{IpAddress::v4(192, 0, 2, i), 1});
  };
  EXPECT_EQ(code_of(h.request(method::create_permission, many)), 508);
  EXPECT_EQ(h.server.counters().capacity_rejections, 3u);
  // Permissions last 5 minutes (RFC 8656 §9): all were installed at +0, so they lapse and
  // make room at exactly +300 s.
  h.now += seconds(299);
  EXPECT_EQ(code_of(h.request(method::create_permission, permit(peer("192.0.2.4")))), 508);
  h.now += seconds(1);
  EXPECT_EQ(h.request(method::create_permission, permit(peer("192.0.2.4")))->cls(), Class::success);
}

TEST(TurnServerLimits, ChannelsPerAllocationAreCappedWith508) {
  ServerConfig c = test::config();
  c.max_channels_per_allocation = 2;
  Harness h(c);
  ASSERT_TRUE(h.allocate());
  ASSERT_EQ(h.request(method::channel_bind, bind(0x4000, peer("192.0.2.1")))->cls(),
            Class::success);
  ASSERT_EQ(h.request(method::channel_bind, bind(0x4001, peer("192.0.2.2")))->cls(),
            Class::success);
  EXPECT_EQ(code_of(h.request(method::channel_bind, bind(0x4002, peer("192.0.2.3")))), 508);
  // Refreshing a bound channel is not a new one.
  EXPECT_EQ(h.request(method::channel_bind, bind(0x4000, peer("192.0.2.1")))->cls(),
            Class::success);
  // Channels last 10 minutes (RFC 8656 §12): both lapse and make room at exactly +600 s
  // (the allocation, refreshed, outlives them).
  h.now += seconds(599);
  ASSERT_EQ(h.request(method::refresh, lifetime(600))->cls(), Class::success);
  EXPECT_EQ(code_of(h.request(method::channel_bind, bind(0x4002, peer("192.0.2.3")))), 508);
  h.now += seconds(1);
  EXPECT_EQ(h.request(method::channel_bind, bind(0x4002, peer("192.0.2.3")))->cls(),
            Class::success);
}

// RFC 8489 §6.3.1.1: a request with more unknown comprehension-required attributes than
// a response can list still gets its 420, with the list cut short.
TEST(TurnServerLimits, ManyUnknownAttributesGetATruncated420) {
  Harness h;
  auto r = h.request(
      method::allocate,
      [](Writer& w) {
        for (std::uint16_t i = 0; i < 900; ++i)
          w.add_empty(static_cast<std::uint16_t>(0x7000 + i));
      },
      "");
  ASSERT_TRUE(r);
  EXPECT_EQ(code_of(r), 420);
  EXPECT_TRUE(r->fingerprint_ok());
  const auto listed = r->unknown_attributes_value();
  ASSERT_EQ(listed.size(), 64u);
  EXPECT_EQ(listed.front(), 0x7000);
  EXPECT_EQ(listed.back(), 0x7000 + 63);
}

TEST(TurnServerLimits, HandleDatagramSaysWhetherTheDatagramWasItsOwn) {
  Harness h;
  const std::uint8_t junk[] = {0xff, 1, 2, 3, 4, 5, 6, 7};
  (void)h.feed(kClient, kListen, junk);
  EXPECT_FALSE(h.handled);
  // A peer's datagram to a relay port nobody holds.
  (void)h.feed(kPeer, kRelay, junk);
  EXPECT_FALSE(h.handled);
  ASSERT_TRUE(h.allocate());
  EXPECT_TRUE(h.handled);
  // The relay is held now: the datagram is the server's even without a permission.
  (void)h.feed(kPeer, kRelay, junk);
  EXPECT_TRUE(h.handled);
  // Answered with an error is still handled.
  EXPECT_EQ(code_of(h.request(method::create_permission, [](Writer&) {})), 400);
  EXPECT_TRUE(h.handled);
  // ChannelData on a channel that is not bound is not the server's.
  std::array<std::uint8_t, 16> cd{};
  const auto n = *write_channel_data(cd, 0x4000, junk, false);
  (void)h.feed(kClient, kListen, ByteView(cd.data(), n));
  EXPECT_FALSE(h.handled);
  ASSERT_EQ(h.request(method::channel_bind, bind(0x4000, kPeer))->cls(), Class::success);
  (void)h.feed(kClient, kListen, ByteView(cd.data(), n));
  EXPECT_TRUE(h.handled);
  // A STUN response: a server sends no requests, so it is not its answer.
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf, method::binding, Class::success, stun::TransactionId{});
  w.add_fingerprint();
  (void)h.feed(kClient, kListen, *w.finish());
  EXPECT_FALSE(h.handled);
}

}  // namespace
}  // namespace natsim::traversal::turn
