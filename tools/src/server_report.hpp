#pragma once
// What `natsim serve stun` and `natsim serve turn` print about themselves: the UDP socket
// counters they both have, and the final report when a signal stops them.
#include <nlohmann/json.hpp>

#include "natsim/io/udp_socket_set.hpp"

namespace natsim::tools {

// Appends datagrams_received, datagrams_sent, send_errors, receive_errors, unroutable.
void add_socket_counters(nlohmann::ordered_json& counters, const io::SocketCounters& s);

// "stopped by SIGTERM" and every counter on stdout (and, with json_log, one "stopped"
// JSON line on stderr). Returns the exit status, 0.
int report_stopped(int signal, const nlohmann::ordered_json& counters, bool json_log);

}  // namespace natsim::tools
