#include "natsim/traversal/turn_server.hpp"

#include <gtest/gtest.h>

#include <array>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/turn_wire.hpp"

namespace natsim::traversal::turn {
namespace {

namespace attr = stun::attr;
namespace method = stun::method;
using stun::Class;
using stun::Message;
using stun::Writer;

const Endpoint kListen = *Endpoint::parse("198.51.100.50:3478");
const Endpoint kClient = *Endpoint::parse("203.0.113.2:40000");
const Endpoint kPeer = *Endpoint::parse("192.0.2.77:6000");

ServerConfig config() {
  ServerConfig c;
  c.listen = kListen;
  c.relay_address = *IpAddress::parse("198.51.100.50");
  c.relay_port_first = 50000;
  c.relay_port_count = 4;
  c.realm = "example.org";
  c.users = {{"alice", "secret"}, {"bob", "hunter2"}};
  c.max_allocations_per_user = 2;
  c.denied_peers = {*Prefix::parse("10.0.0.0/8")};
  return c;
}

// A scripted client: builds requests, feeds them to the server, returns its answers.
struct Harness {
  explicit Harness(ServerConfig c = config()) : server(1, std::move(c)) {}

  std::vector<std::vector<std::uint8_t>> feed(const Endpoint& from, const Endpoint& to,
                                              ByteView bytes) {
    server.handle_datagram(now, to, from, bytes);
    std::vector<std::vector<std::uint8_t>> out;
    std::array<std::uint8_t, 2048> buf{};
    while (auto t = server.poll_transmit(buf)) {
      last_from = t->local;
      last_to = t->remote;
      out.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
    }
    return out;
  }

  // Sends a request with the given attributes, authenticated unless `user` is empty.
  std::optional<Message> request(std::uint16_t m, const std::function<void(Writer&)>& fill,
                                 const std::string& user = "alice",
                                 const std::string& password = "secret",
                                 const Endpoint& from = kClient, bool sha256 = false) {
    std::array<std::uint8_t, 1024> buf{};
    stun::TransactionId id{};
    id[0] = static_cast<std::uint8_t>(++tid);
    Writer w(buf, m, Class::request, id);
    fill(w);
    if (!user.empty()) {
      w.add_text(attr::username, user);
      w.add_text(attr::realm, "example.org");
      w.add_text(attr::nonce, nonce);
      if (sha256) {
        const std::uint8_t alg[] = {0x00, 0x02, 0x00, 0x00};
        w.add(attr::password_algorithm, alg);
        w.add_message_integrity_sha256(
            stun::long_term_key(user, "example.org", password, stun::PasswordAlgorithm::sha256));
      } else {
        w.add_message_integrity(stun::long_term_key(user, "example.org", password));
      }
    }
    w.add_fingerprint();
    auto out = feed(from, kListen, *w.finish());
    if (out.empty()) return std::nullopt;
    stored = out.back();
    auto msg = Message::parse(stored);
    if (msg && msg->text(attr::nonce)) nonce = std::string(*msg->text(attr::nonce));
    return msg ? std::optional<Message>(*msg) : std::nullopt;
  }

