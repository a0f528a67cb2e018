#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace natsim::tools {

struct ServeTurnOptions {
  std::string listen;                    // IP:PORT where clients reach the server (UDP, TCP)
  std::vector<std::string> users;        // NAME:PASSWORD, long-term credentials (at least one)
  std::string realm;                     // REALM (required)
  std::string relay_ip;                  // relayed addresses use this IP (empty: --listen's IP)
  std::string relay_ports = "49152:64";  // FIRST:COUNT, bound up front
  bool allow_loopback_peers = false;     // take 127.0.0.0/8 and ::1 off the denied list
  bool rfc5766_channels = false;         // channel numbers 0x4000-0x7FFF (RFC 5766 §11)
  std::uint32_t max_allocations_per_user = 10;
  std::string software = "natsim";
  bool tcp = true;        // also accept TURN over TCP on --listen
  bool json_log = false;  // one JSON object per datagram or TCP frame (and the final counters)
};

// `natsim serve turn`: the TURN server (RFC 8656 over UDP and TCP, long-term credentials)
// on real sockets until SIGINT or SIGTERM. Binds --listen (UDP, and TCP unless --no-tcp)
// and every relay port up front, then prints "listening on IP:PORT (TURN, UDP and TCP)",
// the relay range, the denied peer prefixes (private, link-local and, unless
// --allow-loopback-peers, loopback addresses) and the channel number range (RFC 8656's,
// or RFC 5766's with --rfc5766-channels), and at the end the server's counters. Returns
// 0, or 2 for bad arguments and sockets that cannot be bound.
int serve_turn(const ServeTurnOptions& options);

}  // namespace natsim::tools
