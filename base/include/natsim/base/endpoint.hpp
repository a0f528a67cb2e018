#pragma once
// A transport address: IP address and port.
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "natsim/base/ip_address.hpp"

namespace natsim {

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "192.0.2.1:3478" or "[2001:db8::1]:3478".
  [[nodiscard]] static std::optional<Endpoint> parse(std::string_view text) {
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
      const auto close = text.find(']');
      if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
        return std::nullopt;
      host = text.substr(1, close - 1);
      port_text = text.substr(close + 2);
    } else {
      const auto colon = text.rfind(':');
      if (colon == std::string_view::npos) return std::nullopt;
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
    auto address = IpAddress::parse(host);
    if (!address || port_text.empty() || port_text.size() > 5) return std::nullopt;
    if (address->is_v6() && text.front() != '[') return std::nullopt;
    std::uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (port > 0xffff) return std::nullopt;
    return Endpoint{*address, static_cast<std::uint16_t>(port)};
  }

  [[nodiscard]] std::string to_string() const {
    return address.is_v6() ? "[" + address.to_string() + "]:" + std::to_string(port)
                           : address.to_string() + ":" + std::to_string(port);
  }
  [[nodiscard]] constexpr std::uint64_t hash() const {
    std::uint64_t h = address.hash() ^ (std::uint64_t{port} * 0x94d049bb133111ebull);
    return h ^ (h >> 29);
  }
  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace natsim

template <>
struct std::hash<natsim::Endpoint> {
  std::size_t operator()(const natsim::Endpoint& e) const noexcept { return e.hash(); }
};
