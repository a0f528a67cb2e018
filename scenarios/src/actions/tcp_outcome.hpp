#pragma once
// What the TCP actions (tcp, tcp_punch) share: the outcome of a connection and its
// transfer, its report fields, and the "outcome", "transferred", "connect_ms" and
// "duration_ms" expectation keys.
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../action_type.hpp"
#include "../checks.hpp"
#include "natsim/base/time.hpp"

namespace natsim::scenarios::detail {

// A run sends at most this much on one connection (the simulation's cost grows with it).
inline constexpr std::int64_t kMaxTcpBytes = 100'000'000;

struct TcpCheck final : ActionCheck {
  std::optional<std::string> outcome;
  std::optional<Range> transferred;
  std::optional<Range> connect_ms;
  std::optional<Range> duration_ms;
};

struct TcpResult {
  // success | refused | reset | timed_out | closed (the peer closed first) | no_mapping
  // (tcp_punch: a side learnt no endpoint); none: the
  // run ended before an answer ("pending" in the report).
  std::optional<std::string> outcome;
  std::optional<TimePoint> connected_at;
  Duration connect{0};   // from the first SYN to the connection
  Duration duration{0};  // from the connection to the last byte
  std::uint64_t transferred = 0;

  // Records why the connection failed.
  void fail(const boost::system::error_code& e);
  void report(nlohmann::json& a) const;
  void check(const TcpCheck& e, Checks& checks) const;
};

extern const std::vector<ActionKey> kTcpExpectKeys;
[[nodiscard]] std::shared_ptr<const ActionCheck> parse_tcp_check(const Reader& r,
                                                                 const ActionsById& actions);
[[nodiscard]] std::string tcp_line(const nlohmann::json& report);

}  // namespace natsim::scenarios::detail
