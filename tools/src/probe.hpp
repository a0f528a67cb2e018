#pragma once
#include <string>

namespace natsim::tools {

struct ProbeOptions {
  std::string stun;       // IP:PORT of an RFC 5780 STUN server
  std::string local;      // IP:PORT to probe from (empty: see probe.cpp)
  int timeout_ms = 0;     // wall-clock limit for the whole probe (0: the default)
  bool json = false;      // a JSON object instead of the table
  bool lifetime = false;  // also measure the binding lifetime (RFC 5780 §4.6): minutes
  std::string lifetime_max = "10m";
  std::string lifetime_precision = "5s";  // the search stops when its bounds are this close
  bool lifetime_reuse = false;            // every trial on one socket (RFC 5780 §4.6 as written)
  std::string software = "natsim";        // SOFTWARE in requests; empty: none
};

// `natsim probe`: RFC 5780 NAT behaviour discovery against a real STUN server.
// Returns 0 when discovery completed, 1 when the server could not be reached (or the
// probe ran out of time), 2 for bad arguments.
int run_probe(const ProbeOptions& options);

}  // namespace natsim::tools
