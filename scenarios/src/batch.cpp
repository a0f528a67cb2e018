#include "natsim/scenarios/batch.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#include "limits.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios {

using nlohmann::json;

static_assert(max_seed() == limits::kMaxSeed, "one seed range everywhere");

Plan plan_runs(const std::vector<std::string>& files, std::optional<std::uint64_t> seed,
               std::optional<std::size_t> variant) {
  Plan plan;
  if (seed && *seed > limits::kMaxSeed) {
    throw InputError("--seed", "expected a seed from 0 to " + std::to_string(limits::kMaxSeed));
  }
  std::uint64_t bytes = 0;
  for (const std::string& file : files) {
    std::error_code ec;
    const auto size =
        std::filesystem::is_regular_file(file, ec) ? std::filesystem::file_size(file, ec) : 0;
    bytes += ec ? 0 : size;
    if (bytes > limits::kMaxCommandBytes) {
      throw InputError(file, "the files so far come to " + std::to_string(bytes) +
                                 " bytes; one command runs at most " +
                                 std::to_string(limits::kMaxCommandBytes >> 20) +
                                 " MiB of scenarios");
    }
    plan.files.push_back(ScenarioFile::read(file));
    const ScenarioFile& f = plan.files.back();
    const std::size_t index = plan.files.size() - 1;
    if (variant && *variant >= f.variants()) {
      throw InputError(file, "has " + std::to_string(f.variants()) + " variant(s); --variant " +
                                 std::to_string(*variant) + " does not exist");
    }
    // Every variant is built once here, so a bad one stops the command before any run.
    for (std::size_t v = 0; v < f.variants(); ++v) {
      if (variant && v != *variant) continue;
      const Scenario s = f.variant(v);
      const std::size_t runs = seed ? 1 : s.seeds.size();
      if (runs > limits::kMaxRuns - plan.jobs.size()) {
        throw InputError(file, "more than " + std::to_string(limits::kMaxRuns) +
                                   " runs (variants x seeds, the limit of one command)");
      }
      if (seed) {
        plan.jobs.push_back(Job{index, v, *seed});
      } else {
        for (std::uint64_t x : s.seeds)
          plan.jobs.push_back(Job{index, v, x});
      }
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

std::string pcap_dir_name(const std::string& scenario, const Job& job) {
  constexpr std::size_t kMaxName = 64;
  std::string name;
  for (char c : scenario.substr(0, kMaxName)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    name += ok ? c : '_';
  }
  // "." and ".." are the folder itself and its parent; a leading dot hides the folder.
  if (!name.empty() && name[0] == '.') name[0] = '_';
  if (name != scenario || name.empty()) {
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the whole name
    for (unsigned char c : scenario)
      h = (h ^ c) * 0x100000001b3ULL;
    char suffix[10];
    std::snprintf(suffix, sizeof suffix, "~%08llx", static_cast<unsigned long long>(h >> 32));
    name += suffix;
  }
  return name + "-v" + std::to_string(job.variant) + "-s" + std::to_string(job.seed);
}

std::vector<RunResult> run_jobs(const Plan& plan, const std::vector<Job>& jobs, unsigned threads,
                                const RunOptions& options, const Progress& progress,
                                std::vector<Job>* finished) {
  // Filled as runs finish and handed on in job order: a million-run sweep reserves 8 MB
  // of pointers, and without `keep` holds only the runs still waiting for an earlier one.
  std::vector<std::unique_ptr<RunResult>> results(jobs.size());
  std::vector<RunResult> kept;
  if (finished != nullptr) finished->clear();
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::size_t emitted = 0;
  std::mutex mutex;
  std::exception_ptr error;  // the first failure of a worker, rethrown here
  std::atomic<bool> failed{false};
  auto stopping = [&] {
    return failed.load() || (progress.stop != nullptr && progress.stop->load());
  };
  auto worker = [&] {
    // Consecutive jobs mostly share a variant: build it once per thread, not per run.
    std::optional<std::pair<std::size_t, std::size_t>> built;
    Scenario scenario;
    try {
      for (std::size_t i = next++; i < jobs.size() && !stopping(); i = next++) {
        const Job& job = jobs[i];
        if (built != std::pair{job.file, job.variant}) {
          scenario = plan.scenario(job);
          built = std::pair{job.file, job.variant};
        }
        RunOptions per_run = options;
        if (!options.pcap_dir.empty()) {
          per_run.pcap_dir = options.pcap_dir + "/" + pcap_dir_name(scenario.name, job);
          std::error_code ec;
          std::filesystem::create_directories(per_run.pcap_dir, ec);
          if (ec) throw InputError(per_run.pcap_dir, "cannot create it: " + ec.message());
        }
        if (!options.trace_path.empty() && jobs.size() > 1) {
          per_run.trace_path = options.trace_path + "." + std::to_string(i);
        }
        auto result = std::make_unique<RunResult>(run_scenario(scenario, job.seed, per_run));
        std::lock_guard lock(mutex);
        const bool passed = result->passed;
        results[i] = std::move(result);
        ++done;
        if (progress.on_run) progress.on_run(done, jobs.size(), passed);
        for (; emitted < jobs.size() && results[emitted]; ++emitted) {
          if (progress.on_result) progress.on_result(jobs[emitted], *results[emitted]);
          if (finished != nullptr) finished->push_back(jobs[emitted]);
          if (progress.keep) kept.push_back(std::move(*results[emitted]));
          results[emitted].reset();
        }
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  const unsigned n = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
  // Reserved before any thread starts: a throwing reallocation with live threads would
  // destroy joinable std::threads, which terminates the process.
  std::vector<std::thread> pool;
  try {
    pool.reserve(n - 1);
  } catch (const std::bad_alloc&) {
  }
  for (unsigned t = 1; t < n && pool.size() < pool.capacity(); ++t) {
    try {
      pool.emplace_back(worker);
    } catch (const std::exception&) {
      break;  // out of threads or memory for stacks: run on the threads there are
    }
  }
  worker();
  for (auto& t : pool)
    t.join();
  if (error) std::rethrow_exception(error);
  return kept;
}

std::optional<std::uint64_t> parse_seed(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      v > limits::kMaxSeed) {
    return std::nullopt;
  }
  return v;
}

std::string replay_command(const Plan& plan, const Job& job) {
  const ScenarioFile& f = plan.files[job.file];
  std::string cmd = "natsim run " + f.file() + " --seed " + std::to_string(job.seed);
  if (f.has_matrix()) cmd += " --variant " + std::to_string(job.variant);
  return cmd;
}

json run_report(const Plan& plan, const Job& job, const RunResult& result) {
  json r = to_json(result);
  r["variant_index"] = job.variant;
  r["replay"] = replay_command(plan, job);
  return r;
}

json report_json(const Plan& plan, const std::vector<Job>& jobs,
                 const std::vector<RunResult>& results) {
  json runs = json::array();
  std::size_t passed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    passed += results[i].passed ? 1 : 0;
    runs.push_back(run_report(plan, jobs[i], results[i]));
  }
  return json{
      {"runs", runs},
      {"summary",
       {{"runs", results.size()}, {"passed", passed}, {"failed", results.size() - passed}}}};
}

std::string plan_fingerprint(const Plan& plan) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over every job's replay command
  for (const Job& job : plan.jobs) {
    for (unsigned char c : replay_command(plan, job) + "\n")
      h = (h ^ c) * 0x100000001b3ULL;
  }
  return digest_hex(h);
}

json merge_reports(const std::vector<json>& reports, const std::vector<std::string>& names) {
  auto name = [&](std::size_t i) {
    return i < names.size() ? names[i] : "report " + std::to_string(i);
  };
  json runs = json::array();
  std::size_t passed = 0;
  std::map<std::string, std::size_t> seen_runs;  // replay command -> report
  // Shards of one split, by plan and count: which indices came, from which report.
  std::map<std::pair<std::string, std::size_t>, std::map<std::size_t, std::size_t>> shards;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const json& r = reports[i];
    if (!r.is_object() || !r.contains("runs") || !r["runs"].is_array()) {
      throw InputError(name(i), "not a natsim run report (no \"runs\" array)");
    }
    const json summary = r.value("summary", json::object());
    if (summary.is_object() && summary.value("interrupted", false)) {
      throw InputError(name(i), "an interrupted run (" + summary.value("runs", json(0)).dump() +
                                    " of " + summary.value("planned", json(0)).dump() +
                                    " runs): run it again to complete it");
    }
    if (summary.is_object() && summary.contains("shard") && summary["shard"].is_string()) {
      const std::string text = summary["shard"].get<std::string>();
      std::size_t index = 0;
      std::size_t count = 0;
      if (std::sscanf(text.c_str(), "%zu/%zu", &index, &count) != 2 || index >= count) {
        throw InputError(name(i), "bad shard '" + text + "' in its summary");
      }
      const std::string plan = summary.value("plan", "");
      auto [it, fresh] = shards[{plan, count}].emplace(index, i);
      if (!fresh) {
        throw InputError(name(i), "shard " + text + " again (already in " + name(it->second) + ")");
      }
    }
    for (const json& run : r["runs"]) {
      if (!run.is_object() || !run.contains("passed") || !run["passed"].is_boolean()) {
        throw InputError(name(i), "a run without a boolean \"passed\"");
      }
      if (run.contains("replay") && run["replay"].is_string()) {
        auto [it, fresh] = seen_runs.emplace(run["replay"].get<std::string>(), i);
        if (!fresh) {
          throw InputError(name(i), "run '" + it->first + "' is also in " + name(it->second) +
                                        " (a report given twice?)");
        }
      }
      passed += run["passed"].get<bool>() ? 1 : 0;
      runs.push_back(run);
    }
  }
  for (const auto& [key, got] : shards) {
    for (std::size_t k = 0; k < key.second; ++k) {
      if (!got.contains(k)) {
        throw InputError(name(got.begin()->second),
                         "shard " + std::to_string(k) + "/" + std::to_string(key.second) +
                             " is missing (give every shard of the split)");
      }
    }
  }
  return json{
      {"runs", runs},
      {"summary", {{"runs", runs.size()}, {"passed", passed}, {"failed", runs.size() - passed}}}};
}

}  // namespace natsim::scenarios
