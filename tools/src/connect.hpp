#pragma once
#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace natsim::tools {

struct ConnectOptions {
  std::vector<std::string> bind;  // --bind IP[:PORT] (empty: every non-loopback IPv4 address)
  std::string stun;               // --stun HOST:PORT
  std::string turn;               // --turn HOST:PORT (UDP), with user and password
  std::string user, password;
  bool controlling = false;
  bool controlled = false;
  bool aggressive = false;
  bool relay_only = false;
  std::string offer_out;     // --offer-out FILE (empty: stdout, trickled)
  std::string remote;        // --remote FILE (empty: stdin)
  bool signal_json = false;  // the local description as one JSON object
  std::string send;          // --send TEXT, sent `count` times once a pair is selected
  int count = 1;
  int interval_ms = 100;  // between two sends
  bool echo = false;      // send back every datagram that is not our own --send text
  int expect = -1;        // datagrams to receive before finishing (-1: count with --send)
  int linger_ms = 500;    // keep answering (checks, echoes) this long after finishing
  double timeout_s = 30;  // for everything, description exchange included
};

// Adds `natsim connect`'s options to `cmd`.
void add_connect_options(CLI::App& cmd, ConnectOptions& options);

// `natsim connect`: an ICE agent (RFC 8445, one UDP component) on real sockets. It writes
// its description (ice-ufrag, ice-pwd, candidate lines, end-of-candidates: RFC 8839 lines,
// docs/ice.md) to stdout or --offer-out, reads the other agent's from stdin or --remote,
// connects, sends --send TEXT --count times, prints what it receives ("recv FROM TEXT")
// and finally one line of JSON: outcome, path, selected pair, timings.
// Returns 0 when connected (and every expected datagram came), 1 when ICE failed or time
// ran out, 2 for bad options or a malformed remote description.
int run_connect(const ConnectOptions& options);

}  // namespace natsim::tools
