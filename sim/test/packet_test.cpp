#include "natsim/sim/packet.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace natsim::sim {
namespace {

TEST(PacketPool, RecyclesPacketsWithoutGrowing) {
  PacketPool pool;
  {
    auto p = pool.acquire();
    EXPECT_EQ(pool.in_use(), 1u);
  }
  const std::size_t allocated = pool.allocated();
  EXPECT_EQ(pool.in_use(), 0u);
  for (int i = 0; i < 10000; ++i) {
    auto p = pool.acquire();
    p->resize(100);
  }
  EXPECT_EQ(pool.allocated(), allocated);
}

TEST(PacketPool, ReturnedPacketsComeBackClean) {
  PacketPool pool;
  Packet* raw;
  {
    auto p = pool.acquire();
    raw = p.get();
    p->ttl = 3;
    p->id = 99;
    p->proto = IpProto::tcp;
    p->resize(10);
  }
  auto again = pool.acquire();
  ASSERT_EQ(again.get(), raw);  // LIFO reuse keeps caches warm
  EXPECT_EQ(again->ttl, 64);
  EXPECT_EQ(again->id, 0u);
  EXPECT_EQ(again->proto, IpProto::udp);
  EXPECT_EQ(again->payload_size(), 0u);
}

TEST(Packet, LargePayloadsMoveOutOfLineAndBack) {
  PacketPool pool;
  auto p = pool.acquire();
  std::vector<std::uint8_t> big(9000);
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<std::uint8_t>(i);
  p->assign(big);
  ASSERT_EQ(p->payload_size(), big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), p->payload().begin()));
  p->resize(20);
  EXPECT_EQ(p->payload()[19], 19);
  auto copy = pool.clone(*p);
  EXPECT_EQ(copy->payload_size(), 20u);
}

TEST(Packet, WireSizeCountsHeaders) {
  PacketPool pool;
  auto p = pool.acquire();
  p->src = Endpoint{IpAddress::v4(10, 0, 0, 1), 1};
  p->resize(100);
  EXPECT_EQ(p->wire_size(), 128u);  // 20 IPv4 + 8 UDP + 100
  p->src.address = *IpAddress::parse("2001:db8::1");
  EXPECT_EQ(p->wire_size(), 148u);  // 40 IPv6 + 8 UDP + 100
  p->proto = IpProto::tcp;
  EXPECT_EQ(p->wire_size(), 160u);  // 40 IPv6 + 20 TCP + 100
}

}  // namespace
}  // namespace natsim::sim
