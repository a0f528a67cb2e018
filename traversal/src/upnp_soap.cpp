#include "natsim/traversal/upnp_soap.hpp"

#include <charconv>
#include "natsim/traversal/upnp_xml.hpp"

namespace natsim::traversal::upnp {

namespace {

using xml::first_element;
using xml::local_name;

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  return first_element(parent, name);
}

}  // namespace

const std::string* Action::argument(std::string_view n) const {
  for (const Argument& a : arguments) {
    if (a.name == n) return &a.value;
  }
  return nullptr;
}

Action add_port_mapping(const PortMappingEntry& e, std::string_view service) {
  // WANIPConnection:1 §2.4.16: the in arguments, in this order.
  return Action{std::string(service),
                "AddPortMapping",
                {{"NewRemoteHost", e.remote_host},
                 {"NewExternalPort", std::to_string(e.external_port)},
                 {"NewProtocol", e.protocol},
                 {"NewInternalPort", std::to_string(e.internal_port)},
                 {"NewInternalClient", e.internal_client},
                 {"NewEnabled", e.enabled ? "1" : "0"},
                 {"NewPortMappingDescription", e.description},
                 {"NewLeaseDuration", std::to_string(e.lease_duration)}}};
}

Action delete_port_mapping(std::string_view remote_host, std::uint16_t external_port,
                           std::string_view protocol, std::string_view service) {
  return Action{std::string(service),
                "DeletePortMapping",
                {{"NewRemoteHost", std::string(remote_host)},
                 {"NewExternalPort", std::to_string(external_port)},
                 {"NewProtocol", std::string(protocol)}}};
}

Action get_external_ip_address(std::string_view service) {
  return Action{std::string(service), "GetExternalIPAddress", {}};
}

Action add_any_port_mapping(const PortMappingEntry& e, std::string_view service) {
  Action a = add_port_mapping(e, service);
  a.name = "AddAnyPortMapping";  // the same eight in arguments, in the same order
  return a;
}

Action get_specific_port_mapping_entry(std::string_view remote_host, std::uint16_t external_port,
                                       std::string_view protocol, std::string_view service) {
  Action a = delete_port_mapping(remote_host, external_port, protocol, service);
  a.name = "GetSpecificPortMappingEntry";  // the same three in arguments
  return a;
}

std::string soap_action_header(const Action& a) {
  return "\"" + a.service_type + "#" + a.name + "\"";
}

std::string format_request(const Action& a) {
  pugi::xml_document doc;
  auto action = xml::append_envelope(doc).append_child(("u:" + a.name).c_str());
  action.append_attribute("xmlns:u") = a.service_type.c_str();
  for (const Argument& arg : a.arguments)
    action.append_child(arg.name.c_str()).text().set(arg.value.c_str());
  return xml::to_text(doc);
}

std::string_view to_string(SoapError e) {
  constexpr std::string_view kNames[] = {"too large",
                                         "not XML",
                                         "no Envelope",
                                         "no Body",
                                         "empty Body",
                                         "another action's response",
                                         "Fault without a UPnP errorCode"};
  return kNames[static_cast<std::size_t>(e)];
}

boost::system::result<Answer, SoapError> parse_response(std::string_view xml,
                                                        std::string_view action) {
  if (xml.size() > kMaxEnvelopeSize) return SoapError::too_large;
  pugi::xml_document doc;
  // Default options: no DTD expansion beyond the built-in entities, nothing fetched.
  if (!doc.load_buffer(xml.data(), xml.size())) return SoapError::not_xml;
  const pugi::xml_node env = first_element(doc);
  if (!env || local_name(env) != "Envelope") return SoapError::no_envelope;
  const pugi::xml_node body = child(env, "Body");
  if (!body) return SoapError::no_body;
  const pugi::xml_node first = first_element(body);
  if (!first) return SoapError::empty_body;
  if (local_name(first) == "Fault") {
    // UDA 1.1 §3.2.2: detail/UPnPError/errorCode and errorDescription.
    const pugi::xml_node e = child(child(first, "detail"), "UPnPError");
    const std::string_view code = child(e, "errorCode").text().get();
    UpnpError out;
    auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), out.code);
    if (code.empty() || ec != std::errc{} || end != code.data() + code.size())
      return SoapError::bad_fault;
    out.description = child(e, "errorDescription").text().get();
    return Answer(out);
  }
  const std::string expected = std::string(action) + "Response";
  if (local_name(first) != expected) return SoapError::wrong_action;
  Action out;
  out.name = expected;
  const std::string_view name = first.name();
  const auto colon = name.find(':');
  const std::string xmlns =
      colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(name.substr(0, colon));
  out.service_type = first.attribute(xmlns.c_str()).value();
  for (pugi::xml_node c = first.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    out.arguments.push_back({std::string(local_name(c)), c.text().get()});
  }
  return Answer(std::move(out));
}

}  // namespace natsim::traversal::upnp
