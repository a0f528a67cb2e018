// IPv4/IPv6 + UDP/TCP/ICMP parsing of captured packets (and of an ICMP error's quoted
// datagram): never reads out of bounds, and what parses re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "natsim/sim/ip_wire.hpp"

using namespace natsim::sim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The quote parser sees raw bytes too (it has no length field of its own to trust).
  (void)parse_icmp_quote(natsim::ByteView(data, size));
  auto parsed = parse_ip_packet(natsim::ByteView(data, size));
  if (parsed && parsed->proto == IpProto::icmp) (void)parse_icmp_quote(parsed->payload);
  if (!parsed || parsed->src.address.family() != parsed->dst.address.family()) return 0;
  // A packet natsim itself would emit (no IPv4 options, TCP without options, DF set)
  // must round-trip exactly; anything else only has to parse safely.
  PacketPool pool;
  auto p = pool.acquire();
  p->src = parsed->src;
  p->dst = parsed->dst;
  p->proto = parsed->proto;
  p->ttl = parsed->ttl;
  p->tcp = parsed->tcp;
  p->icmp = parsed->icmp;
  p->assign(parsed->payload);
  std::vector<std::uint8_t> out(p->wire_size());
  encode_ip_packet(*p, out);
  auto again = parse_ip_packet(out);
  if (!again || again->src != parsed->src || again->dst != parsed->dst ||
      again->payload.size() != parsed->payload.size() ||
      std::memcmp(again->payload.data(), parsed->payload.data(), parsed->payload.size()) != 0) {
    std::abort();
  }
  return 0;
}
