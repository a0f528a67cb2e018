// STUN client and server machines on the virtual network.
#include <gtest/gtest.h>

#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "stun_world.hpp"

namespace natsim::scenarios {
namespace {

namespace stun = traversal::stun;
using testing::ep;
using testing::StunWorld;

struct Client {
  Client(sim::Host& host, std::uint16_t port, stun::RetransmitPolicy policy = {})
      : socket(host.udp_bind(port).value()),
        local{*host.address(), port},
        machine(11, policy),
        driver(host, machine, {socket}) {
    driver.on_event([this](const stun::BindingResult& r) { results.push_back(r); });
  }
  void bind(TimePoint now, const Endpoint& server, const stun::RequestOptions& o = {}) {
    machine.send_binding(now, local, server, o);
    driver.pump();
  }
  sim::UdpSocket* socket;
  Endpoint local;
  stun::StunClient machine;
  SimDriver<stun::StunClient> driver;
  std::vector<stun::BindingResult> results;
};

TEST(StunSim, BindingThroughANatReportsTheMappedAddressAndServerEndpoints) {
  StunWorld w;
  nat::Site site = w.site("home", *nat::preset("port-restricted-cone"));
  Client c(*site.hosts[0], 5000);
  c.bind(w.net.now(), ep("198.51.100.10:3478"));
  w.net.run();
  ASSERT_EQ(c.results.size(), 1u);
  const auto& r = c.results[0];
  EXPECT_EQ(r.outcome, stun::BindingResult::Outcome::success);
  EXPECT_EQ(r.mapped, ep("203.0.113.2:5000"));
  EXPECT_EQ(r.other_address, ep("198.51.100.11:3479"));
  EXPECT_EQ(r.response_origin, ep("198.51.100.10:3478"));
  EXPECT_EQ(r.transmissions, 1);
  EXPECT_EQ(w.stun->counters().responses, 1u);
}

TEST(StunSim, RetransmitsOnLossWithDoublingRto) {
  sim::LinkParams lossy;
  lossy.loss = 0.3;  // each way: a round trip gets through 49% of the time
  StunWorld w(99, true, lossy);
  nat::Site site = w.site("home", *nat::preset("full-cone"));
  Client c(*site.hosts[0], 5000);
  int succeeded = 0;
  int retransmitted = 0;
  for (int i = 0; i < 40; ++i) {
    c.bind(w.net.now(), ep("198.51.100.10:3478"));
    w.net.run();
  }
  for (const auto& r : c.results) {
    succeeded += r.outcome == stun::BindingResult::Outcome::success ? 1 : 0;
    retransmitted += r.transmissions > 1 ? 1 : 0;
  }
  EXPECT_EQ(c.results.size(), 40u);
  EXPECT_GE(succeeded, 38);  // all 7 round trips lost: 0.51^7 = 0.9%
  EXPECT_GT(retransmitted, 10);
  EXPECT_EQ(c.machine.counters().requests, 40u);
  EXPECT_GT(c.machine.counters().retransmissions, 20u);
}

TEST(StunSim, TimeoutFollowsRfc8489Schedule) {
  sim::LinkParams dead;
  dead.loss = 1.0;
  StunWorld w(1, true, dead);
  nat::Site site = w.site("home", *nat::preset("full-cone"));
  Client c(*site.hosts[0], 5000);
  c.bind(w.net.now(), ep("198.51.100.10:3478"));
  w.net.run();
  ASSERT_EQ(c.results.size(), 1u);
  EXPECT_EQ(c.results[0].outcome, stun::BindingResult::Outcome::timeout);
  EXPECT_EQ(c.results[0].transmissions, 7);
  // RFC 8489 §6.2.1: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; gives up at 39.5 s.
  EXPECT_EQ(w.net.now(), at(milliseconds(39500)));
}

TEST(StunSim, ChangeRequestAndResponsePort) {
  StunWorld w;
  nat::Site site = w.site("home", *nat::preset("full-cone"));
  Client c(*site.hosts[0], 5000);
  stun::RequestOptions change;
  change.change_request = std::pair{true, true};
  c.bind(w.net.now(), ep("198.51.100.10:3478"), change);
  w.net.run();
  ASSERT_EQ(c.results.size(), 1u);
  EXPECT_EQ(c.results[0].from, ep("198.51.100.11:3479"));
  EXPECT_EQ(c.results[0].response_origin, ep("198.51.100.11:3479"));

  // RESPONSE-PORT: the answer goes to another port of the same (mapped) address.
  Client other(*site.hosts[0], 6000);
  c.bind(w.net.now(), ep("198.51.100.10:3478"));  // keeps 5000's mapping fresh
  w.net.run();
  stun::RequestOptions rp;
  rp.response_port = 5000;
  other.bind(w.net.now(), ep("198.51.100.10:3478"), rp);
  w.net.run();
  // Every answer to the request sent from 6000 (all 7 transmissions) arrived on 5000,
  // whose client does not know the transaction; 6000's own transaction times out.
  ASSERT_EQ(other.results.size(), 1u);
  EXPECT_EQ(other.results[0].outcome, stun::BindingResult::Outcome::timeout);
  EXPECT_EQ(other.results[0].transmissions, 7);
  EXPECT_EQ(c.machine.counters().unmatched, 7u);
  EXPECT_EQ(w.stun->counters().responses, 2u + 7u);
}

// Raw datagrams at the server: the RFC's answer to each kind of bad input.
struct Raw {
  explicit Raw(StunWorld& w) : world(w), host(w.net.add_host("raw")) {
    auto c = w.net.connect(host, w.core);
    host.add_address(c.a_iface, "192.0.2.50/24");
    w.core.add_address(c.b_iface, "192.0.2.1/24");
    (void)host.set_default_route(testing::ip("192.0.2.1"));
    socket = host.udp_bind(7000).value();
    socket->on_receive([this](const sim::Datagram& d) {
      answers.emplace_back(d.payload.begin(), d.payload.end());
    });
  }
  std::optional<stun::Message> ask(ByteView request) {
    answers.clear();
    (void)socket->send_to(ep("198.51.100.10:3478"), request);
    world.net.run();
    if (answers.empty()) return std::nullopt;
    auto m = stun::Message::parse(answers.back());
    return m ? std::optional<stun::Message>(*m) : std::nullopt;
  }
  StunWorld& world;
  sim::Host& host;
  sim::UdpSocket* socket;
  std::vector<std::vector<std::uint8_t>> answers;
};

stun::TransactionId tid(std::uint8_t n) {
  stun::TransactionId t{};
  t[0] = n;
  return t;
}

TEST(StunSim, ServerAnswersBadInputAsTheRfcSays) {
  StunWorld w;
  Raw raw(w);
  std::array<std::uint8_t, 256> buf{};

  // Unknown comprehension-required attribute → 420 listing it.
  stun::Writer a(buf, stun::method::binding, stun::Class::request, tid(1));
  a.add_u32(0x7f33, 1);
  a.add_fingerprint();
  auto r420 = raw.ask(*a.finish());
  ASSERT_TRUE(r420);
  EXPECT_EQ(r420->cls(), stun::Class::error);
  EXPECT_EQ(r420->error_code()->code, 420);
  EXPECT_EQ(r420->unknown_attributes_value(), std::vector<std::uint16_t>{0x7f33});
  EXPECT_EQ(r420->transaction_id(), tid(1));

  // Unknown method → 400.
  stun::Writer b(buf, 0x0ff, stun::Class::request, tid(2));
  auto r400 = raw.ask(*b.finish());
  ASSERT_TRUE(r400);
  EXPECT_EQ(r400->error_code()->code, 400);

  // Malformed CHANGE-REQUEST (wrong length) → 400.
  stun::Writer c(buf, stun::method::binding, stun::Class::request, tid(3));
  c.add(stun::attr::change_request, std::array<std::uint8_t, 2>{0, 6});
  EXPECT_EQ(raw.ask(*c.finish())->error_code()->code, 400);

  // Bad FINGERPRINT → silently dropped.
  stun::Writer d(buf, stun::method::binding, stun::Class::request, tid(4));
  d.add_fingerprint();
  std::vector<std::uint8_t> bad_fp(d.finish()->begin(), d.finish()->end());
  bad_fp.back() ^= 1;
  EXPECT_FALSE(raw.ask(bad_fp));
  EXPECT_EQ(w.stun->counters().dropped_bad_fingerprint, 1u);

  // Truncated, oversized length, garbage → silently dropped and counted.
  const std::uint8_t junk[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12};
  EXPECT_FALSE(raw.ask(junk));
  std::vector<std::uint8_t> huge(1400, 0xab);
  EXPECT_FALSE(raw.ask(huge));
  EXPECT_EQ(w.stun->counters().dropped_malformed, 2u);

  // A success response sent to the server is ignored.
  stun::Writer e(buf, stun::method::binding, stun::Class::success, tid(5));
  EXPECT_FALSE(raw.ask(*e.finish()));
  // And the server still works.
  stun::Writer f(buf, stun::method::binding, stun::Class::request, tid(6));
  auto ok = raw.ask(*f.finish());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->cls(), stun::Class::success);
  EXPECT_EQ(ok->mapped_address(), ep("192.0.2.50:7000"));
}

TEST(StunSim, ClassicRfc3489RequestsGetClassicAnswers) {
  StunWorld w;
  Raw raw(w);
  std::array<std::uint8_t, 64> buf{};
  stun::Writer req(buf, stun::method::binding, stun::Class::request, tid(9), 0xdeadbeef);
  req.add_change_request(false, true);
  auto m = raw.ask(*req.finish());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->classic());
  EXPECT_EQ(m->cookie(), 0xdeadbeefu);  // the whole 128-bit ID is echoed
  EXPECT_EQ(m->address(stun::attr::mapped_address), ep("192.0.2.50:7000"));
  EXPECT_EQ(m->address(stun::attr::source_address), ep("198.51.100.10:3479"));
  EXPECT_EQ(m->address(stun::attr::changed_address), ep("198.51.100.11:3479"));
  EXPECT_FALSE(m->has(stun::attr::xor_mapped_address));
  EXPECT_EQ(w.stun->counters().classic, 1u);
}

