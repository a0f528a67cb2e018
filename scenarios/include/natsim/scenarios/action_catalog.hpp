#pragma once
// The timeline actions a scenario may use, from the one table the loader and runner use
// too: for `natsim list actions`, the schema check and documentation tests.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace natsim::scenarios {

struct ActionKeyInfo {
  std::string name;
  std::string note;  // e.g. "STUN" for a server key that must name a STUN server
};

struct ActionInfo {
  std::string name;
  std::string summary;
  std::vector<ActionKeyInfo> keys;         // besides at, id and action
  std::vector<ActionKeyInfo> expect_keys;  // keys of an expectation on it, besides action
};

[[nodiscard]] std::vector<ActionInfo> action_catalog();
// The catalogue as JSON: [{"name", "summary", "keys": [...], "expect_keys": [...]}].
[[nodiscard]] nlohmann::json action_catalog_json();

// One line for the human report from an action's entry in RunResult::actions, e.g.
// "send     20 sent, 20 delivered, 20 echoed".
[[nodiscard]] std::string action_line(const nlohmann::json& action);

}  // namespace natsim::scenarios
