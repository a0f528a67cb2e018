#pragma once
// XML helpers shared by UPnP's client (traversal/) and device (nat_models/) sides: the
// SOAP 1.1 namespaces and prefix-blind element lookup over pugixml. Only .cpp files that
// already link pugixml include this header.
#include <pugixml.hpp>
#include <sstream>
#include <string>
#include <string_view>

namespace natsim::traversal::upnp::xml {

inline constexpr const char* kEnvelopeNs = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr const char* kEncodingStyle = "http://schemas.xmlsoap.org/soap/encoding/";
// UDA 1.1 §3.2.2: the namespace of a fault's <UPnPError>.
inline constexpr const char* kControlNs = "urn:schemas-upnp-org:control-1-0";

// "s:Body" -> "Body": SOAP prefixes are the sender's choice.
inline std::string_view local_name(const pugi::xml_node& n) {
  std::string_view name = n.name();
  const auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The first child element, or the first named `name` (without its prefix).
inline pugi::xml_node first_element(const pugi::xml_node& parent, std::string_view name = {}) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && (name.empty() || local_name(c) == name)) return c;
  }
  return {};
}

// A new document's <s:Envelope><s:Body>; returns the Body.
inline pugi::xml_node append_envelope(pugi::xml_document& doc) {
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  auto env = doc.append_child("s:Envelope");
  env.append_attribute("xmlns:s") = kEnvelopeNs;
  env.append_attribute("s:encodingStyle") = kEncodingStyle;
  return env.append_child("s:Body");
}

// The document without indentation, as devices and control points send it.
inline std::string to_text(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

}  // namespace natsim::traversal::upnp::xml
