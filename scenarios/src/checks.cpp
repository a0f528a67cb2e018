#include "checks.hpp"

#include <nlohmann/json.hpp>

namespace natsim::scenarios::detail {

Range parse_range(const Reader& r) {
  if (r.json().is_number()) {
    const double v = r.number(-1e18, 1e18);
    return Range{v, v};
  }
  r.only({"min", "max"});
  Range range;
  if (auto m = r.get("min")) range.min = m->number(-1e18, 1e18);
  if (auto m = r.get("max")) range.max = m->number(-1e18, 1e18);
  if (!range.min && !range.max) r.fail("expected a number or {\"min\": ..., \"max\": ...}");
  if (range.min && range.max && *range.min > *range.max) r.fail("min is greater than max");
  return range;
}

std::string one_of(const Reader& r, std::initializer_list<const char*> values) {
  const std::string& v = r.string();
  for (const char* ok : values) {
    if (v == ok) return v;
  }
  std::string list;
  for (const char* ok : values)
    list += (list.empty() ? "" : ", ") + std::string(ok);
  r.fail("unknown value '" + v + "', expected " + list);
}

std::string number_text(double v) {
  if (v == static_cast<double>(static_cast<long long>(v)))
    return std::to_string(static_cast<long long>(v));
  return nlohmann::json(v).dump();
}

std::string range_text(const Range& r) {
  if (r.min && r.max && *r.min == *r.max) return number_text(*r.min);
  std::string s;
  if (r.min) s += ">= " + number_text(*r.min);
  if (r.max) s += (s.empty() ? "" : " and ") + std::string("<= ") + number_text(*r.max);
  return s;
}

void Checks::check(bool ok, std::string what) {
  if (!ok) failures_.push_back(what);
  checks_.push_back(std::move(what));
}

void Checks::check_range(const char* name, const Range& expected, double got) {
  check(expected.contains(got),
        std::string(name) + ": expected " + range_text(expected) + ", got " + number_text(got));
}

std::string Checks::text() const {
  std::string text;
  for (const auto& f : passed() ? checks_ : failures_)
    text += (text.empty() ? "" : "; ") + f;
  return text;
}

}  // namespace natsim::scenarios::detail
