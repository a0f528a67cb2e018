#pragma once
// natsim::testing: GoogleTest helpers for testing one's own networking code on natsim.
//
//   class MyTest : public natsim::testing::WorldTest {};
//   TEST_F(MyTest, Reaches) {
//     auto& w = build(scenarios::WorldBuilder(7).public_host("srv", "198.51.100.20")
//                         .site("home", "symmetric", {"alice"}));
//     ... put the application on w.host("alice"), w.server_host("srv") ...
//     ASSERT_TRUE(run_until([&] { return app.done(); }, seconds(5)));
//     EXPECT_EQ(now(), kTimeZero + milliseconds(40));
//   }
//
// Every world captures its gateways and servers into pcap_dir(); a failing test's
// message carries that directory and the commands that replay the run (docs/library.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "natsim/base/time.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world.hpp"
#include "natsim/scenarios/world_builder.hpp"

namespace natsim::testing {

class WorldTest : public ::testing::Test {
 protected:
  // The world `builder` describes, run with the builder's seed.
  scenarios::World& build(const scenarios::WorldBuilder& builder);
  // The topology of variant `variant` of a scenario file (its timeline is not played:
  // the test puts its own application on the hosts). Throws InputError for a bad file.
  scenarios::World& load(const std::string& file, std::uint64_t seed = 1, std::size_t variant = 0);
  // Runs a scenario file as `natsim run FILE --seed N --variant V` does (timeline and
  // expectations), capturing into pcap_dir().
  scenarios::RunResult run_file(const std::string& file, std::uint64_t seed = 1,
                                std::size_t variant = 0);

  [[nodiscard]] scenarios::World& world() const;
  [[nodiscard]] TimePoint now() const;
  void run_for(Duration d);
  // Runs events until `done()` holds (checked after each event) or `timeout` of virtual
  // time has passed; true if `done()` held. Time stops at the event that made it true.
  bool run_until(const std::function<bool()>& done, Duration timeout);

  // Where this test's pcaps go: $NATSIM_TEST_TMP (or $TMPDIR, or /tmp)
  // /natsim-testing/<suite>.<test>[.<n>], one directory per world.
  [[nodiscard]] const std::string& pcap_dir() const { return pcap_dir_; }
  // How to run this again: the gtest command line, and for scenario files `natsim run`.
  [[nodiscard]] const std::string& replay_command() const { return replay_; }

 private:
  std::string next_pcap_dir();
  void describe(const std::string& replay);

  std::unique_ptr<scenarios::World> world_;
  std::string pcap_dir_;
  std::string replay_;
  int worlds_ = 0;
  // Appended by GoogleTest to every failure while the world exists.
  std::optional<::testing::ScopedTrace> trace_;
};

}  // namespace natsim::testing
