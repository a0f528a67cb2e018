#include "natsim/nat_models/nat_table.hpp"

#include <gtest/gtest.h>

#include <set>

#include "nat_world.hpp"

namespace natsim::nat {
namespace {

using testing::ep;
using testing::ip;

constexpr auto kUdp = IpProto::udp;
constexpr auto kTcp = IpProto::tcp;
const TimePoint t0 = at(seconds(1));

NatTable make(const NatBehavior& b, std::vector<const char*> pool = {"203.0.113.2"},
              std::uint64_t seed = 1) {
  std::vector<IpAddress> addresses;
  for (const char* a : pool)
    addresses.push_back(ip(a));
  return NatTable(b, addresses, true, sim::Rng(seed));
}

NatBehavior with(Mapping m, Filtering f) {
  NatBehavior b;
  b.mapping = m;
  b.filtering = f;
  return b;
}

// --- mapping behaviour (RFC 4787 §4.1)

TEST(Mapping, EndpointIndependentReusesOneMappingForEveryRemote) {
  auto t = make(with(Mapping::endpoint_independent, Filtering::endpoint_independent));
  const Endpoint in = ep("10.0.0.2:5000");
  const auto a = t.outbound(t0, kUdp, in, ep("198.51.100.10:3478")).value();
  const auto b = t.outbound(t0, kUdp, in, ep("198.51.100.10:3479")).value();
  const auto c = t.outbound(t0, kUdp, in, ep("198.51.100.20:3478")).value();
  EXPECT_EQ(a, ep("203.0.113.2:5000"));  // port preserved
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(t.size(), 1u);
}

TEST(Mapping, AddressDependentSharesPortsOfOneAddressOnly) {
  auto t = make(with(Mapping::address_dependent, Filtering::address_dependent));
  const Endpoint in = ep("10.0.0.2:5000");
  const auto a = t.outbound(t0, kUdp, in, ep("198.51.100.10:3478")).value();
  const auto b = t.outbound(t0, kUdp, in, ep("198.51.100.10:3479")).value();
  const auto c = t.outbound(t0, kUdp, in, ep("198.51.100.20:3478")).value();
  EXPECT_EQ(a, b);  // same remote address, other port: same mapping
  EXPECT_NE(a, c);  // other remote address: new mapping
  EXPECT_EQ(a.address, c.address);
  EXPECT_EQ(t.size(), 2u);
}

TEST(Mapping, AddressAndPortDependentMapsEveryRemoteEndpointApart) {
  auto t = make(with(Mapping::address_and_port_dependent, Filtering::address_and_port_dependent));
  const Endpoint in = ep("10.0.0.2:5000");
  const auto a = t.outbound(t0, kUdp, in, ep("198.51.100.10:3478")).value();
  const auto b = t.outbound(t0, kUdp, in, ep("198.51.100.10:3479")).value();
  const auto c = t.outbound(t0, kUdp, in, ep("198.51.100.20:3478")).value();
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  EXPECT_EQ(t.outbound(t0, kUdp, in, ep("198.51.100.10:3479")).value(), b);  // stable
  EXPECT_EQ(t.size(), 3u);
}

// --- filtering behaviour (RFC 4787 §5)

struct FilterCase {
  Filtering filtering;
  bool same_endpoint, other_port, other_address;
};

TEST(Filtering, EachModeAdmitsExactlyWhatTheRfcSays) {
  const FilterCase cases[] = {
      {Filtering::endpoint_independent, true, true, true},
      {Filtering::address_dependent, true, true, false},
      {Filtering::address_and_port_dependent, true, false, false},
  };
  for (const FilterCase& c : cases) {
    auto t = make(with(Mapping::endpoint_independent, c.filtering));
    const Endpoint ext =
        t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:3478")).value();
    EXPECT_EQ(t.inbound(t0, kUdp, ep("198.51.100.10:3478"), ext).has_value(), c.same_endpoint)
        << to_string(c.filtering);
    EXPECT_EQ(t.inbound(t0, kUdp, ep("198.51.100.10:3479"), ext).has_value(), c.other_port)
        << to_string(c.filtering);
    auto other = t.inbound(t0, kUdp, ep("198.51.100.20:3478"), ext);
    EXPECT_EQ(other.has_value(), c.other_address) << to_string(c.filtering);
    if (!other) {
      EXPECT_EQ(other.error(), NatDrop::filtered);
    }
  }
}

TEST(Filtering, InboundWithoutMappingIsNoMapping) {
  auto t = make(NatBehavior{});
  auto r = t.inbound(t0, kUdp, ep("198.51.100.10:3478"), ep("203.0.113.2:5000"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), NatDrop::no_mapping);
  EXPECT_EQ(t.counters().drops(NatDrop::no_mapping), 1u);
}

TEST(Filtering, InboundReturnsTheInternalEndpoint) {
  auto t = make(NatBehavior{});
  const Endpoint ext = t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:3478")).value();
  EXPECT_EQ(t.inbound(t0, kUdp, ep("198.51.100.10:3478"), ext).value(), ep("10.0.0.2:5000"));
  EXPECT_FALSE(t.inbound(t0, kTcp, ep("198.51.100.10:3478"), ext));  // protocols never mix
}

// --- port assignment (RFC 4787 §4.2)

TEST(PortAssignment, PreserveFallsBackUpwardWhenTaken) {
  auto t = make(NatBehavior{});
  const auto a = t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:1")).value();
  const auto b = t.outbound(t0, kUdp, ep("10.0.0.3:5000"), ep("198.51.100.10:1")).value();
  EXPECT_EQ(a.port, 5000);
  EXPECT_EQ(b.port, 5001);  // REQ-3: never two internal endpoints on one external one
}

TEST(PortAssignment, SequentialHandsOutConsecutivePorts) {
  NatBehavior b;
  b.port_assignment = PortAssignment::sequential;
  b.port_first = 20000;
  auto t = make(b);
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 4; ++i) {
    const std::string in = "10.0.0." + std::to_string(2 + i) + ":5000";
    ports.push_back(t.outbound(t0, kUdp, ep(in.c_str()), ep("198.51.100.10:1")).value().port);
  }
  EXPECT_EQ(ports, (std::vector<std::uint16_t>{20000, 20001, 20002, 20003}));
}

TEST(PortAssignment, RandomIsSpreadWithinTheRangeAndSeeded) {
  NatBehavior b;
  b.port_assignment = PortAssignment::random;
  b.port_first = 40000;
  b.port_last = 40999;
  auto ports_for = [&](std::uint64_t seed) {
    auto t = make(b, {"203.0.113.2"}, seed);
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 50; ++i) {
      const std::string in = "10.0.0.2:" + std::to_string(5000 + i);
      ports.push_back(t.outbound(t0, kUdp, ep(in.c_str()), ep("198.51.100.10:1")).value().port);
    }
    return ports;
  };
  const auto ports = ports_for(1);
  for (auto p : ports) {
    EXPECT_GE(p, 40000);
    EXPECT_LE(p, 40999);
  }
  EXPECT_EQ(std::set<std::uint16_t>(ports.begin(), ports.end()).size(), ports.size());
  EXPECT_FALSE(std::is_sorted(ports.begin(), ports.end()));
  EXPECT_EQ(ports, ports_for(1));
  EXPECT_NE(ports, ports_for(2));
}

