#pragma once
// The gateway's UPnP IGD service, sans-I/O: SSDP (answers to M-SEARCH, NOTIFY rounds),
// the HTTP answers for the description documents, and WANIPConnection:1/:2 control
// whose mappings are explicit mappings in the gateway's NAT table (MappingOwner::upnp),
// next to PCP's and NAT-PMP's: each protocol sees and conflicts with the others'.
// IgdServer (igd_server.hpp) drives it on the simulated gateway, `natsim serve gateway`
// on real sockets.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "natsim/nat_models/igd_http.hpp"
#include "natsim/nat_models/igd_ssdp.hpp"
#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/port_mapper_config.hpp"
#include "natsim/nat_models/upnp_soap_device.hpp"
#include "natsim/traversal/machine.hpp"

namespace natsim::nat::upnp {

struct IgdCounters {
  std::uint64_t searches = 0;                // M-SEARCH read
  std::uint64_t search_answers = 0;          // 200 OK sent
  std::uint64_t notifies = 0;                // NOTIFY sent (alive and byebye)
  std::uint64_t ssdp_dropped = 0;            // datagrams that are not an M-SEARCH
  std::uint64_t search_answers_dropped = 0;  // answer_within_mx: over the queue's cap
  std::uint64_t http_requests = 0;
  std::uint64_t http_errors = 0;    // 400, 404, 405, 413, 431 answers
  std::uint64_t http_refused = 0;   // connections reset: over max_connections
  std::uint64_t http_timeouts = 0;  // connections reset: idle, or not reading the answer
  std::uint64_t actions = 0;        // SOAP requests
  std::uint64_t mapped = 0;         // AddPortMapping / AddAnyPortMapping successes
  std::uint64_t deleted = 0;
  std::map<std::uint32_t, std::uint64_t> errors;  // UPnP error answers by code
};

// UPnP error codes (UDA 1.1 §3.2.2, WANIPConnection:1 §2.4.16, WANIPConnection:2 §2.5).
namespace code {
inline constexpr std::uint32_t invalid_action = 401;
inline constexpr std::uint32_t invalid_args = 402;
inline constexpr std::uint32_t action_failed = 501;
inline constexpr std::uint32_t not_authorized = 606;
inline constexpr std::uint32_t array_index_invalid = 713;
inline constexpr std::uint32_t no_such_entry = 714;
inline constexpr std::uint32_t wildcard_src_ip = 715;
inline constexpr std::uint32_t wildcard_ext_port = 716;
inline constexpr std::uint32_t conflict = 718;
inline constexpr std::uint32_t same_port_values = 724;
inline constexpr std::uint32_t only_permanent_leases = 725;
inline constexpr std::uint32_t remote_host_wildcard_only = 726;
inline constexpr std::uint32_t external_port_wildcard_only = 727;
inline constexpr std::uint32_t no_port_maps_available = 728;
inline constexpr std::uint32_t conflict_other_mechanism = 729;
inline constexpr std::uint32_t port_mapping_not_found = 730;
inline constexpr std::uint32_t inconsistent_parameters = 733;
}  // namespace code
[[nodiscard]] UpnpError error(std::uint32_t code);

// WANIPConnection:2 §2.3.16: leases are at most a week; 0 asks for that week.
inline constexpr std::uint32_t kMaxLeaseV2 = 604800;

class IgdService {
 public:
  // `lan` is the address the description is served on (LOCATION's host); `now` is boot.
  IgdService(NatTable& table, const PortMappingConfig& config, IpAddress lan, TimePoint now);

  // SSDP: datagrams to port 1900 (multicast or unicast). M-SEARCHes are answered from
  // `local`'s address, port 1900, at once, or with `answer_within_mx` after a delay
  // within MX (UDA 1.1 §1.3.3).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // The periodic ssdp:alive round, and search answers that are due.
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<traversal::Transmit> poll_transmit(MutableByteView out) {
    return out_.pop(out);
  }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<int> poll_event() { return std::nullopt; }

  // The device comes up: a round of ssdp:alive (to 239.255.255.250:1900 from port 1900;
  // the transmit's local address is unspecified: every LAN interface sends it), then one
  // every notify_interval. `now` restarts GetStatusInfo's uptime.
  void boot(TimePoint now);
  // The device goes down: a round of ssdp:byebye, and no more alive rounds until boot().
  void shutdown();

  // The answer to one HTTP request from `client` (status line to body).
  [[nodiscard]] std::string answer_http(TimePoint now, const Endpoint& client,
                                        const HttpRequest& request);
  // The answer when a request could not be read (400, 413 or 431).
  [[nodiscard]] std::string answer_unreadable(HttpRequestReader::State state,
                                              bool header_too_large);

  // One SOAP control request on `path` from `client`'s address: the response envelope
  // (HTTP 200) or the fault (HTTP 500).
  struct ControlAnswer {
    unsigned status = 200;
    std::string body;
  };
  [[nodiscard]] ControlAnswer control(TimePoint now, const IpAddress& client, std::string_view path,
                                      std::string_view soap_action, std::string_view body);

  [[nodiscard]] const IgdIdentity& identity() const { return id_; }
  [[nodiscard]] std::string description_url() const { return id_.location; }
  [[nodiscard]] const UpnpConfig& config() const { return config_.upnp; }
  [[nodiscard]] const IgdCounters& counters() const { return counters_; }
  [[nodiscard]] IgdCounters& counters() { return counters_; }

 private:
  struct Meta {
    std::string description;
    std::string remote_host;
    bool enabled = true;
    bool permanent = false;
  };
  using Key = std::pair<std::uint8_t, std::uint16_t>;  // protocol, external port

  using Outcome = boost::system::result<Action, UpnpError>;
  Outcome add(TimePoint now, const IpAddress& client, const Action& a, bool any);
  Outcome remove(TimePoint now, const IpAddress& client, const Action& a);
  Outcome remove_range(TimePoint now, const IpAddress& client, const Action& a);
  Outcome specific(TimePoint now, const Action& a);
  Outcome generic(TimePoint now, const Action& a);
  Outcome list(TimePoint now, const IpAddress& client, const Action& a);
  // The explicit mappings in the table, by protocol and external port.
  [[nodiscard]] std::vector<MappingInfo> explicit_mappings(TimePoint now) const;
  [[nodiscard]] std::optional<MappingInfo> holder(TimePoint now, IpProto proto,
                                                  std::uint16_t external_port) const;
  void entry_arguments(TimePoint now, const MappingInfo& m, Action& out, bool with_key) const;
  std::uint32_t conflict_code(bool v2, MappingOwner other) const;
  void notify_round(bool alive);

  NatTable& table_;
  PortMappingConfig config_;
  IgdIdentity id_;
  IpAddress lan_;
  TimePoint booted_;
  std::optional<TimePoint> next_notify_;
  struct DelayedAnswer {
    TimePoint at;
    Endpoint from, to;
    std::string text;
  };
  std::vector<DelayedAnswer> delayed_;  // by `at`; searches only, not the data path
  std::map<Key, Meta> meta_;
  traversal::TransmitQueue out_;
  IgdCounters counters_;
};

// The service's counters by name ("upnp.actions", "upnp.errors.718", ...), error
// counters only where non-zero unless `all` (then the codes the service answers).
[[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> igd_metrics(const IgdCounters& c,
                                                                             bool all = false);

}  // namespace natsim::nat::upnp
