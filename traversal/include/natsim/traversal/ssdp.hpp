#pragma once
// SSDP, the discovery step of UPnP (UPnP Device Architecture 1.1 and 2.0, §1): HTTP
// messages carried one per UDP datagram (HTTPU; HTTPMU when multicast to
// 239.255.255.250:1900). An IGD client sends M-SEARCH and reads the unicast 200 OK
// answers; devices also multicast NOTIFY ssdp:alive / ssdp:byebye.
//
//   M-SEARCH * HTTP/1.1                 HTTP/1.1 200 OK
//   HOST: 239.255.255.250:1900          CACHE-CONTROL: max-age=120
//   MAN: "ssdp:discover"                EXT:
//   MX: 2                               LOCATION: http://192.168.1.1:5000/rootDesc.xml
//   ST: urn:schemas-upnp-org:device:    SERVER: Linux/6.1 UPnP/1.1 MiniUPnPd/2.3.1
//       InternetGatewayDevice:1         ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1
//                                       USN: uuid:...::urn:schemas-upnp-org:device:Inter...
//
//   NOTIFY * HTTP/1.1
//   HOST: 239.255.255.250:1900
//   CACHE-CONTROL: max-age=120          (alive only)
//   LOCATION: http://...                (alive only)
//   NT: urn:schemas-upnp-org:service:WANIPConnection:1
//   NTS: ssdp:alive | ssdp:byebye
//   SERVER: ...                         (alive only)
//   USN: uuid:...::urn:schemas-upnp-org:service:WANIPConnection:1
//
// parse() takes one datagram and returns a plain value or a precise error; format()
// writes the text. The HTTP framing is Boost.Beast's parser (in ssdp.cpp only).
#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "natsim/base/bytes.hpp"
#include "natsim/base/ip_address.hpp"

namespace natsim::traversal::ssdp {

inline constexpr std::uint16_t kPort = 1900;
inline constexpr IpAddress kMulticastV4 = IpAddress::v4(239, 255, 255, 250);
// Larger datagrams are refused before parsing (UDA asks devices to stay within one
// unfragmented datagram; real messages are a few hundred octets).
inline constexpr std::size_t kMaxMessageSize = 4096;
// UDA 1.1 §1.3.2: MX is 1..5 seconds; a larger value is treated as 5.
inline constexpr std::uint32_t kMaxMx = 5;

enum class Kind : std::uint8_t { search, response, alive, byebye };

struct Message {
  Kind kind = Kind::search;
  // search: "239.255.255.250:1900", or the device's address for a unicast search.
  std::string host = "239.255.255.250:1900";
  // ST for search and response, NT for alive and byebye: "ssdp:all",
  // "upnp:rootdevice", "uuid:...", "urn:schemas-upnp-org:device:...:1", ...
  std::string target;
  std::string usn;            // response, alive, byebye
  std::string location;       // response, alive: the device description's URL
  std::string server;         // response, alive: "OS/version UPnP/1.1 product/version"
  std::uint32_t max_age = 0;  // response, alive: CACHE-CONTROL max-age, seconds
  std::uint32_t mx = 0;       // search: seconds a device may wait; 0 for unicast
  bool operator==(const Message&) const = default;
};

enum class Error : std::uint8_t {
  too_large,          // over kMaxMessageSize
  not_http,           // Beast could not parse the start line or headers
  has_body,           // SSDP messages end with the header
  unknown_method,     // a request other than M-SEARCH or NOTIFY
  bad_target,         // a request-target other than "*"
  bad_status,         // a response other than 200
  missing_header,     // a header the message kind requires is absent or empty
  bad_man,            // M-SEARCH without MAN: "ssdp:discover"
  bad_mx,             // MX not a number from 1, on a multicast search
  bad_nts,            // NOTIFY with NTS other than ssdp:alive / ssdp:byebye
  bad_cache_control,  // no max-age=N directive
};
[[nodiscard]] std::string_view to_string(Error e);

[[nodiscard]] boost::system::result<Message, Error> parse(ByteView datagram);
[[nodiscard]] std::string format(const Message& m);

// Whether a search for `search_target` asks for `target` (UDA 1.1 §1.3.2: ssdp:all
// matches everything; device and service types match the same or a higher version).
[[nodiscard]] bool matches(std::string_view search_target, std::string_view target);

}  // namespace natsim::traversal::ssdp
