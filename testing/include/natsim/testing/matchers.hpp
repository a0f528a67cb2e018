#pragma once
// GoogleMock matchers for what natsim tests usually assert. They apply to
//  - a scenario run's action outcomes (RunResult::actions entries, found with action()):
//    Connected(), PathIs("srflx"), MappingIs(...), Delivered(n), SetupWithin(d);
//  - RFC 5780 discovery reports (traversal::DiscoveryReport): MappingIs, FilteringIs;
//  - virtual UDP sockets (sim::UdpSocket* or &): Delivered(n) counts received datagrams;
//  - a RunResult: Passed() (every expectation held; the failures are printed).
#include <gmock/gmock.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <type_traits>

#include "natsim/base/time.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/sim/node.hpp"
#include "natsim/traversal/nat_discovery.hpp"

namespace natsim::testing {

// The outcome of the timeline action with `id`; a null JSON value if there is none.
[[nodiscard]] const nlohmann::json& action(const scenarios::RunResult& result,
                                           const std::string& id);

namespace detail {
inline const nlohmann::json* field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
inline std::string dump(const nlohmann::json* j) {
  return j == nullptr ? "absent" : j->dump();
}
}  // namespace detail

MATCHER(Passed, "passed every expectation") {
  if (arg.passed) return true;
  for (const auto& e : arg.expectations) {
    if (!e.passed) *result_listener << "\n  " << e.pointer << ": " << e.message;
  }
  return false;
}

// A connect action's outcome (both sides connected).
MATCHER(Connected, "connected") {
  const nlohmann::json* o = detail::field(arg, "outcome");
  *result_listener << "outcome " << detail::dump(o);
  if (const nlohmann::json* r = detail::field(arg, "reason")) *result_listener << " (" << *r << ")";
  return o != nullptr && *o == "connected";
}

// The selected path of a connect action: "host", "srflx", "prflx", "relay", "mapped".
MATCHER_P(PathIs, path, "path " + ::testing::PrintToString(std::string(path))) {
  const nlohmann::json* p = detail::field(arg, "path");
  *result_listener << "path " << detail::dump(p);
  return p != nullptr && *p == std::string(path);
}

// Setup time (the action's setup_ms) at most `limit`.
MATCHER_P(SetupWithin, limit,
          "set up within " + std::to_string(to_seconds(Duration(limit)) * 1e3) + " ms") {
  const nlohmann::json* s = detail::field(arg, "setup_ms");
  *result_listener << "setup_ms " << detail::dump(s);
  return s != nullptr && s->is_number() &&
         s->template get<double>() <= to_seconds(Duration(limit)) * 1e3;
}

// Mapping behaviour of a DiscoveryReport or of a probe action's outcome.
MATCHER_P(MappingIs, behavior,
          "mapping " + std::string(traversal::to_string(traversal::MappingBehavior(behavior)))) {
  const std::string want(traversal::to_string(traversal::MappingBehavior(behavior)));
  if constexpr (std::is_same_v<std::decay_t<arg_type>, traversal::DiscoveryReport>) {
    *result_listener << "mapping " << traversal::to_string(arg.mapping);
    return arg.mapping == behavior;
  } else {
    const nlohmann::json* m = detail::field(arg, "mapping");
    *result_listener << "mapping " << detail::dump(m);
    return m != nullptr && *m == want;
  }
}

MATCHER_P(FilteringIs, behavior,
          "filtering " +
              std::string(traversal::to_string(traversal::FilteringBehavior(behavior)))) {
  const std::string want(traversal::to_string(traversal::FilteringBehavior(behavior)));
  if constexpr (std::is_same_v<std::decay_t<arg_type>, traversal::DiscoveryReport>) {
    *result_listener << "filtering " << traversal::to_string(arg.filtering);
    return arg.filtering == behavior;
  } else {
    const nlohmann::json* f = detail::field(arg, "filtering");
    *result_listener << "filtering " << detail::dump(f);
    return f != nullptr && *f == want;
  }
}

// Datagrams a virtual UDP socket received, or an action's "delivered" count.
MATCHER_P(Delivered, n, "delivered " + std::to_string(n)) {
  std::uint64_t got = 0;
  using T = std::remove_cvref_t<arg_type>;
  if constexpr (std::is_pointer_v<T>) {
    if (arg == nullptr) {
      *result_listener << "no socket";
      return false;
    }
    got = arg->received();
  } else if constexpr (std::is_same_v<T, sim::UdpSocket>) {
    got = arg.received();
  } else {
    const nlohmann::json* d = detail::field(arg, "delivered");
    if (d == nullptr || !d->is_number_unsigned()) {
      *result_listener << "delivered " << detail::dump(d);
      return false;
    }
    got = d->template get<std::uint64_t>();
  }
  *result_listener << "delivered " << got;
  return got == static_cast<std::uint64_t>(n);
}

}  // namespace natsim::testing
