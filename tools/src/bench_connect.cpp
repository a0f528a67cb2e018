#include "bench_connect.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "batch_progress.hpp"
#include "bench_connect_html.hpp"
#include "bench_connect_model.hpp"
#include "bench_connect_report.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/batch.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::tools {

using nlohmann::json;
using scenarios::Job;
using scenarios::Plan;

namespace {

constexpr std::uint64_t kMaxSeeds = 100000;
constexpr std::size_t kMaxRuns = 1000000;  // the batch runner's limit of one command
constexpr std::size_t kMaxReportBytes = std::size_t{1} << 30;

struct Seeds {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

std::optional<Seeds> parse_range(const std::string& text) {
  const auto dots = text.find("..");
  if (dots == std::string::npos) return std::nullopt;
  const auto a = scenarios::parse_seed(std::string_view(text).substr(0, dots));
  const auto b = scenarios::parse_seed(std::string_view(text).substr(dots + 2));
  if (!a || !b || *a > *b) return std::nullopt;
  return Seeds{*a, *b};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw InputError(path, "cannot write it");
}

// Whatever the command produced: the table on stdout, the JSON and HTML files.
void emit(const BenchConnectCommand& command, const json& report) {
  std::fputs(bench::table_text(report).c_str(), stdout);
  if (!command.json_path.empty()) write_file(command.json_path, report.dump(1) + "\n");
  if (!command.html_path.empty()) write_file(command.html_path, bench::render_html(report));
}

json seeds_json(const std::vector<Job>& jobs) {
  std::set<std::uint64_t> seeds;
  for (const Job& j : jobs)
    seeds.insert(j.seed);
  if (seeds.empty()) return json{{"count", 0}};
  return json{{"from", *seeds.begin()}, {"to", *seeds.rbegin()}, {"count", seeds.size()}};
}

int run_bench(const BenchConnectCommand& command) {
  if (command.files.size() != 1) {
    std::fprintf(stderr,
                 "natsim bench-connect: give one scenario or population file (or --merge "
                 "with reports)\n");
    return 2;
  }
  std::size_t shard_index = 0;
  std::size_t shard_count = 1;
  if (!command.shard.empty() && !parse_shard(command.shard, &shard_index, &shard_count)) {
    std::fprintf(stderr, "natsim: --shard expects I/N with 0 <= I < N, got '%s'\n",
                 command.shard.c_str());
    return 2;
  }
  std::optional<Seeds> seeds;
  if (command.seeds != 0 && !command.seed_range.empty()) {
    std::fprintf(stderr, "natsim: --seeds and --seed-range: give one\n");
    return 2;
  }
  if (command.seeds != 0) seeds = Seeds{1, command.seeds};
  if (!command.seed_range.empty()) {
    seeds = parse_range(command.seed_range);
    if (!seeds || seeds->to - seeds->from >= kMaxSeeds) {
      std::fprintf(stderr,
                   "natsim: --seed-range expects A..B, seeds from 0 to %llu with A <= B and at "
                   "most %llu seeds, got '%s'\n",
                   static_cast<unsigned long long>(scenarios::max_seed()),
                   static_cast<unsigned long long>(kMaxSeeds), command.seed_range.c_str());
      return 2;
    }
  }
  const std::string& file = command.files[0];
  const std::optional<bench::Population> population = bench::read_population(file);
  // A population names its scenario relative to itself.
  const std::string scenario =
      population ? (std::filesystem::path(file).parent_path() / population->scenario).string()
                 : file;
  const bench::Layout layout = bench::layout_of(scenario);
  Plan plan = scenarios::plan_runs({scenario});
  if (seeds) {
    const std::size_t per_variant = seeds->to - seeds->from + 1;
    if (per_variant > kMaxRuns / layout.variants.size()) {
      throw InputError(scenario, "more than " + std::to_string(kMaxRuns) +
                                     " runs (variants x seeds, the limit of one command)");
    }
    plan.jobs.clear();
    for (std::size_t v = 0; v < layout.variants.size(); ++v) {
      for (std::uint64_t s = seeds->from;; ++s) {
        plan.jobs.push_back(Job{0, v, s});
        if (s == seeds->to) break;
      }
    }
  }
  const std::vector<Job> jobs = scenarios::shard(plan.jobs, shard_index, shard_count);
  json meta;
  meta["file"] = file;
  meta["scenario"] = scenario;
  meta["name"] = plan.scenario(Job{}).name;
  meta["connect"] = layout.connect_id;
  meta["plan"] = scenarios::plan_fingerprint(plan);
  meta["variants"] = layout.variants.size();
  meta["seeds"] = seeds_json(plan.jobs);
  meta["runs"] = plan.jobs.size();
  if (shard_count > 1)
    meta["shard"] = std::to_string(shard_index) + "/" + std::to_string(shard_count);

  const unsigned threads =
      command.jobs != 0 ? command.jobs : std::max(1u, std::thread::hardware_concurrency());
  ProgressLine progress(isatty(STDERR_FILENO) != 0, !command.quiet);
  const auto started = std::chrono::steady_clock::now();
  std::vector<bench::Sample> samples;
  samples.reserve(jobs.size());
  catch_stop_signals();
  scenarios::Progress hooks;
  hooks.on_run = [&](std::size_t done, std::size_t total, bool ok) { progress(done, total, ok); };
  hooks.on_result = [&](const Job& job, const scenarios::RunResult& r) {
    samples.push_back(bench::sample_of(job.variant, job.seed, r.actions, layout.connect_id));
  };
  hooks.keep = false;
  hooks.stop = &g_stop;
  // Samples read the connect action's report entry, never the per-node counters.
  scenarios::RunOptions options;
  options.report_counters = false;
  (void)scenarios::run_jobs(plan, jobs, threads, options, hooks);
  restore_stop_signals();
  const bool interrupted = samples.size() < jobs.size();
  if (interrupted) progress.interrupted();
  json report = bench::make_report(meta, layout.variants, samples, population);
  if (interrupted) {
    report["interrupted"] = true;
    report["planned"] = jobs.size();
  }
  // Wall time is the one thing that differs between two runs of one plan: kept apart.
  if (!command.no_wall) {
    report["wall_s"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  emit(command, report);
  if (interrupted) {
    std::fflush(stdout);
    std::fprintf(stderr, "natsim: interrupted: %zu of %zu runs finished and reported\n",
                 samples.size(), jobs.size());
    return 128 + stop_signal();
  }
  return 0;
}

// Shards of one plan back into the report of the whole: the same bytes as an unsharded
// run of the plan (wall time aside).
int merge(const BenchConnectCommand& command) {
  if (command.files.empty()) {
    std::fprintf(stderr, "natsim bench-connect --merge: give the reports to merge\n");
    return 2;
  }
  json meta;
  std::vector<bench::CellKey> variants;
  std::optional<bench::Population> population;
  std::vector<bench::Sample> samples;
  std::map<std::size_t, std::string> shards;  // index -> report
  std::size_t count = 0;
  double wall = 0;
  for (const std::string& path : command.files) {
    const json r = scenarios::read_json_file(path, kMaxReportBytes);
    if (!r.is_object() || !r.contains("bench") || !r["bench"].is_object() ||
        !r.contains("samples") || !r["samples"].is_array()) {
      throw InputError(path, "not a bench-connect report (no \"bench\" and \"samples\")");
    }
    if (r.value("interrupted", false)) {
      throw InputError(path, "an interrupted run: run it again to complete it");
    }
    json m = r["bench"];
    const std::string shard = m.value("shard", "0/1");
    std::size_t index = 0;
    std::size_t n = 0;
    if (!parse_shard(shard, &index, &n)) throw InputError(path, "bad shard '" + shard + "'");
    m.erase("shard");
    const std::vector<bench::CellKey> v =
        bench::variants_from_json(r.value("variants", json()), path);
    if (meta.is_null()) {
      meta = m;
      variants = v;
      count = n;
      if (r.contains("population")) {
        population = bench::population_from_json(r["population"], path + ": /population");
      }
    } else if (m != meta || v != variants || n != count) {
      throw InputError(path, "from another plan or split than " + command.files[0]);
    }
    if (const auto [it, fresh] = shards.emplace(index, path); !fresh) {
      throw InputError(path, "shard " + shard + " again (already in " + it->second + ")");
    }
    for (const json& s : r["samples"])
      samples.push_back(bench::sample_from_json(s, path));
    wall += r.value("wall_s", 0.0);
  }
  for (std::size_t k = 0; k < count; ++k) {
    if (!shards.contains(k)) {
      throw InputError(command.files[0], "shard " + std::to_string(k) + "/" +
                                             std::to_string(count) +
                                             " is missing (give every shard of the split)");
    }
  }
  std::sort(samples.begin(), samples.end(), [](const bench::Sample& a, const bench::Sample& b) {
    return std::pair{a.variant, a.seed} < std::pair{b.variant, b.seed};
  });
  for (std::size_t i = 1; i < samples.size(); ++i) {
    if (samples[i].variant == samples[i - 1].variant && samples[i].seed == samples[i - 1].seed) {
      throw InputError("--merge", "variant " + std::to_string(samples[i].variant) + " seed " +
                                      std::to_string(samples[i].seed) + " is in two reports");
    }
  }
  json report = bench::make_report(meta, variants, samples, population);
  if (!command.no_wall) report["wall_s"] = wall;  // the shards' sum
  emit(command, report);
  return 0;
}

}  // namespace

CLI::App* add_bench_connect_command(CLI::App& app, BenchConnectCommand& command) {
  CLI::App* cmd = app.add_subcommand(
      "bench-connect",
      "Connection-setup latency of a connect scenario over its matrix (NAT pair x conditions x "
      "strategy) and seeds: a table, --json, --html (exit 0, 2 bad input)");
  cmd->add_option("files", command.files,
                  "Scenario file or population file (with --merge: bench-connect JSON reports)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--seeds", command.seeds, "Run seeds 1..N (replaces the file's seeds)")
      ->check(CLI::Range(1, static_cast<int>(kMaxSeeds)));
  cmd->add_option("--seed-range", command.seed_range, "Run seeds A..B (inclusive)");
  cmd->add_option("--jobs", command.jobs, "Runs in parallel (default: one per core)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--shard", command.shard, "Run only slice I of N (0-based, e.g. 3/8)");
  cmd->add_option("--json", command.json_path, "Write the JSON report to FILE");
  cmd->add_option("--html", command.html_path, "Write the self-contained HTML report to FILE");
  cmd->add_flag("--merge", command.merge, "Merge the JSON reports of shards into the whole");
  cmd->add_flag("--quiet", command.quiet, "No progress on stderr");
  cmd->add_flag("--no-wall", command.no_wall,
                "Leave the wall time out (reports of one plan are then byte-identical)");
  return cmd;
}

int run_bench_connect(const BenchConnectCommand& command) {
  try {
    return command.merge ? merge(command) : run_bench(command);
  } catch (const InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
}

}  // namespace natsim::tools
