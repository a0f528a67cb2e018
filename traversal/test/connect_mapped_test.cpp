// Port-mapped candidates in the connect strategy: alice sits behind a gateway that answers
// PCP (or not), bob is on the internet. The gateway forwards its external address only
// once it granted a mapping (PCP mappings filter no one, RFC 6887 §11.1) and translates
// alice's datagrams to it; alice's private address is unreachable. Datagrams take 10 ms
// one way, the LAN 1 ms, signalling 25 ms.
#include <gtest/gtest.h>

#include <array>

#include "connector_loop.hpp"
#include "natsim/traversal/connect.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::traversal::connect {
namespace {

const Endpoint kA{*IpAddress::parse("10.0.0.2"), 5000};
const Endpoint kB{*IpAddress::parse("198.51.100.2"), 6000};
const Endpoint kGateway{*IpAddress::parse("10.0.0.1"), pcp::kServerPort};
const IpAddress kPublic = *IpAddress::parse("203.0.113.7");
const IpAddress kShared = *IpAddress::parse("100.64.0.2");  // RFC 6598: behind a CGNAT

enum class Gateway : std::uint8_t { answers, silent, double_nat };

struct Net : testing::ConnectorLoop {
  using Item = ConnectorLoop::Item;

  explicit Net(Gateway g, Config a = {}, Config b = {}) : gateway(g) {
    a.offerer = true;
    a.host = {kA};
    a.port_mapping = PortMapping::pcp;
    a.gateway = kGateway;
    b.offerer = false;
    b.host = {kB};
    side[0] = std::make_unique<Connector>(100, a);
    side[1] = std::make_unique<Connector>(101, b);
  }

  [[nodiscard]] Endpoint external() const {
    return {gateway == Gateway::double_nat ? kShared : kPublic, kA.port};
  }

  // The gateway's PCP server: grants what is asked, at the suggested port. The request
  // arrives 1 ms after it left, the answer 1 ms later.
  void answer(const Item& req) {
    auto r = pcp::parse_request(req.bytes);
    if (!r || r->opcode != pcp::Opcode::map) return;
    requests.emplace_back(req.at, r->lifetime);
    if (gateway == Gateway::silent) return;
    pcp::Response resp;
    resp.opcode = pcp::Opcode::map;
    resp.lifetime = r->lifetime;
    resp.epoch = static_cast<std::uint32_t>((req.at - TimePoint{}) / seconds(1)) + 1000;
    resp.data = r->data;
    resp.data.external_port = kA.port;
    resp.data.external_address = external().address;
    granted = r->lifetime > 0;
    std::array<std::uint8_t, 1100> buf;
    const auto n = pcp::emit_response(resp, buf);
    ASSERT_TRUE(n);
    deliver(milliseconds(2), 0, kGateway, kA, ByteView(buf.data(), *n));
  }

  [[nodiscard]] std::optional<ice::Candidate> local_of_type(int i, ice::CandidateType t) const {
    for (const ice::Candidate& c : side[i]->agent()->local_candidates()) {
      if (c.type == t) return c;
    }
    return std::nullopt;
  }

  Gateway gateway;
  bool granted = false;
  std::vector<std::pair<TimePoint, std::uint32_t>> requests;  // at, lifetime asked

