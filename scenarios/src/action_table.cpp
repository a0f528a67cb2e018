// The table of action types, and what reads it generically: the timeline and
// expectation parsers, the catalogue and the report lines.
#include <algorithm>

#include "action_type.hpp"
#include "natsim/scenarios/action_catalog.hpp"

// One line per action type; each is defined in actions/<name>.cpp.
#define NATSIM_ACTION_TYPES(X) \
  X(probe)                     \
  X(binding)                   \
  X(send)                      \
  X(relay)                     \
  X(connect)                   \
  X(link)                      \
  X(reboot)                    \
  X(change_address)            \
  X(flush)                     \
  X(set_nat)                   \
  X(map)                       \
  X(tcp)                       \
  X(tcp_punch)

namespace natsim::scenarios {
namespace detail {

#define NATSIM_DECLARE(name) const ActionType& name##_action();
NATSIM_ACTION_TYPES(NATSIM_DECLARE)
#undef NATSIM_DECLARE

const std::vector<const ActionType*>& action_types() {
#define NATSIM_ENTRY(name) &name##_action(),
  static const std::vector<const ActionType*> kTypes{NATSIM_ACTION_TYPES(NATSIM_ENTRY)};
#undef NATSIM_ENTRY
  return kTypes;
}

const ActionType* find_action_type(std::string_view name) {
  for (const ActionType* t : action_types()) {
    if (t->name == name) return t;
  }
  return nullptr;
}

namespace {

bool listed(const std::vector<std::string_view>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Like Reader::only, for a list built at run time.
void only(const Reader& r, const std::vector<std::string_view>& keys) {
  for (const auto& item : r.json().items()) {
    if (listed(keys, item.key())) continue;
    std::string known;
    for (std::string_view k : keys)
      known += (known.empty() ? "" : ", ") + std::string(k);
    r.at(item.key().c_str()).fail("unknown key '" + item.key() + "', expected one of " + known);
  }
}

}  // namespace

Action parse_action(const Reader& r, const Names& names, std::size_t index) {
  Action a;
  a.pointer = r.pointer();
  a.id = r.has("id") ? r.at("id").name() : "#" + std::to_string(index);
  a.at = r.has("at") ? r.at("at").duration() : Duration::zero();
  const Reader kind = r.at("action");
  const ActionType* type = find_action_type(kind.string());
  if (type == nullptr) {
    std::string known;
    const auto& types = action_types();
    for (std::size_t i = 0; i < types.size(); ++i) {
      known += std::string(i == 0                  ? ""
                           : i + 1 == types.size() ? " or "
                                                   : ", ") +
               std::string(types[i]->name);
    }
    kind.fail("unknown action '" + kind.string() + "', expected " + known);
  }
  std::vector<std::string_view> keys{"at", "id", "action"};
  for (const ActionKey& k : type->keys)
    keys.push_back(k.name);
  only(r, keys);
  a.type = std::string(type->name);
  a.spec = type->parse(r, names);
  return a;
}

std::shared_ptr<const ActionCheck> parse_action_check(const Reader& r, const Action& action,
                                                      const ActionsById& actions) {
  // A key of any type is known; one of another type gets a message of its own.
  std::vector<std::string_view> known{"action"};
  for (const ActionType* t : action_types()) {
    for (const ActionKey& k : t->expect_keys) {
      if (!listed(known, k.name)) known.push_back(k.name);
    }
  }
  only(r, known);
  const ActionType& type = *find_action_type(action.type);
  for (const auto& item : r.json().items()) {
    const bool applies = item.key() == "action" ||
                         std::any_of(type.expect_keys.begin(), type.expect_keys.end(),
                                     [&](const ActionKey& k) { return k.name == item.key(); });
    if (!applies) {
      r.at(item.key().c_str())
          .fail("'" + item.key() + "' does not apply to a " + action.type + " action");
    }
  }
  return type.parse_check == nullptr ? nullptr : type.parse_check(r, actions);
}

}  // namespace detail

std::vector<ActionInfo> action_catalog() {
  std::vector<ActionInfo> out;
  auto keys = [](const std::vector<detail::ActionKey>& from) {
    std::vector<ActionKeyInfo> to;
    for (const detail::ActionKey& k : from)
      to.push_back({std::string(k.name), std::string(k.note)});
    return to;
  };
  for (const detail::ActionType* t : detail::action_types()) {
    out.push_back(
        {std::string(t->name), std::string(t->summary), keys(t->keys), keys(t->expect_keys)});
  }
  return out;
}

nlohmann::json action_catalog_json() {
  auto keys = [](const std::vector<ActionKeyInfo>& from) {
    nlohmann::json to = nlohmann::json::array();
    for (const ActionKeyInfo& k : from)
      to.push_back({{"name", k.name}, {"note", k.note}});
    return to;
  };
  nlohmann::json out = nlohmann::json::array();
  for (const ActionInfo& a : action_catalog()) {
    out.push_back({{"name", a.name},
                   {"summary", a.summary},
                   {"keys", keys(a.keys)},
                   {"expect_keys", keys(a.expect_keys)}});
  }
  return out;
}

std::string action_line(const nlohmann::json& action) {
  if (action.contains("error")) return "error: " + action["error"].get<std::string>();
  const std::string type = action.value("type", "");
  std::string line = type;
  line.resize(std::max<std::size_t>(line.size() + 1, 9), ' ');
  if (!action.value("finished", false)) return line + "did not finish";
  const detail::ActionType* t = detail::find_action_type(type);
  return line + (t != nullptr && t->line != nullptr ? t->line(action) : "done");
}

}  // namespace natsim::scenarios
