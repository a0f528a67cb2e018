#pragma once
// The device description of an Internet Gateway Device (UPnP Device Architecture 1.1
// §2.3), read for the one thing a control point needs from it: the controlURL of the
// WAN connection service to send SOAP actions to. The description is a tree of devices
// (InternetGatewayDevice > WANDevice > WANConnectionDevice), each with a serviceList:
//
//   <root xmlns="urn:schemas-upnp-org:device-1-0">
//     <URLBase>http://192.168.1.1:5000</URLBase>            (UDA 1.0; gone in 1.1)
//     <device> ... <deviceList><device> ... <deviceList><device>
//       <serviceList><service>
//         <serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
//         <controlURL>/ctl/IPConn</controlURL> ...
//
// Service choice: WANIPConnection:2, then :1, then WANPPPConnection:1 (the IGD:2 spec
// prefers v2's AddAnyPortMapping; PPP is for PPPoE links and is tried last, as
// miniupnpc does). The controlURL is resolved against URLBase when present, else the
// URL the description came from (UDA 1.1 §2.3: relative URLs are relative to it).
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace natsim::traversal::upnp {

inline constexpr std::string_view kWanPppConnection1 =
    "urn:schemas-upnp-org:service:WANPPPConnection:1";
// Descriptions larger than this are refused before parsing (miniupnpd's is about 4 KB).
inline constexpr std::size_t kMaxDescriptionSize = 64 * 1024;

// An http:// URL split as a client needs it to open a connection and send a request.
struct HttpUrl {
  std::string host;  // as written: a name, an IPv4 address or [IPv6]
  std::uint16_t port = 80;
  std::string path = "/";  // with the query, if any
  bool operator==(const HttpUrl&) const = default;
};
// Only http:// (UDA has no other scheme); nullopt for anything else or a bad port.
[[nodiscard]] std::optional<HttpUrl> parse_http_url(std::string_view url);
[[nodiscard]] std::string to_string(const HttpUrl& u);
// `ref` (absolute URL, absolute path or relative path) against the URL `base`.
[[nodiscard]] std::optional<HttpUrl> resolve_url(const HttpUrl& base, std::string_view ref);

struct WanService {
  std::string service_type;  // e.g. "urn:schemas-upnp-org:service:WANIPConnection:2"
  HttpUrl control;           // where to POST SOAP actions
  [[nodiscard]] int version() const;
  [[nodiscard]] bool is_ppp() const;
  bool operator==(const WanService&) const = default;
};

enum class DescriptionError : std::uint8_t {
  too_large,          // over kMaxDescriptionSize
  not_xml,            // pugixml could not parse it
  no_root,            // the document element is not <root>
  no_device,          // no <device> in the root
  no_wan_connection,  // no WANIPConnection:2/:1 or WANPPPConnection:1 service
  bad_url,            // the control URL (or the base) is not an http URL
};
[[nodiscard]] std::string_view to_string(DescriptionError e);

// The chosen WAN connection service of the description at `location`.
[[nodiscard]] boost::system::result<WanService, DescriptionError> parse_description(
    std::string_view xml, std::string_view location);

}  // namespace natsim::traversal::upnp
