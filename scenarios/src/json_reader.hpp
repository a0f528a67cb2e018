#pragma once
// Walks a JSON document while keeping the JSON Pointer of where it is, so every error
// names its location. Used by the scenario loader only.
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/base/time.hpp"

namespace natsim::scenarios::detail {

// Parses `text` as JSON after checking what the parser cannot bound by itself: at most
// `max_bytes`, nesting at most limits::kMaxDepth deep (the parser and the destructor
// recurse) and no number beyond a double. Every failure, nlohmann's included, is an
// InputError naming `file` and line:column.
[[nodiscard]] nlohmann::json parse_json(std::string_view text, const std::string& file,
                                        std::size_t max_bytes);
// The whole of a regular file of at most `max_bytes`, checked before reading it.
[[nodiscard]] std::string read_file(const std::string& path, std::size_t max_bytes);

class Reader {
 public:
  Reader(const nlohmann::json& j, std::string pointer) : j_(&j), pointer_(std::move(pointer)) {}

  [[nodiscard]] const nlohmann::json& json() const { return *j_; }
  [[nodiscard]] const std::string& pointer() const { return pointer_; }
  [[noreturn]] void fail(const std::string& what) const { throw InputError(pointer_, what); }

  // Object access. `only` rejects keys outside the list.
  void only(std::initializer_list<const char*> keys) const;
  [[nodiscard]] bool has(const char* key) const { return j_->is_object() && j_->contains(key); }
  [[nodiscard]] Reader at(const char* key) const;  // required key
  [[nodiscard]] std::optional<Reader> get(const char* key) const;
  // Array access.
  [[nodiscard]] std::size_t size() const;  // requires an array
  [[nodiscard]] Reader operator[](std::size_t i) const;

  [[nodiscard]] const std::string& string() const;
  [[nodiscard]] std::string name() const;  // an identifier for hosts, sites, actions
  [[nodiscard]] bool boolean() const;
  [[nodiscard]] double number(double min, double max) const;
  [[nodiscard]] std::int64_t integer(std::int64_t min, std::int64_t max) const;
  [[nodiscard]] Duration duration() const;
  [[nodiscard]] IpAddress address() const;
  [[nodiscard]] InterfaceAddress interface_address() const;
  [[nodiscard]] Endpoint endpoint() const;
  [[nodiscard]] std::uint64_t bandwidth() const;  // "10Mbps" or bits per second

 private:
  void expect_object() const;
  const nlohmann::json* j_;
  std::string pointer_;
};

}  // namespace natsim::scenarios::detail
