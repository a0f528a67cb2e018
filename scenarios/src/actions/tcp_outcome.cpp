#include "tcp_outcome.hpp"

#include "natsim/sim/tcp_error.hpp"

namespace natsim::scenarios::detail {

const std::vector<ActionKey> kTcpExpectKeys = {
    {"outcome", "success|refused|reset|timed_out|closed|no_mapping"},
    {"transferred", "range"},
    {"connect_ms", "range"},
    {"duration_ms", "range"},
};

void TcpResult::fail(const boost::system::error_code& e) {
  if (e == sim::TcpErrc::connection_refused) {
    outcome = "refused";
  } else if (e == sim::TcpErrc::timed_out) {
    outcome = "timed_out";
  } else if (e == sim::TcpErrc::reset) {
    outcome = "reset";
  } else {
    outcome = e.message();
  }
}

void TcpResult::report(nlohmann::json& a) const {
  a["outcome"] = outcome.value_or("pending");
  a["connected"] = connected_at.has_value();
  a["connect_ms"] = connected_at ? nlohmann::json(ms(connect)) : nlohmann::json(nullptr);
  a["transferred"] = transferred;
  a["duration_ms"] = outcome == "success" ? nlohmann::json(ms(duration)) : nlohmann::json(nullptr);
}

void TcpResult::check(const TcpCheck& e, Checks& checks) const {
  const std::string got = outcome.value_or("pending");
  if (e.outcome)
    checks.check(got == *e.outcome, "outcome: expected " + *e.outcome + ", got " + got);
  if (e.transferred)
    checks.check_range("transferred", *e.transferred, static_cast<double>(transferred));
  if (e.connect_ms) {
    if (connected_at) {
      checks.check_range("connect_ms", *e.connect_ms, ms(connect));
    } else {
      checks.check(false,
                   "connect_ms: expected " + range_text(*e.connect_ms) + ", never connected");
    }
  }
  if (e.duration_ms) {
    if (outcome == "success") {
      checks.check_range("duration_ms", *e.duration_ms, ms(duration));
    } else {
      checks.check(false, "duration_ms: expected " + range_text(*e.duration_ms) + ", got " + got);
    }
  }
}

std::shared_ptr<const ActionCheck> parse_tcp_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<TcpCheck>();
  if (auto f = r.get("outcome"))
    e->outcome = one_of(*f, {"success", "refused", "reset", "timed_out", "closed", "no_mapping"});
  if (auto f = r.get("transferred")) e->transferred = parse_range(*f);
  if (auto f = r.get("connect_ms")) e->connect_ms = parse_range(*f);
  if (auto f = r.get("duration_ms")) e->duration_ms = parse_range(*f);
  return e;
}

std::string tcp_line(const nlohmann::json& a) {
  std::string s = a["outcome"].get<std::string>();
  if (a["connected"].get<bool>()) {
    s += ", connected at " + number_text(a["connect_ms"].get<double>()) + " ms, " +
         std::to_string(a["transferred"].get<std::uint64_t>()) + " bytes";
    if (!a["duration_ms"].is_null())
      s += " in " + number_text(a["duration_ms"].get<double>()) + " ms";
  }
  return s;
}

}  // namespace natsim::scenarios::detail