TEST(PortAssignment, ParityIsPreservedWhenAsked) {
  for (bool parity : {false, true}) {
    NatBehavior b;
    b.port_assignment = PortAssignment::sequential;
    b.port_first = 30000;
    b.preserve_parity = parity;
    auto t = make(b);
    int kept = 0;
    for (int i = 0; i < 20; ++i) {
      const std::uint16_t internal = static_cast<std::uint16_t>(7001 + i * 3);  // mixed parity
      const Endpoint in{ip("10.0.0.2"), internal};
      const auto ext = t.outbound(t0, kUdp, in, ep("198.51.100.10:1")).value();
      kept += (ext.port & 1) == (internal & 1) ? 1 : 0;
    }
    if (parity) {
      EXPECT_EQ(kept, 20);
    } else {
      EXPECT_LT(kept, 20);
    }
  }
}

TEST(PortAssignment, RangeExhaustionIsCounted) {
  NatBehavior b;
  b.port_first = 50000;
  b.port_last = 50002;
  auto t = make(b);
  for (int i = 0; i < 3; ++i) {
    const std::string in = "10.0.0." + std::to_string(2 + i) + ":9";
    ASSERT_TRUE(t.outbound(t0, kUdp, ep(in.c_str()), ep("198.51.100.10:1")));
  }
  auto r = t.outbound(t0, kUdp, ep("10.0.0.9:9"), ep("198.51.100.10:1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), NatDrop::exhausted);
  EXPECT_EQ(t.counters().drops(NatDrop::exhausted), 1u);
}

// --- pooling (RFC 4787 §4.1)

TEST(Pooling, PairedKeepsOneExternalAddressPerHost) {
  NatBehavior b;
  b.mapping = Mapping::address_and_port_dependent;
  auto t = make(b, {"203.0.113.2", "203.0.113.3", "203.0.113.4"});
  std::set<IpAddress> h1;
  std::set<IpAddress> all;
  for (int i = 0; i < 12; ++i) {
    const std::string remote = "198.51.100.10:" + std::to_string(1000 + i);
    h1.insert(t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep(remote.c_str())).value().address);
    const std::string other = "10.0.0." + std::to_string(3 + i) + ":5000";
    all.insert(t.outbound(t0, kUdp, ep(other.c_str()), ep(remote.c_str())).value().address);
  }
  EXPECT_EQ(h1.size(), 1u);
  EXPECT_EQ(all.size(), 3u);  // different hosts spread over the pool
}

TEST(Pooling, ArbitraryUsesSeveralAddressesForOneHost) {
  NatBehavior b;
  b.mapping = Mapping::address_and_port_dependent;
  b.pooling = Pooling::arbitrary;
  auto t = make(b, {"203.0.113.2", "203.0.113.3", "203.0.113.4"});
  std::set<IpAddress> used;
  for (int i = 0; i < 30; ++i) {
    const std::string remote = "198.51.100.10:" + std::to_string(1000 + i);
    used.insert(t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep(remote.c_str())).value().address);
  }
  EXPECT_EQ(used.size(), 3u);
}

