// TurnClient against a scripted TURN server built with stun::Writer: the long-term
// credential handshake (MD5 and SHA-256), 438 retries, refresh cadence over hours of
// virtual time, data both ways, every final error code, retransmission and garbage.
#include "natsim/traversal/turn_client.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_wire.hpp"

namespace natsim::traversal::turn {
namespace {

using stun::Class;
using stun::IntegrityResult;
using stun::Message;
using stun::PasswordAlgorithm;
using stun::Writer;
namespace attr = stun::attr;
namespace method = stun::method;

static_assert(ProtocolMachine<TurnClient>);

using Bytes = std::vector<std::uint8_t>;

const Endpoint kClient{IpAddress::v4(10, 0, 0, 2), 5000};
const Endpoint kServer{IpAddress::v4(192, 0, 2, 1), 3478};
const Endpoint kRelayed{IpAddress::v4(192, 0, 2, 1), 49152};
const Endpoint kMapped{IpAddress::v4(203, 0, 113, 7), 40001};
const Endpoint kPeerA{IpAddress::v4(198, 51, 100, 10), 7000};
const Endpoint kPeerB{IpAddress::v4(198, 51, 100, 20), 8000};
const std::string kUser = "alice";
const std::string kPassword = "secret";
const std::string kRealm = "example.org";

ByteView text_bytes(std::string_view s) {
  return stun::as_bytes(s);
}

Bytes build(std::uint16_t m, Class cls, const stun::TransactionId& tid,
            const std::function<void(Writer&)>& fill) {
  Bytes buf(4096);
  Writer w(buf, m, cls, tid);
  fill(w);
  const auto done = w.finish();
  EXPECT_TRUE(done.has_value());
  return done ? Bytes(done->begin(), done->end()) : Bytes{};
}

const Bytes kBothAlgorithms = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};  // SHA-256, MD5
const Bytes kMd5First = {0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00};        // MD5, SHA-256
const Bytes kMd5Only = {0x00, 0x01, 0x00, 0x00};
const std::uint64_t kToken = 0x0102030405060708;

// A TURN server in miniature: challenges unauthenticated requests, checks credentials,
// grants everything (unless told to fail a method) and records what it saw and when.
struct FakeServer {
  std::string nonce = "nonce-0";
  Bytes password_algorithms;  // empty: none offered (plain MD5)
  std::uint32_t max_lifetime = 3600;
  std::map<std::uint16_t, std::uint16_t> fail;  // method -> error code
  int stale = 0;        // answer this many authenticated requests with 438 and a new nonce
  bool sign = true;     // put MESSAGE-INTEGRITY on answers to authenticated requests
  bool silent = false;  // answer nothing
  std::optional<std::uint64_t> reserved;  // RESERVATION-TOKEN seen in the last Allocate

  // What happened.
  int requests = 0;
  int challenges = 0;
  int bad_credentials = 0;
  int lapses = 0;  // a refresh that came after the thing it refreshes had expired
  std::map<std::uint16_t, std::vector<TimePoint>> seen;  // method -> request times
  std::vector<Bytes> indications;
  bool allocated = false;
  TimePoint allocation_expires{};
  std::map<IpAddress, TimePoint> permission_expires;
  std::map<Endpoint, TimePoint> channel_expires;
  std::map<IpAddress, std::vector<TimePoint>> permission_times;
  std::map<Endpoint, std::vector<TimePoint>> channel_times;

  // RFC 8489 §9.2.5: the client takes the first algorithm on the list.
  [[nodiscard]] PasswordAlgorithm algorithm() const {
    return password_algorithms.size() >= 2 && password_algorithms[1] == 0x02
               ? PasswordAlgorithm::sha256
               : PasswordAlgorithm::md5;
  }
  [[nodiscard]] Bytes key() const {
    return stun::long_term_key(kUser, kRealm, kPassword, algorithm());
  }

  Bytes answer(const Message& req, Class cls, const std::function<void(Writer&)>& fill,
               bool authenticated) {
    return build(req.method(), cls, req.transaction_id(), [&](Writer& w) {
      fill(w);
      if (authenticated && sign) w.add_message_integrity(key());
      w.add_fingerprint();
    });
  }
  Bytes challenge(const Message& req, std::uint16_t code) {
    return answer(
        req, Class::error,
        [&](Writer& w) {
          w.add_error(code);
          w.add_text(attr::realm, kRealm);
          w.add_text(attr::nonce, nonce);
          if (!password_algorithms.empty()) w.add(attr::password_algorithms, password_algorithms);
        },
        false);
  }

  std::optional<Bytes> handle(TimePoint now, ByteView bytes) {
    auto parsed = Message::parse(bytes);
    if (!parsed) return std::nullopt;
    const Message& m = *parsed;
    if (m.cls() == Class::indication) {
      indications.emplace_back(bytes.begin(), bytes.end());
      return std::nullopt;
    }
    if (silent || m.cls() != Class::request) return std::nullopt;
    ++requests;
    if (!m.has(attr::message_integrity) && !m.has(attr::message_integrity_sha256)) {
      ++challenges;
      return challenge(m, stun::error::unauthenticated);
    }
    if (m.text(attr::username) != kUser || m.text(attr::realm) != kRealm ||
        m.check_integrity(key()) != IntegrityResult::ok) {
      ++bad_credentials;
      return challenge(m, stun::error::unauthenticated);
    }
    if (m.text(attr::nonce) != nonce || stale > 0) {
      if (stale > 0) --stale;
      nonce += "+";
      return challenge(m, stun::error::stale_nonce);
    }
    seen[m.method()].push_back(now);
    if (auto f = fail.find(m.method()); f != fail.end()) {
      const std::uint16_t code = f->second;
      return answer(
          m, Class::error, [&](Writer& w) { w.add_error(code); }, true);
    }
    switch (m.method()) {
      case method::allocate: {
        const std::uint32_t lifetime = std::min(m.u32(attr::lifetime).value_or(600), max_lifetime);
        allocated = true;
        allocation_expires = now + seconds(lifetime);
        const auto even = m.find(attr::even_port);
        const bool reserve = even && !even->value.empty() && (even->value[0] & 0x80) != 0;
        reserved.reset();
        if (auto token = m.find(attr::reservation_token); token && token->value.size() == 8) {
          reserved = 0;
          for (const std::uint8_t byte : token->value)
            *reserved = (*reserved << 8) | byte;
        }
        return answer(
            m, Class::success,
            [&](Writer& w) {
              w.add_xor_address(attr::xor_relayed_address, kRelayed);
              w.add_xor_address(attr::xor_mapped_address, kMapped);
              w.add_u32(attr::lifetime, lifetime);
              if (reserve) w.add_u64(attr::reservation_token, kToken);
            },
            true);
      }
      case method::refresh: {
        if (!allocated || now >= allocation_expires) ++lapses;
        const std::uint32_t lifetime = std::min(m.u32(attr::lifetime).value_or(600), max_lifetime);
        allocation_expires = now + seconds(lifetime);
        if (lifetime == 0) allocated = false;
        return answer(
            m, Class::success, [&](Writer& w) { w.add_u32(attr::lifetime, lifetime); }, true);
      }
      case method::create_permission: {
        const auto peer = m.xor_address(attr::xor_peer_address);
        if (!peer) return std::nullopt;
        note_permission(now, peer->address);
        return answer(
            m, Class::success, [](Writer&) {}, true);
      }
      case method::channel_bind: {
        const auto peer = m.xor_address(attr::xor_peer_address);
        if (!peer || !m.u32(attr::channel_number)) return std::nullopt;
        auto it = channel_expires.find(*peer);
        if (it != channel_expires.end() && now >= it->second) ++lapses;
        channel_expires[*peer] = now + minutes(10);
        channel_times[*peer].push_back(now);
        note_permission(now, peer->address);
        return answer(
            m, Class::success, [](Writer&) {}, true);
      }
      default:
        return std::nullopt;
    }
  }
  void note_permission(TimePoint now, const IpAddress& peer) {
    auto it = permission_expires.find(peer);
    if (it != permission_expires.end() && now >= it->second) ++lapses;
    permission_expires[peer] = now + minutes(5);
    permission_times[peer].push_back(now);
  }
};

ClientConfig config() {
  ClientConfig c;
  c.local = kClient;
  c.server = kServer;
  c.username = kUser;
  c.password = kPassword;
  return c;
}

// Drives a TurnClient in virtual time, through a FakeServer or by hand.
struct Harness {
  explicit Harness(ClientConfig c = config(), std::uint64_t seed = 1)
      : client(seed, std::move(c)) {}

