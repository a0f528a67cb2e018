#pragma once
#include <string>

namespace natsim::tools {

struct ServeStunOptions {
  std::string listen;     // IP:PORT, the primary endpoint
  std::string alternate;  // IP:PORT, enables RFC 5780 (empty: a plain Binding server)
  std::string software = "natsim";
  bool json_log = false;  // one JSON object per datagram (and the final counters) on stderr
};

// `natsim serve stun`: a STUN server (RFC 8489, RFC 5780 with --alternate, RFC 3489
// answers for classic clients) on real UDP sockets until SIGINT or SIGTERM. Prints
// "listening on IP:PORT (...)" per socket once all are bound, and the counters at the
// end. Returns 0, or 2 for bad arguments and sockets that cannot be bound.
int serve_stun(const ServeStunOptions& options);

}  // namespace natsim::tools
