// STUN parsing and the STUN and TURN machines: never read out of bounds, never trust a
// length, never throw on what a peer sends.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "natsim/traversal/nat_discovery.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/stun_server.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"

using namespace natsim;
using namespace natsim::traversal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView bytes(data, size);
  (void)stun::Message::looks_like_stun(bytes);
  if (auto m = stun::Message::parse(bytes)) {
    for (const auto& a : m->attributes())
      (void)stun::attr::name(a.type);
    (void)m->mapped_address();
    (void)m->address(stun::attr::other_address);
    (void)m->xor_address(stun::attr::xor_relayed_address);
    (void)m->error_code();
    (void)m->change_request();
    (void)m->unknown_required();
    (void)m->unknown_attributes_value();
    (void)m->text(stun::attr::username);
    (void)m->u32(stun::attr::lifetime);
    (void)m->fingerprint_ok();
    const std::uint8_t key[] = {'k', 'e', 'y'};
    (void)m->check_integrity(key);
  }
  const Endpoint server{IpAddress::v4(192, 0, 2, 1), 3478};
  const Endpoint peer{IpAddress::v4(198, 51, 100, 7), 40000};
  std::array<std::uint8_t, 2048> out{};

  stun::ServerConfig config;
  config.primary = server;
  config.alternate_address = IpAddress::v4(192, 0, 2, 2);
  config.alternate_port = 3479;
  stun::StunServer s(config);
  s.handle_datagram(kTimeZero, server, peer, bytes);
  while (s.poll_transmit(out)) {
  }

  stun::StunClient c(1);
  c.send_binding(kTimeZero, peer, server);
  c.handle_datagram(kTimeZero, peer, server, bytes);
  while (c.poll_transmit(out)) {
  }
  while (c.poll_event()) {
  }

  // TURN: the server on its listening and relay endpoints, the client from its server.
  turn::ServerConfig tc;
  tc.listen = server;
  tc.relay_address = server.address;
  tc.relay_port_first = 50000;
  tc.relay_port_count = 2;
  tc.users = {{"alice", "secret"}};
  turn::TurnServer ts(1, tc);
  ts.handle_datagram(kTimeZero, server, peer, bytes);
  ts.handle_datagram(kTimeZero, Endpoint{server.address, 50000}, peer, bytes);
  // Over TCP: the whole input as one segment, then again split in two.
  ts.handle_stream(kTimeZero, server, peer, bytes);
  ts.handle_stream(kTimeZero, server, peer, bytes.first(size / 2));
  ts.handle_stream(kTimeZero, server, peer, bytes.subspan(size / 2));
  ts.handle_stream_closed(kTimeZero, server, peer);
  while (ts.poll_transmit(out)) {
  }
  // RFC 5766 channel numbers, and a relay range with a reservation: the input as a client
  // datagram (ChannelData up to 0x7FFF, Allocates with EVEN-PORT or RESERVATION-TOKEN),
  // then past the 30 s the reservation lasts.
  // A real client allocates first (EVEN-PORT with R: 50000, and 50001 reserved) and binds
  // a channel, so the input meets an allocation, a reservation and a channel.
  tc.rfc5766_channels = true;
  tc.relay_port_count = 4;
  turn::TurnServer wide(2, tc);
  turn::ClientConfig rc;
  rc.local = peer;
  rc.server = server;
  rc.username = "alice";
  rc.password = "secret";
  rc.even_port = true;
  rc.reserve_next = true;
  turn::TurnClient owner(4, rc);
  const auto pump = [&] {
    for (int i = 0; i < 16; ++i) {
      while (auto t = owner.poll_transmit(out))
        wide.handle_datagram(kTimeZero, server, peer, ByteView(out.data(), t->size));
      while (auto t = wide.poll_transmit(out)) {
        if (t->remote == peer)
          owner.handle_datagram(kTimeZero, peer, server, ByteView(out.data(), t->size));
      }
    }
  };
  owner.allocate(kTimeZero);
  pump();
  owner.bind_channel(kTimeZero, Endpoint{IpAddress::v4(198, 51, 100, 8), 9});
  pump();
  wide.handle_datagram(kTimeZero, server, peer, bytes);
  wide.handle_datagram(kTimeZero, Endpoint{server.address, 50000},
                       Endpoint{IpAddress::v4(198, 51, 100, 8), 9}, bytes);
  wide.handle_datagram(kTimeZero, Endpoint{server.address, 50001}, peer, bytes);
  while (wide.poll_transmit(out)) {
  }
  wide.handle_timeout(at(seconds(31)));
  (void)wide.poll_timeout();
  turn::ClientConfig cc;
  cc.local = peer;
  cc.server = server;
  cc.username = "alice";
  cc.password = "secret";
  turn::TurnClient tcl(1, cc);
  tcl.allocate(kTimeZero);
  tcl.handle_datagram(kTimeZero, peer, server, bytes);
  while (tcl.poll_transmit(out)) {
  }
  while (tcl.poll_event()) {
  }
  // EVEN-PORT with R, and a RESERVATION-TOKEN: the input as the answer to either.
  turn::ClientConfig reserving = cc;
  reserving.even_port = true;
  reserving.reserve_next = true;
  turn::TurnClient even_client(2, reserving);
  even_client.allocate(kTimeZero);
  even_client.handle_datagram(kTimeZero, peer, server, bytes);
  while (even_client.poll_transmit(out)) {
  }
  while (even_client.poll_event()) {
  }
  reserving.reservation_token = 0x0102030405060708;
  turn::TurnClient token_client(3, reserving);
  token_client.allocate(kTimeZero);
  token_client.handle_datagram(kTimeZero, peer, server, bytes);
  while (token_client.poll_transmit(out)) {
  }
  while (token_client.poll_event()) {
  }
  (void)turn::nonce_security_features(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)turn::parse_channel_data(bytes, turn::ChannelRange::rfc5766);
  cc.transport = Transport::tcp;
  turn::TurnClient tcp_client(1, cc);
  tcp_client.allocate(kTimeZero);
  tcp_client.handle_stream(kTimeZero, peer, server, bytes);
  while (tcp_client.poll_transmit(out)) {
  }
  while (tcp_client.poll_event()) {
  }

  DiscoveryOptions o;
  o.local = peer;
  o.server = server;
  NatDiscovery d(1, o);
  d.start(kTimeZero);
  d.handle_datagram(kTimeZero, peer, server, bytes);
  d.handle_timeout(at(seconds(10)));
  return 0;
}
