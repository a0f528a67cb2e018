// The real TurnClient against the real TurnServer, sans-I/O, for what needs both ends:
// EVEN-PORT with the R bit and RESERVATION-TOKEN across clients and transports (RFC 8656
// §7.1, §7.2), and the long-term credential mechanism's bid-down protection (RFC 8489
// §9.2.1, §9.2.4, §9.2.5) with an attacker on the path rewriting the server's challenges.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_test_server.hpp"

namespace natsim::traversal::turn {
namespace {

using Bytes = std::vector<std::uint8_t>;
using stun::Class;
using stun::Message;
using stun::Writer;
namespace attr = stun::attr;

using test::kListen;
using test::server_config;

ClientConfig client_config(const Endpoint& local, Transport transport = Transport::udp) {
  ClientConfig c;
  c.local = local;
  c.server = kListen;
  c.transport = transport;
  c.username = "alice";
  c.password = "secret";
  return c;
}

// One server, any number of clients (UDP or TCP, one connection each, whole frames), and
// an optional tamperer on everything the server sends to clients.
struct World {
  TurnServer server{3, server_config()};
  std::vector<std::unique_ptr<TurnClient>> clients;
  std::vector<std::vector<ClientEvent>> events;
  std::function<Bytes(const Bytes&)> tamper;  // server -> client
  TimePoint now = at(seconds(1));
  Bytes buffer = Bytes(65536);

  std::size_t add(const ClientConfig& c) {
    clients.push_back(std::make_unique<TurnClient>(10 + clients.size(), c));
    events.emplace_back();
    return clients.size() - 1;
  }
  TurnClient& client(std::size_t i) { return *clients[i]; }

  void flush() {
    for (int guard = 0; guard < 10000; ++guard) {
      bool moved = false;
      for (auto& c : clients) {
        while (auto t = c->poll_transmit(buffer)) {
          moved = true;
          const ByteView b(buffer.data(), t->size);
          if (t->transport == Transport::tcp) {
            server.handle_stream(now, kListen, t->local, b);
          } else {
            server.handle_datagram(now, kListen, t->local, b);
          }
        }
      }
      while (auto t = server.poll_transmit(buffer)) {
        moved = true;
        Bytes b(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
        if (tamper) b = tamper(b);
        for (auto& c : clients) {
          if (c->config().local != t->remote || c->config().transport != t->transport) continue;
          if (t->transport == Transport::tcp) {
            c->handle_stream(now, t->remote, kListen, b);
          } else {
            c->handle_datagram(now, t->remote, kListen, b);
          }
        }
      }
      if (!moved) break;
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      while (auto e = clients[i]->poll_event())
        events[i].push_back(std::move(*e));
    }
  }
  void run_until(TimePoint end) {
    for (int steps = 0;; ++steps) {
      if (steps == 100000) {  // a deadline that never passes would spin here
        ADD_FAILURE() << "timers stuck at " << to_ns(now) << " ns";
        return;
      }
      flush();
      std::optional<TimePoint> next = server.poll_timeout();
      for (auto& c : clients) {
        if (auto t = c->poll_timeout(); t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > end) break;
      now = std::max(now, *next);
      server.handle_timeout(now);
      for (auto& c : clients)
        c->handle_timeout(now);
    }
    now = std::max(now, end);
  }
  template <class E>
  std::optional<E> last(std::size_t i) const {
    std::optional<E> out;
    for (const ClientEvent& e : events[i]) {
      if (const E* x = std::get_if<E>(&e)) out = *x;
    }
    return out;
  }
  std::optional<Allocated> allocate(std::size_t i) {
    client(i).allocate(now);
    flush();
    return last<Allocated>(i);
  }
};

ClientConfig reserving(const Endpoint& local) {
  ClientConfig c = client_config(local);
  c.even_port = true;
  c.reserve_next = true;
  return c;
}

TEST(TurnReservation, TokenFromOneClientGivesAnotherClientThePortOverTcp) {
  World w;
  const std::size_t a = w.add(reserving(*Endpoint::parse("203.0.113.2:40000")));
  const auto first = w.allocate(a);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->relayed.port % 2, 0);
  ASSERT_TRUE(first->reservation_token);
  // RFC 8656 §7.2: the reservation is server-wide; the claiming Allocate may come from
  // another address, another transport, even another user.
  ClientConfig claim = client_config(*Endpoint::parse("203.0.113.9:5555"), Transport::tcp);
  claim.username = "bob";
  claim.password = "hunter2";
  claim.reservation_token = first->reservation_token;
  const std::size_t b = w.add(claim);
  const auto second = w.allocate(b);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->relayed.port, first->relayed.port + 1);
  EXPECT_FALSE(second->reservation_token);
  EXPECT_EQ(w.server.counters().reservations_used, 1u);
  // Nobody else got the reserved port before; a third Allocate skips both.
  const std::size_t c = w.add(client_config(*Endpoint::parse("203.0.113.3:1")));
  const auto third = w.allocate(c);
  ASSERT_TRUE(third);
  EXPECT_NE(third->relayed.port, first->relayed.port);
  EXPECT_NE(third->relayed.port, second->relayed.port);
}

TEST(TurnReservation, ExpiredTokenIs508AndThePortGoesToOthers) {
  World w;
  const std::size_t a = w.add(reserving(*Endpoint::parse("203.0.113.2:40000")));
  const auto first = w.allocate(a);
  ASSERT_TRUE(first && first->reservation_token);
  // 30 s of virtual time (the client's refreshes and the server's timers run too).
  w.run_until(w.now + seconds(30));
  EXPECT_EQ(w.server.reservation_count(), 0u);
  ClientConfig late = client_config(*Endpoint::parse("203.0.113.9:5555"));
  late.reservation_token = first->reservation_token;
  const std::size_t b = w.add(late);
  EXPECT_FALSE(w.allocate(b));
  const auto failed = w.last<Failed>(b);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, 508);
  const std::size_t c = w.add(client_config(*Endpoint::parse("203.0.113.3:1")));
  const auto third = w.allocate(c);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->relayed.port, first->relayed.port + 1);
  EXPECT_TRUE(w.client(a).allocated());
}

