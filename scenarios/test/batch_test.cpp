#include "natsim/scenarios/batch.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "natsim/base/input_error.hpp"

namespace natsim::scenarios {
namespace {

std::string write_scenario(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("NATSIM_TEST_TMP");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const char* kSweep = R"({
  "name": "sweep",
  "seeds": {"from": 1, "count": 4},
  "topology": {
    "core": {"latency": "5ms", "loss": 0.05},
    "servers": [{"name": "echo", "type": "echo", "address": "198.51.100.20"}],
    "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice"]}]
  },
  "timeline": [{"id": "s", "action": "send", "host": "alice", "server": "echo", "count": 50, "interval": "10ms"}],
  "expect": [{"action": "s", "delivered": {"min": 40}}],
  "matrix": [{"pointer": "/topology/sites/0/nat", "values": ["full-cone", "symmetric", "cgnat"]}]
})";

TEST(Batch, PlansEveryVariantAndSeed) {
  const std::string file = write_scenario("sweep.json", kSweep);
  const Plan plan = plan_runs({file});
  EXPECT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.files[0].variants(), 3u);
  EXPECT_EQ(plan.jobs.size(), 12u);
  const Plan one = plan_runs({file}, 9, 2);
  ASSERT_EQ(one.jobs.size(), 1u);
  EXPECT_EQ(one.jobs[0].seed, 9u);
  EXPECT_EQ(one.scenario(one.jobs[0]).variant, "cgnat");
  EXPECT_EQ(replay_command(one, one.jobs[0]), "natsim run " + file + " --seed 9 --variant 2");
  EXPECT_THROW((void)plan_runs({file}, {}, 3), InputError);
}

TEST(Batch, ShardsPartitionTheJobs) {
  const Plan plan = plan_runs({write_scenario("sweep.json", kSweep)});
  std::size_t total = 0;
  for (std::size_t i = 0; i < 5; ++i)
    total += shard(plan.jobs, i, 5).size();
  EXPECT_EQ(total, plan.jobs.size());
  EXPECT_EQ(shard(plan.jobs, 1, 5)[0].seed, plan.jobs[1].seed);
}

TEST(Batch, ThreadsDoNotChangeResults) {
  const Plan plan = plan_runs({write_scenario("sweep.json", kSweep)});
  const auto serial = run_jobs(plan, plan.jobs, 1);
  std::size_t calls = 0;
  Progress progress;
  progress.on_run = [&](std::size_t done, std::size_t total, bool) {
    ++calls;
    EXPECT_LE(done, total);
  };
  const auto parallel = run_jobs(plan, plan.jobs, 2, {}, progress);
  ASSERT_EQ(serial.size(), parallel.size());
  for (std::size_t i = 0; i < serial.size(); ++i) {
    EXPECT_EQ(serial[i].digest, parallel[i].digest) << i;
    EXPECT_EQ(to_json(serial[i]), to_json(parallel[i]));
  }
  EXPECT_EQ(calls, plan.jobs.size());
  const auto report = report_json(plan, plan.jobs, serial);
  EXPECT_EQ(report["summary"]["runs"], 12);
}