  TurnClient client;
  FakeServer server;
  TimePoint now = kTimeZero;
  std::vector<ClientEvent> events;
  std::vector<Bytes> sent;  // every datagram the client sent, in order
  Bytes buffer = Bytes(65536);

  // The client's next datagram, without the server seeing it.
  std::optional<Bytes> take() {
    auto t = client.poll_transmit(buffer);
    if (!t) return std::nullopt;
    EXPECT_EQ(t->local, kClient);
    EXPECT_EQ(t->remote, kServer);
    Bytes b(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
    sent.push_back(b);
    return b;
  }
  void deliver(const Bytes& bytes, const Endpoint& from = kServer) {
    client.handle_datagram(now, kClient, from, bytes);
  }
  void drain_events() {
    while (auto e = client.poll_event())
      events.push_back(std::move(*e));
  }
  // Lets the fake server answer everything the client has to send.
  void exchange() {
    for (int guard = 0; guard < 10000; ++guard) {
      auto b = take();
      if (!b) break;
      if (auto reply = server.handle(now, *b)) deliver(*reply);
    }
    drain_events();
  }
  // Runs in virtual time up to `end`, calling handle_timeout at poll_timeout().
  void run_until(TimePoint end) {
    for (;;) {
      exchange();
      const auto t = client.poll_timeout();
      if (!t || *t > end) break;
      now = std::max(now, *t);
      client.handle_timeout(now);
    }
    now = std::max(now, end);
  }
  void allocate() {
    client.allocate(now);
    exchange();
  }

  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const ClientEvent& e : events) {
      if (const E* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
  template <class E>
  std::optional<E> last() const {
    auto v = all<E>();
    if (v.empty()) return std::nullopt;
    return v.back();
  }
};

// Message is a view: parse only named buffers (a temporary would dangle).
Message parse(Bytes&&) = delete;
Message parse(const Bytes& b) {
  auto m = Message::parse(b);
  EXPECT_TRUE(m.has_value());
  return *m;
}

// --- Long-term credentials

TEST(TurnClient, FirstAllocateIsUnauthenticatedThenRetriedWithMd5Credentials) {
  Harness h;
  h.client.allocate(h.now);
  EXPECT_EQ(h.client.state(), TurnClient::State::allocating);

  const Bytes first = *h.take();
  const Message a = parse(first);
  EXPECT_EQ(a.method(), method::allocate);
  EXPECT_EQ(a.cls(), Class::request);
  EXPECT_EQ(a.u32(attr::requested_transport), std::uint32_t{kTransportUdp} << 24);
  EXPECT_EQ(a.u32(attr::lifetime), 600u);
  EXPECT_EQ(a.text(attr::software), "natsim");
  EXPECT_FALSE(a.has(attr::username));
  EXPECT_FALSE(a.has(attr::message_integrity));
  EXPECT_TRUE(a.fingerprint_ok());

  h.deliver(*h.server.handle(h.now, first));  // 401 with REALM and NONCE
  const Bytes second = *h.take();
  const Message b = parse(second);
  EXPECT_EQ(b.method(), method::allocate);
  EXPECT_NE(b.transaction_id(), a.transaction_id());  // a new transaction
  EXPECT_EQ(b.text(attr::username), kUser);
  EXPECT_EQ(b.text(attr::realm), kRealm);
  EXPECT_EQ(b.text(attr::nonce), "nonce-0");
  EXPECT_EQ(b.u32(attr::requested_transport), std::uint32_t{kTransportUdp} << 24);
  EXPECT_TRUE(b.has(attr::message_integrity));
  EXPECT_FALSE(b.has(attr::message_integrity_sha256));
  EXPECT_FALSE(b.has(attr::password_algorithm));
  EXPECT_FALSE(b.has(attr::password_algorithms));
  const auto md5_key = stun::long_term_key(kUser, kRealm, kPassword, PasswordAlgorithm::md5);
  EXPECT_EQ(md5_key.size(), 16u);
  EXPECT_EQ(b.check_integrity(md5_key), IntegrityResult::ok);
  EXPECT_EQ(b.check_integrity(text_bytes(kPassword)), IntegrityResult::mismatch);
  EXPECT_TRUE(b.fingerprint_ok());

  h.deliver(*h.server.handle(h.now, second));
  h.drain_events();
  ASSERT_EQ(h.events.size(), 1u);
  const auto allocated = h.last<Allocated>();
  ASSERT_TRUE(allocated);
  EXPECT_EQ(allocated->relayed, kRelayed);
  EXPECT_EQ(allocated->mapped, kMapped);
  EXPECT_EQ(allocated->lifetime, seconds(600));
  EXPECT_TRUE(h.client.allocated());
  EXPECT_EQ(h.client.relayed(), kRelayed);
  EXPECT_EQ(h.client.mapped(), kMapped);
  EXPECT_EQ(h.client.realm(), kRealm);
  EXPECT_EQ(h.client.password_algorithm(), PasswordAlgorithm::md5);
  EXPECT_EQ(h.client.counters().requests, 2u);
  EXPECT_EQ(h.client.counters().unauthenticated, 1u);
  EXPECT_EQ(h.client.counters().responses, 2u);
  EXPECT_EQ(h.client.in_flight(), 0u);
  EXPECT_FALSE(h.take());
}

TEST(TurnClient, Sha256ChosenWhenOfferedAndAlgorithmsEchoed) {
  Harness h;
  h.server.password_algorithms = kBothAlgorithms;
  h.client.allocate(h.now);
  h.deliver(*h.server.handle(h.now, *h.take()));
  const Bytes req = *h.take();
  const Message m = parse(req);
  // RFC 8489 §9.2.4: PASSWORD-ALGORITHMS echoed byte for byte, PASSWORD-ALGORITHM = SHA-256.
  const auto echoed = m.find(attr::password_algorithms);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(Bytes(echoed->value.begin(), echoed->value.end()), kBothAlgorithms);
  const auto chosen = m.find(attr::password_algorithm);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(Bytes(chosen->value.begin(), chosen->value.end()), (Bytes{0x00, 0x02, 0x00, 0x00}));
  EXPECT_TRUE(m.has(attr::message_integrity_sha256));
  EXPECT_FALSE(m.has(attr::message_integrity));
  const auto sha_key = stun::long_term_key(kUser, kRealm, kPassword, PasswordAlgorithm::sha256);
  EXPECT_EQ(sha_key.size(), 32u);
  EXPECT_EQ(m.check_integrity(sha_key), IntegrityResult::ok);
  EXPECT_EQ(m.check_integrity(stun::long_term_key(kUser, kRealm, kPassword)),
            IntegrityResult::mismatch);
  h.deliver(*h.server.handle(h.now, req));
  h.exchange();
  EXPECT_TRUE(h.client.allocated());
  EXPECT_EQ(h.client.password_algorithm(), PasswordAlgorithm::sha256);

  // Later requests use the same algorithm and key.
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes preq = *h.take();
  const Message p = parse(preq);
  EXPECT_EQ(p.method(), method::create_permission);
  EXPECT_TRUE(p.has(attr::password_algorithm));
  EXPECT_EQ(p.check_integrity(sha_key), IntegrityResult::ok);
}

TEST(TurnClient, Md5ChosenWhenOnlyMd5OfferedStillWithMessageIntegritySha256) {
  Harness h;
  h.server.password_algorithms = kMd5Only;
  h.client.allocate(h.now);
  h.deliver(*h.server.handle(h.now, *h.take()));
  const Bytes req = *h.take();
  const Message m = parse(req);
  const auto chosen = m.find(attr::password_algorithm);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(Bytes(chosen->value.begin(), chosen->value.end()), (Bytes{0x00, 0x01, 0x00, 0x00}));
  // RFC 8489 §9.2.5: a response with PASSWORD-ALGORITHMS means MESSAGE-INTEGRITY-SHA256
  // only from then on, here keyed with the MD5 long-term key.
  EXPECT_FALSE(m.has(attr::message_integrity));
  EXPECT_TRUE(m.has(attr::message_integrity_sha256));
  EXPECT_EQ(m.check_integrity(stun::long_term_key(kUser, kRealm, kPassword)), IntegrityResult::ok);
  EXPECT_TRUE(h.client.integrity_sha256());
  h.deliver(*h.server.handle(h.now, req));
  h.drain_events();
  EXPECT_TRUE(h.last<Allocated>());
}

TEST(TurnClient, FirstSupportedAlgorithmOfTheListIsChosen) {
  // RFC 8489 §9.2.5: the first algorithm on the list that the client supports, not the
  // strongest one (the server put the list in its order; §9.2.4 checks the echo).
  Harness h;
  h.server.password_algorithms = kMd5First;
  h.client.allocate(h.now);
  h.deliver(*h.server.handle(h.now, *h.take()));
  const Bytes req = *h.take();
  const Message m = parse(req);
  const auto chosen = m.find(attr::password_algorithm);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(Bytes(chosen->value.begin(), chosen->value.end()), (Bytes{0x00, 0x01, 0x00, 0x00}));
  const auto echoed = m.find(attr::password_algorithms);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(Bytes(echoed->value.begin(), echoed->value.end()), kMd5First);
  EXPECT_EQ(h.client.password_algorithm(), PasswordAlgorithm::md5);
  // An unknown algorithm (0x0003) before a known one is skipped.
  Harness u;
  u.server.password_algorithms = {0x00, 0x03, 0x00, 0x04, 9, 9, 9, 9, 0x00, 0x02, 0x00, 0x00};
  u.client.allocate(u.now);
  u.deliver(*u.server.handle(u.now, *u.take()));
  EXPECT_EQ(u.client.password_algorithm(), PasswordAlgorithm::sha256);
}

TEST(TurnClient, WrongPasswordFailsWith401AfterOneRetry) {
  ClientConfig c = config();
  c.password = "wrong";
  Harness h(c);
  h.allocate();
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::allocate);
  EXPECT_EQ(failed->code, 401);
  EXPECT_EQ(h.client.state(), TurnClient::State::failed);
  EXPECT_EQ(h.server.requests, 2);  // the challenge, then one authenticated try
  EXPECT_EQ(h.client.counters().unauthenticated, 2u);
  EXPECT_FALSE(h.client.poll_timeout());
}

TEST(TurnClient, ResponseWithBadIntegrityIsDiscarded) {
  Harness h;
  h.client.allocate(h.now);
  h.deliver(*h.server.handle(h.now, *h.take()));
  const Bytes req = *h.take();
  const Message m = parse(req);
  // A success "signed" with another key: dropped as if never received.
  const Bytes forged = build(method::allocate, Class::success, m.transaction_id(), [](Writer& w) {
    w.add_xor_address(attr::xor_relayed_address, kPeerB);
    w.add_xor_address(attr::xor_mapped_address, kMapped);
    w.add_u32(attr::lifetime, 600);
    w.add_message_integrity(stun::long_term_key(kUser, kRealm, "not-it"));
  });
  h.deliver(forged);
  h.drain_events();
  EXPECT_TRUE(h.events.empty());
  EXPECT_EQ(h.client.counters().bad_integrity, 1u);
  EXPECT_EQ(h.client.state(), TurnClient::State::allocating);
  // The transaction goes on: the retransmission is answered properly.
  h.now += milliseconds(500);
  h.client.handle_timeout(h.now);
  const Bytes again = *h.take();
  EXPECT_EQ(again, req);
  h.deliver(*h.server.handle(h.now, again));
  h.drain_events();
  ASSERT_TRUE(h.last<Allocated>());
  EXPECT_EQ(h.last<Allocated>()->relayed, kRelayed);
  EXPECT_EQ(h.client.counters().retransmissions, 1u);
}

TEST(TurnClient, StaleNonceIsRetriedOnceWithTheNewNonce) {
  Harness h;
  h.allocate();
  ASSERT_TRUE(h.client.allocated());
  h.server.stale = 1;
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes first = *h.take();
  h.deliver(*h.server.handle(h.now, first));  // 438, NONCE "nonce-0+"
  const Bytes second = *h.take();
  const Message a = parse(first);
  const Message b = parse(second);
  EXPECT_EQ(a.text(attr::nonce), "nonce-0");
  EXPECT_EQ(b.text(attr::nonce), "nonce-0+");
  EXPECT_NE(a.transaction_id(), b.transaction_id());
  EXPECT_EQ(b.method(), method::create_permission);
  EXPECT_EQ(b.xor_address(attr::xor_peer_address)->address, kPeerA.address);
  h.deliver(*h.server.handle(h.now, second));
  h.drain_events();
  ASSERT_TRUE(h.last<PermissionCreated>());
  EXPECT_EQ(h.last<PermissionCreated>()->peer, kPeerA.address);
  EXPECT_EQ(h.client.counters().stale_nonce, 1u);
  EXPECT_EQ(h.client.nonce(), "nonce-0+");
  EXPECT_TRUE(h.client.has_permission(kPeerA.address));

  // Every later request carries the new nonce.
  h.client.bind_channel(h.now, kPeerB);
  const Bytes bind = *h.take();
  EXPECT_EQ(parse(bind).text(attr::nonce), "nonce-0+");
}

TEST(TurnClient, SecondStaleNonceInARowFails) {
  Harness h;
  h.allocate();
  h.server.stale = 2;
  h.client.create_permission(h.now, kPeerA.address);
  h.exchange();
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::create_permission);
  EXPECT_EQ(failed->code, 438);
  EXPECT_EQ(h.client.counters().stale_nonce, 2u);
  EXPECT_FALSE(h.client.has_permission(kPeerA.address));
  EXPECT_TRUE(h.client.allocated());  // the allocation itself is unaffected
}

TEST(TurnClient, StaleNonceOnAllocateAndRefreshIsRetried) {
  Harness h;
  h.server.stale = 1;
  h.allocate();
  EXPECT_TRUE(h.client.allocated());
  h.server.stale = 1;
  h.run_until(h.now + minutes(10));
  EXPECT_TRUE(h.client.allocated());
  EXPECT_EQ(h.server.seen[method::refresh].size(), 1u);
  EXPECT_EQ(h.client.counters().stale_nonce, 2u);
  EXPECT_EQ(h.server.lapses, 0);
}

// --- Errors that end a transaction (RFC 8656 §7.4, §19)

TEST(TurnClient, AllocateErrorsProduceFailedWithoutRetry) {
  for (const std::uint16_t code : {403, 437, 441, 442, 486, 508, 400, 420, 500}) {
    SCOPED_TRACE(code);
    Harness h;
    h.server.fail[method::allocate] = code;
    h.allocate();
    ASSERT_EQ(h.events.size(), 1u);
    const auto failed = h.last<Failed>();
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->method, method::allocate);
    EXPECT_EQ(failed->code, code);
    EXPECT_FALSE(failed->reason.empty());
    EXPECT_EQ(h.client.state(), TurnClient::State::failed);
    EXPECT_EQ(h.server.requests, 2);  // the challenge and the authenticated request only
    EXPECT_FALSE(h.client.poll_timeout());
    EXPECT_FALSE(h.client.relayed());
    EXPECT_EQ(h.client.counters().error_responses, 1u);
    // allocate() may be called again.
    h.server.fail.clear();
    h.allocate();
    EXPECT_TRUE(h.client.allocated());
  }
}

