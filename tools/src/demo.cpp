#include "demo.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "natsim/sim/network.hpp"
#include "natsim/sim/pcap.hpp"

namespace natsim::tools {

using namespace natsim::sim;

namespace {

void print_counters(const char* what, const Counters& c) {
  std::printf("  %-14s sent %4llu  delivered %4llu  forwarded %4llu", what,
              static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.delivered),
              static_cast<unsigned long long>(c.forwarded));
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    if (c.dropped[r] != 0) {
      const auto name = to_string(static_cast<DropReason>(r));
      std::printf("  %.*s %llu", static_cast<int>(name.size()), name.data(),
                  static_cast<unsigned long long>(c.dropped[r]));
    }
  }
  std::printf("\n");
}

}  // namespace

int run_demo(const DemoOptions& options) {
  Network net(options.seed);
  Host& alice = net.add_host("alice");
  Host& bob = net.add_host("bob");
  Router& r1 = net.add_router("r1");
  Router& r2 = net.add_router("r2");

  LinkParams access;
  access.latency = milliseconds(2);
  access.bandwidth_bps = 100'000'000;
  LinkParams core;
  core.latency = milliseconds(20);
  core.jitter = milliseconds(5);
  core.loss = 0.05;

  auto a = net.connect(alice, r1, access);
  auto c = net.connect(r1, r2, core, "core");
  auto b = net.connect(r2, bob, access);
  alice.add_address(a.a_iface, "10.0.1.2/24");
  r1.add_address(a.b_iface, "10.0.1.1/24");
  r1.add_address(c.a_iface, "10.0.0.1/30");
  r2.add_address(c.b_iface, "10.0.0.2/30");
  r2.add_address(b.a_iface, "10.0.2.1/24");
  bob.add_address(b.b_iface, "10.0.2.2/24");
  (void)alice.set_default_route(*IpAddress::parse("10.0.1.1"));
  (void)bob.set_default_route(*IpAddress::parse("10.0.2.1"));
  r1.add_route(*Prefix::parse("10.0.2.0/24"), c.a_iface, IpAddress::parse("10.0.0.2"));
  r2.add_route(*Prefix::parse("10.0.1.0/24"), c.b_iface, IpAddress::parse("10.0.0.1"));

  PcapWriter pcap;
  if (!options.pcap_path.empty()) {
    if (!pcap.open(options.pcap_path)) {
      std::fprintf(stderr, "natsim: cannot write %s\n", options.pcap_path.c_str());
      return 2;
    }
    c.link.capture(&pcap);
  }
  if (!options.trace_path.empty() && !net.trace().open_log(options.trace_path.c_str())) {
    std::fprintf(stderr, "natsim: cannot write %s\n", options.trace_path.c_str());
    return 2;
  }

  // bob echoes every datagram back to its sender.
  UdpSocket* echo = bob.udp_bind(7).value();
  echo->on_receive([echo](const Datagram& d) { (void)echo->send_to(d.from, d.payload); });

  std::vector<TimePoint> sent_at(static_cast<std::size_t>(options.pings), kTimeNever);
  std::vector<Duration> rtt(sent_at.size(), Duration::min());
  UdpSocket* client = alice.udp_bind().value();
  client->on_receive([&](const Datagram& d) {
    const std::string text(d.payload.begin(), d.payload.end());
    const auto n = static_cast<std::size_t>(std::stoul(text.substr(5)));
    if (n < rtt.size()) rtt[n] = d.at - sent_at[n];
  });
  const Endpoint bob_echo{*IpAddress::parse("10.0.2.2"), 7};
  for (int i = 0; i < options.pings; ++i) {
    (void)alice.schedule_in(milliseconds(100) * i, [&, i] {
      const std::string text = "ping " + std::to_string(i);
      sent_at[static_cast<std::size_t>(i)] = alice.now();
      (void)client->send_to(
          bob_echo, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    });
  }
  net.run();

  std::printf("natsim demo: alice %s -> r1 -> core (20ms +-5ms, 5%% loss) -> r2 -> bob %s\n\n",
              Endpoint{*alice.address(), client->local().port}.to_string().c_str(),
              bob_echo.to_string().c_str());
  int answered = 0;
  for (std::size_t i = 0; i < rtt.size(); ++i) {
    if (rtt[i] == Duration::min()) {
      std::printf("  ping %2zu  sent at %6.1f ms  lost\n", i, to_ns(sent_at[i]) / 1e6);
    } else {
      ++answered;
      std::printf("  ping %2zu  sent at %6.1f ms  rtt %6.3f ms\n", i, to_ns(sent_at[i]) / 1e6,
                  to_ns(rtt[i]) / 1e6);
    }
  }
  std::printf("\n%d of %d pings answered; simulated %.3f s in %llu events\n\n", answered,
              options.pings, to_ns(net.now()) / 1e9,
              static_cast<unsigned long long>(net.sim().events_run()));
  for (const auto& node : net.nodes())
    print_counters(node->name().c_str(), node->counters());
  for (const auto& link : net.links())
    print_counters(link->name().c_str(), link->counters());
  std::printf("\nseed %llu  digest %016llx\n", static_cast<unsigned long long>(options.seed),
              static_cast<unsigned long long>(net.trace().digest()));
  if (pcap.is_open()) {
    std::printf("capture of the core link: %s (%llu packets)\n", options.pcap_path.c_str(),
                static_cast<unsigned long long>(pcap.records()));
  }
  return 0;
}

}  // namespace natsim::tools
