// UPnP SOAP envelopes: the client's answer reader (traversal/upnp_soap.hpp) and the
// device's request reader (nat_models/upnp_soap_device.hpp) take any bytes; what the
// device reads it can answer, and the client reads that answer back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "natsim/nat_models/upnp_soap_device.hpp"
#include "natsim/traversal/upnp_soap.hpp"

using namespace natsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  (void)traversal::upnp::parse_response(xml, "AddPortMapping");
  auto q = nat::upnp::parse_request(xml, "");
  if (!q) {
    auto f = traversal::upnp::parse_response(nat::upnp::format_fault(q.error()), "X");
    if (!f || !std::holds_alternative<traversal::upnp::UpnpError>(*f)) std::abort();
    return 0;
  }
  // Names that are not XML names cannot be written back; pugixml reads only names.
  auto r = traversal::upnp::parse_response(nat::upnp::format_response(*q), q->name);
  if (!r) std::abort();
  return 0;
}
