#include "natsim/traversal/turn_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_server_harness.hpp"

namespace natsim::traversal::turn {
namespace {

namespace attr = stun::attr;
namespace method = stun::method;
using stun::Class;
using stun::Message;
using stun::Writer;

using test::code_of;
using test::config;
using test::Harness;
using test::kClient;
using test::kListen;
using test::kPeer;

TEST(TurnServer, ChallengesThenAllocatesWithLongTermCredentials) {
  Harness h;
  auto challenge = h.request(
      method::allocate,
      [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); }, "");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(code_of(challenge), 401);
  EXPECT_EQ(challenge->text(attr::realm), "example.org");
  // RFC 8489 §9.2: the nonce cookie with "Password algorithms" (bit 0, erratum 6290).
  EXPECT_TRUE(challenge->text(attr::nonce)->starts_with("obMatJos2AAAB"));
  EXPECT_TRUE(nonce_announces_password_algorithms(*challenge->text(attr::nonce)));
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

// --- PASSWORD-ALGORITHMS (RFC 8489 §9.2.4): the server's half of bid-down protection

using Bytes = std::vector<std::uint8_t>;
const Bytes kOffered = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};  // SHA-256, MD5

struct Credentials {
  std::optional<Bytes> algorithms;         // PASSWORD-ALGORITHMS echoed
  std::optional<std::uint16_t> algorithm;  // PASSWORD-ALGORITHM
  stun::PasswordAlgorithm key = stun::PasswordAlgorithm::md5;
  bool sha256_integrity = false;  // MESSAGE-INTEGRITY-SHA256 instead of MESSAGE-INTEGRITY
};

// An Allocate from `from` with hand-picked credential attributes (after the harness has
// its nonce).
std::optional<Message> allocate_with(Harness& h, const Credentials& c, const Endpoint& from) {
  std::array<std::uint8_t, 1024> buf{};
  stun::TransactionId id{};
  id[0] = static_cast<std::uint8_t>(++h.tid);
  Writer w(buf, method::allocate, Class::request, id);
  w.add_u32(attr::requested_transport, kTransportUdp << 24);
  w.add_text(attr::username, "alice");
  w.add_text(attr::realm, "example.org");
  w.add_text(attr::nonce, h.nonce);
  if (c.algorithms) w.add(attr::password_algorithms, *c.algorithms);
  if (c.algorithm) {
    std::uint8_t value[4] = {static_cast<std::uint8_t>(*c.algorithm >> 8),
                             static_cast<std::uint8_t>(*c.algorithm), 0, 0};
    w.add(attr::password_algorithm, value);
  }
  const auto key = stun::long_term_key("alice", "example.org", "secret", c.key);
  if (c.sha256_integrity) {
    w.add_message_integrity_sha256(key);
  } else {
    w.add_message_integrity(key);
  }
  w.add_fingerprint();
  auto out = h.feed(from, kListen, *w.finish());
  if (out.empty()) return std::nullopt;
  h.stored = out.back();
  auto msg = Message::parse(h.stored);
  return msg ? std::optional<Message>(*msg) : std::nullopt;
}

TEST(TurnServer, PasswordAlgorithmsMustBeEchoedAndChosenFromTheList) {
  const auto md5 = stun::PasswordAlgorithm::md5;
  const auto sha256 = stun::PasswordAlgorithm::sha256;
  // Each case on a fresh server (the 401 first, for the nonce).
  const auto run = [](const Credentials& c) {
    Harness h;
    (void)h.request(
        method::allocate,
        [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); }, "");
    auto r = allocate_with(h, c, kClient);
    return std::make_pair(code_of(r), h.server.allocation_count());
  };
  // A list changed on the way (SHA-256 stripped, so the client chose MD5): 400.
  EXPECT_EQ(run({Bytes{0x00, 0x01, 0x00, 0x00}, 0x0001, md5, true}),
            std::make_pair(std::uint16_t{400}, std::size_t{0}));
  // Reordered: also not what the 401 sent.
  EXPECT_EQ(run({Bytes{0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00}, 0x0001, md5, true}).first,
            400);
  // PASSWORD-ALGORITHM without the list, the list without PASSWORD-ALGORITHM: 400.
  EXPECT_EQ(run({std::nullopt, 0x0002, sha256, true}).first, 400);
  EXPECT_EQ(run({kOffered, std::nullopt, md5, true}).first, 400);
  // An algorithm that is not on the list: 400.
  EXPECT_EQ(run({kOffered, 0x0003, md5, true}).first, 400);
  // The list as sent and MD5 chosen from it: fine (MESSAGE-INTEGRITY-SHA256, MD5 key).
  EXPECT_EQ(run({kOffered, 0x0001, md5, true}), std::make_pair(std::uint16_t{0}, std::size_t{1}));
  // Neither attribute: processed as MD5 (RFC 5389 clients).
  EXPECT_EQ(run({std::nullopt, std::nullopt, md5, false}).second, 1u);
}