TEST(TurnClient, PermissionAndChannelErrorsProduceFailed) {
  Harness h;
  h.allocate();
  h.server.fail[method::create_permission] = 403;
  h.server.fail[method::channel_bind] = 508;
  h.client.create_permission(h.now, kPeerA.address);
  h.client.bind_channel(h.now, kPeerB);
  h.exchange();
  const auto failures = h.all<Failed>();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].method, method::create_permission);
  EXPECT_EQ(failures[0].code, 403);
  EXPECT_EQ(failures[1].method, method::channel_bind);
  EXPECT_EQ(failures[1].code, 508);
  EXPECT_FALSE(h.client.has_permission(kPeerA.address));
  EXPECT_FALSE(h.client.channel(kPeerB));
  EXPECT_TRUE(h.client.allocated());
}

TEST(TurnClient, RefreshAllocationMismatchLosesTheAllocation) {
  Harness h;
  h.allocate();
  h.server.fail[method::refresh] = 437;
  h.run_until(h.now + minutes(10));
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::refresh);
  EXPECT_EQ(failed->code, 437);
  EXPECT_EQ(h.client.state(), TurnClient::State::failed);
  EXPECT_FALSE(h.client.relayed());
}

TEST(TurnClient, CommandsWithoutAllocationFailLocally) {
  Harness h;
  h.client.create_permission(h.now, kPeerA.address);
  h.client.bind_channel(h.now, kPeerB);
  h.client.send(h.now, kPeerA, text_bytes("x"));
  h.drain_events();
  ASSERT_EQ(h.all<Failed>().size(), 2u);
  EXPECT_EQ(h.all<Failed>()[0].code, 0);
  EXPECT_EQ(h.client.counters().send_dropped, 1u);
  EXPECT_FALSE(h.take());
}

