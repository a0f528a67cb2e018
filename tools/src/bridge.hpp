#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace natsim::tools {

struct BridgeOptions {
  std::string file;
  std::optional<std::string> seed;  // replaces the file's seed
  std::string duration;             // wall-clock run time; default: the file's, else forever
  std::string prefix;               // namespace prefix; default: the file's, else "natsim"
  std::string pcap_dir;             // pcaps of every gateway and server
  std::string trace_path;           // the JSON Lines trace
  std::string exec_host;            // run `command` in this host's namespace, then exit
  std::vector<std::string> command;
  bool json = false;  // the final report as JSON on stdout
};

CLI::App* add_bridge_command(CLI::App& app, BridgeOptions& options);

// `natsim bridge`: runs a scenario's world in real time and attaches a Linux network
// namespace, through a TUN device, to each host in the file's "bridge" section
// (docs/bridge.md). Prints the namespaces and "ready", then runs until the duration
// passes, SIGINT/SIGTERM/SIGHUP, or the --exec command ends; removes the namespaces it
// created in every case it can (not after SIGKILL). Returns 0, the --exec command's exit
// status, or 2 for bad input, missing privileges and setup failures.
int run_bridge(const BridgeOptions& options);

}  // namespace natsim::tools
