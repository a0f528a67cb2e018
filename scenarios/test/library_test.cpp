// Every curated scenario (scenarios/library/) loads, passes its expectations for every
// seed and matrix variant, and gives the same digest twice.
#include <gtest/gtest.h>

#include <filesystem>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

std::vector<std::string> library_files() {
  std::vector<std::string> files;
  // The curated scenarios only: scenarios/test/ holds inputs the loader must reject.
  const std::string dir = std::string(NATSIM_SCENARIO_DIR) + "/library";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto& p = entry.path();
    if (entry.is_regular_file() && p.extension() == ".json") {
      files.push_back(p.string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Library, HasAtLeastFifteenScenarios) {
  EXPECT_GE(library_files().size(), 15u);
}

TEST(Library, EveryScenarioPassesAndIsDeterministic) {
  for (const std::string& file : library_files()) {
    std::vector<Scenario> variants;
    try {
      variants = load_scenario_file(file);
    } catch (const InputError& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    for (const Scenario& s : variants) {
      for (std::uint64_t seed : s.seeds) {
        const RunResult a = run_scenario(s, seed);
        SCOPED_TRACE(file + " [" + s.variant + "] seed " + std::to_string(seed));
        for (const auto& e : a.expectations)
          EXPECT_TRUE(e.passed) << e.pointer << ": " << e.message;
        for (const auto& action : a.actions) {
          EXPECT_TRUE(action["finished"].get<bool>()) << action.dump();
          EXPECT_FALSE(action.contains("error")) << action.dump();
        }
        const RunResult b = run_scenario(s, seed);
        EXPECT_EQ(a.digest, b.digest);
      }
    }
  }
}

}  // namespace
}  // namespace natsim::scenarios