TEST(Batch, ReportsMerge) {
  const Plan plan = plan_runs({write_scenario("sweep.json", kSweep)});
  const auto a = shard(plan.jobs, 0, 2);
  const auto b = shard(plan.jobs, 1, 2);
  const auto ra = report_json(plan, a, run_jobs(plan, a, 1));
  const auto rb = report_json(plan, b, run_jobs(plan, b, 1));
  const auto merged = merge_reports({ra, rb}, {"a.json", "b.json"});
  EXPECT_EQ(merged["summary"]["runs"], 12);
  EXPECT_EQ(merged["summary"]["passed"].get<int>() + merged["summary"]["failed"].get<int>(), 12);
  try {
    (void)merge_reports({ra, nlohmann::json::array()}, {"a.json", "junk.json"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "junk.json: not a natsim run report (no \"runs\" array)");
  }
}

TEST(Batch, PcapFolderNamesStayInsideTheFolder) {
  const Job job{0, 1, 7};
  EXPECT_EQ(pcap_dir_name("quickstart", job), "quickstart-v1-s7");
  const std::string escaped = pcap_dir_name("a/../../etc/x", job);
  EXPECT_EQ(escaped.find('/'), std::string::npos) << escaped;
  EXPECT_EQ(escaped.rfind("a_.._.._etc_x~", 0), 0u) << escaped;
  // Names that differ only in the characters replaced stay different.
  EXPECT_NE(pcap_dir_name("a/b", job), pcap_dir_name("a_b", job));
  EXPECT_NE(pcap_dir_name("a:b", job), pcap_dir_name("a/b", job));
  EXPECT_EQ(pcap_dir_name("..", job).find(".."), std::string::npos);
  const std::string long_name = pcap_dir_name(std::string(5000, 'n'), job);
  EXPECT_LT(long_name.size(), 100u);
  EXPECT_NE(long_name, pcap_dir_name(std::string(4999, 'n'), job));
}

TEST(Batch, MergeRefusesRepeatedAndMissingParts) {
  const Plan plan = plan_runs({write_scenario("sweep.json", kSweep)});
  auto part = [&](std::size_t index, std::size_t count) {
    const auto jobs = shard(plan.jobs, index, count);
    auto r = report_json(plan, jobs, run_jobs(plan, jobs, 1));
    r["summary"]["shard"] = std::to_string(index) + "/" + std::to_string(count);
    r["summary"]["plan"] = plan_fingerprint(plan);
    return r;
  };
  const auto a = part(0, 3);
  const auto b = part(1, 3);
  const auto c = part(2, 3);
  EXPECT_EQ(merge_reports({a, b, c}, {"a", "b", "c"})["summary"]["runs"], 12);
  auto error = [](const std::vector<nlohmann::json>& reports) {
    try {
      (void)merge_reports(reports, {"a", "b", "c"});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error({a, c}), "a: shard 1/3 is missing (give every shard of the split)");
  EXPECT_EQ(error({a, b, a}), "c: shard 0/3 again (already in a)");
  auto renamed = a;
  renamed["summary"].erase("shard");  // the same runs without shard information
  EXPECT_EQ(error({a, renamed}).rfind("b: run 'natsim run ", 0), 0u) << error({a, renamed});
  auto interrupted = a;
  interrupted["summary"]["interrupted"] = true;
  interrupted["summary"]["planned"] = 4;
  EXPECT_EQ(error({interrupted, b, c}),
            "a: an interrupted run (4 of 4 runs): run it again to complete it");
}

TEST(Batch, StopStartsNoNewRunAndKeepsTheFinishedOnes) {
  const Plan plan = plan_runs({write_scenario("sweep.json", kSweep)});
  std::atomic<bool> stop{false};
  Progress progress;
  progress.on_run = [&](std::size_t done, std::size_t, bool) {
    if (done == 5) stop = true;
  };
  std::vector<Job> order;
  progress.on_result = [&](const Job& job, const RunResult&) { order.push_back(job); };
  progress.stop = &stop;
  std::vector<Job> finished;
  const auto results = run_jobs(plan, plan.jobs, 1, {}, progress, &finished);
  ASSERT_EQ(results.size(), 5u);
  ASSERT_EQ(finished.size(), 5u);
  EXPECT_EQ(order.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ(results[i].seed, plan.jobs[i].seed);
}

TEST(Batch, SeedsFromTheCommandLine) {
  EXPECT_EQ(parse_seed("0"), 0u);
  EXPECT_EQ(parse_seed("9223372036854775807"), 9223372036854775807ULL);
  for (const char* bad : {"-1", "9223372036854775808", "18446744073709551616", "", "1x", "+1"})
    EXPECT_EQ(parse_seed(bad), std::nullopt) << bad;
  EXPECT_THROW((void)plan_runs({write_scenario("sweep.json", kSweep)}, 9223372036854775808ULL),
               InputError);
}

}  // namespace
}  // namespace natsim::scenarios