// --- Retransmission

TEST(TurnClient, RetransmitsPerPolicyThenTimesOut) {
  Harness h;
  h.server.silent = true;
  h.client.allocate(h.now);
  std::vector<TimePoint> times;
  for (;;) {
    while (h.take())
      times.push_back(h.now);
    const auto t = h.client.poll_timeout();
    if (!t) break;
    h.now = *t;
    h.client.handle_timeout(h.now);
  }
  h.drain_events();
  // RFC 8489 §6.2.1: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, and a timeout at 39.5 s.
  const std::vector<TimePoint> expected = {at(milliseconds(0)),    at(milliseconds(500)),
                                           at(milliseconds(1500)), at(milliseconds(3500)),
                                           at(milliseconds(7500)), at(milliseconds(15500)),
                                           at(milliseconds(31500))};
  EXPECT_EQ(times, expected);
  EXPECT_EQ(h.now, at(milliseconds(39500)));
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::allocate);
  EXPECT_EQ(failed->code, 0);
  EXPECT_EQ(h.client.counters().retransmissions, 6u);
  EXPECT_EQ(h.client.counters().timeouts, 1u);
  // Every retransmission is the same datagram.
  for (const Bytes& b : h.sent)
    EXPECT_EQ(b, h.sent.front());
}

TEST(TurnClient, PermissionTimeoutKeepsTheAllocation) {
  ClientConfig c = config();
  c.retransmit = stun::RetransmitPolicy{milliseconds(100), 3, 4};
  Harness h(c);
  h.allocate();
  h.server.silent = true;
  h.client.create_permission(h.now, kPeerA.address);
  h.run_until(h.now + seconds(5));
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::create_permission);
  EXPECT_EQ(failed->code, 0);
  EXPECT_TRUE(h.client.allocated());
  EXPECT_EQ(h.client.counters().retransmissions, 2u);
}

