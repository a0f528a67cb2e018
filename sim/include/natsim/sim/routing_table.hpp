#pragma once
// Longest-prefix-match routing. A small table (a host's subnet and default route) is a
// few routes scanned longest prefix first, with no allocation beyond the routes; past
// kLinearRoutes it gets one hash table per prefix length in use, probed from the longest
// length down: a lookup then costs a few hash probes however many routes exist.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "natsim/base/ip_address.hpp"

namespace natsim::sim {

using IfaceId = std::uint32_t;

struct Route {
  Prefix prefix;
  IfaceId iface = 0;
  std::optional<IpAddress> via;  // next-hop router; none for a connected subnet

  // The address a link must deliver to: the gateway, or the destination itself.
  [[nodiscard]] const IpAddress& next_hop(const IpAddress& dst) const { return via ? *via : dst; }
};

class RoutingTable {
 public:
  // Adds or replaces the route for `route.prefix`.
  void add(const Route& route);
  bool remove(const Prefix& prefix);
  [[nodiscard]] const Route* lookup(const IpAddress& dst) const;
  [[nodiscard]] std::vector<Route> routes() const;
  [[nodiscard]] std::size_t size() const;

 private:
  struct AddressHash {
    std::size_t operator()(const IpAddress& a) const noexcept { return a.hash(); }
  };
  // IPv4 keys are the masked 32-bit value: the hot path avoids 16-byte keys. The levels
  // map a key to an index into routes_: a host's two routes (its subnet and a default)
  // then cost two small index tables instead of two tables of whole routes, which made
  // up half of a large world's memory.
  struct Level4 {
    std::uint8_t length;
    std::uint32_t mask;
    boost::unordered_flat_map<std::uint32_t, std::uint32_t> index;
  };
  struct Level6 {
    std::uint8_t length;
    boost::unordered_flat_map<IpAddress, std::uint32_t, AddressHash> index;
  };
  static constexpr std::size_t kLinearRoutes = 8;
  [[nodiscard]] bool indexed() const { return !v4_.empty() || !v6_.empty(); }
  std::pair<std::uint32_t*, bool> index_entry(const Prefix& prefix, std::uint32_t position);
  // The entry of `route`'s level index that holds its position in routes_.
  std::uint32_t* slot_of(const Route& route);
  std::vector<Level4> v4_;  // longest prefix first; both empty while the table is small
  std::vector<Level6> v6_;
  std::vector<Route> routes_;  // while small: longest prefix first
};

}  // namespace natsim::sim
