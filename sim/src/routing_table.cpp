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

}  // namespace

// Adds `route` under `key` in `level`, or replaces the route already there.
void RoutingTable::add(const Route& route) {
  if (!indexed()) {
    // A host has two routes (its subnet and a default): room for both at once.
    if (routes_.empty()) routes_.reserve(2);
    auto it = std::find_if(routes_.begin(), routes_.end(), [&](const Route& r) {
      return r.prefix.length() <= route.prefix.length();
    });
    for (auto same = it; same != routes_.end() && same->prefix.length() == route.prefix.length();
         ++same) {
      if (same->prefix == route.prefix) {
        *same = route;
        return;
      }
    }
    if (routes_.size() < kLinearRoutes) {
      routes_.insert(it, route);
      return;
    }
    // Too many to scan: index what is there, then this one.
    for (std::uint32_t i = 0; i < routes_.size(); ++i)
      (void)index_entry(routes_[i].prefix, i);
  }
  const auto [slot, inserted] =
      index_entry(route.prefix, static_cast<std::uint32_t>(routes_.size()));
  if (inserted) {
    routes_.push_back(route);
  } else {
    routes_[*slot] = route;
  }
}

// The index entry for `prefix` in its level (created if missing), set to `position` if new.
std::pair<std::uint32_t*, bool> RoutingTable::index_entry(const Prefix& prefix,
                                                          std::uint32_t position) {
  const std::uint8_t length = prefix.length();
  const IpAddress& key = prefix.address();
  auto entry = [&](auto& level_index, const auto& k) {
    const auto [it, inserted] = level_index.try_emplace(k, position);
    return std::pair(&it->second, inserted);
  };
  if (key.is_v4()) {
    return entry(level_for(v4_, length,
                           [&] {
                             return Level4{length, mask_of(length), {}};
                           })
                     .index,
                 key.v4_value());
  }
  return entry(level_for(v6_, length, [&] { return Level6{length, {}}; }).index, key);
}

std::uint32_t* RoutingTable::slot_of(const Route& route) {
  const std::uint8_t length = route.prefix.length();
  const IpAddress& key = route.prefix.address();
  if (key.is_v4()) {
    for (Level4& level : v4_) {
      if (level.length != length) continue;
      auto it = level.index.find(key.v4_value());
      return it == level.index.end() ? nullptr : &it->second;
    }
  } else {
    for (Level6& level : v6_) {
      if (level.length != length) continue;
      auto it = level.index.find(key);
      return it == level.index.end() ? nullptr : &it->second;
    }
  }
  return nullptr;
}

bool RoutingTable::remove(const Prefix& prefix) {
  if (!indexed()) {
    auto it = std::find_if(routes_.begin(), routes_.end(),
                           [&](const Route& r) { return r.prefix == prefix; });
    if (it == routes_.end()) return false;
    routes_.erase(it);
    return true;
  }
  const std::uint8_t length = prefix.length();
  const IpAddress& key = prefix.address();
  std::optional<std::uint32_t> removed;
  auto erase = [&](auto& levels, const auto& k) {
    for (auto it = levels.begin(); it != levels.end(); ++it) {
      if (it->length != length) continue;
      if (auto found = it->index.find(k); found != it->index.end()) {
        removed = found->second;
        it->index.erase(found);
      }
      if (it->index.empty()) levels.erase(it);
      return;
    }
  };
  if (key.is_v4()) {
    erase(v4_, key.v4_value());
  } else {
    erase(v6_, key);
  }
  if (!removed) return false;
  // The last route fills the hole; its level's index follows it.
  const auto last = static_cast<std::uint32_t>(routes_.size() - 1);
  if (*removed != last) {
    routes_[*removed] = routes_[last];
    *slot_of(routes_[*removed]) = *removed;
  }
  routes_.pop_back();
  return true;
}

const Route* RoutingTable::lookup(const IpAddress& dst) const {
  if (!indexed()) {
    // Longest prefix first, so the first match is the longest.
    if (dst.is_v4()) {
      const std::uint32_t value = dst.v4_value();
      for (const Route& r : routes_) {
        const IpAddress& net = r.prefix.address();
        if (net.is_v4() && (value & mask_of(r.prefix.length())) == net.v4_value()) return &r;
      }
      return nullptr;
    }
    for (const Route& r : routes_) {
      if (r.prefix.contains(dst)) return &r;
    }
    return nullptr;
  }
  if (dst.is_v4()) {
    const std::uint32_t value = dst.v4_value();
    for (const Level4& level : v4_) {
      auto it = level.index.find(value & level.mask);
      if (it != level.index.end()) return &routes_[it->second];
    }
    return nullptr;
  }
  for (const Level6& level : v6_) {
    auto it = level.index.find(dst.masked(level.length));
    if (it != level.index.end()) return &routes_[it->second];
  }
  return nullptr;
}

std::vector<Route> RoutingTable::routes() const {
  std::vector<Route> out = routes_;
  std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
    return a.prefix.length() != b.prefix.length() ? a.prefix.length() > b.prefix.length()
                                                  : a.prefix < b.prefix;
  });
  return out;
}

std::size_t RoutingTable::size() const {
  return routes_.size();
}

}  // namespace natsim::sim
