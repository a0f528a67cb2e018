#pragma once
#include <cstdint>
#include <string>

namespace natsim::tools {

struct DemoOptions {
  std::uint64_t seed = 1;
  int pings = 20;
  std::string pcap_path;   // capture of the core link, if set
  std::string trace_path;  // JSON Lines trace, if set
};

// A two-router network with an impaired core link; alice pings bob over UDP and the
// demo prints each round trip, the counters and the run's digest. Returns an exit code.
int run_demo(const DemoOptions& options);

}  // namespace natsim::tools