TEST(TurnServer, ResponseIntegrityFollowsTheRequestsAlgorithmAttributes) {
  // RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 on responses, unless the request had
  // neither PASSWORD-ALGORITHMS nor PASSWORD-ALGORITHM (then MESSAGE-INTEGRITY).
  const auto md5_key = stun::long_term_key("alice", "example.org", "secret");
  {
    Harness h;
    (void)h.request(
        method::allocate,
        [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); }, "");
    auto ok = allocate_with(h, {kOffered, 0x0001, stun::PasswordAlgorithm::md5, true}, kClient);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->cls(), Class::success);
    EXPECT_TRUE(ok->has(attr::message_integrity_sha256));
    EXPECT_FALSE(ok->has(attr::message_integrity));
    EXPECT_EQ(ok->check_integrity(md5_key), stun::IntegrityResult::ok);
  }
  {
    Harness h;
    (void)h.request(
        method::allocate,
        [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); }, "");
    // MESSAGE-INTEGRITY-SHA256 alone: the key is MD5 (§9.2.2), the answer MESSAGE-INTEGRITY.
    auto ok =
        allocate_with(h, {std::nullopt, std::nullopt, stun::PasswordAlgorithm::md5, true}, kClient);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->cls(), Class::success);
    EXPECT_TRUE(ok->has(attr::message_integrity));
    EXPECT_FALSE(ok->has(attr::message_integrity_sha256));
    EXPECT_EQ(ok->check_integrity(md5_key), stun::IntegrityResult::ok);
  }
}

// --- EVEN-PORT with R and RESERVATION-TOKEN (RFC 8656 §7.2, §18.7, §18.10)

const Endpoint kOther1 = *Endpoint::parse("203.0.113.3:1");
const Endpoint kOther2 = *Endpoint::parse("203.0.113.3:2");
const Endpoint kOther3 = *Endpoint::parse("203.0.113.4:3");

std::function<void(Writer&)> even_port(bool reserve) {
  return [reserve](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    const std::uint8_t value[1] = {static_cast<std::uint8_t>(reserve ? 0x80 : 0x00)};
    w.add(attr::even_port, value);
  };
}
std::function<void(Writer&)> with_token(std::uint64_t token) {
  return [token](Writer& w) {
    w.add_u32(attr::requested_transport, kTransportUdp << 24);
    w.add_u64(attr::reservation_token, token);
  };
}
std::function<void(Writer&)> plain() {
  return [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
}
std::optional<std::uint64_t> token_of(const std::optional<Message>& m) {
  auto a = m ? m->find(attr::reservation_token) : std::nullopt;
  if (!a || a->value.size() != 8) return std::nullopt;
  std::uint64_t t = 0;
  for (const std::uint8_t b : a->value)
    t = (t << 8) | b;
  return t;
}
std::uint16_t port_of(const std::optional<Message>& m) {
  auto relayed = m ? m->xor_address(attr::xor_relayed_address) : std::nullopt;
  return relayed ? relayed->port : 0;
}
const std::string kBob = "bob";
const std::string kBobPassword = "hunter2";

TEST(TurnServer, EvenPortWithRReservesTheNextPortForOthersToClaim) {
  ServerConfig c = config();
  c.max_allocations_per_user = 3;  // alice's two allocations and her reservation
  Harness h(c);
  (void)h.allocate("alice", kOther3);  // the nonce, and port 50000 taken by someone
  const auto r = h.request(method::allocate, even_port(true));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->cls(), Class::success);
  EXPECT_EQ(port_of(r), 50002);  // the first even N with N+1 free
  const auto token = token_of(r);
  ASSERT_TRUE(token);
  EXPECT_EQ(h.server.reservation_count(), 1u);
  EXPECT_EQ(h.server.counters().reservations, 1u);
  // A retransmission of that Allocate gets the same answer, token included.
  const Bytes again = h.sent;
  const auto repeat = h.feed(kClient, kListen, again);
  ASSERT_EQ(repeat.size(), 1u);
  const auto repeated = Message::parse(repeat[0]);
  ASSERT_TRUE(repeated);
  EXPECT_EQ(port_of(std::optional<Message>(*repeated)), 50002);
  EXPECT_EQ(token_of(std::optional<Message>(*repeated)), token);
  EXPECT_EQ(h.server.reservation_count(), 1u);
  // Port 50003 is held: another Allocate gets 50001, and the next one finds nothing.
  EXPECT_EQ(port_of(h.request(method::allocate, plain(), kBob, kBobPassword, kOther1)), 50001);
  EXPECT_EQ(code_of(h.request(method::allocate, plain(), kBob, kBobPassword, kOther2)), 508);
  EXPECT_EQ(h.server.counters().capacity_rejections, 1u);
  // The token, from any 5-tuple (another user's even: the reservation is server-wide),
  // gets exactly the reserved port.
  const auto claimed = h.request(method::allocate, with_token(*token), kBob, kBobPassword, kOther2);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->cls(), Class::success);
  EXPECT_EQ(port_of(claimed), 50003);
  EXPECT_FALSE(token_of(claimed));
  EXPECT_EQ(h.server.reservation_count(), 0u);
  EXPECT_EQ(h.server.counters().reservations_used, 1u);
  // A token works once.
  h.now += seconds(1);
  ASSERT_EQ(h.request(
                 method::refresh, [](Writer& w) { w.add_u32(attr::lifetime, 0); }, kBob,
                 kBobPassword, kOther2)
                ->cls(),
            Class::success);
  EXPECT_EQ(code_of(h.request(method::allocate, with_token(*token), kBob, kBobPassword, kOther2)),
            508);
}