// --- Refreshes over hours of virtual time

TEST(TurnClient, AllocationRefreshedBeforeExpiryForHours) {
  Harness h;
  h.allocate();
  ASSERT_TRUE(h.client.allocated());
  h.run_until(at(hours(6)));
  EXPECT_TRUE(h.client.allocated());
  EXPECT_EQ(h.server.lapses, 0);
  const auto& refreshes = h.server.seen[method::refresh];
  // Lifetime 600 s: refresh 60 s before expiry, every 540 s.
  EXPECT_EQ(refreshes.size(), static_cast<std::size_t>(hours(6) / seconds(540)));
  TimePoint previous = kTimeZero;
  for (const TimePoint t : refreshes) {
    EXPECT_EQ(t - previous, seconds(540));
    previous = t;
  }
  EXPECT_GT(h.client.expires(), h.now);
  EXPECT_EQ(h.client.counters().allocation_refreshes, refreshes.size());
  EXPECT_EQ(h.client.counters().retransmissions, 0u);
  EXPECT_TRUE(h.all<Failed>().empty());
}

TEST(TurnClient, ShortLifetimeRefreshedAtHalfAndLongLifetimeCapped) {
  {
    ClientConfig c = config();
    c.lifetime = seconds(60);
    Harness h(c);
    h.allocate();
    EXPECT_EQ(h.last<Allocated>()->lifetime, seconds(60));
    h.run_until(at(minutes(10)));
    EXPECT_EQ(h.server.seen[method::refresh].size(), 20u);  // every 30 s
    EXPECT_EQ(h.server.lapses, 0);
  }
  {
    ClientConfig c = config();
    c.lifetime = hours(2);
    Harness h(c);
    h.server.max_lifetime = 3600;  // the server grants less than asked
    h.allocate();
    EXPECT_EQ(h.last<Allocated>()->lifetime, seconds(3600));
    h.run_until(at(hours(3)));
    EXPECT_EQ(h.server.seen[method::refresh].size(), 3u);  // at 59, 118, 177 minutes
    EXPECT_EQ(h.server.lapses, 0);
  }
}

TEST(TurnClient, PermissionsRefreshedEvery4MinutesChannelsEvery9) {
  Harness h;
  h.allocate();
  h.client.create_permission(h.now, kPeerA.address);
  h.client.bind_channel(h.now, kPeerB);
  h.exchange();
  ASSERT_TRUE(h.last<PermissionCreated>());
  ASSERT_TRUE(h.last<ChannelBound>());
  EXPECT_EQ(h.last<ChannelBound>()->channel, 0x4000);
  EXPECT_EQ(h.last<ChannelBound>()->peer, kPeerB);
  h.run_until(at(hours(2)));
  EXPECT_EQ(h.server.lapses, 0);
  EXPECT_TRUE(h.client.has_permission(kPeerA.address));
  EXPECT_TRUE(h.client.has_permission(kPeerB.address));
  EXPECT_EQ(h.client.channel(kPeerB), 0x4000);

  // Permission for A: at 0, then every 240 s.
  const auto& pa = h.server.permission_times[kPeerA.address];
  ASSERT_EQ(pa.size(), 1u + static_cast<std::size_t>(hours(2) / seconds(240)));
  for (std::size_t i = 1; i < pa.size(); ++i)
    EXPECT_EQ(pa[i] - pa[i - 1], seconds(240));
  // Channel to B: at 0, then every 540 s.
  const auto& cb = h.server.channel_times[kPeerB];
  ASSERT_EQ(cb.size(), 1u + static_cast<std::size_t>(hours(2) / seconds(540)));
  for (std::size_t i = 1; i < cb.size(); ++i)
    EXPECT_EQ(cb[i] - cb[i - 1], seconds(540));
  // B's permission (installed by the channel) never goes more than 240 s unrefreshed.
  const auto& pb = h.server.permission_times[kPeerB.address];
  for (std::size_t i = 1; i < pb.size(); ++i)
    EXPECT_LE(pb[i] - pb[i - 1], seconds(240));
  // Refreshes are silent: still one PermissionCreated and one ChannelBound.
  EXPECT_EQ(h.all<PermissionCreated>().size(), 1u);
  EXPECT_EQ(h.all<ChannelBound>().size(), 1u);
  EXPECT_GT(h.client.counters().permission_refreshes, 0u);
  EXPECT_EQ(h.client.counters().channel_refreshes, cb.size() - 1);
}

// --- Data

TEST(TurnClient, SendUsesSendIndicationUntilAChannelIsBound) {
  Harness h;
  h.allocate();
  h.client.create_permission(h.now, kPeerA.address);
  h.exchange();
  const Bytes payload = {'h', 'e', 'l', 'l', 'o'};

  h.client.send(h.now, kPeerA, payload);
  const Bytes ind_bytes = *h.take();
  const Message ind = parse(ind_bytes);
  EXPECT_EQ(ind.method(), method::send);
  EXPECT_EQ(ind.cls(), Class::indication);
  EXPECT_EQ(ind.xor_address(attr::xor_peer_address), kPeerA);
  const auto data = ind.find(attr::data);
  ASSERT_TRUE(data);
  EXPECT_EQ(Bytes(data->value.begin(), data->value.end()), payload);
  EXPECT_FALSE(ind.has(attr::message_integrity));  // indications are not authenticated

  // While the ChannelBind is in flight: still a Send indication (RFC 8656 §12.1).
  h.client.bind_channel(h.now, kPeerA);
  const Bytes bind = *h.take();
  h.client.send(h.now, kPeerA, payload);
  const Bytes during_bind = *h.take();
  EXPECT_EQ(parse(during_bind).method(), method::send);
  h.deliver(*h.server.handle(h.now, bind));
  h.drain_events();
  ASSERT_TRUE(h.last<ChannelBound>());
  const std::uint16_t channel = h.last<ChannelBound>()->channel;
  EXPECT_EQ(channel, 0x4000);

  h.client.send(h.now, kPeerA, payload);
  const Bytes cd = *h.take();
  ASSERT_EQ(cd.size(), 4u + payload.size());  // no padding over UDP
  EXPECT_EQ(cd[0], 0x40);
  EXPECT_EQ(cd[1], 0x00);
  EXPECT_EQ(cd[2], 0x00);
  EXPECT_EQ(cd[3], payload.size());
  EXPECT_EQ(Bytes(cd.begin() + 4, cd.end()), payload);

  // Another peer without a channel still gets Send indications.
  h.client.send(h.now, kPeerB, payload);
  const Bytes to_b = *h.take();
  EXPECT_EQ(parse(to_b).xor_address(attr::xor_peer_address), kPeerB);

  const auto& c = h.client.counters();
  EXPECT_EQ(c.send_indications, 3u);
  EXPECT_EQ(c.channel_data_out, 1u);
  EXPECT_EQ(c.bytes_out, 4 * payload.size());
}

