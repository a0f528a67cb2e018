#pragma once
// What each timeline action produced, filled in as a run goes: the fields every action
// has, and the run object its type keeps (its machines and results). Shared by the
// actions, the expectations and the report.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "checks.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world.hpp"

namespace natsim::scenarios::detail {

inline nlohmann::json endpoint_json(const std::optional<Endpoint>& e) {
  return e ? nlohmann::json(e->to_string()) : nlohmann::json(nullptr);
}

inline double ms(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}

struct Outcome;
using OutcomesById = std::map<std::string, const Outcome*>;

// What an action keeps while it runs: its machines, drivers and results. Its type
// makes one when the action starts; the runner keeps it until the run ends.
class ActionRun {
 public:
  ActionRun() = default;
  ActionRun(const ActionRun&) = delete;
  ActionRun& operator=(const ActionRun&) = delete;
  virtual ~ActionRun() = default;
  // Once, after the run and before the report (e.g. to read what a server counted).
  virtual void finish(const World&) {}
  // Adds its result fields to its entry in the report (id, type, at_ms, finished and
  // error are already there).
  virtual void report(nlohmann::json&) const {}
  // Checks an expectation its type parsed, once the action has finished without error;
  // `others` are every action's outcomes, for checks that compare two actions.
  virtual void check(const ActionCheck&, const OutcomesById& /*others*/, Checks&) const {}
};

struct Outcome {
  const Action* action = nullptr;
  bool finished = false;
  TimePoint started;
  TimePoint ended;
  std::string error;               // an action that could not run (e.g. a bind failure)
  std::unique_ptr<ActionRun> run;  // null until it starts
};

}  // namespace natsim::scenarios::detail
