#include "natsim/sim/routing_table.hpp"

#include <algorithm>

namespace natsim::sim {

namespace {

constexpr std::uint32_t mask_of(std::uint8_t length) {
  return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
}

// The level for `length`, created in longest-first position if missing.
template <class Level, class Make>
Level& level_for(std::vector<Level>& levels, std::uint8_t length, Make make) {
  auto it = std::find_if(levels.begin(), levels.end(),
                         [&](const Level& l) { return l.length <= length; });
  if (it == levels.end() || it->length != length) it = levels.insert(it, make());
  return *it;
}

template <class Level, class Key>
bool erase_from(std::vector<Level>& levels, std::uint8_t length, const Key& key) {
  for (auto it = levels.begin(); it != levels.end(); ++it) {
    if (it->length != length) continue;
    const bool erased = it->routes.erase(key) > 0;
    if (it->routes.empty()) levels.erase(it);
    return erased;
  }
  return false;
}

}  // namespace

void RoutingTable::add(const Route& route) {
  const std::uint8_t length = route.prefix.length();
  const IpAddress& key = route.prefix.address();
  if (key.is_v4()) {
    level_for(v4_, length, [&] {
      return Level4{length, mask_of(length), {}};
    }).routes.insert_or_assign(key.v4_value(), route);
  } else {
    level_for(v6_, length, [&] { return Level6{length, {}}; }).routes.insert_or_assign(key, route);
  }
}

bool RoutingTable::remove(const Prefix& prefix) {
  const IpAddress& key = prefix.address();
  return key.is_v4() ? erase_from(v4_, prefix.length(), key.v4_value())
                     : erase_from(v6_, prefix.length(), key);
}

const Route* RoutingTable::lookup(const IpAddress& dst) const {
  if (dst.is_v4()) {
    const std::uint32_t value = dst.v4_value();
    for (const Level4& level : v4_) {
      auto it = level.routes.find(value & level.mask);
      if (it != level.routes.end()) return &it->second;
    }
    return nullptr;
  }
  for (const Level6& level : v6_) {
    auto it = level.routes.find(dst.masked(level.length));
    if (it != level.routes.end()) return &it->second;
  }
  return nullptr;
}

std::vector<Route> RoutingTable::routes() const {
  std::vector<Route> out;
  for (const Level4& level : v4_) {
    for (const auto& entry : level.routes)
      out.push_back(entry.second);
  }
  for (const Level6& level : v6_) {
    for (const auto& entry : level.routes)
      out.push_back(entry.second);
  }
  std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
    return a.prefix.length() != b.prefix.length() ? a.prefix.length() > b.prefix.length()
                                                  : a.prefix < b.prefix;
  });
  return out;
}

std::size_t RoutingTable::size() const {
  std::size_t n = 0;
  for (const Level4& level : v4_)
    n += level.routes.size();
  for (const Level6& level : v6_)
    n += level.routes.size();
  return n;
}

}  // namespace natsim::sim
