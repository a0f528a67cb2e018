#include "natsim/testing/world_test.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "natsim/scenarios/loader.hpp"
#include "natsim/testing/matchers.hpp"

namespace natsim::testing {

namespace {

std::string self_path() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("TEST_BINARY") : p.string();
}

std::string base_dir() {
  for (const char* var : {"NATSIM_TEST_TMP", "TMPDIR"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return v;
  }
  return "/tmp";
}

// A file name from a test name: parameterised tests have '/' in theirs.
std::string sanitized(std::string s) {
  for (char& c : s) {
    if (c == '/' || c == ' ') c = '_';
  }
  return s;
}

}  // namespace

const nlohmann::json& action(const scenarios::RunResult& result, const std::string& id) {
  static const nlohmann::json kNone;
  for (const nlohmann::json& a : result.actions) {
    if (a.is_object() && a.value("id", std::string()) == id) return a;
  }
  return kNone;
}

std::string WorldTest::next_pcap_dir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info == nullptr
                         ? std::string("world")
                         : sanitized(std::string(info->test_suite_name()) + "." + info->name());
  if (++worlds_ > 1) name += "." + std::to_string(worlds_);
  const std::filesystem::path dir = std::filesystem::path(base_dir()) / "natsim-testing" / name;
  std::filesystem::remove_all(dir);  // a previous run's pcaps would mislead
  std::filesystem::create_directories(dir);
  return dir.string();
}

void WorldTest::describe(const std::string& natsim_run) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  replay_ = self_path();
  if (info != nullptr) {
    replay_ +=
        std::string(" --gtest_filter='") + info->test_suite_name() + "." + info->name() + "'";
  }
  if (!natsim_run.empty()) replay_ += "\n  scenario alone: " + natsim_run;
  trace_.reset();  // one trace: the latest world's
  // Not __FILE__: the installed library must not carry the source path.
  trace_.emplace("natsim::testing", 0, "natsim: pcaps in " + pcap_dir_ + "\n  replay: " + replay_);
}

scenarios::World& WorldTest::build(const scenarios::WorldBuilder& builder) {
  world_.reset();  // close the previous world's captures first
  pcap_dir_ = next_pcap_dir();
  scenarios::RunOptions options;
  options.pcap_dir = pcap_dir_;
  world_ = builder.build(options);
  describe("");
  return *world_;
}

scenarios::World& WorldTest::load(const std::string& file, std::uint64_t seed,
                                  std::size_t variant) {
  world_.reset();
  const scenarios::ScenarioFile f = scenarios::ScenarioFile::read(file);
  scenarios::Scenario scenario = f.variant(variant);
  pcap_dir_ = next_pcap_dir();
  scenarios::RunOptions options;
  options.pcap_dir = pcap_dir_;
  world_ = std::make_unique<scenarios::World>(std::move(scenario), seed, options);
  describe("natsim run " + file + " --seed " + std::to_string(seed) + " --variant " +
           std::to_string(variant) + "   (the file's timeline, without this test's code)");
  return *world_;
}

scenarios::RunResult WorldTest::run_file(const std::string& file, std::uint64_t seed,
                                         std::size_t variant) {
  world_.reset();
  const scenarios::ScenarioFile f = scenarios::ScenarioFile::read(file);
  const scenarios::Scenario scenario = f.variant(variant);
  pcap_dir_ = next_pcap_dir();
  scenarios::RunOptions options;
  options.pcap_dir = pcap_dir_;
  describe("natsim run " + file + " --seed " + std::to_string(seed) + " --variant " +
           std::to_string(variant) + " --pcap DIR");
  return scenarios::run_scenario(scenario, seed, options);
}

scenarios::World& WorldTest::world() const {
  if (!world_) throw std::logic_error("natsim::testing: build() or load() a world first");
  return *world_;
}

TimePoint WorldTest::now() const {
  return world().net.now();
}

void WorldTest::run_for(Duration d) {
  world().net.run_for(d);
}

bool WorldTest::run_until(const std::function<bool()>& done, Duration timeout) {
  sim::Simulator& sim = world().net.sim();
  const TimePoint deadline = sim.now() + timeout;
  if (done()) return true;
  while (sim.next_event_time() <= deadline) {
    sim.step();
    if (done()) return true;
  }
  sim.run_until(deadline);
  return done();
}

}  // namespace natsim::testing
