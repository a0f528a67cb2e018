#include "natsim/nat_models/igd_ssdp.hpp"

namespace natsim::nat::upnp {

namespace ssdp = traversal::ssdp;

namespace {

struct Target {
  std::string nt;
  std::string usn;
};

// The embedded devices' UDNs differ from the root's in their last digit.
std::string embedded_uuid(const std::string& root, char digit) {
  std::string u = root;
  if (!u.empty()) u.back() = digit;
  return u;
}

std::vector<Target> targets(const IgdIdentity& id) {
  const std::string wan = embedded_uuid(id.uuid, '2');
  const std::string conn = embedded_uuid(id.uuid, '3');
  const std::string urn = "urn:schemas-upnp-org:";
  const std::string v = id.version >= 2 ? ":2" : ":1";
  std::vector<Target> out{
      {"upnp:rootdevice", id.uuid + "::upnp:rootdevice"},
      {id.uuid, id.uuid},
      {urn + "device:InternetGatewayDevice" + v,
       id.uuid + "::" + urn + "device:InternetGatewayDevice" + v},
      {wan, wan},
      {urn + "device:WANDevice" + v, wan + "::" + urn + "device:WANDevice" + v},
      {conn, conn},
      {urn + "device:WANConnectionDevice" + v,
       conn + "::" + urn + "device:WANConnectionDevice" + v},
      {urn + "service:WANCommonInterfaceConfig:1",
       id.uuid + "::" + urn + "service:WANCommonInterfaceConfig:1"},
      {urn + "service:WANIPConnection" + v, id.uuid + "::" + urn + "service:WANIPConnection" + v},
  };
  if (id.ppp) {
    out.push_back(
        {urn + "service:WANPPPConnection:1", id.uuid + "::" + urn + "service:WANPPPConnection:1"});
  }
  return out;
}

}  // namespace

std::vector<ssdp::Message> igd_notifications(const IgdIdentity& id, bool alive) {
  std::vector<ssdp::Message> out;
  for (const Target& t : targets(id)) {
    ssdp::Message m;
    m.kind = alive ? ssdp::Kind::alive : ssdp::Kind::byebye;
    m.target = t.nt;
    m.usn = t.usn;
    if (alive) {
      m.location = id.location;
      m.server = id.server;
      m.max_age = id.max_age;
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<ssdp::Message> igd_search_answers(const IgdIdentity& id, const ssdp::Message& search) {
  std::vector<ssdp::Message> out;
  if (search.kind != ssdp::Kind::search) return out;
  for (const Target& t : targets(id)) {
    if (!ssdp::matches(search.target, t.nt)) continue;
    ssdp::Message m;
    m.kind = ssdp::Kind::response;
    m.host.clear();
    // UDA 1.1 §1.3.3: ST is the search target, except for ssdp:all (each target's own).
    m.target = search.target == "ssdp:all" ? t.nt : search.target;
    m.usn = t.usn;
    if (m.target != t.nt) {
      // An older version asked for: the USN names the version searched for.
      m.usn = t.usn.substr(0, t.usn.size() - t.nt.size()) + m.target;
    }
    m.location = id.location;
    m.server = id.server;
    m.max_age = id.max_age;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace natsim::nat::upnp
