// Addresses, prefixes, endpoints and durations as they arrive from scenario files and
// command lines: every parse either fails or round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/ip_address.hpp"
#include "natsim/base/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = natsim::IpAddress::parse(text)) {
    if (natsim::IpAddress::parse(a->to_string()) != a) std::abort();
  }
  if (auto p = natsim::Prefix::parse(text)) {
    if (natsim::Prefix::parse(p->to_string()) != p) std::abort();
  }
  if (auto i = natsim::InterfaceAddress::parse(text)) {
    if (natsim::InterfaceAddress::parse(i->to_string()) != i) std::abort();
  }
  if (auto e = natsim::Endpoint::parse(text)) {
    if (natsim::Endpoint::parse(e->to_string()) != e) std::abort();
  }
  if (auto d = natsim::parse_duration(text)) {
    if (natsim::parse_duration(natsim::format_duration(*d)) != d) std::abort();
  }
  return 0;
}
