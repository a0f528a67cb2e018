// TURN server costs, sans-I/O: relaying datagrams between peers and clients through a
// TurnServer holding N allocations, each with a channel bound to its peer.
#include <benchmark/benchmark.h>

#include <vector>

#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"

namespace {

using namespace natsim;
namespace turn = natsim::traversal::turn;

struct Relay {
  Endpoint client;
  Endpoint relay;
  Endpoint peer;
  std::uint16_t channel;
};

// Allocates `n` relays (clients 10.x.y.z:5000, peers 192.0.2.x:7000), each with a bound
// channel, by running real TurnClients against the server until they are done.
std::vector<Relay> set_up(turn::TurnServer& server, const Endpoint& listen, int n, TimePoint now) {
  std::vector<Relay> relays;
  std::vector<std::uint8_t> buf(2048);
  for (int i = 0; i < n; ++i) {
    turn::ClientConfig c;
    c.local =
        Endpoint{IpAddress::v4(10, static_cast<std::uint8_t>(i >> 16),
                               static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)),
                 5000};
    c.server = listen;
    c.username = "alice";
    c.password = "secret";
    turn::TurnClient client(static_cast<std::uint64_t>(i), c);
    const Endpoint peer{IpAddress::v4(192, 0, 2, static_cast<std::uint8_t>(i % 250 + 1)), 7000};
    client.allocate(now);
    bool bound = false;
    for (int round = 0; round < 8 && !bound; ++round) {
      while (auto t = client.poll_transmit(buf))
        server.handle_datagram(now, listen, c.local, {buf.data(), t->size});
      while (auto t = server.poll_transmit(buf))
        client.handle_datagram(now, c.local, listen, {buf.data(), t->size});
      while (auto e = client.poll_event()) {
        if (std::holds_alternative<turn::Allocated>(*e)) client.bind_channel(now, peer);
        if (const auto* b = std::get_if<turn::ChannelBound>(&*e)) {
          relays.push_back(Relay{c.local, *client.relayed(), peer, b->channel});
          bound = true;
        }
      }
    }
  }
  return relays;
}

// One datagram from a peer to its client (ChannelData out) and one from a client to its
// peer (ChannelData in), on allocations visited in a scrambled order. Items: datagrams.
void BM_TurnRelay(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Endpoint listen{IpAddress::v4(198, 51, 100, 1), 3478};
  turn::ServerConfig config;
  config.listen = listen;
  config.relay_address = listen.address;
  config.relay_port_first = 20000;
  config.relay_port_count = static_cast<std::uint16_t>(n);
  config.users = {{"alice", "secret"}};
  config.max_allocations_per_user = static_cast<std::uint32_t>(n);
  turn::TurnServer server(1, config);
  TimePoint now = at(seconds(1));
  const std::vector<Relay> relays = set_up(server, listen, n, now);
  if (static_cast<int>(relays.size()) != n) {
    state.SkipWithError("set-up did not allocate every relay");
    return;
  }
  std::vector<std::uint8_t> payload(100, 0x5a);
  std::vector<std::uint8_t> frame(256);
  std::vector<std::uint8_t> out(2048);
  std::uint64_t i = 0;
  std::uint64_t relayed = 0;
  for (auto _ : state) {
    const Relay& r = relays[(i++ * 7919) % relays.size()];
    now += microseconds(1);
    server.handle_datagram(now, r.relay, r.peer, payload);
    const auto n_frame = turn::write_channel_data(frame, r.channel, payload, false);
    server.handle_datagram(now, listen, r.client, {frame.data(), *n_frame});
    while (server.poll_transmit(out))
      ++relayed;
  }
  benchmark::DoNotOptimize(relayed);
  if (relayed != 2 * static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("a datagram was not relayed");
  state.SetItemsProcessed(static_cast<std::int64_t>(relayed));
}
BENCHMARK(BM_TurnRelay)->Arg(1)->Arg(100)->Arg(10'000);

}  // namespace