TEST(TurnServer, UnknownTokenIs508AndTokenExcludesEvenPortAndFamilies) {
  Harness h;
  (void)h.allocate();
  // RFC 8656 §7.2 check 5.
  EXPECT_EQ(code_of(h.request(method::allocate, with_token(0x1122334455667788), "alice", "secret",
                              kOther1)),
            508);
  EXPECT_EQ(h.server.counters().capacity_rejections, 1u);
  const auto token_and = [](std::uint16_t type, std::vector<std::uint8_t> value) {
    return [type, value](Writer& w) {
      with_token(1)(w);
      w.add(type, value);
    };
  };
  EXPECT_EQ(code_of(h.request(method::allocate, token_and(attr::even_port, {0x00}), "alice",
                              "secret", kOther1)),
            400);
  EXPECT_EQ(code_of(h.request(method::allocate,
                              token_and(attr::requested_address_family, {0x01, 0, 0, 0}), "alice",
                              "secret", kOther1)),
            400);
  EXPECT_EQ(code_of(h.request(method::allocate,
                              token_and(attr::additional_address_family, {0x02, 0, 0, 0}), "alice",
                              "secret", kOther1)),
            400);
  // A token that is not 8 bytes is malformed.
  EXPECT_EQ(code_of(h.request(
                method::allocate,
                [](Writer& w) {
                  plain()(w);
                  const std::uint8_t four[] = {1, 2, 3, 4};
                  w.add(attr::reservation_token, four);
                },
                "alice", "secret", kOther1)),
            400);
  // §7.2 check 8: EVEN-PORT with R and ADDITIONAL-ADDRESS-FAMILY; an empty EVEN-PORT.
  EXPECT_EQ(code_of(h.request(
                method::allocate,
                [](Writer& w) {
                  even_port(true)(w);
                  const std::uint8_t v6[] = {0x02, 0, 0, 0};
                  w.add(attr::additional_address_family, v6);
                },
                "alice", "secret", kOther1)),
            400);
  EXPECT_EQ(code_of(h.request(
                method::allocate,
                [](Writer& w) {
                  plain()(w);
                  w.add_empty(attr::even_port);
                },
                "alice", "secret", kOther1)),
            400);
  EXPECT_EQ(h.server.allocation_count(), 1u);
  EXPECT_EQ(h.server.reservation_count(), 0u);
}

