#pragma once
// Many runs: every (file, matrix variant, seed) of a set of scenario files, a
// deterministic slice of them for sharding across machines, parallel execution with
// results in a stable order, and reports that merge.
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios {

struct Job {
  std::size_t file = 0;     // index into Plan::files
  std::size_t variant = 0;  // the variant's index within its file (for replay)
  std::uint64_t seed = 0;
};

struct Plan {
  std::vector<ScenarioFile> files;  // variants are built when a job needs them
  std::vector<Job> jobs;            // file order, then variant, then seed
  // The scenario a job runs. Throws InputError (not after plan_runs checked it).
  [[nodiscard]] Scenario scenario(const Job& job) const {
    return files[job.file].variant(job.variant);
  }
};

// Loads the files (throws InputError), checks every variant and lists one job per
// variant and seed, at most limits::kMaxRuns in all; `seed` replaces each scenario's
// seeds, `variant` keeps only that matrix variant.
[[nodiscard]] Plan plan_runs(const std::vector<std::string>& files,
                             std::optional<std::uint64_t> seed = {},
                             std::optional<std::size_t> variant = {});
// A seed as given on a command line: decimal digits, 0 to 2^63-1 (the range of seeds in
// files too); nullopt otherwise (a sign, overflow, anything else).
[[nodiscard]] std::optional<std::uint64_t> parse_seed(std::string_view text);
[[nodiscard]] constexpr std::uint64_t max_seed() {
  return 0x7fff'ffff'ffff'ffffULL;
}

// Shard `index` of `count`: jobs whose position modulo `count` is `index`.
[[nodiscard]] std::vector<Job> shard(const std::vector<Job>& jobs, std::size_t index,
                                     std::size_t count);

// Runs the jobs on `threads` threads; results come back in job order whatever the
// scheduling. `on_run(done, total, passed)` is called after each run, `on_result(job,
// result)` for each run in job order as soon as the runs before it are done (both from
// worker threads, serialised); with `keep` false the results are handed to on_result
// only, not returned, so a sweep's memory does not grow with its runs. Once `stop` is set
// no new run starts: the runs started finish and the jobs of those reported are in
// `finished`. Each run gets its own pcap directory under options.pcap_dir, named by
// pcap_dir_name. Throws InputError (e.g. a pcap folder that cannot be made) after the
// workers have stopped.
struct Progress {
  std::function<void(std::size_t done, std::size_t total, bool passed)> on_run;
  std::function<void(const Job& job, const RunResult& result)> on_result;
  bool keep = true;
  const std::atomic<bool>* stop = nullptr;
};
[[nodiscard]] std::vector<RunResult> run_jobs(const Plan& plan, const std::vector<Job>& jobs,
                                              unsigned threads, const RunOptions& options = {},
                                              const Progress& progress = {},
                                              std::vector<Job>* finished = nullptr);

// A directory name for one run's pcaps: the scenario name kept to [A-Za-z0-9._-] (others
// become '_'), at most 64 characters, with a hash of the whole name appended when it had
// to change so names stay distinct; never "." or "..". Then -v<variant>-s<seed>.
[[nodiscard]] std::string pcap_dir_name(const std::string& scenario, const Job& job);

// The command that replays one run exactly.
[[nodiscard]] std::string replay_command(const Plan& plan, const Job& job);

// One run's entry in a report: to_json(result) with "variant_index" and "replay".
[[nodiscard]] nlohmann::json run_report(const Plan& plan, const Job& job, const RunResult& result);
// {"runs": [...], "summary": {"runs": N, "passed": N, "failed": N}}
[[nodiscard]] nlohmann::json report_json(const Plan& plan, const std::vector<Job>& jobs,
                                         const std::vector<RunResult>& results);
// Identifies the whole plan (every job, before sharding): shards of one split carry it.
[[nodiscard]] std::string plan_fingerprint(const Plan& plan);
// Concatenates reports (e.g. from shards) and recomputes the summary. Throws
// InputError naming the report that is not a natsim report, a report given twice, or,
// when the reports are shards ("summary": {"shard": "I/N"}), a shard missing, repeated
// or from a different split.
[[nodiscard]] nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports,
                                           const std::vector<std::string>& names);

}  // namespace natsim::scenarios
