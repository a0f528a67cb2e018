#pragma once
// The error for bad user input (scenario files, profiles, command lines): where it is
// (a JSON Pointer, or file:line:column) and what was expected there.
#include <stdexcept>
#include <string>
#include <string_view>

namespace natsim {

class InputError : public std::runtime_error {
 public:
  InputError(std::string where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), where_(std::move(where)) {}
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// RFC 6901 §3: a key as a JSON Pointer reference token ("~" -> "~0", "/" -> "~1").
[[nodiscard]] inline std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace natsim
