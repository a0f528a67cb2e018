#pragma once
// Virtual time: nanosecond durations and time points on a clock that only the
// simulator (or, in io/, a real steady clock) advances.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace natsim {

using Duration = std::chrono::nanoseconds;

// The epoch is the start of a simulation; nothing here reads a wall clock.
struct VirtualClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = Duration;
  using time_point = std::chrono::time_point<VirtualClock, Duration>;
  static constexpr bool is_steady = true;
};

using TimePoint = VirtualClock::time_point;

inline constexpr TimePoint kTimeZero{};
inline constexpr TimePoint kTimeNever = TimePoint::max();

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

[[nodiscard]] constexpr std::int64_t to_ns(Duration d) {
  return d.count();
}
[[nodiscard]] constexpr std::int64_t to_ns(TimePoint t) {
  return t.time_since_epoch().count();
}
[[nodiscard]] constexpr double to_seconds(Duration d) {
  return static_cast<double>(d.count()) / 1e9;
}
[[nodiscard]] constexpr TimePoint at(Duration since_start) {
  return TimePoint{since_start};
}

// Parses "250ms", "1.5s", "10us", "3m", "2h", "100ns" (unit required, no sign).
[[nodiscard]] inline std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t i = 0;
  std::int64_t whole = 0;
  std::int64_t frac = 0;
  std::int64_t frac_scale = 1;
  bool any_digit = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (whole > (INT64_MAX - 9) / 10) return std::nullopt;
    whole = whole * 10 + (text[i] - '0');
    any_digit = true;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (frac_scale < 1'000'000'000) {
        frac = frac * 10 + (text[i] - '0');
        frac_scale *= 10;
      }
      any_digit = true;
    }
  }
  if (!any_digit) return std::nullopt;
  const std::string_view unit = text.substr(i);
  std::int64_t ns_per_unit = 0;
  if (unit == "ns") {
    ns_per_unit = 1;
  } else if (unit == "us") {
    ns_per_unit = 1'000;
  } else if (unit == "ms") {
    ns_per_unit = 1'000'000;
  } else if (unit == "s") {
    ns_per_unit = 1'000'000'000;
  } else if (unit == "m" || unit == "min") {
    ns_per_unit = 60'000'000'000;
  } else if (unit == "h") {
    ns_per_unit = 3'600'000'000'000;
  } else {
    return std::nullopt;
  }
  if (whole > INT64_MAX / ns_per_unit) return std::nullopt;
  // frac < frac_scale <= 1e9, so frac * (ns_per_unit / frac_scale) stays small; split the
  // product to keep it exact for sub-nanosecond units too.
  const std::int64_t frac_ns = ns_per_unit >= frac_scale ? frac * (ns_per_unit / frac_scale)
                                                         : frac / (frac_scale / ns_per_unit);
  if (whole * ns_per_unit > INT64_MAX - frac_ns) return std::nullopt;
  return Duration{whole * ns_per_unit + frac_ns};
}

// Shortest exact rendering in the largest unit that divides the value ("250ms", "1500us").
[[nodiscard]] inline std::string format_duration(Duration d) {
  const std::int64_t ns = d.count();
  struct Unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},        {1'000, "us"},
  };
  if (ns != 0) {
    for (const Unit& u : kUnits) {
      if (ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
    }
  }
  return std::to_string(ns) + "ns";
}

}  // namespace natsim
