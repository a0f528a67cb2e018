#include "run.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "batch_progress.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/action_catalog.hpp"
#include "natsim/scenarios/batch.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::tools {

using nlohmann::json;
using scenarios::Job;
using scenarios::Plan;

namespace {

// Reports of big sweeps are big; this only keeps a wrong file from eating the memory.
constexpr std::size_t kMaxReportBytes = std::size_t{1} << 30;
// --pcap and --trace write files per run: a sweep must not fill the disk by accident.
constexpr std::size_t kMaxCaptureRuns = 1000;

// One line per action: what it found or did.
void print_actions(const json& actions) {
  for (const json& a : actions) {
    const std::string id = a["id"].get<std::string>();
    const std::string line = scenarios::action_line(a);  // each action type words its own
    std::printf("      %8.1fs  %-16s %s\n", a["at_ms"].get<double>() / 1000.0, id.c_str(),
                line.c_str());
  }
}

// One run of the table; a few runs get their actions and expectations spelled out.
void print_run(const Plan& plan, const Job& job, const scenarios::RunResult& r, bool detail) {
  std::printf("%s  %-32s %-24s seed %-6llu digest %s  simulated %.1fs\n",
              r.passed ? "PASS" : "FAIL", r.name.c_str(),
              r.variant.empty() ? "" : ("[" + r.variant + "]").c_str(),
              static_cast<unsigned long long>(r.seed), scenarios::digest_hex(r.digest).c_str(),
              to_seconds(r.simulated));
  if (detail) print_actions(r.actions);
  for (const auto& e : r.expectations) {
    if (!e.passed || detail) {
      std::printf("      %s %s: %s\n", e.passed ? "ok  " : "FAIL", e.pointer.c_str(),
                  e.message.c_str());
    }
  }
  if (!r.passed) std::printf("      replay: %s\n", scenarios::replay_command(plan, job).c_str());
}

}  // namespace