 protected:
  void route(int i, const Transmit& t, ByteView bytes) override {
    if (i == 0 && t.remote == kGateway) {
      answer(Item{now + milliseconds(1), 0, -1, std::nullopt, t.local, t.remote,
                  std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
      return;
    }
    if (i == 0) {
      // Out through the gateway: from its external address, the mapped port.
      deliver(milliseconds(10), 1, external(), t.remote, bytes);
      return;
    }
    // In to alice: only the granted mapping on a routable address reaches her.
    if (t.remote != external() || !granted || gateway == Gateway::double_nat) return;
    deliver(milliseconds(10), 0, t.local, kA, bytes);
  }
};

TEST(ConnectMapped, MappedCandidateIsOfferedAndCarriesThePath) {
  Net net(Gateway::answers);
  net.run_until(TimePoint(seconds(2)));
  const Result& a = net.side[0]->result();
  const Result& b = net.side[1]->result();
  ASSERT_EQ(a.outcome, Outcome::connected) << a.reason;
  ASSERT_EQ(b.outcome, Outcome::connected) << b.reason;
  EXPECT_EQ(a.mapped, net.external());
  EXPECT_EQ(a.port_mapping, "mapped 203.0.113.7:5000 (pcp)");
  const auto m = net.local_of_type(0, ice::CandidateType::mapped);
  const auto h = net.local_of_type(0, ice::CandidateType::host);
  ASSERT_TRUE(m && h);
  EXPECT_EQ(m->address, net.external());
  EXPECT_EQ(m->base, kA);
  EXPECT_EQ(m->related, kA);
  // Type preference 105: below a host (126) and a peer-reflexive (110) candidate, above a
  // server-reflexive one (100).
  EXPECT_EQ(m->priority, (105u << 24) + (65535u << 8) + 255u);
  EXPECT_LT(m->priority, h->priority);
  EXPECT_GT(m->priority, ice::candidate_priority(ice::CandidateType::srflx, 65535));
  EXPECT_NE(m->foundation, h->foundation);
  EXPECT_NE(m->foundation,
            ice::foundation(ice::CandidateType::srflx, kA.address, kGateway.address));
  // Both ends report the mapped path: alice's check answers show her the mapped address,
  // bob's remote is the signalled mapped candidate.
  EXPECT_EQ(a.path, Path::mapped);
  EXPECT_EQ(b.path, Path::mapped);
  EXPECT_EQ(a.local->type, ice::CandidateType::mapped);
  EXPECT_EQ(b.remote->type, ice::CandidateType::mapped);
  // The gateway answers at 2 ms: the mapped candidate and end-of-candidates trickle then.
  // bob's answer reaches alice at 50 ms; her check (out through the mapping) succeeds at
  // 70 ms and her nomination at 90 ms; bob's triggered check waits for his Ta slot (75 ms)
  // and its answer selects the pair at 95 ms.
  EXPECT_EQ(a.times.gathering, milliseconds(2));
  EXPECT_EQ(a.times.description_sent, milliseconds(0));
  EXPECT_EQ(b.times.first_check, milliseconds(25));
  EXPECT_EQ(a.times.first_success, milliseconds(70));
  EXPECT_EQ(a.times.selected, milliseconds(90));
  EXPECT_EQ(b.times.selected, milliseconds(95));
}

TEST(ConnectMapped, RefreshedAtHalfItsLifetimeAndDeletedOnClose) {
  Config a;
  a.port_mapping_lifetime = 120;
  Net net(Gateway::answers, a);
  net.run_until(TimePoint(seconds(100)));
  ASSERT_EQ(net.side[0]->result().outcome, Outcome::connected);
  ASSERT_EQ(net.requests.size(), 2u);
  EXPECT_EQ(net.requests[0], std::make_pair(TimePoint(milliseconds(1)), 120u));
  // Granted at 2 ms for 120 s: refreshed at 62 ms past the minute.
  EXPECT_EQ(net.requests[1], std::make_pair(TimePoint(milliseconds(60'003)), 120u));
  EXPECT_EQ(net.side[0]->result().mapping_refreshes, 1u);
  net.side[0]->close();
  net.pump(0);
  net.run_until(TimePoint(seconds(101)));
  ASSERT_EQ(net.requests.size(), 3u);
  EXPECT_EQ(net.requests[2], std::make_pair(TimePoint(seconds(100) + milliseconds(1)), 0u));
  EXPECT_TRUE(net.side[0]->result().mapping_deleted);
  EXPECT_EQ(net.side[0]->poll_timeout(), std::nullopt);
}

TEST(ConnectMapped, DoubleNatIsNotOffered) {
  Net net(Gateway::double_nat);
  net.run_until(TimePoint(seconds(1)));
  const Result& a = net.side[0]->result();
  EXPECT_EQ(a.port_mapping,
            "double NAT: the gateway mapped 100.64.0.2:5000, behind another NAT; not offered");
  EXPECT_FALSE(a.mapped);
  EXPECT_FALSE(net.local_of_type(0, ice::CandidateType::mapped));
  for (const ice::Candidate& c : net.side[1]->agent()->remote_candidates())
    EXPECT_NE(c.type, ice::CandidateType::mapped);
  // Gathering ends with the answer, not the wait; the useless mapping is deleted.
  EXPECT_EQ(a.times.gathering, milliseconds(2));
  ASSERT_EQ(net.requests.size(), 2u);
  EXPECT_EQ(net.requests[1].second, 0u);
  EXPECT_TRUE(a.mapping_deleted);
}

TEST(ConnectMapped, SilentGatewayHoldsGatheringOnlyForTheWait) {
  Config a;
  a.trickle = false;  // the full offer waits for gathering: its time shows the wait
  Net net(Gateway::silent, a);
  net.run_until(TimePoint(seconds(30)));
  const Result& r = net.side[0]->result();
  EXPECT_EQ(r.times.gathering, milliseconds(500));
  EXPECT_EQ(r.times.description_sent, milliseconds(500));
  EXPECT_EQ(r.port_mapping, "no answer from the gateway within 500ms");
  EXPECT_FALSE(net.local_of_type(0, ice::CandidateType::mapped));
  // One request, not PCP's retransmissions (3 s, doubling): the mapper is dropped.
  EXPECT_EQ(net.requests.size(), 1u);
}

TEST(ConnectMapped, OffByDefault) {
  Config c;
  c.host = {kA};
  Connector plain(1, c);
  plain.start(TimePoint{});
  EXPECT_EQ(plain.result().port_mapping, "");
  std::array<std::uint8_t, 2048> buf;
  while (auto t = plain.poll_transmit(buf))
    EXPECT_NE(t->remote, kGateway);
}

}  // namespace
}  // namespace natsim::traversal::connect
