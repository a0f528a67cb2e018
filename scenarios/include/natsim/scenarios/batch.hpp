#pragma once
// Many runs: every (file, matrix variant, seed) of a set of scenario files, a
// deterministic slice of them for sharding across machines, parallel execution with
// results in a stable order, and reports that merge.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios {

struct Job {
  std::size_t scenario = 0;  // index into the loaded variants
  std::size_t variant = 0;   // the variant's index within its file (for replay)
  std::uint64_t seed = 0;
};

struct Plan {
  std::vector<Scenario> scenarios;  // every variant of every file, in file order
  std::vector<std::size_t> variant_index;
  std::vector<Job> jobs;
};

// Loads the files (throws InputError) and lists one job per variant and seed; `seed`
// replaces each scenario's seeds, `variant` keeps only that matrix variant.
[[nodiscard]] Plan plan_runs(const std::vector<std::string>& files,
                             std::optional<std::uint64_t> seed = {},
                             std::optional<std::size_t> variant = {});
// Shard `index` of `count`: jobs whose position modulo `count` is `index`.
[[nodiscard]] std::vector<Job> shard(const std::vector<Job>& jobs, std::size_t index,
                                     std::size_t count);

// Runs the jobs on `threads` threads; results come back in job order whatever the
// scheduling. `progress(done, total)` is called after each run (from worker threads,
// serialised). Each run gets its own pcap directory under options.pcap_dir.
[[nodiscard]] std::vector<RunResult> run_jobs(
    const Plan& plan, const std::vector<Job>& jobs, unsigned threads,
    const RunOptions& options = {},
    const std::function<void(std::size_t, std::size_t)>& progress = {});

// The command that replays one run exactly.
[[nodiscard]] std::string replay_command(const Plan& plan, const Job& job);

// {"runs": [...], "summary": {"runs": N, "passed": N, "failed": N}}
[[nodiscard]] nlohmann::json report_json(const Plan& plan, const std::vector<Job>& jobs,
                                         const std::vector<RunResult>& results);
// Concatenates reports (e.g. from shards) and recomputes the summary. Throws
// InputError naming the report that is not a natsim report.
[[nodiscard]] nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports,
                                           const std::vector<std::string>& names);

}  // namespace natsim::scenarios
