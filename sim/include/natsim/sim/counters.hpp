#pragma once
// Packet counters kept per node, per link and for the whole network.
#include <array>
#include <cstdint>
#include <string_view>

namespace natsim::sim {

enum class DropReason : std::uint8_t {
  no_route,          // no routing table entry for the destination
  no_neighbor,       // next hop not attached to the segment
  link_down,         // link was down at send or arrival
  mtu_exceeded,      // packet larger than the link MTU
  random_loss,       // independent random loss
  burst_loss,        // Gilbert-Elliott burst loss
  queue_full,        // drop-tail queue overflow
  ttl_expired,       // hop limit reached zero while forwarding
  port_unreachable,  // no socket bound to the destination port
  not_forwarding,    // a host received a packet for another address
  filtered,          // refused by a policy (NAT filtering, firewall)
  no_state,          // no translation or connection state for it
  exhausted,         // a resource (ports, mappings) ran out
  malformed,         // a packet that could not be parsed
  node_down,         // the node was down (rebooting, crashed)
  kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

[[nodiscard]] constexpr std::string_view to_string(DropReason r) {
  constexpr std::string_view kNames[] = {
      "no_route",   "no_neighbor", "link_down",   "mtu_exceeded",     "random_loss",
      "burst_loss", "queue_full",  "ttl_expired", "port_unreachable", "not_forwarding",
      "filtered",   "no_state",    "exhausted",   "malformed",        "node_down",
  };
  static_assert(std::size(kNames) == kDropReasonCount);
  return kNames[static_cast<std::size_t>(r)];
}

struct Counters {
  std::uint64_t sent = 0;       // packets originated (nodes) or put on the wire (links)
  std::uint64_t delivered = 0;  // packets handed to a socket (nodes) or a receiver (links)
  std::uint64_t forwarded = 0;  // packets routed onward (nodes)
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_delivered = 0;
  std::array<std::uint64_t, kDropReasonCount> dropped{};

  [[nodiscard]] std::uint64_t drops(DropReason r) const {
    return dropped[static_cast<std::size_t>(r)];
  }
  [[nodiscard]] std::uint64_t total_drops() const {
    std::uint64_t n = 0;
    for (auto d : dropped)
      n += d;
    return n;
  }
  void count_drop(DropReason r) { ++dropped[static_cast<std::size_t>(r)]; }
};

}  // namespace natsim::sim
