#pragma once
// UPnP control (UPnP Device Architecture 1.1 §3.2): SOAP 1.1 envelopes for the IGD's
// WANIPConnection service, client side. A request is an HTTP POST of
//
//   <?xml version="1.0"?>
//   <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
//               s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
//     <s:Body>
//       <u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">
//         <NewRemoteHost></NewRemoteHost> <NewExternalPort>40000</NewExternalPort> ...
//       </u:AddPortMapping>
//     </s:Body>
//   </s:Envelope>
//
// with SOAPACTION: "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping". The
// answer is <u:ACTIONResponse> with the out arguments, or (HTTP 500) a s:Fault whose
// detail is <UPnPError><errorCode>718</errorCode><errorDescription>...</...></UPnPError>.
// XML is read and written with pugixml; element names are matched without their prefix.
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace natsim::traversal::upnp {

inline constexpr std::string_view kWanIpConnection1 =
    "urn:schemas-upnp-org:service:WANIPConnection:1";
inline constexpr std::string_view kWanIpConnection2 =
    "urn:schemas-upnp-org:service:WANIPConnection:2";
// Envelopes larger than this are refused before parsing.
inline constexpr std::size_t kMaxEnvelopeSize = 64 * 1024;

struct Argument {
  std::string name;
  std::string value;
  bool operator==(const Argument&) const = default;
};

// An action and its arguments, in order (UDA 1.1 §3.2.1: in the order the service
// description lists them).
struct Action {
  std::string service_type;  // e.g. kWanIpConnection1
  std::string name;          // e.g. "AddPortMapping"
  std::vector<Argument> arguments;
  [[nodiscard]] const std::string* argument(std::string_view name) const;
  bool operator==(const Action&) const = default;
};

// UDA 1.1 §3.2.2 and the WANIPConnection:1/2 specs' error codes.
struct UpnpError {
  std::uint32_t code = 0;  // 401 Invalid Action, 402 Invalid Args, 501 Action Failed,
                           // 606 not authorized, 714 NoSuchEntryInArray,
                           // 718 ConflictInMappingEntry, 725 OnlyPermanentLeasesSupported,
                           // 728 NoPortMapsAvailable, ...
  std::string description;
  bool operator==(const UpnpError&) const = default;
};

// WANIPConnection AddPortMapping's in arguments.
struct PortMappingEntry {
  std::string remote_host;  // "" : any remote (wildcard)
  std::uint16_t external_port = 0;
  std::string protocol = "UDP";  // "UDP" or "TCP"
  std::uint16_t internal_port = 0;
  std::string internal_client;  // the LAN host's IPv4 address
  bool enabled = true;
  std::string description;
  std::uint32_t lease_duration = 0;  // seconds; 0: permanent (v1)
};

[[nodiscard]] Action add_port_mapping(const PortMappingEntry& e,
                                      std::string_view service = kWanIpConnection1);
[[nodiscard]] Action delete_port_mapping(std::string_view remote_host, std::uint16_t external_port,
                                         std::string_view protocol,
                                         std::string_view service = kWanIpConnection1);
[[nodiscard]] Action get_external_ip_address(std::string_view service = kWanIpConnection1);
// WANIPConnection:2 §2.5.18: as AddPortMapping, but the device may pick another external
// port (answered in NewReservedPort) instead of failing with 718.
[[nodiscard]] Action add_any_port_mapping(const PortMappingEntry& e,
                                          std::string_view service = kWanIpConnection2);
// WANIPConnection:1 §2.4.15: 714 NoSuchEntryInArray when the device has no such mapping.
[[nodiscard]] Action get_specific_port_mapping_entry(std::string_view remote_host,
                                                     std::uint16_t external_port,
                                                     std::string_view protocol,
                                                     std::string_view service = kWanIpConnection1);

// The SOAPACTION header's value: "\"<service type>#<action>\"".
[[nodiscard]] std::string soap_action_header(const Action& a);
// The envelope of a request for `a`.
[[nodiscard]] std::string format_request(const Action& a);

enum class SoapError : std::uint8_t {
  too_large,     // over kMaxEnvelopeSize
  not_xml,       // pugixml could not parse it
  no_envelope,   // the root is not Envelope
  no_body,       // no Body in the Envelope
  empty_body,    // nothing in the Body
  wrong_action,  // the Body holds another action's response
  bad_fault,     // a Fault without a UPnPError errorCode number
};
[[nodiscard]] std::string_view to_string(SoapError e);

// The answer to `action` (out arguments as an Action named "<action>Response"), or the
// device's UPnP error.
using Answer = std::variant<Action, UpnpError>;
[[nodiscard]] boost::system::result<Answer, SoapError> parse_response(std::string_view xml,
                                                                      std::string_view action);

}  // namespace natsim::traversal::upnp
