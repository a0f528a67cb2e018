#pragma once
// One type of timeline action: its keys, how it parses and starts, what it reports and
// which expectation keys apply to it. Each type is one file, actions/<type>.cpp; the
// table in action_table.cpp lists them, and the loader, the runner, `natsim list
// actions`, the schema check and the docs test all read that table.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "json_reader.hpp"
#include "names.hpp"
#include "outcome.hpp"

namespace natsim::scenarios {

// A type's parsed keys derive from these (declared in scenario.hpp).
struct ActionSpec {
  virtual ~ActionSpec() = default;
  // How long a run without a "duration" goes on after this action starts.
  [[nodiscard]] virtual Duration settle() const { return minutes(10); }
};
struct ActionCheck {
  virtual ~ActionCheck() = default;
};

}  // namespace natsim::scenarios

namespace natsim::scenarios::detail {

// The actions parsed so far, by id: expectations may refer to other actions.
using ActionsById = std::map<std::string, const Action*>;

// What starting an action may use: the world, its outcome, and seeds of its own.
struct ActionContext {
  World& world;
  Outcome& out;
  std::uint32_t index;  // position in the timeline

  // The seed of one of the action's machines: a stream of the run seed named
  // "action/<id>/<stream>", so it depends on neither the action's position nor on any
  // other action.
  [[nodiscard]] std::uint64_t seed(std::string_view stream) const;
  // Binds a UDP socket on `h` (port 0: ephemeral); on failure records the error, marks
  // the action finished and returns nullptr.
  [[nodiscard]] sim::UdpSocket* bind(sim::Host& h, std::uint16_t port) const;
  // Marks the action finished now.
  void finish() const;
};

struct ActionKey {
  std::string_view name;
  std::string_view note;  // what it is, for `natsim list actions`
};

struct ActionType {
  std::string_view name{};
  std::string_view summary{};
  std::vector<ActionKey> keys{};         // besides at, id and action; others are errors
  std::vector<ActionKey> expect_keys{};  // besides action
  // Parses and checks its keys; `names` resolves hosts, sites and servers. Throws
  // InputError.
  std::shared_ptr<const ActionSpec> (*parse)(const Reader& r, const Names& names) = nullptr;
  // Parses the expectation keys of this type at `r` (only keys from expect_keys are
  // there). Throws InputError. Null if the type has no expectation keys.
  std::shared_ptr<const ActionCheck> (*parse_check)(const Reader& r,
                                                    const ActionsById& actions) = nullptr;
  // Starts it now. Always returns its run, even when it could not start (then
  // ctx.out.error says why).
  std::unique_ptr<ActionRun> (*start)(const ActionSpec& spec, const ActionContext& ctx) = nullptr;
  // One line for the human table from its report entry (finished, no error).
  std::string (*line)(const nlohmann::json& report) = nullptr;
};

// Every action type, in the order `natsim list actions` shows them.
[[nodiscard]] const std::vector<const ActionType*>& action_types();
// The type named `name`, or null.
[[nodiscard]] const ActionType* find_action_type(std::string_view name);

// One timeline entry (`index` gives the default id "#<index>"). Throws InputError.
[[nodiscard]] Action parse_action(const Reader& r, const Names& names, std::size_t index);
// The action keys of an expectation on `action`. Throws InputError.
[[nodiscard]] std::shared_ptr<const ActionCheck> parse_action_check(const Reader& r,
                                                                    const Action& action,
                                                                    const ActionsById& actions);

// A spec's or check's own type, in its action's file (the loader made it with that type).
template <class T, class Base>
[[nodiscard]] const T& as(const Base& b) {
  return static_cast<const T&>(b);
}

}  // namespace natsim::scenarios::detail
