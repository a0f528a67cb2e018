#include "json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "limits.hpp"

namespace natsim::scenarios::detail {

using nlohmann::json;

namespace {
std::string kind_of(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    default:
      return "something else";
  }
}
std::string position(const std::string& file, std::size_t line, std::size_t column) {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// Line and column (1-based) of the byte at 1-based offset `byte`, as nlohmann counts it.
void locate(std::string_view text, std::size_t byte, std::size_t* line, std::size_t* column) {
  *line = 1;
  *column = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++*line;
      *column = 1;
    } else {
      ++*column;
    }
  }
}

bool number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// One pass over the text, outside strings: bracket depth and numbers too big for a
// double (nlohmann throws out_of_range for those without a position).
void prescan(std::string_view text, const std::string& file) {
  int depth = 0;
  bool in_string = false;
  bool escape = false;
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limits::kMaxDepth) {
        throw InputError(position(file, line, column),
                         "nested deeper than " + std::to_string(limits::kMaxDepth) + " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t end = i;
      while (end < text.size() && number_char(text[end]))
        ++end;
      const std::string token(text.substr(i, end - i));
      if (std::isinf(std::strtod(token.c_str(), nullptr))) {
        throw InputError(position(file, line, column),
                         "number " + (token.size() > 40 ? token.substr(0, 40) + "..." : token) +
                             " is out of range");
      }
      column += end - i;
      i = end - 1;
      continue;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
}

}  // namespace

json parse_json(std::string_view text, const std::string& file, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    throw InputError(file, "larger than " + std::to_string(max_bytes >> 10) + " KiB");
  }
  prescan(text, file);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::size_t line = 0;
    std::size_t column = 0;
    locate(text, e.byte, &line, &column);
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...:".
    std::string what = e.what();
    if (auto colon = what.find(": ", what.find("parse error")); colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    throw InputError(position(file, line, column), what);
  } catch (const json::exception& e) {
    // Anything else the parser refuses (the prescan should have caught it first).
    std::string what = e.what();
    if (auto bracket = what.find("] "); bracket != std::string::npos)
      what = what.substr(bracket + 2);
    throw InputError(file, what);
  }
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw InputError(path, "cannot read the file");
  if (std::filesystem::is_directory(status)) throw InputError(path, "is a directory, not a file");
  // Size first: a huge file is refused before a byte of it is read.
  if (std::filesystem::is_regular_file(status)) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > max_bytes) {
      throw InputError(path, "larger than " + std::to_string(max_bytes >> 10) + " KiB (" +
                                 std::to_string(size) + " bytes)");
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot read the file");
  // In chunks, stopping past the limit: pipes and devices have no size up front.
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      throw InputError(path, "larger than " + std::to_string(max_bytes >> 10) + " KiB");
    }
  }
  return text;
}

void Reader::expect_object() const {
  if (!j_->is_object()) fail("expected an object, got " + kind_of(*j_));
}

void Reader::only(std::initializer_list<const char*> keys) const {
  expect_object();
  for (const auto& item : j_->items()) {
    const std::string& key = item.key();  // not a structured binding: lambdas capture it
    if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; })) {
      std::string known;
      for (const char* k : keys)
        known += (known.empty() ? "" : ", ") + std::string(k);
      throw InputError(pointer_ + "/" + pointer_token(key),
                       "unknown key '" + key + "', expected one of " + known);
    }
  }
}

Reader Reader::at(const char* key) const {
  expect_object();
  auto it = j_->find(key);
  if (it == j_->end()) fail(std::string("missing required key '") + key + "'");
  return Reader(*it, pointer_ + "/" + pointer_token(key));
}

std::optional<Reader> Reader::get(const char* key) const {
  expect_object();
  auto it = j_->find(key);
  if (it == j_->end()) return std::nullopt;
  return Reader(*it, pointer_ + "/" + pointer_token(key));
}

std::size_t Reader::size() const {
  if (!j_->is_array()) fail("expected an array, got " + kind_of(*j_));
  return j_->size();
}

Reader Reader::operator[](std::size_t i) const {
  return Reader((*j_)[i], pointer_ + "/" + std::to_string(i));
}

const std::string& Reader::string() const {
  if (!j_->is_string()) fail("expected a string, got " + kind_of(*j_));
  return j_->get_ref<const std::string&>();
}

std::string Reader::name() const {
  const std::string& s = string();
  const bool ok = !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  if (!ok) fail("bad name '" + s + "': use 1-64 letters, digits, '_' or '-'");
  return s;
}

bool Reader::boolean() const {
  if (!j_->is_boolean()) fail("expected true or false, got " + kind_of(*j_));
  return j_->get<bool>();
}

double Reader::number(double min, double max) const {
  if (!j_->is_number()) fail("expected a number, got " + kind_of(*j_));
  const double v = j_->get<double>();
  if (!(v >= min && v <= max)) {
    fail("expected a number from " + nlohmann::json(min).dump() + " to " +
         nlohmann::json(max).dump() + ", got " + j_->dump());
  }
  return v;
}

std::int64_t Reader::integer(std::int64_t min, std::int64_t max) const {
  if (!j_->is_number_integer()) fail("expected an integer, got " + kind_of(*j_));
  // Beyond INT64_MAX the value is unsigned: say it as written, not as a negative number.
  if (j_->is_number_unsigned() && j_->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
         ", got " + std::to_string(j_->get<std::uint64_t>()));
  }
  const auto v = j_->get<std::int64_t>();
  if (v < min || v > max) {
    fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
         ", got " + std::to_string(v));
  }
  return v;
}

Duration Reader::duration() const {
  if (!j_->is_string()) fail("expected a duration string such as \"250ms\", got " + kind_of(*j_));
  auto d = parse_duration(string());
  if (!d) fail("bad duration '" + string() + "', expected e.g. \"250ms\", \"1.5s\", \"2m\"");
  return *d;
}

IpAddress Reader::address() const {
  auto a = IpAddress::parse(string());
  if (!a) fail("bad IP address '" + string() + "'");
  return *a;
}

InterfaceAddress Reader::interface_address() const {
  auto a = InterfaceAddress::parse(string());
  if (!a || a->prefix_length == a->address.size() * 8) {
    fail("bad interface address '" + string() + "', expected e.g. \"192.168.1.1/24\"");
  }
  return *a;
}

Endpoint Reader::endpoint() const {
  auto e = Endpoint::parse(string());
  if (!e) fail("bad endpoint '" + string() + "', expected e.g. \"192.0.2.1:3478\"");
  return *e;
}

std::uint64_t Reader::bandwidth() const {
  if (j_->is_number_unsigned() || j_->is_number_integer()) {
    return static_cast<std::uint64_t>(integer(0, INT64_MAX));
  }
  const std::string& s = string();
  struct Unit {
    const char* suffix;
    double scale;
  };
  for (const Unit u : {Unit{"Gbps", 1e9}, Unit{"Mbps", 1e6}, Unit{"kbps", 1e3}, Unit{"bps", 1}}) {
    const std::string suffix = u.suffix;
    if (s.size() > suffix.size() && s.ends_with(suffix)) {
      try {
        std::size_t used = 0;
        const std::string digits = s.substr(0, s.size() - suffix.size());
        const double v = std::stod(digits, &used);
        if (used == digits.size() && v >= 0 && std::isfinite(v)) {
          return static_cast<std::uint64_t>(v * u.scale);
        }
      } catch (const std::exception&) {
      }
    }
  }
  fail("bad bandwidth '" + s + "', expected e.g. \"10Mbps\", \"1Gbps\" or bits per second");
}

}  // namespace natsim::scenarios::detail
