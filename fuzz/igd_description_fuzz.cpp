// UPnP device descriptions (traversal/igd_description.hpp): any bytes as a description
// and as URLs. A chosen control URL written back out parses to the same URL.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "natsim/traversal/igd_description.hpp"

using namespace natsim::traversal::upnp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto s = parse_description(text, "http://192.168.1.1:5000/rootDesc.xml")) {
    auto back = parse_http_url(to_string(s->control));
    if (!back || *back != s->control) std::abort();
  }
  if (auto u = parse_http_url(text)) {
    auto back = parse_http_url(to_string(*u));
    if (!back || *back != *u) std::abort();
  }
  (void)resolve_url(HttpUrl{"10.0.0.1", 5000, "/dir/desc.xml"}, text);
  return 0;
}