TEST(TurnServer, ReservationExpiresAfter30SecondsAndFreesThePort) {
  Harness h;
  const TimePoint t0 = h.now;
  (void)h.request(method::allocate, plain(), "");  // the nonce
  const auto r = h.request(method::allocate, even_port(true));
  ASSERT_EQ(port_of(r), 50000);
  const auto token = token_of(r);
  ASSERT_TRUE(token);
  // RFC 8656 §7.2: held 30 s; the allocation itself lasts 10 minutes.
  EXPECT_EQ(h.server.poll_timeout(), t0 + seconds(30));
  h.now = t0 + seconds(29);
  h.server.handle_timeout(h.now);
  EXPECT_EQ(h.server.reservation_count(), 1u);
  EXPECT_EQ(port_of(h.request(method::allocate, plain(), kBob, kBobPassword, kOther1)), 50002);
  h.now = t0 + seconds(30);
  h.server.handle_timeout(h.now);
  EXPECT_EQ(h.server.reservation_count(), 0u);
  EXPECT_EQ(h.server.counters().reservations_expired, 1u);
  EXPECT_EQ(h.server.poll_timeout(), t0 + minutes(10));
  // The port is free again, and the token is worthless.
  EXPECT_EQ(port_of(h.request(method::allocate, plain(), kBob, kBobPassword, kOther2)), 50001);
  EXPECT_EQ(code_of(h.request(method::allocate, with_token(*token), "alice", "secret", kOther3)),
            508);
}

TEST(TurnServer, EvenPortWithRNeedsAnEvenOddPairInTheRange) {
  ServerConfig c = config();
  c.relay_port_count = 3;  // 50000-50002
  Harness h(c);
  ASSERT_EQ(port_of(h.allocate(kBob, kOther1)), 50000);
  // 50002 is even but 50003 is outside the range: 508; without R, 50002 is fine.
  EXPECT_EQ(code_of(h.request(method::allocate, even_port(true))), 508);
  EXPECT_EQ(port_of(h.request(method::allocate, even_port(false))), 50002);
  EXPECT_EQ(h.server.reservation_count(), 0u);
  // An odd first port: the pair is 50002/50003.
  ServerConfig odd = config();
  odd.relay_port_first = 50001;
  Harness o(odd);
  (void)o.request(method::allocate, plain(), "");
  EXPECT_EQ(port_of(o.request(method::allocate, even_port(true))), 50002);
  EXPECT_EQ(port_of(o.request(method::allocate, plain(), kBob, kBobPassword, kOther1)), 50001);
  EXPECT_EQ(port_of(o.request(method::allocate, plain(), kBob, kBobPassword, kOther2)), 50004);
}

// --- RFC 5766 channel numbers (0x4000-0x7FFF) on request

TEST(TurnServer, Rfc5766ChannelNumbersOnlyWithTheOption) {
  for (const bool wide : {false, true}) {
    SCOPED_TRACE(wide);
    ServerConfig c = config();
    c.rfc5766_channels = wide;
    Harness h(c);
    ASSERT_TRUE(h.allocate());
    const auto bind = [&](std::uint32_t channel, const Endpoint& peer) {
      return code_of(h.request(method::channel_bind, [=](Writer& w) {
        w.add_u32(attr::channel_number, channel << 16);
        w.add_xor_address(attr::xor_peer_address, peer);
      }));
    };
    EXPECT_EQ(bind(0x4fff, *Endpoint::parse("192.0.2.78:1")), 0);
    EXPECT_EQ(bind(0x5000, kPeer), wide ? 0 : 400);
    EXPECT_EQ(bind(0x7fff, *Endpoint::parse("192.0.2.79:1")), wide ? 0 : 400);
    EXPECT_EQ(bind(0x8000, *Endpoint::parse("192.0.2.80:1")), 400);
    EXPECT_EQ(bind(0x3fff, *Endpoint::parse("192.0.2.81:1")), 400);
    // ChannelData on 0x5000 from the client reaches the peer only with the option.
    std::array<std::uint8_t, 32> cbuf{};
    const std::uint8_t payload[] = {7, 7, 7};
    const auto n = *write_channel_data(cbuf, 0x5000, payload, false);
    const auto out = h.feed(kClient, kListen, ByteView(cbuf.data(), n));
    EXPECT_EQ(out.size(), wide ? 1u : 0u);
    EXPECT_EQ(h.server.counters().relayed_to_peer, wide ? 1u : 0u);
    EXPECT_EQ(h.server.counters().dropped_malformed, wide ? 0u : 1u);
    if (wide) {
      EXPECT_EQ(h.last_to, kPeer);
      // And the peer's answer comes back on 0x5000.
      const auto back = h.feed(kPeer, *Endpoint::parse("198.51.100.50:50000"), payload);
      ASSERT_EQ(back.size(), 1u);
      const auto cd = parse_channel_data(back[0], ChannelRange::rfc5766);
      ASSERT_TRUE(cd);
      EXPECT_EQ(cd->channel, 0x5000);
    }
  }
}

}  // namespace
}  // namespace natsim::traversal::turn
