#pragma once
// The TURN server the traversal tests talk to: 198.51.100.50:3478, relay ports
// 50000-50003 on the same address, realm example.org, users alice/secret and
// bob/hunter2. Tests adjust the rest (quotas, denied peers, options).
#include "natsim/traversal/turn_server.hpp"

namespace natsim::traversal::turn::test {

inline const Endpoint kListen = *Endpoint::parse("198.51.100.50:3478");

inline ServerConfig server_config() {
  ServerConfig c;
  c.listen = kListen;
  c.relay_address = kListen.address;
  c.relay_port_first = 50000;
  c.relay_port_count = 4;
  c.realm = "example.org";
  c.users = {{"alice", "secret"}, {"bob", "hunter2"}};
  return c;
}

}  // namespace natsim::traversal::turn::test
