#pragma once
// Which peers a TURN relay may reach (RFC 8656 §21.3: a relay must not become a way into
// networks its clients could not otherwise reach). One list serves both families: an
// IPv6 address that embeds an IPv4 address (mapped, compatible, NAT64, 6to4) is checked
// under that IPv4 address too, so ::ffff:127.0.0.1 is as denied as 127.0.0.1.
#include <optional>
#include <span>
#include <vector>

#include "natsim/base/ip_address.hpp"

namespace natsim::traversal::turn {

// The special-purpose ranges denied by default (docs/turn.md lists each with its RFC):
// "this network", loopback, link-local, shared address space, benchmarking, multicast,
// reserved and broadcast; IPv6 unspecified, loopback, link-local and multicast. Private
// ranges (RFC 1918, fc00::/7) and documentation ranges stay allowed: simulated networks
// use them.
[[nodiscard]] std::vector<Prefix> default_denied_peers();

// The IPv4 address an IPv6 address carries: IPv4-mapped ::ffff:0:0/96 and
// IPv4-compatible ::/96 (RFC 4291 §2.5.5; not :: and ::1, which are their own), the
// NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1) and 6to4 2002::/16 (RFC 3056 §2).
[[nodiscard]] std::optional<IpAddress> embedded_ipv4(const IpAddress& address);

// True when `peer` (or the IPv4 address it embeds) falls in `denied` and not in
// `allowed`: allowed overrides a denial, like coturn's --allowed-peer-ip.
[[nodiscard]] bool peer_denied(const IpAddress& peer, std::span<const Prefix> denied,
                               std::span<const Prefix> allowed);

}  // namespace natsim::traversal::turn
