#pragma once
// `natsim probe --pcp ADDR` / `--natpmp ADDR` / `--upnp [ADDR]`: asks a real gateway for a
// port mapping.
#include <cstdint>
#include <initializer_list>
#include <string>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace natsim::tools {

struct ProbePortmapOptions {
  std::string pcp;                  // --pcp IP[:PORT] of the gateway (port 5351 by default)
  std::string natpmp;               // --natpmp IP[:PORT]
  bool upnp = false;                // --upnp [IP[:PORT]]: UPnP IGD (docs/upnp-igd.md)
  std::string upnp_gateway;         // where M-SEARCH goes (empty: 239.255.255.250)
  std::string description_url;      // --description-url: skip SSDP (as `upnpc -u`)
  std::uint16_t ssdp_port = 1900;   // --ssdp-port
  std::uint16_t internal_port = 0;  // 0: the probe's own port
  std::uint16_t suggested_port = 0;
  std::uint32_t lifetime = 3600;
  std::string transport = "udp";
  bool refresh = false;     // refresh once the mapping is granted
  bool keep = false;        // leave the mapping in place instead of deleting it
  std::string third_party;  // --third-party IP: PCP MAP for another host (RFC 6887 §13.1)
  // Shared with the other probes (copied from probe's options).
  std::string local;
  int timeout_ms = 0;
  bool json = false;
};

// Adds --pcp, --natpmp, --upnp and their options to `probe`; the three exclude each
// other and the options in `exclude` (the other probes' server options).
void add_probe_portmap_options(CLI::App& probe, ProbePortmapOptions& options,
                               std::initializer_list<CLI::Option*> exclude);

// Asks for the mapping (NAT-PMP: and the external address), refreshes it with --refresh,
// deletes it unless --keep. Prints a JSON object with --json, else a table and a line.
// Returns 0 when every step worked, 1 when one failed or timed out, 2 for bad arguments.
int run_probe_portmap(const ProbePortmapOptions& options);

}  // namespace natsim::tools
