#include "natsim/nat_models/igd_description.hpp"

#include <initializer_list>
#include <pugixml.hpp>

#include "natsim/traversal/upnp_xml.hpp"

namespace natsim::nat::upnp {

namespace {

using traversal::upnp::xml::to_text;

void text(pugi::xml_node parent, const char* name, std::string_view value) {
  parent.append_child(name).text().set(std::string(value).c_str());
}

pugi::xml_node root(pugi::xml_document& doc, const char* name, const char* ns) {
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  auto r = doc.append_child(name);
  r.append_attribute("xmlns") = ns;
  // UDA 1.1 §2.3: specVersion 1.1.
  auto v = r.append_child("specVersion");
  text(v, "major", "1");
  text(v, "minor", "1");
  return r;
}

struct Service {
  std::string type;
  std::string id;
  std::string_view scpd;
  std::string_view control;
};

void add_services(pugi::xml_node device, std::initializer_list<Service> services,
                  std::string_view control_base) {
  auto list = device.append_child("serviceList");
  for (const Service& s : services) {
    auto n = list.append_child("service");
    text(n, "serviceType", s.type);
    text(n, "serviceId", s.id);
    text(n, "SCPDURL", s.scpd);
    text(n, "controlURL", std::string(control_base) + std::string(s.control));
    // Eventing is not offered; the URL is required (UDA 1.1 §2.3) and answers 404.
    std::string event(s.control);
    event.replace(0, 4, "/evt");
    text(n, "eventSubURL", std::string(control_base) + event);
  }
}

pugi::xml_node add_device(pugi::xml_node parent, const std::string& type, const char* name,
                          const std::string& udn) {
  auto d = parent.append_child("device");
  text(d, "deviceType", type);
  text(d, "friendlyName", name);
  text(d, "manufacturer", "natsim");
  text(d, "manufacturerURL", "https://github.com/natsim");
  text(d, "modelName", "natsim IGD");
  text(d, "modelNumber", "1");
  text(d, "UDN", udn);
  return d;
}

// Replaces the UDN's last digit, as igd_ssdp.cpp numbers the embedded devices.
std::string embedded(const std::string& root_udn, char digit) {
  std::string u = root_udn;
  if (!u.empty()) u.back() = digit;
  return u;
}

struct Arg {
  const char* name;
  bool out;
  const char* variable;
};
struct ActionSpec {
  const char* name;
  std::initializer_list<Arg> args;
};
struct Variable {
  const char* name;
  const char* type;
  bool evented = false;
  std::initializer_list<const char*> allowed = {};
};

std::string scpd(std::initializer_list<ActionSpec> actions, std::initializer_list<Variable> vars) {
  pugi::xml_document doc;
  auto r = root(doc, "scpd", "urn:schemas-upnp-org:service-1-0");
  auto list = r.append_child("actionList");
  for (const ActionSpec& a : actions) {
    auto n = list.append_child("action");
    text(n, "name", a.name);
    if (a.args.size() == 0) continue;
    auto args = n.append_child("argumentList");
    for (const Arg& g : a.args) {
      auto x = args.append_child("argument");
      text(x, "name", g.name);
      text(x, "direction", g.out ? "out" : "in");
      text(x, "relatedStateVariable", g.variable);
    }
  }
  auto table = r.append_child("serviceStateTable");
  for (const Variable& v : vars) {
    auto n = table.append_child("stateVariable");
    n.append_attribute("sendEvents") = v.evented ? "yes" : "no";
    text(n, "name", v.name);
    text(n, "dataType", v.type);
    if (v.allowed.size() == 0) continue;
    auto allowed = n.append_child("allowedValueList");
    for (const char* a : v.allowed)
      text(allowed, "allowedValue", a);
  }
  return to_text(doc);
}

constexpr bool in = false;
constexpr bool out = true;

}  // namespace

std::string device_description(const IgdIdentity& id, std::string_view control_base) {
  const std::string urn = "urn:schemas-upnp-org:";
  const std::string v = id.version >= 2 ? ":2" : ":1";
  pugi::xml_document doc;
  auto r = root(doc, "root", "urn:schemas-upnp-org:device-1-0");
  auto igd = add_device(r, urn + "device:InternetGatewayDevice" + v, "natsim IGD", id.uuid);
  auto wan = add_device(igd.append_child("deviceList"), urn + "device:WANDevice" + v, "WANDevice",
                        embedded(id.uuid, '2'));
  add_services(wan,
               {{std::string(kWanCommonInterfaceConfig1), "urn:upnp-org:serviceId:WANCommonIFC1",
                 kWanCommonScpdPath, kWanCommonControlPath}},
               control_base);
  auto conn = add_device(wan.append_child("deviceList"), urn + "device:WANConnectionDevice" + v,
                         "WANConnectionDevice", embedded(id.uuid, '3'));
  if (id.ppp) {
    add_services(conn,
                 {{urn + "service:WANIPConnection" + v, "urn:upnp-org:serviceId:WANIPConn1",
                   kWanIpScpdPath, kWanIpControlPath},
                  {std::string(kWanPppConnection1), "urn:upnp-org:serviceId:WANPPPConn1",
                   kWanPppScpdPath, kWanPppControlPath}},
                 control_base);
  } else {
    add_services(conn,
                 {{urn + "service:WANIPConnection" + v, "urn:upnp-org:serviceId:WANIPConn1",
                   kWanIpScpdPath, kWanIpControlPath}},
                 control_base);
  }
  // The presentation URL is relative to the description (UDA 1.1 §2.3).
  text(igd, "presentationURL", "/");
  return to_text(doc);
}

std::string wan_ip_connection_scpd(std::uint8_t version) {
  // WANIPConnection:1 §2.4 / :2 §2.5: the actions natsim answers, their arguments in the
  // order the service lists them.
  const std::initializer_list<Variable> vars = {
      {"ConnectionType", "string"},
      {"PossibleConnectionTypes", "string", true, {"Unconfigured", "IP_Routed", "IP_Bridged"}},
      {"ConnectionStatus", "string", true, {"Unconfigured", "Connected", "Disconnected"}},
      {"Uptime", "ui4"},
      {"LastConnectionError", "string", false, {"ERROR_NONE"}},
      {"RSIPAvailable", "boolean"},
      {"NATEnabled", "boolean"},
      {"ExternalIPAddress", "string", true},
      {"PortMappingNumberOfEntries", "ui2", true},
      {"PortMappingEnabled", "boolean"},
      {"PortMappingLeaseDuration", "ui4"},
      {"RemoteHost", "string"},
      {"ExternalPort", "ui2"},
      {"InternalPort", "ui2"},
      {"PortMappingProtocol", "string", false, {"TCP", "UDP"}},
      {"InternalClient", "string"},
      {"PortMappingDescription", "string"},
      {"A_ARG_TYPE_Manage", "boolean"},
      {"A_ARG_TYPE_PortListing", "string"},
  };
  const std::initializer_list<Arg> add_args = {
      {"NewRemoteHost", in, "RemoteHost"},
      {"NewExternalPort", in, "ExternalPort"},
      {"NewProtocol", in, "PortMappingProtocol"},
      {"NewInternalPort", in, "InternalPort"},
      {"NewInternalClient", in, "InternalClient"},
      {"NewEnabled", in, "PortMappingEnabled"},
      {"NewPortMappingDescription", in, "PortMappingDescription"},
      {"NewLeaseDuration", in, "PortMappingLeaseDuration"}};
  const ActionSpec v1[] = {
      {"GetConnectionTypeInfo",
       {{"NewConnectionType", out, "ConnectionType"},
        {"NewPossibleConnectionTypes", out, "PossibleConnectionTypes"}}},
      {"GetStatusInfo",
       {{"NewConnectionStatus", out, "ConnectionStatus"},
        {"NewLastConnectionError", out, "LastConnectionError"},
        {"NewUptime", out, "Uptime"}}},
      {"GetNATRSIPStatus",
       {{"NewRSIPAvailable", out, "RSIPAvailable"}, {"NewNATEnabled", out, "NATEnabled"}}},
      {"GetGenericPortMappingEntry",
       {{"NewPortMappingIndex", in, "PortMappingNumberOfEntries"},
        {"NewRemoteHost", out, "RemoteHost"},
        {"NewExternalPort", out, "ExternalPort"},
        {"NewProtocol", out, "PortMappingProtocol"},
        {"NewInternalPort", out, "InternalPort"},
        {"NewInternalClient", out, "InternalClient"},
        {"NewEnabled", out, "PortMappingEnabled"},
        {"NewPortMappingDescription", out, "PortMappingDescription"},
        {"NewLeaseDuration", out, "PortMappingLeaseDuration"}}},
      {"GetSpecificPortMappingEntry",
       {{"NewRemoteHost", in, "RemoteHost"},
        {"NewExternalPort", in, "ExternalPort"},
        {"NewProtocol", in, "PortMappingProtocol"},
        {"NewInternalPort", out, "InternalPort"},
        {"NewInternalClient", out, "InternalClient"},
        {"NewEnabled", out, "PortMappingEnabled"},
        {"NewPortMappingDescription", out, "PortMappingDescription"},
        {"NewLeaseDuration", out, "PortMappingLeaseDuration"}}},
      {"AddPortMapping", add_args},
      {"DeletePortMapping",
       {{"NewRemoteHost", in, "RemoteHost"},
        {"NewExternalPort", in, "ExternalPort"},
        {"NewProtocol", in, "PortMappingProtocol"}}},
      {"GetExternalIPAddress", {{"NewExternalIPAddress", out, "ExternalIPAddress"}}},
  };
  const ActionSpec v2[] = {
      {"AddAnyPortMapping",
       {{"NewRemoteHost", in, "RemoteHost"},
        {"NewExternalPort", in, "ExternalPort"},
        {"NewProtocol", in, "PortMappingProtocol"},
        {"NewInternalPort", in, "InternalPort"},
        {"NewInternalClient", in, "InternalClient"},
        {"NewEnabled", in, "PortMappingEnabled"},
        {"NewPortMappingDescription", in, "PortMappingDescription"},
        {"NewLeaseDuration", in, "PortMappingLeaseDuration"},
        {"NewReservedPort", out, "ExternalPort"}}},
      {"DeletePortMappingRange",
       {{"NewStartPort", in, "ExternalPort"},
        {"NewEndPort", in, "ExternalPort"},
        {"NewProtocol", in, "PortMappingProtocol"},
        {"NewManage", in, "A_ARG_TYPE_Manage"}}},
      {"GetListOfPortMappings",
       {{"NewStartPort", in, "ExternalPort"},
        {"NewEndPort", in, "ExternalPort"},
        {"NewProtocol", in, "PortMappingProtocol"},
        {"NewManage", in, "A_ARG_TYPE_Manage"},
        {"NewNumberOfPorts", in, "PortMappingNumberOfEntries"},
        {"NewPortListing", out, "A_ARG_TYPE_PortListing"}}},
  };
  if (version < 2) {
    return scpd({v1[0], v1[1], v1[2], v1[3], v1[4], v1[5], v1[6], v1[7]}, vars);
  }
  return scpd({v1[0], v1[1], v1[2], v1[3], v1[4], v1[5], v1[6], v1[7], v2[0], v2[1], v2[2]}, vars);
}

std::string wan_common_interface_config_scpd() {
  return scpd(
      {{"GetCommonLinkProperties",
        {{"NewWANAccessType", out, "WANAccessType"},
         {"NewLayer1UpstreamMaxBitRate", out, "Layer1UpstreamMaxBitRate"},
         {"NewLayer1DownstreamMaxBitRate", out, "Layer1DownstreamMaxBitRate"},
         {"NewPhysicalLinkStatus", out, "PhysicalLinkStatus"}}},
       {"GetTotalBytesSent", {{"NewTotalBytesSent", out, "TotalBytesSent"}}},
       {"GetTotalBytesReceived", {{"NewTotalBytesReceived", out, "TotalBytesReceived"}}},
       {"GetTotalPacketsSent", {{"NewTotalPacketsSent", out, "TotalPacketsSent"}}},
       {"GetTotalPacketsReceived", {{"NewTotalPacketsReceived", out, "TotalPacketsReceived"}}}},
      {{"WANAccessType", "string", false, {"DSL", "POTS", "Cable", "Ethernet"}},
       {"Layer1UpstreamMaxBitRate", "ui4"},
       {"Layer1DownstreamMaxBitRate", "ui4"},
       {"PhysicalLinkStatus", "string", true, {"Up", "Down"}},
       {"TotalBytesSent", "ui4"},
       {"TotalBytesReceived", "ui4"},
       {"TotalPacketsSent", "ui4"},
       {"TotalPacketsReceived", "ui4"}});
}

}  // namespace natsim::nat::upnp
