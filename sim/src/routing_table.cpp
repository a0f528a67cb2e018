#include "natsim/sim/routing_table.hpp"

#include <algorithm>

namespace natsim::sim {

void RoutingTable::add(const Route& route) {
  const IpFamily family = route.prefix.address().family();
  const std::uint8_t length = route.prefix.length();
  auto it = std::find_if(levels_.begin(), levels_.end(), [&](const Level& l) {
    return l.family == family && l.length == length;
  });
  if (it == levels_.end()) {
    it = levels_.insert(std::find_if(levels_.begin(), levels_.end(),
                                     [&](const Level& l) { return l.length < length; }),
                        Level{family, length, {}});
  }
  it->routes.insert_or_assign(route.prefix.address(), route);
}

bool RoutingTable::remove(const Prefix& prefix) {
  for (auto it = levels_.begin(); it != levels_.end(); ++it) {
    if (it->family != prefix.address().family() || it->length != prefix.length()) continue;
    const bool erased = it->routes.erase(prefix.address()) > 0;
    if (it->routes.empty()) levels_.erase(it);
    return erased;
  }
  return false;
}

const Route* RoutingTable::lookup(const IpAddress& dst) const {
  for (const Level& level : levels_) {
    if (level.family != dst.family()) continue;
    auto it = level.routes.find(dst.masked(level.length));
    if (it != level.routes.end()) return &it->second;
  }
  return nullptr;
}

std::vector<Route> RoutingTable::routes() const {
  std::vector<Route> out;
  for (const Level& level : levels_) {
    for (const auto& [key, route] : level.routes) out.push_back(route);
  }
  std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
    return a.prefix.length() != b.prefix.length() ? a.prefix.length() > b.prefix.length()
                                                   : a.prefix < b.prefix;
  });
  return out;
}

std::size_t RoutingTable::size() const {
  std::size_t n = 0;
  for (const Level& level : levels_) n += level.routes.size();
  return n;
}

}  // namespace natsim::sim