// --- lifetime and refresh (RFC 4787 §4.3)

TEST(Lifetime, IdleMappingExpiresAfterTheTimeout) {
  NatBehavior b;
  b.udp_timeout = minutes(2);
  b.filtering = Filtering::endpoint_independent;
  auto t = make(b);
  const Endpoint ext = t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:1")).value();
  EXPECT_TRUE(t.inbound(t0 + minutes(2) - nanoseconds(1), kUdp, ep("198.51.100.20:1"), ext));
  auto late = t.inbound(t0 + minutes(2), kUdp, ep("198.51.100.20:1"), ext);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), NatDrop::expired);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.counters().mappings_expired, 1u);
}

TEST(Lifetime, OutboundRefreshesInboundOnlyWhenEnabled) {
  for (bool inbound_refresh : {false, true}) {
    NatBehavior b;
    b.udp_timeout = minutes(2);
    b.inbound_refresh = inbound_refresh;
    auto t = make(b);
    const Endpoint in = ep("10.0.0.2:5000");
    const Endpoint remote = ep("198.51.100.10:1");
    const Endpoint ext = t.outbound(t0, kUdp, in, remote).value();
    // Outbound at +90 s pushes expiry to +210 s.
    ASSERT_TRUE(t.outbound(t0 + seconds(90), kUdp, in, remote));
    // Inbound at +200 s refreshes (to +320 s) only with inbound refresh.
    ASSERT_TRUE(t.inbound(t0 + seconds(200), kUdp, remote, ext));
    EXPECT_EQ(t.inbound(t0 + seconds(260), kUdp, remote, ext).has_value(), inbound_refresh);
  }
}