TEST(TurnClient, SecondChannelGetsTheNextNumber) {
  Harness h;
  h.allocate();
  h.client.bind_channel(h.now, kPeerA);
  h.client.bind_channel(h.now, kPeerB);
  h.client.bind_channel(h.now, kPeerA);  // pending: no second request
  h.exchange();
  const auto bound = h.all<ChannelBound>();
  ASSERT_EQ(bound.size(), 2u);
  EXPECT_EQ(h.client.channel(kPeerA), 0x4000);
  EXPECT_EQ(h.client.channel(kPeerB), 0x4001);
  EXPECT_EQ(h.server.seen[method::channel_bind].size(), 2u);
}

TEST(TurnClient, DataIndicationsAndChannelDataBecomePeerData) {
  Harness h;
  h.allocate();
  h.client.create_permission(h.now, kPeerA.address);
  h.client.bind_channel(h.now, kPeerB);
  h.exchange();
  h.events.clear();

  const Bytes payload = {1, 2, 3, 4, 5, 6, 7};
  const stun::TransactionId tid{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  h.deliver(build(method::data, Class::indication, tid, [&](Writer& w) {
    w.add_xor_address(attr::xor_peer_address, kPeerA);
    w.add(attr::data, payload);
  }));
  Bytes cd(4 + payload.size());
  ASSERT_TRUE(write_channel_data(cd, 0x4000, payload, false));
  h.deliver(cd);
  Bytes padded(4 + 8);
  ASSERT_TRUE(write_channel_data(padded, 0x4000, payload, true));  // padding tolerated
  h.deliver(padded);
  h.drain_events();

  const auto data = h.all<PeerData>();
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[0].peer, kPeerA);
  EXPECT_EQ(data[0].data, payload);
  EXPECT_FALSE(data[0].via_channel);
  EXPECT_EQ(data[1].peer, kPeerB);
  EXPECT_EQ(data[1].data, payload);
  EXPECT_TRUE(data[1].via_channel);
  EXPECT_EQ(data[2].data, payload);
  EXPECT_EQ(h.client.counters().data_indications, 1u);
  EXPECT_EQ(h.client.counters().channel_data_in, 2u);
  EXPECT_EQ(h.client.counters().bytes_in, 3 * payload.size());

  // Dropped: a Data indication from a peer without permission, ChannelData on an unbound
  // channel, anything not from the server, a Data indication without DATA.
  const Endpoint stranger{IpAddress::v4(198, 51, 100, 99), 1};
  h.deliver(build(method::data, Class::indication, tid, [&](Writer& w) {
    w.add_xor_address(attr::xor_peer_address, stranger);
    w.add(attr::data, payload);
  }));
  Bytes other(4 + payload.size());
  ASSERT_TRUE(write_channel_data(other, 0x4abc, payload, false));
  h.deliver(other);
  h.deliver(cd, kPeerB);
  h.deliver(build(method::data, Class::indication, tid,
                  [&](Writer& w) { w.add_xor_address(attr::xor_peer_address, kPeerA); }));
  h.drain_events();
  EXPECT_EQ(h.all<PeerData>().size(), 3u);
  EXPECT_EQ(h.client.counters().no_permission, 1u);
  EXPECT_EQ(h.client.counters().unknown_channel, 1u);
  EXPECT_EQ(h.client.counters().foreign, 1u);
  EXPECT_EQ(h.client.counters().malformed, 1u);
}

// --- Release

TEST(TurnClient, ReleaseSendsRefreshWithLifetimeZero) {
  Harness h;
  h.allocate();
  h.client.bind_channel(h.now, kPeerA);
  h.exchange();
  h.client.release(h.now);
  EXPECT_EQ(h.client.state(), TurnClient::State::releasing);
  const Bytes req = *h.take();
  const Message m = parse(req);
  EXPECT_EQ(m.method(), method::refresh);
  EXPECT_EQ(m.u32(attr::lifetime), 0u);
  EXPECT_EQ(m.check_integrity(stun::long_term_key(kUser, kRealm, kPassword)), IntegrityResult::ok);
  h.deliver(*h.server.handle(h.now, req));
  h.drain_events();
  EXPECT_TRUE(h.last<Released>());
  EXPECT_EQ(h.client.state(), TurnClient::State::idle);
  EXPECT_FALSE(h.client.relayed());
  EXPECT_FALSE(h.client.channel(kPeerA));
  EXPECT_FALSE(h.client.poll_timeout());  // no more refreshes
  h.client.send(h.now, kPeerA, text_bytes("late"));
  EXPECT_FALSE(h.take());
}

TEST(TurnClient, ReleaseAnsweredWith437CountsAsReleased) {
  Harness h;
  h.allocate();
  h.server.fail[method::refresh] = 437;
  h.client.release(h.now);
  h.exchange();
  EXPECT_TRUE(h.last<Released>());
  EXPECT_FALSE(h.last<Failed>());
  EXPECT_EQ(h.client.state(), TurnClient::State::idle);
}

// --- Robustness

TEST(TurnClient, MalformedInputIsCountedAndDropped) {
  Harness h;
  h.client.allocate(h.now);
  h.deliver(*h.server.handle(h.now, *h.take()));
  const Bytes req = *h.take();
  const Message m = parse(req);
  std::uint64_t expected_malformed = 0;
  const auto malformed = [&](const Bytes& b) {
    h.deliver(b);
    ++expected_malformed;
    EXPECT_EQ(h.client.counters().malformed, expected_malformed);
  };
  malformed({});
  malformed({0x00});
  malformed({0x40});                          // ChannelData header cut short
  malformed({0x40, 0x00, 0x00, 0x09, 1, 2});  // ChannelData length past the datagram
  malformed(Bytes(19, 0));                    // shorter than a STUN header
  malformed({0xff, 0xff, 0xff, 0xff});        // neither STUN nor ChannelData
  Bytes bad_length = req;
  bad_length[3] ^= 0x04;
  malformed(bad_length);
  // A success without XOR-RELAYED-ADDRESS, an error without ERROR-CODE.
  malformed(build(method::allocate, Class::success, m.transaction_id(), [](Writer& w) {
    w.add_message_integrity(stun::long_term_key(kUser, kRealm, kPassword));
  }));
  malformed(build(method::allocate, Class::error, m.transaction_id(), [](Writer& w) {
    w.add_message_integrity(stun::long_term_key(kUser, kRealm, kPassword));
  }));
  // A request sent to the client.
  malformed(build(method::binding, Class::request, m.transaction_id(), [](Writer&) {}));
  // An unmatched response.
  const stun::TransactionId other{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  h.deliver(build(method::allocate, Class::success, other,
                  [](Writer& w) { w.add_xor_address(attr::xor_relayed_address, kRelayed); }));
  EXPECT_EQ(h.client.counters().unmatched, 1u);
  h.drain_events();
  EXPECT_TRUE(h.events.empty());
  EXPECT_EQ(h.client.state(), TurnClient::State::allocating);

  // Random and mutated datagrams: never a crash, never an event.
  Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes b = (i % 2 == 0) ? req : Bytes(rng.below(64));
    if (i % 2 == 0) {
      for (int k = 0; k < 3; ++k)
        b[rng.below(b.size())] = static_cast<std::uint8_t>(rng());
    } else {
      for (auto& x : b)
        x = static_cast<std::uint8_t>(rng());
    }
    h.deliver(b);
  }
  h.drain_events();
  EXPECT_TRUE(h.events.empty());
  // And the real answer still works afterwards.
  h.deliver(*h.server.handle(h.now, req));
  h.drain_events();
  EXPECT_TRUE(h.last<Allocated>());
}

