#pragma once
// The IGD's side of SSDP (UPnP Device Architecture 1.1 §1.2, §1.3): what an
// InternetGatewayDevice:1 answers to an M-SEARCH and what it advertises with NOTIFY.
// Its device tree, as miniupnpd presents it: the root InternetGatewayDevice:1, inside it
// WANDevice:1 (service WANCommonInterfaceConfig:1), inside that WANConnectionDevice:1
// (service WANIPConnection:1). The messages are traversal/ssdp.hpp's.
#include <cstdint>
#include <string>
#include <vector>

#include "natsim/traversal/ssdp.hpp"

namespace natsim::nat::upnp {

struct IgdIdentity {
  std::string uuid = "uuid:4e415453-494d-4947-4400-000000000001";  // the root device's UDN
  std::string location = "http://192.168.1.1:5000/rootDesc.xml";
  std::string server = "natsim/1 UPnP/1.1 natsim-igd/1";
  std::uint32_t max_age = 1800;  // UDA 1.1 §1.2.2: at least 1800 s recommended
  // 2: InternetGatewayDevice:2, WANDevice:2, WANConnectionDevice:2, WANIPConnection:2
  // (IGD 2.0), which still answer searches for :1 (UDA 1.1 §1.3.2).
  std::uint8_t version = 1;
  bool ppp = false;  // a WANPPPConnection:1 service in the WANConnectionDevice too
};

// The (NT, USN) pairs the device announces (UDA 1.1 §1.2.2: three for the root device,
// two for each embedded device, one per service type).
[[nodiscard]] std::vector<traversal::ssdp::Message> igd_notifications(const IgdIdentity& id,
                                                                      bool alive);
// The 200 OK answers to `search` (none when it asks for nothing the device has). ST
// echoes the search's target, so a search for an older version gets that version.
[[nodiscard]] std::vector<traversal::ssdp::Message> igd_search_answers(
    const IgdIdentity& id, const traversal::ssdp::Message& search);

}  // namespace natsim::nat::upnp