TEST(Lifetime, ExpiryIsLazyButComplete) {
  NatBehavior b;
  b.udp_timeout = seconds(30);
  auto t = make(b);
  for (int i = 0; i < 1000; ++i) {
    const Endpoint in{ip("10.0.0.2"), static_cast<std::uint16_t>(1024 + i)};
    ASSERT_TRUE(t.outbound(t0 + milliseconds(i), kUdp, in, ep("198.51.100.10:1")));
  }
  EXPECT_EQ(t.size(), 1000u);
  // Any later packet sweeps what has expired; the freed ports are reusable.
  ASSERT_TRUE(t.outbound(t0 + seconds(40), kUdp, ep("10.0.0.3:1024"), ep("198.51.100.10:1")));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.mappings(t0 + seconds(40)).front().external.port, 1024);
}

// --- caps

TEST(Caps, PerHostAndTotalLimitsExhaust) {
  NatBehavior b;
  b.max_mappings_per_host = 2;
  b.max_mappings = 3;
  auto t = make(b);
  EXPECT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:1"), ep("198.51.100.10:1")));
  EXPECT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:2"), ep("198.51.100.10:1")));
  EXPECT_EQ(t.outbound(t0, kUdp, ep("10.0.0.2:3"), ep("198.51.100.10:1")).error(),
            NatDrop::exhausted);
  EXPECT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.3:1"), ep("198.51.100.10:1")));
  EXPECT_EQ(t.outbound(t0, kUdp, ep("10.0.0.4:1"), ep("198.51.100.10:1")).error(),
            NatDrop::exhausted);
  EXPECT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:1"), ep("198.51.100.10:1")));  // existing: fine
  EXPECT_EQ(t.counters().drops(NatDrop::exhausted), 2u);
}

TEST(PortBlocks, SubscribersGetDisjointBlocks) {
  NatBehavior b;
  b.port_first = 1024;
  b.port_last = 1024 + 4 * 100 - 1;  // four blocks of 100
  b.port_block_size = 100;
  b.port_assignment = PortAssignment::random;
  auto t = make(b);
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges;
  for (int s = 0; s < 4; ++s) {
    std::uint16_t lo = 65535;
    std::uint16_t hi = 0;
    for (int i = 0; i < 20; ++i) {
      const std::string in = "100.64.0." + std::to_string(2 + s) + ":" + std::to_string(4000 + i);
      const auto p = t.outbound(t0, kUdp, ep(in.c_str()), ep("198.51.100.10:1")).value().port;
      lo = std::min(lo, p);
      hi = std::max(hi, p);
    }
    EXPECT_EQ((lo - 1024) / 100, (hi - 1024) / 100) << "subscriber " << s << " left its block";
    ranges.emplace_back(lo, hi);
  }
  std::set<int> blocks;
  for (auto [lo, hi] : ranges)
    blocks.insert((lo - 1024) / 100);
  EXPECT_EQ(blocks.size(), 4u);
  // A fifth subscriber finds no block.
  EXPECT_EQ(t.outbound(t0, kUdp, ep("100.64.0.9:1"), ep("198.51.100.10:1")).error(),
            NatDrop::exhausted);
}

TEST(PortBlocks, ABlockRunsOut) {
  NatBehavior b;
  b.port_block_size = 10;
  auto t = make(b);
  for (int i = 0; i < 10; ++i) {
    const Endpoint in{ip("100.64.0.2"), static_cast<std::uint16_t>(6000 + i)};
    ASSERT_TRUE(t.outbound(t0, kUdp, in, ep("198.51.100.10:1")));
  }
  EXPECT_EQ(t.outbound(t0, kUdp, ep("100.64.0.2:7000"), ep("198.51.100.10:1")).error(),
            NatDrop::exhausted);
  EXPECT_TRUE(t.outbound(t0, kUdp, ep("100.64.0.3:7000"), ep("198.51.100.10:1")));
}

// --- TCP (RFC 5382)

using namespace sim::tcp_flags;

TEST(Tcp, OnlyASynOpensAMapping) {
  auto t = make(NatBehavior{});
  EXPECT_EQ(t.outbound(t0, kTcp, ep("10.0.0.2:40000"), ep("198.51.100.10:80"), ack).error(),
            NatDrop::no_mapping);
  EXPECT_TRUE(t.outbound(t0, kTcp, ep("10.0.0.2:40000"), ep("198.51.100.10:80"), syn));
}

