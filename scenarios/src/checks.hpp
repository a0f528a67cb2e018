#pragma once
// Pieces every expectation uses: ranges as read from a file and as written in messages,
// and the list of checks one expectation made and which of them failed.
#include <initializer_list>
#include <string>
#include <vector>

#include "json_reader.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios::detail {

// A number or {"min": a, "max": b}. Throws InputError.
[[nodiscard]] Range parse_range(const Reader& r);
// The string at `r`, which must be one of `values`. Throws InputError.
[[nodiscard]] std::string one_of(const Reader& r, std::initializer_list<const char*> values);

// "5", "0.25": integers without a fraction.
[[nodiscard]] std::string number_text(double v);
// "5", ">= 6", ">= 1 and <= 3".
[[nodiscard]] std::string range_text(const Range& r);

class Checks {
 public:
  // Records one check, `what` saying what was expected and what happened.
  void check(bool ok, std::string what);
  // A range check on a number: "<name>: expected <range>, got <value>".
  void check_range(const char* name, const Range& expected, double got);

  [[nodiscard]] bool passed() const { return failures_.empty(); }
  // The failures if any failed, else every check; "; " between them.
  [[nodiscard]] std::string text() const;

 private:
  std::vector<std::string> checks_;
  std::vector<std::string> failures_;
};

}  // namespace natsim::scenarios::detail
