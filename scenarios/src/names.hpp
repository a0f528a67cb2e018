#pragma once
// The names a scenario's topology defines (hosts, sites, servers), so the parts that refer
// to them (timeline actions, expectations) can check each reference while loading.
#include <map>
#include <string>

#include "json_reader.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios::detail {

struct Names {
  std::map<std::string, std::string> kinds;  // name -> "host" | "site" | "server"
  std::map<std::string, ServerKind> servers;
  std::map<std::string, std::map<std::string, std::string>> turn_users;

  void add(const std::string& name, const std::string& kind, const std::string& pointer) {
    if (!kinds.emplace(name, kind).second) {
      throw InputError(pointer, "duplicate name '" + name +
                                    "' (names of hosts, sites and servers share one namespace)");
    }
  }
  void add_site(const SiteSpec& s) {
    add(s.name, "site", s.pointer + "/name");
    for (std::size_t i = 0; i < s.hosts.size(); ++i)
      add(s.hosts[i], "host", s.pointer + "/hosts");
    for (const SiteSpec& n : s.sites)
      add_site(n);
  }
  // The string at `r`, which must name a `kind` ("host", "site", "server").
  const std::string& require(const Reader& r, const std::string& kind) const {
    const std::string& name = r.string();
    auto it = kinds.find(name);
    if (it == kinds.end() || it->second != kind) {
      std::string known;
      for (const auto& [n, k] : kinds) {
        if (k == kind) known += (known.empty() ? "" : ", ") + n;
      }
      r.fail("no " + kind + " named '" + name + "'" +
             (known.empty() ? "" : " (" + kind + "s: " + known + ")"));
    }
    return name;
  }
  // The string at `r`, which must name a server of `kind` (or a TURN server if `or_turn`:
  // TURN servers answer Binding requests too).
  const std::string& require_server(const Reader& r, ServerKind kind, bool or_turn = false) const {
    require(r, "server");
    const ServerKind actual = servers.at(r.string());
    if (actual != kind && !(or_turn && actual == ServerKind::turn)) {
      constexpr const char* kKinds[] = {" STUN", "n echo", " host", " TURN"};
      r.fail("server '" + r.string() + "' is not a" + kKinds[static_cast<int>(kind)] + " server");
    }
    return r.string();
  }
};

}  // namespace natsim::scenarios::detail
