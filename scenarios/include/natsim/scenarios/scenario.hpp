#pragma once
// A scenario, as loaded from a JSON file and validated: a topology, a timeline of
// actions and the expectations a run must meet. docs/scenario-format.md describes the
// file format; scenarios/natsim.schema.json is its JSON Schema.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/ip_address.hpp"
#include "natsim/base/time.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
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
  std::string pointer;          // where it was defined, for messages
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
  // TURN only.
  std::map<std::string, std::string> users;  // username -> password
  std::string realm = "natsim";
  std::uint16_t relay_ports = 64;  // relayed ports from 49152
};

struct ProbeAction {
  std::string host;
  std::string server;
  bool lifetime = false;
};
struct BindingAction {
  std::string host;
  std::string server;
  std::uint16_t port = 0;  // local port; 0 = ephemeral
};
struct SendAction {
  std::string host;
  std::string server;  // an echo server (replies are counted too)
  int count = 1;
  Duration interval = milliseconds(100);
  std::size_t size = 100;
  std::uint16_t port = 0;
};
// A relayed exchange: `host` allocates on the TURN `server` and gives `peer` (who learnt
// its own public address with a Binding to the same server) a permission; the peer sends
// `count` datagrams to the relayed address and `host` echoes each back through the relay.
struct RelayAction {
  std::string host;
  std::string peer;
  std::string server;
  std::string user;
  int count = 10;
  Duration interval = milliseconds(100);
  std::size_t size = 100;
};
struct LinkAction {
  std::string target;  // "<site>.uplink", "<site>.lan" or "<server>.link"
  std::optional<bool> up;
  nlohmann::json changes;  // link parameter overrides, validated at load
  sim::LinkParams params;  // the link's parameters after the change (resolved at run)
};
struct RebootAction {
  std::string site;
  Duration downtime{0};
  std::optional<InterfaceAddress> new_address;
};
struct ChangeAddressAction {
  std::string site;
  InterfaceAddress address;
};
struct FlushAction {
  std::string site;
};
struct SetNatAction {
  std::string site;
  nat::NatBehavior nat;
};

using ActionBody = std::variant<ProbeAction, BindingAction, SendAction, LinkAction, RebootAction,
                                ChangeAddressAction, FlushAction, SetNatAction, RelayAction>;

struct Action {
  std::string id;  // unique; defaults to "#<index>"
  Duration at{0};
  ActionBody body;
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
  // For probes: expected strings; for bindings: outcome; for sends: delivered/echoed.
  std::optional<std::string> mapping;
  std::optional<std::string> filtering;
  std::optional<bool> hairpinning;
  std::optional<std::string> outcome;  // binding: success | error | timeout
  std::optional<Range> rtt_ms;
  std::optional<Range> delivered;                  // send: datagrams that reached the server
  std::optional<Range> echoed;                     // send: replies that came back
  std::optional<std::string> mapped_changed_from;  // binding: id of an earlier binding
  std::optional<Range> lifetime_s;
  // Counter checks: {"counter": "<node or link>", "metric": "delivered"|"drops.<reason>"|...}
  std::string counter;
  std::string metric;
  std::optional<Range> value;
  std::string pointer;
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
  std::string variant;  // matrix values that produced this scenario ("" if none)
};

}  // namespace natsim::scenarios
