#pragma once
#include <string>

namespace natsim::tools {

struct ProbeTurnOptions {
  std::string server;  // --turn IP:PORT of a TURN server
  bool tcp = false;    // --tcp: to the server over TCP (else UDP); peers are always UDP
  std::string user;    // --user NAME:PASSWORD (long-term credentials)
  std::string realm;   // --realm: the realm the server must announce (empty: any)
  std::string peer;    // --peer IP:PORT: a UDP echo peer to relay through (empty: none)
  std::string local;   // --local IP:PORT to use, UDP socket or TCP connection (empty: routed)
  int timeout_ms = 0;  // wall-clock limit for the whole probe (0: the default, 30 s)
  int hold_ms = 0;     // keep the allocation this long (refreshing it) before the channel
  bool json = false;   // a JSON object instead of the table
};

// `natsim probe --turn`: allocates a relayed address on a real TURN server (RFC 8656
// over UDP, or TCP with --tcp; long-term credentials), and with --peer creates a
// permission, sends a
// datagram as a Send indication, binds a channel and sends one as ChannelData, expecting
// each echoed back through the relay; then releases the allocation. --hold-ms keeps the
// allocation (and its refreshes, nonce renewals) running in between.
// Returns 0 when every step worked, 1 when one failed or timed out, 2 for bad arguments.
int run_probe_turn(const ProbeTurnOptions& options);

}  // namespace natsim::tools
