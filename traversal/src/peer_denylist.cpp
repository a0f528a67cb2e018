#include "natsim/traversal/peer_denylist.hpp"

#include <algorithm>
#include <cstdint>

namespace natsim::traversal::turn {

namespace {

Prefix v4(std::uint8_t a, std::uint8_t b, std::uint8_t length) {
  return Prefix(IpAddress::v4(a, b, 0, 0), length);
}

Prefix v6(std::uint8_t b0, std::uint8_t b1, std::uint8_t b15, std::uint8_t length) {
  IpAddress::Bytes16 bytes{};
  bytes[0] = b0;
  bytes[1] = b1;
  bytes[15] = b15;
  return Prefix(IpAddress::v6(bytes), length);
}

bool in(std::span<const Prefix> list, const IpAddress& a) {
  return std::any_of(list.begin(), list.end(), [&](const Prefix& p) { return p.contains(a); });
}

// One form of the peer: denied unless an allowed prefix covers it.
bool form_denied(const IpAddress& a, std::span<const Prefix> denied,
                 std::span<const Prefix> allowed) {
  return in(denied, a) && !in(allowed, a);
}

}  // namespace

std::vector<Prefix> default_denied_peers() {
  return {
      v4(0, 0, 8),            // "this network" (RFC 6890 §2.2.2, RFC 1122 §3.2.1.3)
      v4(127, 0, 8),          // loopback (RFC 6890 §2.2.2, RFC 1122 §3.2.1.3)
      v4(169, 254, 16),       // link-local, cloud metadata services (RFC 3927)
      v4(100, 64, 10),        // shared address space, carrier-grade NAT (RFC 6598)
      v4(198, 18, 15),        // benchmarking (RFC 2544 §C.2.2, RFC 6890 §2.2.2)
      v4(224, 0, 4),          // multicast (RFC 5771)
      v4(240, 0, 4),          // reserved (RFC 1112 §4), with 255.255.255.255 broadcast (RFC 919)
      v6(0, 0, 0, 128),       // :: unspecified (RFC 4291 §2.5.2)
      v6(0, 0, 1, 128),       // ::1 loopback (RFC 4291 §2.5.3)
      v6(0xfe, 0x80, 0, 10),  // link-local (RFC 4291 §2.5.6)
      v6(0xff, 0, 0, 8),      // multicast (RFC 4291 §2.7)
  };
}

std::optional<IpAddress> embedded_ipv4(const IpAddress& address) {
  if (!address.is_v6()) return std::nullopt;
  const IpAddress::Bytes16& b = address.bytes();
  const auto zero = [&](std::size_t from, std::size_t to) {
    return std::all_of(b.begin() + static_cast<std::ptrdiff_t>(from),
                       b.begin() + static_cast<std::ptrdiff_t>(to),
                       [](std::uint8_t x) { return x == 0; });
  };
  const auto at = [&](std::size_t i) { return IpAddress::v4(b[i], b[i + 1], b[i + 2], b[i + 3]); };
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d.
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return at(12);
  // RFC 4291 §2.5.5.1 (deprecated, still routed by some stacks): ::a.b.c.d, except ::
  // and ::1, which are the unspecified and loopback addresses.
  if (zero(0, 12) && !(zero(12, 15) && b[15] <= 1)) return at(12);
  // RFC 6052 §2.1: the NAT64 well-known prefix 64:ff9b::/96.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12)) return at(12);
  // RFC 3056 §2: 6to4, 2002:a.b.c.d::/48 (the IPv4 address of the 6to4 router).
  if (b[0] == 0x20 && b[1] == 0x02) return at(2);
  return std::nullopt;
}

bool peer_denied(const IpAddress& peer, std::span<const Prefix> denied,
                 std::span<const Prefix> allowed) {
  if (form_denied(peer, denied, allowed)) return true;
  // The embedded IPv4 address is what the packet may reach in the end (a dual-stack
  // socket, a NAT64, a 6to4 relay), so it gets the IPv4 list.
  const auto inner = embedded_ipv4(peer);
  return inner && form_denied(*inner, denied, allowed);
}

}  // namespace natsim::traversal::turn
