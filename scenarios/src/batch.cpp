#include "natsim/scenarios/batch.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios {

using nlohmann::json;

Plan plan_runs(const std::vector<std::string>& files, std::optional<std::uint64_t> seed,
               std::optional<std::size_t> variant) {
  Plan plan;
  for (const std::string& file : files) {
    std::vector<Scenario> variants = load_scenario_file(file);
    if (variant && *variant >= variants.size()) {
      throw InputError(file, "has " + std::to_string(variants.size()) + " variant(s); --variant " +
                                 std::to_string(*variant) + " does not exist");
    }
    for (std::size_t v = 0; v < variants.size(); ++v) {
      if (variant && v != *variant) continue;
      plan.scenarios.push_back(std::move(variants[v]));
      plan.variant_index.push_back(v);
      const std::size_t index = plan.scenarios.size() - 1;
      const auto seeds = seed ? std::vector<std::uint64_t>{*seed} : plan.scenarios.back().seeds;
      for (std::uint64_t s : seeds)
        plan.jobs.push_back(Job{index, v, s});
    }
  }
  return plan;
}

std::vector<Job> shard(const std::vector<Job>& jobs, std::size_t index, std::size_t count) {
  std::vector<Job> out;
  for (std::size_t i = index; i < jobs.size(); i += count)
    out.push_back(jobs[i]);
  return out;
}

std::vector<RunResult> run_jobs(const Plan& plan, const std::vector<Job>& jobs, unsigned threads,
                                const RunOptions& options,
                                const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<RunResult> results(jobs.size());
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::mutex progress_mutex;
  auto worker = [&] {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      const Job& job = jobs[i];
      RunOptions per_run = options;
      if (!options.pcap_dir.empty()) {
        per_run.pcap_dir = options.pcap_dir + "/" + plan.scenarios[job.scenario].name + "-v" +
                           std::to_string(job.variant) + "-s" + std::to_string(job.seed);
        std::filesystem::create_directories(per_run.pcap_dir);
      }
      if (!options.trace_path.empty() && jobs.size() > 1) {
        per_run.trace_path = options.trace_path + "." + std::to_string(i);
      }
      results[i] = run_scenario(plan.scenarios[job.scenario], job.seed, per_run);
      if (progress) {
        std::lock_guard lock(progress_mutex);
        progress(++done, jobs.size());
      }
    }
  };
  const unsigned n = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n; ++t)
    pool.emplace_back(worker);
  worker();
  for (auto& t : pool)
    t.join();
  return results;
}

std::string replay_command(const Plan& plan, const Job& job) {
  const Scenario& s = plan.scenarios[job.scenario];
  std::string cmd = "natsim run " + s.file + " --seed " + std::to_string(job.seed);
  if (!s.variant.empty()) cmd += " --variant " + std::to_string(job.variant);
  return cmd;
}

json report_json(const Plan& plan, const std::vector<Job>& jobs,
                 const std::vector<RunResult>& results) {
  json runs = json::array();
  std::size_t passed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    json r = to_json(results[i]);
    r["variant_index"] = jobs[i].variant;
    r["replay"] = replay_command(plan, jobs[i]);
    passed += results[i].passed ? 1 : 0;
    runs.push_back(std::move(r));
  }
  return json{
      {"runs", runs},
      {"summary",
       {{"runs", results.size()}, {"passed", passed}, {"failed", results.size() - passed}}}};
}

json merge_reports(const std::vector<json>& reports, const std::vector<std::string>& names) {
  json runs = json::array();
  std::size_t passed = 0;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const json& r = reports[i];
    if (!r.is_object() || !r.contains("runs") || !r["runs"].is_array()) {
      throw InputError(i < names.size() ? names[i] : "",
                       "not a natsim run report (no \"runs\" array)");
    }
    for (const json& run : r["runs"]) {
      if (!run.is_object() || !run.contains("passed") || !run["passed"].is_boolean()) {
        throw InputError(i < names.size() ? names[i] : "", "a run without a boolean \"passed\"");
      }
      passed += run["passed"].get<bool>() ? 1 : 0;
      runs.push_back(run);
    }
  }
  return json{
      {"runs", runs},
      {"summary", {{"runs", runs.size()}, {"passed", passed}, {"failed", runs.size() - passed}}}};
}

}  // namespace natsim::scenarios
