#pragma once
// `natsim serve gateway`: the gateway's PCP (RFC 6887) and NAT-PMP (RFC 6886) service on
// a real UDP socket, answering from a simulated NAT table (nothing is forwarded: the
// mappings live in the table, with the external address given).
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace natsim::tools {

struct ServeGatewayOptions {
  std::string listen = "127.0.0.1:5351";  // IP:PORT (port 0: the kernel picks)
  std::string external = "203.0.113.1";   // the NAT's external address (NAT-PMP, PCP)
  std::string nat = "port-restricted-cone";
  bool pcp = true;
  bool natpmp = true;
  std::uint32_t min_lifetime = 120;
  std::uint32_t max_lifetime = 24 * 3600;
  std::uint32_t quota = 32;
  bool allow_third_party = false;
  bool json_log = false;  // one JSON object per request (and the final counters) on stderr
  // UPnP IGD on the --listen address: HTTP (description, SCPDs, SOAP control) on
  // upnp_http_port (0: the kernel picks), M-SEARCH answered on ssdp_port. Mappings go to
  // the same NAT table as PCP's and NAT-PMP's.
  bool upnp = false;
  std::uint16_t upnp_http_port = 0;
  std::uint16_t ssdp_port = 1900;
  bool upnp_v1_only = false;
  bool upnp_insecure = false;  // secure mode off: a host may map to another address
  // A UPnP HTTP connection with no byte either way for this long is closed (slow and
  // silent clients hold no socket), as the simulated gateway's idle_timeout.
  std::uint32_t upnp_idle_timeout = 30;
};

// Adds `serve gateway` under `serve` with its options; returns the subcommand.
CLI::App* add_serve_gateway(CLI::App& serve, ServeGatewayOptions& options);

// Serves until SIGINT or SIGTERM. Prints "listening on IP:PORT (PCP, NAT-PMP)" once bound,
// a line per request, and the counters and live mappings at the end. Returns 0, or 2 for
// bad arguments and a socket that cannot be bound.
int serve_gateway(const ServeGatewayOptions& options);

}  // namespace natsim::tools