int run_scenarios(const RunCommand& command) {
  std::size_t shard_index = 0;
  std::size_t shard_count = 1;
  if (!command.shard.empty() && !parse_shard(command.shard, &shard_index, &shard_count)) {
    std::fprintf(stderr, "natsim: --shard expects I/N with 0 <= I < N, got '%s'\n",
                 command.shard.c_str());
    return 2;
  }
  std::optional<std::uint64_t> seed;
  if (!command.seed.empty()) {
    seed = scenarios::parse_seed(command.seed);
    if (!seed) {
      std::fprintf(stderr, "natsim: --seed expects an integer from 0 to %llu, got '%s'\n",
                   static_cast<unsigned long long>(scenarios::max_seed()), command.seed.c_str());
      return 2;
    }
  }
  Plan plan;
  try {
    plan = scenarios::plan_runs(command.files, seed, command.variant);
  } catch (const InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
  const std::vector<Job> jobs = scenarios::shard(plan.jobs, shard_index, shard_count);
  if ((!command.pcap_dir.empty() || !command.trace_path.empty()) && jobs.size() > kMaxCaptureRuns) {
    std::fprintf(stderr,
                 "natsim: --pcap and --trace write files for every run: at most %zu runs, not "
                 "%zu (narrow with --seed, --variant or --shard)\n",
                 kMaxCaptureRuns, jobs.size());
    return 2;
  }
  if (!command.pcap_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(command.pcap_dir, ec);
    if (ec) {
      std::fprintf(stderr, "natsim: cannot create %s: %s\n", command.pcap_dir.c_str(),
                   ec.message().c_str());
      return 2;
    }
  }
  const unsigned threads =
      command.jobs != 0 ? command.jobs : std::max(1u, std::thread::hardware_concurrency());
  ProgressLine progress(isatty(STDERR_FILENO) != 0, !command.quiet && jobs.size() >= 50);
  const auto started = std::chrono::steady_clock::now();
  // Runs are printed (table or JSON) as they finish, in job order, and not kept: a
  // million-run sweep needs no more memory than a short one.
  const bool detail = jobs.size() <= 3;
  std::size_t reported = 0;
  std::size_t passed = 0;
  std::vector<Job> finished;
  if (command.json) std::printf("{\n\"runs\": [\n");
  catch_stop_signals();
  try {
    scenarios::RunOptions options;
    options.pcap_dir = command.pcap_dir;
    options.trace_path = command.trace_path;
    // The table prints action reports only in detail, and counters never.
    options.report_actions = command.json || detail;
    options.report_counters = command.json;
    scenarios::Progress hooks;
    hooks.on_run = [&](std::size_t done, std::size_t total, bool ok) { progress(done, total, ok); };
    hooks.on_result = [&](const Job& job, const scenarios::RunResult& r) {
      passed += r.passed ? 1 : 0;
      if (command.json) {
        std::printf("%s%s", reported == 0 ? "" : ",\n",
                    scenarios::run_report(plan, job, r).dump(2).c_str());
      } else {
        print_run(plan, job, r, detail);
      }
      ++reported;
    };
    hooks.keep = false;
    hooks.stop = &g_stop;
    (void)scenarios::run_jobs(plan, jobs, threads, options, hooks, &finished);
  } catch (const InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
  restore_stop_signals();
  const bool interrupted = reported < jobs.size();
  if (interrupted) progress.interrupted();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (command.json) {
    json summary{{"runs", reported}, {"passed", passed}, {"failed", reported - passed}};
    summary["wall_s"] = wall_s;
    summary["shard"] = std::to_string(shard_index) + "/" + std::to_string(shard_count);
    summary["plan"] = scenarios::plan_fingerprint(plan);
    if (interrupted) {
      summary["interrupted"] = true;
      summary["planned"] = jobs.size();
    }
    std::printf("\n],\n\"summary\": %s\n}\n", summary.dump(2).c_str());
  } else {
    std::printf("%zu runs in %.2f s wall\n%zu passed, %zu failed\n", reported, wall_s, passed,
                reported - passed);
  }
  if (interrupted) {
    std::fflush(stdout);
    std::fprintf(stderr, "natsim: interrupted: %zu of %zu runs finished and reported\n", reported,
                 jobs.size());
    return 128 + stop_signal();
  }
  return passed == reported ? 0 : 1;
}

int validate_scenarios(const std::vector<std::string>& files) {
  int status = 0;
  for (const std::string& file : files) {
    try {
      // Variant by variant: a big matrix is checked without holding every variant.
      const auto f = scenarios::ScenarioFile::read(file);
      const std::size_t runs = f.runs();
      std::printf("ok  %s (%zu variant%s, %zu run%s)\n", file.c_str(), f.variants(),
                  f.variants() == 1 ? "" : "s", runs, runs == 1 ? "" : "s");
    } catch (const InputError& e) {
      std::fprintf(stderr, "natsim: %s\n", e.what());
      status = 2;
    }
  }
  return status;
}

int merge_reports(const std::vector<std::string>& reports) {
  std::vector<json> parsed;
  std::vector<std::string> seen;  // canonical paths: the same report twice is an error
  try {
    for (const std::string& path : reports) {
      std::error_code ec;
      const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
      for (std::size_t i = 0; i < seen.size(); ++i) {
        if (!ec && seen[i] == canonical) {
          throw InputError(path, "given twice (also as " + reports[i] + ")");
        }
      }
      seen.push_back(ec ? path : canonical);
      parsed.push_back(scenarios::read_json_file(path, kMaxReportBytes));
    }
    const json merged = scenarios::merge_reports(parsed, reports);
    std::printf("%s\n", merged.dump(2).c_str());
    return merged["summary"]["failed"].get<std::size_t>() == 0 ? 0 : 1;
  } catch (const InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
}

}  // namespace natsim::tools