TEST(Tcp, EstablishedAndTransitoryTimeouts) {
  NatBehavior b;  // established 2 h 4 min, transitory 4 min
  auto t = make(b);
  const Endpoint in = ep("10.0.0.2:40000");
  const Endpoint server = ep("198.51.100.10:80");
  const Endpoint ext = t.outbound(t0, kTcp, in, server, syn).value();
  // Half-open: transitory.
  EXPECT_EQ(t.mappings(t0).front().expires, t0 + minutes(4));
  ASSERT_TRUE(t.inbound(t0 + milliseconds(50), kTcp, server, ext, syn | ack));
  EXPECT_EQ(t.mappings(t0).front().expires, t0 + milliseconds(50) + hours(2) + minutes(4));
  // An idle established connection survives two hours.
  EXPECT_TRUE(t.inbound(t0 + hours(2), kTcp, server, ext, ack));
  // A RST makes it transitory again.
  ASSERT_TRUE(t.outbound(t0 + hours(2), kTcp, in, server, rst));
  EXPECT_EQ(t.mappings(t0 + hours(2)).front().expires, t0 + hours(2) + minutes(4));
}

TEST(Tcp, UnsolicitedSynIsDroppedButSimultaneousOpenPasses) {
  auto t = make(NatBehavior{});  // APDF
  EXPECT_EQ(t.inbound(t0, kTcp, ep("198.51.100.10:5555"), ep("203.0.113.2:40000"), syn).error(),
            NatDrop::no_mapping);
  const Endpoint ext =
      t.outbound(t0, kTcp, ep("10.0.0.2:40000"), ep("198.51.100.10:5555"), syn).value();
  // The peer's own SYN crossing ours (simultaneous open) is admitted.
  EXPECT_TRUE(t.inbound(t0 + milliseconds(1), kTcp, ep("198.51.100.10:5555"), ext, syn));
  EXPECT_EQ(t.mappings(t0).front().expires, t0 + milliseconds(1) + hours(2) + minutes(4));
  // A SYN from anyone else is filtered.
  EXPECT_EQ(t.inbound(t0, kTcp, ep("198.51.100.20:5555"), ext, syn).error(), NatDrop::filtered);
}

// --- firewall mode

TEST(Firewall, TracksWithoutTranslating) {
  NatBehavior b;
  b.filtering = Filtering::address_and_port_dependent;
  NatTable t(b, {}, false, sim::Rng(1));
  const Endpoint in = ep("[2001:db8:1::2]:5000");
  EXPECT_EQ(t.outbound(t0, kUdp, in, ep("[2001:db8:2::10]:3478")).value(), in);
  EXPECT_EQ(t.inbound(t0, kUdp, ep("[2001:db8:2::10]:3478"), in).value(), in);
  EXPECT_EQ(t.inbound(t0, kUdp, ep("[2001:db8:2::99]:3478"), in).error(), NatDrop::filtered);
  EXPECT_EQ(t.inbound(t0, kUdp, ep("[2001:db8:2::10]:3478"), ep("[2001:db8:1::3]:1")).error(),
            NatDrop::no_mapping);
}

TEST(NatTable, MappingListShowsKeysAndPermissions) {
  auto t = make(with(Mapping::address_dependent, Filtering::address_and_port_dependent));
  ASSERT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:3478")));
  ASSERT_TRUE(t.outbound(t0, kUdp, ep("10.0.0.2:5000"), ep("198.51.100.10:3479")));
  auto list = t.mappings(t0);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].internal, ep("10.0.0.2:5000"));
  EXPECT_EQ(list[0].remote, ep("198.51.100.10:0"));
  EXPECT_EQ(list[0].permitted.size(), 2u);
  EXPECT_EQ(list[0].expires, t0 + minutes(5));
  t.flush();
  EXPECT_TRUE(t.mappings(t0).empty());
}

}  // namespace
}  // namespace natsim::nat
