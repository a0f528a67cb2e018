#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

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
  std::vector<std::string> denied_peer_ips;   // more prefixes to deny (coturn's --denied-peer-ip)
  std::vector<std::string> allowed_peer_ips;  // exceptions to the denied list (--allowed-peer-ip)
  // Limits against hostile clients (docs/hardening.md).
  std::uint32_t setup_timeout_s = 30;       // a TCP connection without an allocation is closed
  std::size_t max_tcp_connections = 0;      // 0: from the open-files limit, at most 4096
  std::size_t max_tcp_per_source = 16;      // per IPv4 address / IPv6 /64 (0: no limit)
  std::size_t max_tcp_output = 256 * 1024;  // bytes queued to one connection before closing it
  std::uint32_t tcp_idle_timeout_s = 3660;  // no byte either way for this long: closed (0: never)
  bool tcp = true;                          // also accept TURN over TCP on --listen
  bool json_log = false;  // one JSON object per datagram or TCP frame (and the final counters)
};

// `natsim serve turn`: the TURN server (RFC 8656 over UDP and TCP, long-term credentials)
// on real sockets until SIGINT or SIGTERM. Binds --listen (UDP, and TCP unless --no-tcp)
// and every relay port up front, then prints "listening on IP:PORT (TURN, UDP and TCP)",
// the relay range, the denied peer prefixes (the server's special-purpose defaults, RFC
// 1918 and fc00::/7, loopback unless --allow-loopback-peers, plus --denied-peer-ip; minus
// --allowed-peer-ip), the TCP limits and the channel number range (RFC 8656's, or RFC
// 5766's with --rfc5766-channels), and at the end the server's counters. Returns 0, or 2
// for bad arguments and sockets that cannot be bound.
int serve_turn(const ServeTurnOptions& options);

// The `serve turn` flags for the limits and the peer lists (the rest are in main.cpp).
void add_serve_turn_limit_options(CLI::App& command, ServeTurnOptions& options);

}  // namespace natsim::tools
