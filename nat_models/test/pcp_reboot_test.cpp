// What a gateway reboot does to explicit mappings (PortMappingConfig::on_reboot), seen
// by natsim's port mapper and by a peer on the internet sending to the mapping:
//   forget (RFC 6887 §8.5): state lost, epoch reset, announced: re-created within seconds;
//   persist (NVRAM): the mapping survives, the epoch keeps counting, nothing to detect;
//   forget_silently: the mapping is gone, but nothing tells the client: the peer's
//     datagrams are dropped until the refresh at half the lifetime quietly re-creates it.
#include <gtest/gtest.h>

#include "port_mapper_lab.hpp"

namespace natsim::nat {
namespace {

using testing::Driver;
using testing::ep;
using testing::kLan;
using Kind = traversal::PortMapperEvent::Kind;

const Endpoint kExternal = ep("203.0.113.2:40000");
const TimePoint kReboot = at(seconds(100));
constexpr Duration kDowntime = seconds(1);

// A mapping of 10.0.0.2:4000 for 600 s, a gateway that reboots at 100 s (down 1 s), and
// the internet server s1 sending one datagram to the mapping at each of `probes`.
struct RebootLab {
  explicit RebootLab(RebootMappings mode)
      : lab([&] {
          PortMappingConfig c;
          c.on_reboot = mode;
          return c;
        }()),
        app(lab.site->hosts[0]->udp_bind(4000).value()) {
    lab.driver->mapper.add(lab.w.net.now(), 17, 4000, 600, 40000);
    lab.driver->pump();
    lab.w.net.run_until(at(seconds(1)));
    (void)lab.site->hosts[0]->schedule_at(kReboot, [this] { lab.site->gateway.reboot(kDowntime); });
  }
  // s1 sends at `when`; returns whether the internal host got it.
  bool reaches(TimePoint when) {
    const std::size_t before = app.payloads.size();
    (void)lab.w.servers[0].host->schedule_at(when, [this] {
      (void)lab.w.servers[0].sockets[0]->send_to(kExternal, testing::bytes("hello"));
    });
    lab.w.net.run_until(when + seconds(1));
    return app.payloads.size() == before + 1;
  }
  [[nodiscard]] std::vector<Kind> kinds() const {
    std::vector<Kind> out;
    for (const auto& s : lab.driver->seen)
      out.push_back(s.event.kind);
    return out;
  }
  testing::MapperLab lab;
  testing::Inbox app;
};

TEST(PcpReboot, ForgetResetsTheEpochAndTheMapperRecreatesAtOnce) {
  RebootLab r(RebootMappings::forget);
  ASSERT_TRUE(r.reaches(at(seconds(50))));
  EXPECT_TRUE(r.reaches(at(seconds(150))));  // re-created within 5 s of 101 s
  const auto& seen = r.lab.driver->seen;
  ASSERT_EQ(r.kinds(), (std::vector{Kind::mapped, Kind::gateway_rebooted, Kind::recreated}));
  // Back up at 101 s, it announces at once: heard one LAN hop later.
  EXPECT_EQ(seen[1].at, kReboot + kDowntime + kLan);
  EXPECT_EQ(seen[1].event.epoch, 1u);  // counted from the reboot at 100 s
  EXPECT_LT(seen[2].at, seen[1].at + seconds(5) + 2 * kLan);
  EXPECT_EQ(seen[2].event.external, kExternal);
}

TEST(PcpReboot, PersistKeepsTheMappingAndTheEpoch) {
  RebootLab r(RebootMappings::persist);
  // Nothing was lost: during the downtime nothing gets through, then the mapping works.
  EXPECT_FALSE(r.reaches(kReboot + milliseconds(500)));
  EXPECT_TRUE(r.reaches(at(seconds(150))));
  ASSERT_EQ(r.lab.site->gateway.mappings().size(), 1u);
  EXPECT_EQ(r.lab.site->gateway.mappings()[0].expires, kTimeZero + kLan + seconds(600));
  EXPECT_EQ(r.lab.site->gateway.port_mapping()->counters().announced, 0u);
  // The refresh at half the lifetime (sent at 300.010 s) is a plain refresh, with the
  // nonce the gateway kept and an epoch that never restarted.
  r.lab.w.net.run_until(at(seconds(400)));
  const auto& seen = r.lab.driver->seen;
  ASSERT_EQ(r.kinds(), (std::vector{Kind::mapped, Kind::refreshed}));
  EXPECT_EQ(seen[1].at, kTimeZero + 2 * kLan + seconds(300) + 2 * kLan);
  EXPECT_EQ(seen[1].event.epoch, 300u);
  EXPECT_EQ(seen[1].event.external, kExternal);
}

TEST(PcpReboot, ForgetSilentlyLeavesTheClientBlindUntilItsRefresh) {
  RebootLab r(RebootMappings::forget_silently);
  EXPECT_FALSE(r.reaches(at(seconds(150))));
  EXPECT_FALSE(r.reaches(at(seconds(299))));
  EXPECT_TRUE(r.lab.site->gateway.mappings().empty());
  EXPECT_EQ(r.lab.site->gateway.table(IpFamily::v4).counters().drops(NatDrop::no_mapping), 2u);
  EXPECT_EQ(r.lab.site->gateway.port_mapping()->counters().announced, 0u);
  // The refresh at 300.010 s creates the mapping anew on the port it asks for; the epoch
  // kept counting, so the mapper sees a refresh and never knows the peer was cut off.
  EXPECT_TRUE(r.reaches(at(seconds(301))));
  const auto& seen = r.lab.driver->seen;
  ASSERT_EQ(r.kinds(), (std::vector{Kind::mapped, Kind::refreshed}));
  EXPECT_EQ(seen[1].at, kTimeZero + 2 * kLan + seconds(300) + 2 * kLan);
  EXPECT_EQ(seen[1].event.epoch, 300u);
  EXPECT_EQ(seen[1].event.external, kExternal);
  EXPECT_EQ(r.lab.site->gateway.mappings()[0].expires,
            kTimeZero + 2 * kLan + seconds(300) + kLan + seconds(600));
}

TEST(PcpReboot, NewWanAddressLosesPersistedMappings) {
  RebootLab r(RebootMappings::persist);
  r.lab.w.net.run_until(kReboot - seconds(1));
  r.lab.site->gateway.reboot(Duration::zero(), *InterfaceAddress::parse("203.0.113.2/30"));
  EXPECT_TRUE(r.lab.site->gateway.mappings().empty());
  EXPECT_EQ(r.lab.site->gateway.port_mapping()->epoch(r.lab.w.net.now()), 0u);
}

}  // namespace
}  // namespace natsim::nat
