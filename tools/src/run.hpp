#pragma once
// `natsim run`, `natsim validate` and `natsim merge`: scenario files from the command line.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace natsim::tools {

struct RunCommand {
  std::vector<std::string> files;
  std::string seed;  // checked by scenarios::parse_seed; empty: the files' seeds
  std::optional<std::size_t> variant;
  bool json = false;
  std::string pcap_dir;
  std::string trace_path;
  unsigned jobs = 0;  // 0: one per core
  std::string shard;  // "I/N"
  bool quiet = false;
};

// Exit codes: 0 every expectation held, 1 one failed, 2 bad input or usage; a run
// interrupted by SIGINT or SIGTERM reports the runs that finished and exits 128 + the
// signal number (130, 143).
int run_scenarios(const RunCommand& command);
int validate_scenarios(const std::vector<std::string>& files);
int merge_reports(const std::vector<std::string>& reports);

}  // namespace natsim::tools
