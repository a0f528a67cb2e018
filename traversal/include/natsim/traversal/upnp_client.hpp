#pragma once
// A UPnP IGD control point, sans-I/O: finds the gateway with SSDP (UDA 1.1 §1.3), fetches
// its device description over HTTP (§2), picks the WAN connection service
// (igd_description.hpp) and maps ports with SOAP actions (upnp_soap.hpp):
//
//   M-SEARCH (UDP, 239.255.255.250:1900)  ->  200 OK with LOCATION
//   GET <LOCATION> (TCP)                  ->  description  ->  controlURL
//   POST GetExternalIPAddress             ->  the gateway's external address
//   POST AddAnyPortMapping (v2)           ->  NewReservedPort
//     401 / 602: the device lacks it      ->  AddPortMapping (v1's action)
//   POST AddPortMapping                   ->  718 ConflictInMappingEntry: the next port
//                                             725 OnlyPermanentLeasesSupported: lease 0
//   at half the lease: GetSpecificPortMappingEntry, then AddPortMapping again; a 714
//     NoSuchEntryInArray means the gateway forgot the mapping (a reboot): re-created
//     a 718 to the refresh (routers that refuse even their own client's port): the
//     mapping is deleted and added again
//   POST DeletePortMapping                ->  on remove() and close()
//   NOTIFY (UDA 1.1 §1.2) from the gateway found: ssdp:byebye, then ssdp:alive, or alive
//     with another LOCATION (a reboot, a new address): every mapping is checked at once
//     (and the description fetched again first if LOCATION moved) instead of at renewal
//
// HTTP is one request per connection (Connection: close), as miniupnpc does; the bytes
// go out as Transport::tcp transmits and come back through handle_stream. The framing is
// Boost.Beast's, inside upnp_client.cpp. One HTTP exchange runs at a time; actions
// queue behind it.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "natsim/traversal/igd_description.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/ssdp.hpp"

namespace natsim::traversal::upnp {

struct ClientConfig {
  // The UDP socket SSDP leaves from; its address is the NewInternalClient of mappings.
  Endpoint local;
  // HTTP connections leave from tcp_port_base + n % tcp_ports (0: local.port), so that a
  // connection the gateway has not finished closing is not reused at once.
  std::uint16_t tcp_port_base = 0;
  std::uint16_t tcp_ports = 8;
  // Skip SSDP and fetch this description (as `upnpc -u URL`).
  std::string description_url;
  Endpoint ssdp_group{ssdp::kMulticastV4, ssdp::kPort};
  std::string search_target = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
  std::uint32_t mx = 2;
  // M-SEARCH is sent this many times, MX + 1 s apart (UDA 1.1 §1.3.2 suggests repeating
  // it, since UDP may be lost); then discovery has failed.
  std::uint32_t search_attempts = 3;
  Duration http_timeout = seconds(5);
  // 718 ConflictInMappingEntry: the next external port is tried, this many in all.
  std::uint32_t port_attempts = 8;
  // Permanent mappings (lease 0) are checked for (GetSpecificPortMappingEntry) this often,
  // since nothing else reveals a gateway that forgot them.
  Duration permanent_check = seconds(60);
  std::string description = "natsim";
  // The gateway's LAN address when known (PortMapper's gateway): SSDP answers are taken
  // only from it and only with a LOCATION on it, so another LAN host cannot pose as the IGD.
  std::optional<IpAddress> gateway;
};

enum class Outcome : std::uint8_t {
  ok,
  no_gateway,       // no SSDP answer to any M-SEARCH
  unreachable,      // the HTTP connection failed or was closed before an answer
  timeout,          // no HTTP answer within http_timeout
  http_error,       // an HTTP status other than 200 (and not a SOAP fault)
  bad_description,  // the description could not be read (see detail)
  no_wan_service,   // the description has no WANIPConnection / WANPPPConnection
  bad_answer,       // a SOAP answer that could not be read
  refused,          // a UPnP error the client cannot work around (upnp_error says which)
  conflict,         // 718 for every port tried
  no_ports,         // 728 NoPortMapsAvailable
  not_authorized,   // 606 Action not authorized (secure mode, or control refused)
};
[[nodiscard]] std::string_view to_string(Outcome o);

struct ClientEvent {
  enum class Kind : std::uint8_t {
    discovered,        // the control URL is known (service in `detail`)
    external_address,  // GetExternalIPAddress answered (`external.address`)
    mapped,            // first success for mapping `id`
    refreshed,         // the lease was renewed
    lost,              // the gateway no longer has the mapping (714): re-creating
    recreated,         // re-created after `lost`
    failed,            // `outcome` says why; discovery failures have id kNoMapping
    deleted,           // remove() or close() answered
  };
  static constexpr std::size_t kNoMapping = static_cast<std::size_t>(-1);
  Kind kind = Kind::discovered;
  std::size_t id = kNoMapping;
  Outcome outcome = Outcome::ok;
  Endpoint external;        // mapped, refreshed, recreated: external address and port
  std::uint32_t lease = 0;  // granted lease in seconds; 0 permanent
  bool permanent = false;   // 725 forced a permanent lease: delete it on exit
  std::uint32_t upnp_error = 0;
  std::string detail;  // the service type, the error's description, ...
};

class UpnpClient {
 public:
  explicit UpnpClient(ClientConfig config);
  ~UpnpClient();
  UpnpClient(const UpnpClient&) = delete;
  UpnpClient& operator=(const UpnpClient&) = delete;

