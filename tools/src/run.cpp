#include "run.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/batch.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::tools {

using nlohmann::json;
using scenarios::Job;
using scenarios::Plan;

namespace {

bool parse_shard(const std::string& text, std::size_t* index, std::size_t* count) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return false;
  try {
    std::size_t used = 0;
    *index = std::stoul(text.substr(0, slash), &used);
    if (used != slash) return false;
    *count = std::stoul(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return *count > 0 && *index < *count;
}

// One line per action: what it found or did.
void print_actions(const json& actions) {
  for (const json& a : actions) {
    const std::string id = a["id"].get<std::string>();
    std::string line;
    if (a.contains("error")) {
      line = "error: " + a["error"].get<std::string>();
    } else if (a.value("type", "") == "probe") {
      const json& h = a["hairpinning"];
      line = "probe    mapping " + a["mapping"].get<std::string>() + ", filtering " +
             a["filtering"].get<std::string>() + ", hairpinning " +
             (h.is_null() ? "n/a" : (h.get<bool>() ? "yes" : "no")) + ", mapped " +
             (a["mapped"].is_null() ? "-" : a["mapped"].get<std::string>());
      if (a.contains("binding_lifetime_s")) {
        line += ", lifetime " + json(a["binding_lifetime_s"]).dump() + " s";
      }
    } else if (a.value("type", "") == "binding") {
      line = "binding  " + a["outcome"].get<std::string>() + ", mapped " +
             (a["mapped"].is_null() ? "-" : a["mapped"].get<std::string>()) + ", " +
             std::to_string(a["transmissions"].get<int>()) + " transmission(s)";
    } else if (a.value("type", "") == "relay") {
      line = "relay    " + a["outcome"].get<std::string>() + ", relayed " +
             (a["relayed"].is_null() ? "-" : a["relayed"].get<std::string>()) + ", " +
             std::to_string(a["sent"].get<std::uint64_t>()) + " sent, " +
             std::to_string(a["delivered"].get<std::uint64_t>()) + " delivered, " +
             std::to_string(a["echoed"].get<std::uint64_t>()) + " echoed";
    } else if (a.value("type", "") == "send") {
      line = "send     " + std::to_string(a["sent"].get<std::uint64_t>()) + " sent, " +
             std::to_string(a["delivered"].get<std::uint64_t>()) + " delivered, " +
             std::to_string(a["echoed"].get<std::uint64_t>()) + " echoed";
    } else {
      line = "done";
    }
    std::printf("      %8.1fs  %-16s %s\n", a["at_ms"].get<double>() / 1000.0, id.c_str(),
                line.c_str());
  }
}

void print_table(const Plan& plan, const std::vector<Job>& jobs,
                 const std::vector<scenarios::RunResult>& results, double wall_s) {
  // A few runs get their actions and expectations spelled out; sweeps get a line each.
  const bool detail = results.size() <= 3;
  std::size_t passed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    passed += r.passed ? 1 : 0;
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
    if (!r.passed) {
      std::printf("      replay: %s\n", scenarios::replay_command(plan, jobs[i]).c_str());
    }
  }
  std::printf("%zu runs in %.2f s wall\n%zu passed, %zu failed\n", results.size(), wall_s, passed,
              results.size() - passed);
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
  Plan plan;
  try {
    plan = scenarios::plan_runs(command.files, command.seed, command.variant);
  } catch (const InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
  const std::vector<Job> jobs = scenarios::shard(plan.jobs, shard_index, shard_count);
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
  // Progress for long sweeps, on stderr so --json output stays clean.
  const bool progress = !command.quiet && jobs.size() >= 50;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  std::vector<scenarios::RunResult> results;
  try {
    scenarios::RunOptions options;
    options.pcap_dir = command.pcap_dir;
    options.trace_path = command.trace_path;
    results =
        scenarios::run_jobs(plan, jobs, threads, options, [&](std::size_t done, std::size_t total) {
          if (!progress) return;
          if (tty) {
            std::fprintf(stderr, "\r%zu/%zu runs", done, total);
            if (done == total) std::fputc('\n', stderr);
          } else if (done * 10 / total != (done - 1) * 10 / total) {
            std::fprintf(stderr, "%zu/%zu runs\n", done, total);
          }
        });
  } catch (const InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  bool all_passed = true;
  for (const auto& r : results)
    all_passed = all_passed && r.passed;
  if (command.json) {
    json report = scenarios::report_json(plan, jobs, results);
    report["summary"]["wall_s"] = wall_s;
    report["summary"]["shard"] = std::to_string(shard_index) + "/" + std::to_string(shard_count);
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    print_table(plan, jobs, results, wall_s);
  }
  return all_passed ? 0 : 1;
}

int validate_scenarios(const std::vector<std::string>& files) {
  int status = 0;
  for (const std::string& file : files) {
    try {
      const auto variants = scenarios::load_scenario_file(file);
      std::size_t runs = 0;
      for (const auto& s : variants)
        runs += s.seeds.size();
      std::printf("ok  %s (%zu variant%s, %zu run%s)\n", file.c_str(), variants.size(),
                  variants.size() == 1 ? "" : "s", runs, runs == 1 ? "" : "s");
    } catch (const InputError& e) {
      std::fprintf(stderr, "natsim: %s\n", e.what());
      status = 2;
    }
  }
  return status;
}

int merge_reports(const std::vector<std::string>& reports) {
  std::vector<json> parsed;
  for (const std::string& path : reports) {
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "natsim: %s: cannot read the file\n", path.c_str());
      return 2;
    }
    try {
      parsed.push_back(json::parse(in));
    } catch (const json::parse_error& e) {
      std::fprintf(stderr, "natsim: %s: not JSON (%s)\n", path.c_str(), e.what());
      return 2;
    }
  }
  try {
    const json merged = scenarios::merge_reports(parsed, reports);
    std::printf("%s\n", merged.dump(2).c_str());
    return merged["summary"]["failed"].get<std::size_t>() == 0 ? 0 : 1;
  } catch (const InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
    return 2;
  }
}

}  // namespace natsim::tools
