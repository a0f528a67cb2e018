#pragma once
// A scenario, as loaded from a JSON file and validated: a topology, a timeline of
// actions and the expectations a run must meet. docs/scenario-format.md describes the
// file format; scenarios/natsim.schema.json is its JSON Schema.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/ip_address.hpp"
#include "natsim/base/time.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/nat_models/port_mapper_config.hpp"
#include "natsim/sim/link.hpp"

namespace natsim::scenarios {

struct SiteSpec {
  std::string name;  // the gateway's name
  nat::NatBehavior nat;
  std::vector<std::string> hosts;       // host names, in order (addresses .2, .3, ...)
  std::optional<InterfaceAddress> lan;  // gateway's LAN address; default assigned
  std::optional<InterfaceAddress> wan;  // gateway's WAN address; default assigned
  sim::LinkParams uplink;
  sim::LinkParams lan_link;
  std::vector<SiteSpec> sites;  // nested behind this one (CGNAT)
  // The gateway's PCP / NAT-PMP service on port 5351; nullopt: off.
  std::optional<nat::PortMappingConfig> port_mapping;
  // An IPv6-only site: LAN, WAN and hosts are IPv6 (no NAT66: the NAT must not translate).
  bool ipv6 = false;
  std::string pointer;  // where it was defined, for messages
};

// stun: a STUN server (RFC 5780 with an alternate address); echo: a UDP echo server;
// turn: a TURN server (RFC 8656) that also answers Binding requests;
// host: a public host with no service, for an application a test puts there.
enum class ServerKind : std::uint8_t { stun, echo, host, turn };

struct ServerSpec {
  std::string name;
  ServerKind kind = ServerKind::stun;
  IpAddress address;
  std::uint16_t port = 3478;
  std::optional<IpAddress> alternate_address;  // RFC 5780 STUN
  std::uint16_t alternate_port = 3479;
  sim::LinkParams link;
  // Datagrams for its closed UDP ports are answered with ICMP port unreachable.
  bool icmp_unreachable = false;
  // TURN only.
  std::map<std::string, std::string> users;  // username -> password
  std::string realm = "natsim";
  std::uint16_t relay_ports = 64;  // relayed ports from 49152
};

// The keys of one timeline action, and of one expectation on an action's outcome, as
// its type parses them. Each action type is one file, scenarios/src/actions/<type>.cpp,
// which defines these; outside it they are opaque.
struct ActionSpec;
struct ActionCheck;

struct Action {
  std::string id;  // unique; defaults to "#<index>"
  Duration at{0};
  std::string type;                        // "probe", "send", ...: `natsim list actions`
  std::shared_ptr<const ActionSpec> spec;  // its keys, parsed by its type
  std::string pointer;
};

// A comparison on a number: equals, or within [min, max].
struct Range {
  std::optional<double> min;
  std::optional<double> max;
  [[nodiscard]] bool contains(double v) const { return (!min || v >= *min) && (!max || v <= *max); }
};

struct Expectation {
  std::string action;  // id of the action whose outcome is checked; empty for counters
  // The keys that apply to that action's type (e.g. "mapping" for a probe); null if none.
  std::shared_ptr<const ActionCheck> check;
  // Counter checks: {"counter": "<node or link>", "metric": "delivered"|"drops.<reason>"|...}
  std::string counter;
  std::string metric;
  std::optional<Range> value;
  std::string pointer;
};

// `natsim bridge` (docs/bridge.md): hosts whose traffic comes from, and goes to, a Linux
// network namespace through a TUN device. `natsim run` ignores it.
struct BridgeSpec {
  std::vector<std::string> attach;  // hosts of sites, or servers of type "host"
  std::string prefix = "natsim";    // namespaces are named <prefix>-<host>
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  std::vector<std::uint64_t> seeds{1};
  std::optional<Duration> duration;  // default: until every action has finished
  sim::LinkParams core;              // links from servers and sites to the core
  std::vector<ServerSpec> servers;
  std::vector<SiteSpec> sites;
  std::vector<Action> timeline;
  std::vector<Expectation> expectations;
  std::optional<BridgeSpec> bridge;
  std::string variant;  // matrix values that produced this scenario ("" if none)
};

}  // namespace natsim::scenarios
