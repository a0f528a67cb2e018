#pragma once
// The IGD's description documents (UPnP Device Architecture 1.1 §2.3 device
// description, §2.5 service description), written with pugixml: the device tree
// igd_ssdp.hpp announces, with miniupnpd's URL layout (/rootDesc.xml, /WANIPCn.xml,
// /ctl/IPConn, ...), and the SCPD of each service with the actions the gateway answers.
#include <cstdint>
#include <string>
#include <string_view>

#include "natsim/nat_models/igd_ssdp.hpp"

namespace natsim::nat::upnp {

inline constexpr std::string_view kDescriptionPath = "/rootDesc.xml";
inline constexpr std::string_view kWanIpScpdPath = "/WANIPCn.xml";
inline constexpr std::string_view kWanPppScpdPath = "/WANPPPCn.xml";
inline constexpr std::string_view kWanCommonScpdPath = "/WANCfg.xml";
inline constexpr std::string_view kWanIpControlPath = "/ctl/IPConn";
inline constexpr std::string_view kWanPppControlPath = "/ctl/PPPConn";
inline constexpr std::string_view kWanCommonControlPath = "/ctl/CmnIfCfg";

inline constexpr std::string_view kWanCommonInterfaceConfig1 =
    "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1";
inline constexpr std::string_view kWanPppConnection1 =
    "urn:schemas-upnp-org:service:WANPPPConnection:1";

// The root device description. `control_base` prefixes the control and event URLs
// ("http://host:port"); empty, they are relative to the description's URL, as
// miniupnpd writes them.
[[nodiscard]] std::string device_description(const IgdIdentity& id,
                                             std::string_view control_base = {});
// WANIPConnection:1 or :2 (version 2 adds AddAnyPortMapping, DeletePortMappingRange and
// GetListOfPortMappings); WANPPPConnection:1 has the :1 actions.
[[nodiscard]] std::string wan_ip_connection_scpd(std::uint8_t version);
[[nodiscard]] std::string wan_common_interface_config_scpd();

}  // namespace natsim::nat::upnp
