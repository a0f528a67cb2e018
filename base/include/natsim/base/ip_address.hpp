#pragma once
// IPv4 and IPv6 addresses and prefixes as small value types.
#include <arpa/inet.h>

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace natsim {

enum class IpFamily : std::uint8_t { v4 = 4, v6 = 6 };

// Stored as 16 bytes in network order; an IPv4 address uses the first four.
class IpAddress {
 public:
  using Bytes16 = std::array<std::uint8_t, 16>;

  constexpr IpAddress() = default;  // 0.0.0.0

  [[nodiscard]] static constexpr IpAddress v4(std::uint32_t host_order) {
    IpAddress a;
    a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes_[3] = static_cast<std::uint8_t>(host_order);
    return a;
  }
  [[nodiscard]] static constexpr IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                              std::uint8_t d) {
    return v4((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d);
  }
  [[nodiscard]] static constexpr IpAddress v6(const Bytes16& bytes) {
    IpAddress a;
    a.family_ = IpFamily::v6;
    a.bytes_ = bytes;
    return a;
  }

  // Accepts dotted-quad IPv4 and RFC 4291 text IPv6 (no zone, no brackets).
  [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddress a;
    if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) return a;
    a.family_ = IpFamily::v6;
    if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) return a;
    return std::nullopt;
  }

  [[nodiscard]] constexpr IpFamily family() const { return family_; }
  [[nodiscard]] constexpr bool is_v4() const { return family_ == IpFamily::v4; }
  [[nodiscard]] constexpr bool is_v6() const { return family_ == IpFamily::v6; }
  [[nodiscard]] constexpr std::size_t size() const { return is_v4() ? 4 : 16; }
  [[nodiscard]] constexpr const Bytes16& bytes() const { return bytes_; }
  [[nodiscard]] constexpr std::uint32_t v4_value() const {
    return (std::uint32_t{bytes_[0]} << 24) | (std::uint32_t{bytes_[1]} << 16) |
           (std::uint32_t{bytes_[2]} << 8) | bytes_[3];
  }

  [[nodiscard]] constexpr bool is_unspecified() const {
    for (std::size_t i = 0; i < size(); ++i) {
      if (bytes_[i] != 0) return false;
    }
    return true;
  }
  [[nodiscard]] constexpr bool is_multicast() const {
    return is_v4() ? (bytes_[0] & 0xf0) == 0xe0 : bytes_[0] == 0xff;  // 224/4, ff00::/8
  }
  [[nodiscard]] constexpr bool is_broadcast() const { return is_v4() && v4_value() == 0xffffffffu; }

  // The address with all bits past `prefix_len` cleared.
  [[nodiscard]] constexpr IpAddress masked(unsigned prefix_len) const {
    IpAddress a = *this;
    const std::size_t n = size();
    std::size_t i = prefix_len / 8;
    if (i >= n) return a;
    if (const unsigned rem = prefix_len % 8; rem != 0) {
      a.bytes_[i++] &= static_cast<std::uint8_t>(0xff00u >> rem);
    }
    for (; i < n; ++i)
      a.bytes_[i] = 0;
    return a;
  }

  [[nodiscard]] std::string to_string() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
    return buf;
  }

  // 64-bit mix of the address, for hash tables and digests. IPv4 (the common case)
  // costs one multiply.
  [[nodiscard]] constexpr std::uint64_t hash() const {
    if (is_v4()) return (std::uint64_t{v4_value()} + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      hi = (hi << 8) | bytes_[i];
      lo = (lo << 8) | bytes_[i + 8];
    }
    const std::uint64_t h = (hi * 0x9e3779b97f4a7c15ull) ^ (lo * 0xbf58476d1ce4e5b9ull);
    return h ^ (h >> 32);
  }

  constexpr auto operator<=>(const IpAddress&) const = default;
  // Two 8-byte compares instead of a byte-wise lexicographic walk: lookups are hot.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    std::uint64_t x[2];
    std::uint64_t y[2];
    std::memcpy(x, a.bytes_.data(), 16);
    std::memcpy(y, b.bytes_.data(), 16);
    return a.family_ == b.family_ && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }

 private:
  IpFamily family_ = IpFamily::v4;
  Bytes16 bytes_{};
};

// An address block "a.b.c.d/len"; the stored address is always masked.
class Prefix {
 public:
  constexpr Prefix() = default;
  constexpr Prefix(IpAddress address, std::uint8_t length)
      : address_(address.masked(length)), length_(length) {}

  // "10.0.0.0/8"; a bare address is a host prefix (/32 or /128).
  [[nodiscard]] static std::optional<Prefix> parse(std::string_view text);

  [[nodiscard]] constexpr const IpAddress& address() const { return address_; }
  [[nodiscard]] constexpr std::uint8_t length() const { return length_; }
  [[nodiscard]] constexpr bool contains(const IpAddress& a) const {
    return a.family() == address_.family() && a.masked(length_) == address_;
  }
  [[nodiscard]] std::string to_string() const {
    return address_.to_string() + "/" + std::to_string(length_);
  }
  auto operator<=>(const Prefix&) const = default;

 private:
  IpAddress address_;
  std::uint8_t length_ = 0;
};

// An address assigned to an interface together with its subnet length ("10.0.0.1/24").
struct InterfaceAddress {
  IpAddress address;
  std::uint8_t prefix_length = 0;

  [[nodiscard]] static std::optional<InterfaceAddress> parse(std::string_view text);
  [[nodiscard]] Prefix subnet() const { return Prefix(address, prefix_length); }
  [[nodiscard]] std::string to_string() const {
    return address.to_string() + "/" + std::to_string(prefix_length);
  }
  auto operator<=>(const InterfaceAddress&) const = default;
};

namespace detail {
// "ADDRESS/LEN" or "ADDRESS" (LEN defaults to the full length).
[[nodiscard]] inline std::optional<InterfaceAddress> parse_address_and_length(
    std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned max_len = static_cast<unsigned>(address->size() * 8);
  if (slash == std::string_view::npos) {
    return InterfaceAddress{*address, static_cast<std::uint8_t>(max_len)};
  }
  const std::string_view len_text = text.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) return std::nullopt;
  unsigned len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  if (len > max_len) return std::nullopt;
  return InterfaceAddress{*address, static_cast<std::uint8_t>(len)};
}
}  // namespace detail

inline std::optional<Prefix> Prefix::parse(std::string_view text) {
  auto parsed = detail::parse_address_and_length(text);
  if (!parsed) return std::nullopt;
  return parsed->subnet();
}

inline std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  return detail::parse_address_and_length(text);
}

}  // namespace natsim

template <>
struct std::hash<natsim::IpAddress> {
  std::size_t operator()(const natsim::IpAddress& a) const noexcept { return a.hash(); }
};
