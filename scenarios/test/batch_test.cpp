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

}  // namespace
}  // namespace natsim::scenarios
