// FILTER (RFC 6887 §13.3): an explicit mapping with a FILTER list admits inbound only from
// the listed remote peers (a prefix and a port, 0 for any), counted as filtered drops
// otherwise; each MAP replaces the list, a MAP without FILTER clears it; the list is capped.
#include <gtest/gtest.h>

#include <array>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::nat {
namespace {

namespace pcp = traversal::pcp;
using testing::ep;
using testing::ip;

constexpr auto kUdp = IpProto::udp;
const TimePoint t0 = at(seconds(10));
const Endpoint kExternal = ep("203.0.113.2:40000");

NatTable table() {
  return NatTable(*preset("symmetric"), {ip("203.0.113.2")}, true, sim::Rng(1));
}

MapRequest request(std::span<const RemoteFilter> filters) {
  MapRequest r;
  r.internal = ep("10.0.0.2:4000");
  r.lifetime = seconds(600);
  r.suggested_port = 40000;
  r.filters = filters;
  return r;
}

bool admitted(NatTable& t, TimePoint now, const char* remote) {
  return static_cast<bool>(t.inbound(now, kUdp, ep(remote), kExternal));
}

const std::array<RemoteFilter, 2> kTwo = {
    RemoteFilter{ip("198.51.100.0"), 24, 0},   // a /24, any port
    RemoteFilter{ip("192.0.2.7"), 32, 5000}};  // one address, one port

TEST(PcpFilter, OnlyListedPeersGetIn) {
  auto t = table();
  auto m = t.map(t0, request(kTwo));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->external, kExternal);
  const TimePoint now = t0 + seconds(1);
  EXPECT_TRUE(admitted(t, now, "198.51.100.9:1"));
  EXPECT_TRUE(admitted(t, now, "198.51.100.254:65535"));
  EXPECT_TRUE(admitted(t, now, "192.0.2.7:5000"));
  EXPECT_FALSE(admitted(t, now, "192.0.2.7:5001"));  // listed address, other port
  EXPECT_FALSE(admitted(t, now, "192.0.2.8:5000"));  // outside the /32
  EXPECT_FALSE(admitted(t, now, "198.51.101.9:1"));  // outside the /24
  EXPECT_EQ(t.counters().drops(NatDrop::filtered), 3u);
  EXPECT_EQ(t.counters().inbound, 3u);
  auto info = t.explicit_mapping(now, kUdp, ep("10.0.0.2:4000"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->filters, std::vector<RemoteFilter>(kTwo.begin(), kTwo.end()));
  // The mapping keeps its granted life: the last admitted instant, then gone.
  EXPECT_TRUE(admitted(t, t0 + seconds(600) - nanoseconds(1), "198.51.100.9:1"));
  EXPECT_FALSE(admitted(t, t0 + seconds(600), "198.51.100.9:1"));
  EXPECT_EQ(t.counters().drops(NatDrop::expired), 1u);
}

TEST(PcpFilter, AnswersToWhatTheHostSentPassUnlisted) {
  auto t = table();
  ASSERT_TRUE(t.map(t0, request(kTwo)));
  // The internal endpoint talks to an unlisted peer through its mapping: that peer's
  // answers are admitted (a stateful firewall's reply), its other ports are not.
  ASSERT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:4000"), ep("203.0.113.50:3478")));
  EXPECT_TRUE(admitted(t, t0 + milliseconds(20), "203.0.113.50:3478"));
  EXPECT_FALSE(admitted(t, t0 + milliseconds(20), "203.0.113.50:3479"));
}

TEST(PcpFilter, ZeroPrefixAndZeroPortAdmitAnyone) {
  auto t = table();
  const std::array<RemoteFilter, 1> any_on_53 = {RemoteFilter{ip("0.0.0.0"), 0, 53}};
  ASSERT_TRUE(t.map(t0, request(any_on_53)));
  EXPECT_TRUE(admitted(t, t0, "8.8.8.8:53"));
  EXPECT_FALSE(admitted(t, t0, "8.8.8.8:54"));
}

TEST(PcpFilter, EachRequestReplacesTheListAndNoneClearsIt) {
  auto t = table();
  ASSERT_TRUE(t.map(t0, request(kTwo)));
  const std::array<RemoteFilter, 1> other = {RemoteFilter{ip("203.0.113.0"), 24, 0}};
  auto refreshed = t.map(t0 + seconds(300), request(other));
  ASSERT_TRUE(refreshed);
  EXPECT_FALSE(refreshed->created);
  EXPECT_EQ(refreshed->expires, t0 + seconds(900));
  EXPECT_FALSE(admitted(t, t0 + seconds(301), "198.51.100.9:1"));  // the old list is gone
  EXPECT_TRUE(admitted(t, t0 + seconds(301), "203.0.113.77:1"));
  ASSERT_TRUE(t.map(t0 + seconds(302), request({})));  // no FILTER: anyone again
  EXPECT_TRUE(admitted(t, t0 + seconds(303), "198.51.101.9:1"));
  EXPECT_TRUE(t.explicit_mapping(t0 + seconds(303), kUdp, ep("10.0.0.2:4000"))->filters.empty());
}

TEST(PcpFilter, ListIsCappedAndForgottenWithTheMapping) {
  auto t = table();
  std::array<RemoteFilter, kMaxRemoteFilters + 1> many{};
  EXPECT_EQ(t.map(t0, request(many)).error(), MapError::too_many_filters);
  EXPECT_TRUE(t.mappings(t0).empty());
  ASSERT_TRUE(t.map(t0, request(kTwo)));
  ASSERT_TRUE(t.unmap(t0 + seconds(1), kUdp, ep("10.0.0.2:4000"), MappingOwner::pcp));
  // The same internal endpoint mapped again without FILTER: nothing left of the old list.
  ASSERT_TRUE(t.map(t0 + seconds(2), request({})));
  EXPECT_TRUE(admitted(t, t0 + seconds(3), "198.51.101.9:1"));
}

// The PCP server turns FILTER options into the table's list: prefixes count over the
// 128-bit field (IPv4 /24 travels as 120), the response echoes them.
TEST(PcpFilter, ServerInstallsTheRequestsFilters) {
  auto t = table();
  PcpServer server(t, PortMappingConfig{}, t0);
  pcp::Request q;
  q.opcode = pcp::Opcode::map;
  q.lifetime = 600;
  q.client_address = ip("10.0.0.2");
  q.data.nonce.fill(7);
  q.data.protocol = 17;
  q.data.internal_port = 4000;
  q.data.external_port = 40000;
  q.data.external_address = IpAddress::v4(0);
  q.options.filters[0] = pcp::Filter{120, 0, ip("198.51.100.0")};
  q.options.filters[1] = pcp::Filter{128, 5000, ip("192.0.2.7")};
  q.options.filter_count = 2;
  std::array<std::uint8_t, pcp::kMaxMessageSize> in{};
  std::array<std::uint8_t, pcp::kMaxMessageSize> out{};
  auto ask = [&](TimePoint now) {
    const std::size_t n = *pcp::emit_request(q, in);
    (void)server.handle_datagram(now, ep("10.0.0.1:5351"), ep("10.0.0.2:5350"),
                                 ByteView(in.data(), n));
    auto tx = server.poll_transmit(out);
    EXPECT_TRUE(tx);
    auto r = pcp::parse_response(ByteView(out.data(), tx ? tx->size : 0));
    EXPECT_TRUE(r);
    return r ? *r : pcp::Response{};
  };
  auto r = ask(t0);
  EXPECT_EQ(r.result, pcp::ResultCode::success);
  EXPECT_EQ(r.options.filter_count, 2);
  EXPECT_EQ(r.options.filters[1], q.options.filters[1]);
  EXPECT_EQ(r.data.external_port, 40000);
  EXPECT_EQ(t.explicit_mapping(t0, kUdp, ep("10.0.0.2:4000"))->filters,
            std::vector<RemoteFilter>(kTwo.begin(), kTwo.end()));
  EXPECT_TRUE(admitted(t, t0 + seconds(1), "198.51.100.9:1"));
  EXPECT_FALSE(admitted(t, t0 + seconds(1), "192.0.2.7:5001"));
  // §13.3: a refresh without FILTER removes the filters.
  q.options.filter_count = 0;
  r = ask(t0 + seconds(300));
  EXPECT_EQ(r.result, pcp::ResultCode::success);
  EXPECT_EQ(r.lifetime, 600u);
  EXPECT_TRUE(admitted(t, t0 + seconds(301), "192.0.2.7:5001"));
  EXPECT_EQ(t.counters().drops(NatDrop::filtered), 1u);
}

}  // namespace
}  // namespace natsim::nat