TEST(StunSim, ShortTermAuthenticationIsEnforced) {
  StunWorld w;
  // Replace the server by one that requires credentials.
  stun::ServerConfig config;
  config.primary = ep("198.51.100.10:4000");
  config.username = "alice";
  config.password = "s3cret";
  stun::StunServer auth(config);
  SimDriver<stun::StunServer> driver(w.server, auth, {w.server.udp_bind(config.primary).value()});
  Raw raw(w);
  auto ask = [&](const std::string& user, const std::string& password, bool integrity) {
    std::array<std::uint8_t, 256> buf{};
    stun::Writer req(buf, stun::method::binding, stun::Class::request, tid(1));
    if (!user.empty()) req.add_text(stun::attr::username, user);
    if (integrity) req.add_message_integrity(stun::as_bytes(password));
    req.add_fingerprint();
    raw.answers.clear();
    (void)raw.socket->send_to(ep("198.51.100.10:4000"), *req.finish());
    w.net.run();
    auto m = stun::Message::parse(raw.answers.at(0));
    return *m;
  };
  EXPECT_EQ(ask("", "", false).error_code()->code, 400);           // no credentials at all
  EXPECT_EQ(ask("alice", "wrong", true).error_code()->code, 401);  // bad integrity
  EXPECT_EQ(ask("mallory", "s3cret", true).error_code()->code, 401);
  const stun::Message ok = ask("alice", "s3cret", true);
  EXPECT_EQ(ok.cls(), stun::Class::success);
  EXPECT_EQ(ok.check_integrity(stun::as_bytes("s3cret")), stun::IntegrityResult::ok);
}

}  // namespace
}  // namespace natsim::scenarios

namespace natsim::scenarios {
namespace {

TEST(StunSim, ClassicErrorReasonsArePaddedAndCarryNoSoftware) {
  StunWorld w;
  Raw raw(w);
  std::array<std::uint8_t, 64> buf{};
  stun::Writer req(buf, 0x0ff, stun::Class::request, tid(3), 0x01020304);  // unknown method
  auto m = raw.ask(*req.finish());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->classic());
  EXPECT_EQ(m->error_code()->code, 400);
  EXPECT_EQ(m->error_code()->reason.size() % 4, 0u);  // RFC 3489 §11.2.9
  EXPECT_EQ(m->error_code()->reason, "Bad Request ");
  EXPECT_FALSE(m->has(stun::attr::software));
  EXPECT_FALSE(m->has(stun::attr::fingerprint));
}

}  // namespace
}  // namespace natsim::scenarios