// --- Bid-down: an attacker rewrites the server's 401s.

// The message with every attribute but `drop`, and PASSWORD-ALGORITHMS replaced by
// `algorithms` when given; FINGERPRINT recomputed.
Bytes rewrite(const Bytes& in, std::uint16_t drop, const Bytes* algorithms = nullptr) {
  auto m = Message::parse(in);
  if (!m || m->cls() != Class::error) return in;
  Bytes out(in.size() + 64);
  Writer w(out, m->method(), m->cls(), m->transaction_id());
  for (const stun::Attribute& a : m->attributes()) {
    if (a.type == attr::fingerprint) continue;
    if (a.type == attr::password_algorithms && algorithms != nullptr) {
      w.add(a.type, *algorithms);
      continue;
    }
    if (a.type != drop) w.add(a.type, a.value);
  }
  w.add_fingerprint();
  const auto done = w.finish();
  return done ? Bytes(done->begin(), done->end()) : in;
}

TEST(TurnBidDown, StrippedAlgorithmsAreNotAcceptedByTheClient) {
  World w;
  w.tamper = [](const Bytes& b) { return rewrite(b, attr::password_algorithms); };
  const std::size_t a = w.add(client_config(*Endpoint::parse("203.0.113.2:40000")));
  EXPECT_FALSE(w.allocate(a));
  const auto failed = w.last<Failed>(a);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, 401);
  EXPECT_EQ(w.client(a).counters().bid_down, 1u);
  EXPECT_EQ(w.server.counters().requests, 1u);  // no MD5 retry reached the server
  EXPECT_EQ(w.server.allocation_count(), 0u);
}

TEST(TurnBidDown, ADoctoredListIsCaughtByTheServerAndTheClientWaits) {
  // SHA-256 removed from the list: the client (rightly) echoes what it got and picks
  // MD5; the server sees a list it never sent (RFC 8489 §9.2.4) and answers 400 without
  // integrity, which the client discards (§9.2.5) until the transaction times out.
  World w;
  const Bytes md5_only = {0x00, 0x01, 0x00, 0x00};
  w.tamper = [&md5_only](const Bytes& b) { return rewrite(b, 0, &md5_only); };
  const std::size_t a = w.add(client_config(*Endpoint::parse("203.0.113.2:40000")));
  w.client(a).allocate(w.now);
  w.run_until(w.now + seconds(60));
  const auto failed = w.last<Failed>(a);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, 0);
  EXPECT_EQ(w.client(a).password_algorithm(), stun::PasswordAlgorithm::md5);
  EXPECT_GE(w.client(a).counters().unprotected_400, 1u);
  EXPECT_EQ(w.server.allocation_count(), 0u);
  EXPECT_EQ(w.server.counters().allocations, 0u);
}

TEST(TurnBidDown, UntouchedExchangeUsesSha256) {
  World w;
  const std::size_t a = w.add(client_config(*Endpoint::parse("203.0.113.2:40000")));
  ASSERT_TRUE(w.allocate(a));
  EXPECT_EQ(w.client(a).password_algorithm(), stun::PasswordAlgorithm::sha256);
  EXPECT_TRUE(w.client(a).integrity_sha256());
  EXPECT_EQ(w.client(a).counters().bid_down, 0u);
  // Hours of refreshes with fresh nonces, all under SHA-256.
  w.run_until(w.now + hours(3));
  EXPECT_TRUE(w.client(a).allocated());
  EXPECT_EQ(w.client(a).counters().bad_integrity, 0u);
}

}  // namespace
}  // namespace natsim::traversal::turn