TEST(TurnClient, SameSeedSameBytesOtherSeedOtherTransactionIds) {
  const auto run = [](std::uint64_t seed) {
    Harness h(config(), seed);
    h.allocate();
    h.client.create_permission(h.now, kPeerA.address);
    h.client.bind_channel(h.now, kPeerB);
    h.client.send(h.now, kPeerA, text_bytes("x"));
    h.run_until(at(minutes(30)));
    h.client.release(h.now);
    h.exchange();
    return h.sent;
  };
  const auto a = run(5);
  EXPECT_EQ(a, run(5));
  EXPECT_NE(a, run(6));
  EXPECT_GT(a.size(), 10u);
}

// --- Bid-down protection (RFC 8489 §9.2.1, §9.2.5)

Bytes challenge_without_algorithms(std::uint16_t m, const stun::TransactionId& tid,
                                   std::uint16_t code, const std::string& nonce) {
  return build(m, Class::error, tid, [&](Writer& w) {
    w.add_error(code);
    w.add_text(attr::realm, kRealm);
    w.add_text(attr::nonce, nonce);
    w.add_fingerprint();
  });
}

TEST(TurnClient, ChallengeWhoseNonceAnnouncesAlgorithmsWithoutThemIsNotRetried) {
  // RFC 8489 §9.2.5: the cookie says "Password algorithms" but PASSWORD-ALGORITHMS is
  // gone: someone removed it to push the client down to MD5. No retry. Both bit
  // numberings count (erratum 6290's "AAAB" and the RFC text's original "gAAA").
  for (const std::string cookie : {"obMatJos2AAAB", "obMatJos2gAAA"}) {
    SCOPED_TRACE(cookie);
    Harness h;
    h.server.nonce = cookie + "nonce";  // and password_algorithms empty: stripped
    h.allocate();
    const auto failed = h.last<Failed>();
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->method, method::allocate);
    EXPECT_EQ(failed->code, 401);
    EXPECT_EQ(h.client.state(), TurnClient::State::failed);
    EXPECT_EQ(h.server.requests, 1);  // the first Allocate only
    EXPECT_EQ(h.client.counters().bid_down, 1u);
    EXPECT_EQ(h.client.counters().unauthenticated, 1u);
    EXPECT_FALSE(h.take());
  }
  // With the list present the same nonce is fine.
  Harness ok;
  ok.server.nonce = "obMatJos2AAABnonce";
  ok.server.password_algorithms = kBothAlgorithms;
  ok.allocate();
  EXPECT_TRUE(ok.client.allocated());
  EXPECT_EQ(ok.client.counters().bid_down, 0u);
  // A cookie without the bit ("Username anonymity" only, as in RFC 8489 Appendix B.1)
  // asks for no list.
  Harness plain;
  plain.server.nonce = "obMatJos2AAACnonce";
  plain.allocate();
  EXPECT_TRUE(plain.client.allocated());
}

TEST(TurnClient, StaleNonceThatDropsTheAlgorithmsIsNotRetried) {
  Harness h;
  h.server.nonce = "obMatJos2AAAB-1";
  h.server.password_algorithms = kBothAlgorithms;
  h.allocate();
  ASSERT_TRUE(h.client.allocated());
  EXPECT_EQ(h.client.password_algorithm(), PasswordAlgorithm::sha256);
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes req = *h.take();
  const Message m = parse(req);
  h.deliver(challenge_without_algorithms(method::create_permission, m.transaction_id(),
                                         stun::error::stale_nonce, "obMatJos2AAAB-2"));
  h.drain_events();
  EXPECT_FALSE(h.take());  // no retry with the new nonce
  const auto failed = h.last<Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, method::create_permission);
  EXPECT_EQ(failed->code, 438);
  EXPECT_EQ(h.client.counters().bid_down, 1u);
  EXPECT_EQ(h.client.nonce(), "obMatJos2AAAB-1");  // nothing learnt from it
  EXPECT_EQ(h.client.password_algorithm(), PasswordAlgorithm::sha256);
  EXPECT_TRUE(h.client.allocated());
}

TEST(TurnClient, OtherResponsesWithTheCookieButNoAlgorithmsAreIgnored) {
  // RFC 8489 §9.2.5: "for all other responses" the same condition means: ignore it.
  for (const bool success : {true, false}) {
    SCOPED_TRACE(success);
    Harness h;
    h.server.nonce = "obMatJos2AAABnonce";
    h.server.password_algorithms = kBothAlgorithms;
    h.client.allocate(h.now);
    h.deliver(*h.server.handle(h.now, *h.take()));
    const Bytes req = *h.take();
    const Message m = parse(req);
    const Bytes doctored = build(method::allocate, success ? Class::success : Class::error,
                                 m.transaction_id(), [&](Writer& w) {
                                   if (success) {
                                     w.add_xor_address(attr::xor_relayed_address, kPeerB);
                                     w.add_u32(attr::lifetime, 600);
                                   } else {
                                     w.add_error(stun::error::forbidden);
                                   }
                                   w.add_text(attr::nonce, "obMatJos2AAABother");
                                   w.add_message_integrity(h.server.key());
                                   w.add_fingerprint();
                                 });
    h.deliver(doctored);
    h.drain_events();
    EXPECT_TRUE(h.events.empty());
    EXPECT_EQ(h.client.counters().bid_down, 1u);
    EXPECT_EQ(h.client.in_flight(), 1u);
    EXPECT_EQ(h.client.state(), TurnClient::State::allocating);
    // The transaction goes on; the retransmission gets the real answer.
    h.now += milliseconds(500);
    h.client.handle_timeout(h.now);
    h.deliver(*h.server.handle(h.now, *h.take()));
    h.drain_events();
    ASSERT_TRUE(h.last<Allocated>());
    EXPECT_EQ(h.last<Allocated>()->relayed, kRelayed);
  }
}