  std::optional<Message> allocate(const std::string& user = "alice",
                                  const Endpoint& from = kClient) {
    auto transport = [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
    if (nonce.empty())
      (void)request(method::allocate, transport, "", "", from);  // 401 gives the nonce
    return request(method::allocate, transport, user, user == "alice" ? "secret" : "hunter2", from);
  }

  TurnServer server;
  TimePoint now = at(seconds(1));
  std::string nonce;
  int tid = 0;
  std::vector<std::uint8_t> stored;
  Endpoint last_from;
  Endpoint last_to;
};

std::uint16_t code_of(const std::optional<Message>& m) {
  return m && m->error_code() ? m->error_code()->code : 0;
}

TEST(TurnServer, ChallengesThenAllocatesWithLongTermCredentials) {
  Harness h;
  auto challenge = h.request(
      method::allocate,
      [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); }, "");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(code_of(challenge), 401);
  EXPECT_EQ(challenge->text(attr::realm), "example.org");
  EXPECT_TRUE(challenge->text(attr::nonce)->starts_with("obMatJos2"));
  EXPECT_TRUE(challenge->has(attr::password_algorithms));
  auto ok = h.allocate();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->cls(), Class::success);
  EXPECT_EQ(ok->xor_address(attr::xor_relayed_address), Endpoint::parse("198.51.100.50:50000"));
  EXPECT_EQ(ok->xor_address(attr::xor_mapped_address), kClient);
  EXPECT_EQ(ok->u32(attr::lifetime), 600u);
  EXPECT_EQ(ok->check_integrity(stun::long_term_key("alice", "example.org", "secret")),
            stun::IntegrityResult::ok);
  EXPECT_EQ(h.server.allocation_count(), 1u);
}

TEST(TurnServer, WrongCredentialsNeverAllocate) {
  Harness h;
  (void)h.allocate();  // fetch a nonce (and allocate for alice)
  const Endpoint other = *Endpoint::parse("203.0.113.9:1");
  auto transport = [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
  EXPECT_EQ(code_of(h.request(method::allocate, transport, "alice", "wrong", other)), 401);
  EXPECT_EQ(code_of(h.request(method::allocate, transport, "mallory", "secret", other)), 401);
  EXPECT_EQ(h.server.allocation_count(), 1u);
  EXPECT_EQ(h.server.counters().auth_failures, 2u);
}

TEST(TurnServer, Sha256PasswordAlgorithm) {
  Harness h;
  auto transport = [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
  (void)h.request(method::allocate, transport, "");
  auto ok = h.request(method::allocate, transport, "alice", "secret", kClient, /*sha256=*/true);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->cls(), Class::success);
  EXPECT_TRUE(ok->has(attr::message_integrity_sha256));
}

TEST(TurnServer, StaleNonceIs438WithAFreshOne) {
  ServerConfig c = config();
  c.nonce_lifetime = minutes(5);
  Harness h(c);
  (void)h.allocate();
  const std::string old = h.nonce;
  h.now += minutes(6);  // the nonce is stale, the 10-minute allocation is not
  auto r = h.request(method::refresh, [](Writer& w) { w.add_u32(attr::lifetime, 600); });
  EXPECT_EQ(code_of(r), 438);
  EXPECT_NE(h.nonce, old);
  EXPECT_EQ(h.request(method::refresh, [](Writer& w) { w.add_u32(attr::lifetime, 600); })->cls(),
            Class::success);
}

TEST(TurnServer, MismatchQuotaCapacityAndTransportErrors) {
  Harness h;
  ASSERT_EQ(h.allocate()->cls(), Class::success);
  EXPECT_EQ(code_of(h.allocate()), 437);  // a second Allocate on the same 5-tuple
  ASSERT_EQ(h.allocate("alice", *Endpoint::parse("203.0.113.2:40001"))->cls(), Class::success);
  EXPECT_EQ(code_of(h.allocate("alice", *Endpoint::parse("203.0.113.2:40002"))), 486);  // quota 2
  ASSERT_EQ(h.allocate("bob", *Endpoint::parse("203.0.113.3:1"))->cls(), Class::success);
  ASSERT_EQ(h.allocate("bob", *Endpoint::parse("203.0.113.3:2"))->cls(), Class::success);
  Harness small;  // four relay ports, all taken above; a fresh server for capacity:
  ServerConfig c = config();
  c.relay_port_count = 1;
  Harness tiny(c);
  ASSERT_EQ(tiny.allocate()->cls(), Class::success);
  EXPECT_EQ(code_of(tiny.allocate("bob", *Endpoint::parse("203.0.113.3:1"))), 508);
  auto tcp = [](Writer& w) { w.add_u32(attr::requested_transport, 6u << 24); };
  EXPECT_EQ(code_of(small.request(method::allocate, tcp, "")), 401);
  EXPECT_EQ(code_of(small.request(method::allocate, tcp)), 442);
}

TEST(TurnServer, RelaysThroughPermissionsAndChannels) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  const Endpoint relay = *Endpoint::parse("198.51.100.50:50000");
  const std::uint8_t payload[] = {1, 2, 3, 4, 5};
  // Without a permission, the peer's data is dropped.
  EXPECT_TRUE(h.feed(kPeer, relay, payload).empty());
  EXPECT_EQ(h.server.counters().dropped_no_permission, 1u);
  ASSERT_EQ(h.request(method::create_permission,
                      [](Writer& w) { w.add_xor_address(attr::xor_peer_address, kPeer); })
                ->cls(),
            Class::success);
  // Peer → client: a Data indication.
  auto data = h.feed(kPeer, relay, payload);
  ASSERT_EQ(data.size(), 1u);
  auto ind = Message::parse(data[0]);
  ASSERT_TRUE(ind);
  EXPECT_EQ(ind->method(), method::data);
  EXPECT_EQ(ind->xor_address(attr::xor_peer_address), kPeer);
  EXPECT_EQ(ind->find(attr::data)->value.size(), 5u);
  EXPECT_EQ(h.last_to, kClient);
  // Client → peer: a Send indication leaves from the relay address.
  std::array<std::uint8_t, 128> buf{};
  Writer send(buf, method::send, Class::indication, stun::TransactionId{});
  send.add_xor_address(attr::xor_peer_address, kPeer);
  send.add(attr::data, payload);
  auto out = h.feed(kClient, kListen, *send.finish());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(h.last_from, relay);
  EXPECT_EQ(h.last_to, kPeer);
  EXPECT_EQ(out[0].size(), 5u);
  // A channel: both directions become ChannelData.
  ASSERT_EQ(h.request(method::channel_bind,
                      [](Writer& w) {
                        w.add_u32(attr::channel_number, 0x4001u << 16);
                        w.add_xor_address(attr::xor_peer_address, kPeer);
                      })
                ->cls(),
            Class::success);
  auto framed = h.feed(kPeer, relay, payload);
  ASSERT_EQ(framed.size(), 1u);
  auto cd = parse_channel_data(framed[0]);
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4001);
  std::array<std::uint8_t, 32> cbuf{};
  const auto n = *write_channel_data(cbuf, 0x4001, payload, false);
  EXPECT_EQ(h.feed(kClient, kListen, ByteView(cbuf.data(), n)).size(), 1u);
  EXPECT_EQ(h.server.counters().relayed_to_peer, 2u);
  EXPECT_EQ(h.server.counters().relayed_to_client, 2u);
  // Binding the channel to another peer, or the peer to another channel, is refused.
  EXPECT_EQ(code_of(h.request(method::channel_bind,
                              [](Writer& w) {
                                w.add_u32(attr::channel_number, 0x4001u << 16);
                                w.add_xor_address(attr::xor_peer_address,
                                                  *Endpoint::parse("192.0.2.78:6000"));
                              })),
            400);
}

