#pragma once
// `natsim bench-connect`: connection-setup latency of a connect scenario over its matrix
// (NAT pair x conditions x strategy) and seeds; docs/bench-connect.md.
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace natsim::tools {

struct BenchConnectCommand {
  std::vector<std::string> files;  // one scenario or population file; with --merge, reports
  unsigned seeds = 0;              // 0: the file's seeds
  std::string seed_range;          // "A..B"
  unsigned jobs = 0;               // 0: one per core
  std::string shard;               // "I/N"
  std::string json_path;
  std::string html_path;
  bool merge = false;
  bool quiet = false;
  bool no_wall = false;
};

CLI::App* add_bench_connect_command(CLI::App& app, BenchConnectCommand& command);
// Exit codes: 0 the report was written, 2 bad input or usage, 128 + signal when
// interrupted (the runs that finished are reported).
int run_bench_connect(const BenchConnectCommand& command);

}  // namespace natsim::tools