  // Discovery (also started by the first add()).
  void start(TimePoint now);
  // Asks for a mapping of `internal_port` (protocol 17 UDP or 6 TCP); returns its id.
  std::size_t add(TimePoint now, std::uint8_t protocol, std::uint16_t internal_port,
                  std::uint32_t lease, std::uint16_t suggested_port = 0);
  // Deletes the mapping; `deleted` follows.
  void remove(TimePoint now, std::size_t id);
  // Renews a granted mapping now instead of at half its lease.
  void refresh(TimePoint now, std::size_t id);
  // Deletes every granted mapping (permanent ones above all: nothing else will).
  void close(TimePoint now);
  // Stops discovery and any exchange in flight (another protocol won PortMapper's race).
  void stop();

  // SSDP answers on `local`'s port; NOTIFY on that port or on 1900 (a socket bound to
  // 239.255.255.250:1900, as control points listen for announcements).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  void handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) { return out_.pop(out); }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<ClientEvent> poll_event();

  [[nodiscard]] const std::optional<WanService>& service() const { return service_; }
  [[nodiscard]] const std::optional<IpAddress>& external_address() const { return external_ip_; }
  [[nodiscard]] std::optional<Endpoint> external(std::size_t id) const;
  // HTTP exchanges started (description fetches and SOAP actions).
  [[nodiscard]] std::uint64_t http_requests() const { return http_requests_; }

 private:
  enum class Discovery : std::uint8_t { idle, searching, fetching, ready, failed };
  enum class MapState : std::uint8_t { requesting, mapped, failed, deleting, deleted };
  struct Mapping {
    std::string protocol;  // "UDP" or "TCP"
    std::uint16_t internal_port = 0;
    std::uint16_t external_port = 0;
    std::uint32_t lease = 0;
    std::uint32_t port_attempts = 0;
    bool permanent = false;  // 725 forced lease 0
    bool ever_mapped = false;
    bool recreating = false;
    bool check_pending = false;  // a check (or the steps after it) is queued or in flight
    MapState state = MapState::requesting;
    TimePoint renew_at = kTimeNever;
    TimePoint notify_check_after = kTimeZero;  // NOTIFY re-checks are rate-limited
  };
  enum class Step : std::uint8_t {
    external_ip,
    add_any,
    add,
    check,  // GetSpecificPortMappingEntry before a refresh
    refresh,
    remove,
    reclaim,  // DeletePortMapping, then AddPortMapping of the same port (see .cpp)
  };
  struct Op {
    Step step;
    std::size_t id;
  };
  struct Http;  // the exchange in flight (Beast's parser), in upnp_client.cpp

  void search(TimePoint now);
  void fetch_description(TimePoint now, const HttpUrl& url);
  void send_action(TimePoint now, const Op& op);
  void start_http(TimePoint now, const Endpoint& remote, std::string bytes);
  void http_done(TimePoint now, unsigned status, std::string body);
  void http_failed(TimePoint now, Outcome why, std::string detail);
  void described(TimePoint now, std::string_view body);
  void answered(TimePoint now, const Op& op, unsigned status, std::string_view body);
  void mapping_failed(std::size_t id, Outcome o, std::uint32_t code, std::string detail);
  void discovery_failed(Outcome o, std::string detail);
  // A NOTIFY from the gateway in use.
  void notified(TimePoint now, const Endpoint& remote, const ssdp::Message& m);
  void next(TimePoint now);
  void emit(ClientEvent::Kind kind, std::size_t id);
  [[nodiscard]] std::optional<Endpoint> endpoint_of(const HttpUrl& u) const;

  ClientConfig config_;
  Discovery discovery_ = Discovery::idle;
  std::uint32_t searches_ = 0;
  TimePoint search_deadline_ = kTimeNever;
  std::optional<HttpUrl> location_;
  std::string device_uuid_;               // "uuid:..." of the search answer's USN
  std::optional<IpAddress> device_host_;  // where the device was found: NOTIFYs from it only
  bool gateway_gone_ = false;             // its ssdp:byebye was heard
  bool refetch_ = false;                  // LOCATION moved: fetch the description once idle
  std::optional<WanService> service_;
  std::optional<Endpoint> control_;
  bool tried_location_host_ = false;
  bool any_unsupported_ = false;  // AddAnyPortMapping answered 401/602
  std::optional<IpAddress> external_ip_;
  std::vector<Mapping> mappings_;
  std::deque<Op> ops_;
  std::optional<Op> in_flight_;
  bool fetching_ = false;
  std::unique_ptr<Http> http_;
  std::uint64_t http_requests_ = 0;
  std::uint32_t connections_ = 0;
  TransmitQueue out_;
  std::deque<ClientEvent> events_;
};

}  // namespace natsim::traversal::upnp
