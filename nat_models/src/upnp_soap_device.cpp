#include "natsim/nat_models/upnp_soap_device.hpp"

#include "natsim/traversal/upnp_xml.hpp"

namespace natsim::nat::upnp {

namespace {

using traversal::upnp::xml::first_element;
using traversal::upnp::xml::local_name;

// The namespace a prefixed (or default) element name is bound to, looked up outwards.
std::string namespace_of(pugi::xml_node n) {
  const std::string_view name = n.name();
  const auto colon = name.find(':');
  const std::string attr =
      colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(name.substr(0, colon));
  for (; n; n = n.parent()) {
    if (auto a = n.attribute(attr.c_str())) return a.value();
  }
  return {};
}

// UDA 1.1 §2.5: action and argument names are letters, digits, '_' and '-' ... in
// practice, and must be XML names to be written back: a letter or '_' first.
bool plain_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  const auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!alpha(n[0]) && n[0] != '_') return false;
  for (char c : n) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

boost::system::result<Action, UpnpError> parse_request(std::string_view xml,
                                                       std::string_view soap_action) {
  if (xml.size() > traversal::upnp::kMaxEnvelopeSize) return kInvalidAction;
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return kInvalidAction;
  const pugi::xml_node env = first_element(doc);
  if (!env || local_name(env) != "Envelope") return kInvalidAction;
  const pugi::xml_node action = first_element(first_element(env, "Body"));
  if (!action) return kInvalidAction;
  Action out;
  out.name = local_name(action);
  if (!plain_name(out.name)) return kInvalidAction;
  out.service_type = namespace_of(action);
  if (!soap_action.empty()) {
    // The header may be quoted (UDA 1.1 §3.2.1 asks for the quotes; some omit them).
    if (soap_action.size() >= 2 && soap_action.front() == '"' && soap_action.back() == '"')
      soap_action = soap_action.substr(1, soap_action.size() - 2);
    if (soap_action != out.service_type + "#" + out.name) return kInvalidAction;
  }
  for (pugi::xml_node c = action.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (first_element(c) || !plain_name(local_name(c))) return kInvalidArgs;  // simple values
    out.arguments.push_back({std::string(local_name(c)), c.text().get()});
  }
  return out;
}

std::string format_response(const Action& out) {
  pugi::xml_document doc;
  auto r = traversal::upnp::xml::append_envelope(doc).append_child(
      ("u:" + out.name + "Response").c_str());
  r.append_attribute("xmlns:u") = out.service_type.c_str();
  for (const auto& a : out.arguments)
    r.append_child(a.name.c_str()).text().set(a.value.c_str());
  return traversal::upnp::xml::to_text(doc);
}

std::string format_fault(const UpnpError& e) {
  pugi::xml_document doc;
  auto fault = traversal::upnp::xml::append_envelope(doc).append_child("s:Fault");
  fault.append_child("faultcode").text().set("s:Client");
  fault.append_child("faultstring").text().set("UPnPError");
  auto u = fault.append_child("detail").append_child("UPnPError");
  u.append_attribute("xmlns") = traversal::upnp::xml::kControlNs;
  u.append_child("errorCode").text().set(e.code);
  u.append_child("errorDescription").text().set(e.description.c_str());
  return traversal::upnp::xml::to_text(doc);
}

}  // namespace natsim::nat::upnp