TEST(TurnClient, OnceAlgorithmsWereOfferedIntegrityStaysSha256) {
  // RFC 8489 §9.2.5: after a response with PASSWORD-ALGORITHMS every later request is
  // protected with MESSAGE-INTEGRITY-SHA256 only, even after a challenge without them.
  Harness h;
  h.server.password_algorithms = kMd5Only;
  h.allocate();
  ASSERT_TRUE(h.client.allocated());
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes req = *h.take();
  const Message m = parse(req);
  EXPECT_TRUE(m.has(attr::message_integrity_sha256));
  h.deliver(challenge_without_algorithms(method::create_permission, m.transaction_id(),
                                         stun::error::unauthenticated, "nonce-9"));
  const Bytes retry = *h.take();
  const Message r = parse(retry);
  EXPECT_EQ(r.text(attr::nonce), "nonce-9");
  EXPECT_TRUE(r.has(attr::message_integrity_sha256));
  EXPECT_FALSE(r.has(attr::message_integrity));
  // No list to echo, so MD5 keys it (§9.2.2) and no PASSWORD-ALGORITHM(S) is sent.
  EXPECT_FALSE(r.has(attr::password_algorithm));
  EXPECT_FALSE(r.has(attr::password_algorithms));
  EXPECT_EQ(r.check_integrity(stun::long_term_key(kUser, kRealm, kPassword)), IntegrityResult::ok);
  EXPECT_TRUE(h.client.integrity_sha256());
  // A client that never saw a list keeps MESSAGE-INTEGRITY.
  Harness md5;
  md5.allocate();
  EXPECT_FALSE(md5.client.integrity_sha256());
  md5.client.create_permission(md5.now, kPeerA.address);
  const Bytes plain = *md5.take();
  EXPECT_TRUE(parse(plain).has(attr::message_integrity));
}

TEST(TurnClient, BadRequestWithoutIntegrityIsDiscarded) {
  // RFC 8489 §9.2.5: a 400 without MESSAGE-INTEGRITY(-SHA256) is dropped as if never
  // received (the server's answer to a doctored PASSWORD-ALGORITHMS list is such a 400,
  // and so is a forged one); retransmissions go on.
  Harness h;
  h.allocate();
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes req = *h.take();
  const Message m = parse(req);
  h.deliver(build(method::create_permission, Class::error, m.transaction_id(), [](Writer& w) {
    w.add_error(stun::error::bad_request);
    w.add_fingerprint();
  }));
  h.drain_events();
  EXPECT_TRUE(h.all<Failed>().empty());
  EXPECT_EQ(h.client.counters().unprotected_400, 1u);
  EXPECT_EQ(h.client.in_flight(), 1u);
  // A 400 with integrity is final.
  h.deliver(build(method::create_permission, Class::error, m.transaction_id(), [&](Writer& w) {
    w.add_error(stun::error::bad_request);
    w.add_message_integrity(h.server.key());
    w.add_fingerprint();
  }));
  h.drain_events();
  ASSERT_TRUE(h.last<Failed>());
  EXPECT_EQ(h.last<Failed>()->code, 400);
}

TEST(TurnClient, ResponsesFailingIntegrityEndInIntegrityViolated) {
  // RFC 8489 §9.2.5: over UDP the transaction continues and then reports the violated
  // integrity instead of a timeout; over TCP it ends at once.
  ClientConfig c = config();
  c.retransmit = stun::RetransmitPolicy{milliseconds(100), 3, 4};
  Harness h(c);
  h.allocate();
  h.server.silent = true;
  h.client.create_permission(h.now, kPeerA.address);
  const Bytes preq = *h.take();
  const Message m = parse(preq);
  h.deliver(build(method::create_permission, Class::success, m.transaction_id(), [](Writer& w) {
    w.add_message_integrity(stun::long_term_key(kUser, kRealm, "not-it"));
  }));
  h.run_until(h.now + seconds(5));
  ASSERT_TRUE(h.last<Failed>());
  EXPECT_EQ(h.last<Failed>()->code, 0);
  EXPECT_EQ(h.last<Failed>()->reason, "integrity protection violated");

  ClientConfig tc = config();
  tc.transport = Transport::tcp;
  Harness t(tc);
  t.client.allocate(t.now);
  t.client.handle_stream(t.now, kClient, kServer, *t.server.handle(t.now, *t.take()));
  const Bytes areq = *t.take();
  const Message a = parse(areq);
  t.client.handle_stream(t.now, kClient, kServer,
                         build(method::allocate, Class::success, a.transaction_id(), [](Writer& w) {
                           w.add_xor_address(attr::xor_relayed_address, kRelayed);
                           w.add_message_integrity(stun::long_term_key(kUser, kRealm, "not-it"));
                         }));
  t.drain_events();
  ASSERT_TRUE(t.last<Failed>());
  EXPECT_EQ(t.last<Failed>()->method, method::allocate);
  EXPECT_EQ(t.last<Failed>()->reason, "integrity protection violated");
  EXPECT_EQ(t.client.state(), TurnClient::State::failed);
  EXPECT_EQ(t.client.in_flight(), 0u);
}

// --- EVEN-PORT and RESERVATION-TOKEN (RFC 8656 §7.1, §18.7, §18.10)

TEST(TurnClient, EvenPortWithReserveAsksForTheNextPortAndReportsTheToken) {
  ClientConfig c = config();
  c.even_port = true;
  c.reserve_next = true;
  Harness h(c);
  h.allocate();
  ASSERT_EQ(h.sent.size(), 2u);
  for (const Bytes& b : h.sent) {
    const Message m = parse(b);
    const auto even = m.find(attr::even_port);
    ASSERT_TRUE(even);
    EXPECT_EQ(Bytes(even->value.begin(), even->value.end()), Bytes{0x80});  // R bit
    EXPECT_FALSE(m.has(attr::reservation_token));
  }
  ASSERT_TRUE(h.last<Allocated>());
  EXPECT_EQ(h.last<Allocated>()->reservation_token, kToken);

  ClientConfig e = config();
  e.even_port = true;  // without R
  Harness even(e);
  even.allocate();
  const Message m = parse(even.sent.back());
  ASSERT_TRUE(m.find(attr::even_port));
  EXPECT_EQ(m.find(attr::even_port)->value[0], 0x00);
  ASSERT_TRUE(even.last<Allocated>());
  EXPECT_FALSE(even.last<Allocated>()->reservation_token);
  Harness none;
  none.allocate();
  EXPECT_FALSE(parse(none.sent.back()).has(attr::even_port));
}

TEST(TurnClient, ReservationTokenIsSentInsteadOfEvenPort) {
  ClientConfig c = config();
  c.reservation_token = 0xfedcba9876543210;
  c.even_port = true;  // ignored: §7.2 refuses both together
  Harness h(c);
  h.allocate();
  const Message m = parse(h.sent.back());
  EXPECT_FALSE(m.has(attr::even_port));
  const auto token = m.find(attr::reservation_token);
  ASSERT_TRUE(token);
  EXPECT_EQ(Bytes(token->value.begin(), token->value.end()),
            (Bytes{0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}));
  EXPECT_EQ(h.server.reserved, 0xfedcba9876543210u);
  EXPECT_TRUE(h.client.allocated());
}

}  // namespace
}  // namespace natsim::traversal::turn