TEST(TurnServer, PermissionsChannelsAndAllocationsExpire) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  const Endpoint relay = *Endpoint::parse("198.51.100.50:50000");
  const std::uint8_t payload[] = {9};
  (void)h.request(method::create_permission,
                  [](Writer& w) { w.add_xor_address(attr::xor_peer_address, kPeer); });
  h.now += minutes(4);
  EXPECT_EQ(h.feed(kPeer, relay, payload).size(), 1u);
  h.now += minutes(2);  // RFC 8656 §9: permissions last 5 minutes
  EXPECT_TRUE(h.feed(kPeer, relay, payload).empty());
  h.now += minutes(5);  // the 10-minute allocation is gone too, and its port is free
  h.server.handle_timeout(h.now);
  EXPECT_EQ(h.server.allocation_count(), 0u);
  EXPECT_EQ(h.server.counters().allocations_expired, 1u);
  ASSERT_EQ(h.allocate()->xor_address(attr::xor_relayed_address), relay);
}

TEST(TurnServer, RefreshWithZeroLifetimeDeallocates) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  auto r = h.request(method::refresh, [](Writer& w) { w.add_u32(attr::lifetime, 0); });
  ASSERT_EQ(r->cls(), Class::success);
  EXPECT_EQ(r->u32(attr::lifetime), 0u);
  EXPECT_EQ(h.server.allocation_count(), 0u);
  EXPECT_EQ(code_of(h.request(method::refresh, [](Writer& w) { w.add_u32(attr::lifetime, 600); })),
            437);
}

TEST(TurnServer, DeniedPeersAndMalformedInput) {
  Harness h;
  ASSERT_TRUE(h.allocate());
  EXPECT_EQ(code_of(h.request(method::create_permission,
                              [](Writer& w) {
                                w.add_xor_address(attr::xor_peer_address,
                                                  *Endpoint::parse("10.1.2.3:1"));
                              })),
            403);
  EXPECT_EQ(code_of(h.request(method::create_permission, [](Writer&) {})), 400);
  const std::uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_TRUE(h.feed(kClient, kListen, junk).empty());
  const std::uint8_t bad_channel[] = {0x40, 0x01, 0x00, 0x09, 1};
  EXPECT_TRUE(h.feed(kClient, kListen, bad_channel).empty());
  EXPECT_EQ(h.server.counters().dropped_malformed, 2u);
}

}  // namespace
}  // namespace natsim::traversal::turn

namespace natsim::traversal::turn {
namespace {

TEST(TurnServer, UnsupportedFamilyAndDontFragmentAreRefused) {
  Harness h;
  (void)h.allocate();  // nonce (and an allocation on kClient)
  const Endpoint other = *Endpoint::parse("203.0.113.9:9");
  auto v6 = [](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    const std::uint8_t family[] = {0x02, 0, 0, 0};
    w.add(attr::requested_address_family, family);
  };
  EXPECT_EQ(code_of(h.request(method::allocate, v6, "alice", "secret", other)), 440);
  auto df = [](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    w.add_empty(attr::dont_fragment);
  };
  auto r = h.request(method::allocate, df, "alice", "secret", other);
  EXPECT_EQ(code_of(r), 420);
  EXPECT_EQ(r->unknown_attributes_value(), std::vector<std::uint16_t>{attr::dont_fragment});
  EXPECT_EQ(h.server.allocation_count(), 1u);
}

}  // namespace
}  // namespace natsim::traversal::turn
