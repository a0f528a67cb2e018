#include "bench_connect_model.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::tools::bench {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxScenarioBytes = std::size_t{4} << 20;  // the loader's file limit

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string behaviour(const json& v, const char* suffix) {
  const std::string s = scalar_text(v);
  if (s == "endpoint-independent") return std::string("EI") + suffix;
  if (s == "address-dependent") return std::string("AD") + suffix;
  if (s == "address-and-port-dependent") return std::string("APD") + suffix;
  return s;
}

// A site's NAT as the grid names it: the preset, or its mapping and filtering when the
// file spells them out (RFC 4787 §4.1, §5: EIM/ADM/APDM, EIF/ADF/APDF).
std::string nat_label(const json& site) {
  if (!site.contains("nat")) return "none";
  const json& nat = site["nat"];
  if (nat.is_string()) return nat.get<std::string>();
  if (!nat.is_object()) return "none";
  if (nat.contains("mapping") || nat.contains("filtering")) {
    std::string m = nat.contains("mapping") ? behaviour(nat["mapping"], "M") : "";
    std::string f = nat.contains("filtering") ? behaviour(nat["filtering"], "F") : "";
    if (m.empty()) return f;
    return f.empty() ? m : m + "-" + f;
  }
  return nat.contains("preset") ? scalar_text(nat["preset"]) : "custom";
}

bool holds_host(const json& site, const std::string& host) {
  if (!site.contains("hosts") || !site["hosts"].is_array()) return false;
  for (const json& h : site["hosts"]) {
    if (h.is_string() && h.get<std::string>() == host) return true;
    if (h.is_object() && h.contains("name") && h["name"] == host) return true;
  }
  return false;
}

// The NAT label of `host`'s site, inner NAT first, then the sites it sits behind; and
// the JSON Pointers of those sites (assignments under them are part of the label).
bool find_host(const json& sites, const std::string& pointer, const std::string& host,
               std::string* label, std::vector<std::string>* pointers) {
  if (!sites.is_array()) return false;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const std::string p = pointer + "/" + std::to_string(i);
    const json& site = sites[i];
    const bool here = holds_host(site, host);
    if (here ||
        (site.contains("sites") && find_host(site["sites"], p + "/sites", host, label, pointers))) {
      *label = here ? nat_label(site) : *label + "+" + nat_label(site);
      pointers->push_back(p + "/nat");
      return true;
    }
  }
  return false;
}

struct Assignment {
  std::string pointer;
  json value;
};

// A token for the conditions or strategy axis: the pointer's last two keys and the value.
std::string axis_token(const std::string& pointer, const json& value) {
  std::vector<std::string> keys;
  std::size_t start = 1;
  while (start <= pointer.size()) {
    const std::size_t slash = pointer.find('/', start);
    keys.push_back(
        pointer.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string key = keys.empty() ? pointer : keys.back();
  if (keys.size() >= 2 && !std::all_of(keys[keys.size() - 2].begin(), keys[keys.size() - 2].end(),
                                       [](char c) { return c >= '0' && c <= '9'; })) {
    key = keys[keys.size() - 2] + "." + key;
  }
  return key + "=" + (value.is_primitive() ? scalar_text(value) : value.dump());
}

bool under(const std::string& pointer, const std::string& prefix) {
  return pointer == prefix || pointer.rfind(prefix + "/", 0) == 0;
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  std::set<std::string> seen;
  for (const std::string& t : tokens) {
    if (!seen.insert(t).second) continue;  // the same condition on both sites
    out += (out.empty() ? "" : " ") + t;
  }
  return out.empty() ? "default" : out;
}

}  // namespace

Layout layout_of(const std::string& file) {
  // The loader checks the file and every variant first: what follows reads a valid one.
  const scenarios::ScenarioFile checked = scenarios::ScenarioFile::read(file);
  for (std::size_t v = 0; v < checked.variants(); ++v)
    (void)checked.variant(v);
  json base = scenarios::read_json_file(file, kMaxScenarioBytes);
  std::vector<std::vector<std::vector<Assignment>>> matrix;  // entry -> choice -> assignments
  if (base.contains("matrix")) {
    for (const json& entry : base["matrix"]) {
      std::vector<std::vector<Assignment>> choices;
      if (entry.contains("pointer")) {
        for (const json& v : entry["values"])
          choices.push_back({Assignment{entry["pointer"].get<std::string>(), v}});
      } else {
        for (const json& set : entry["set"]) {
          std::vector<Assignment> c;
          for (const auto& [ptr, value] : set.items())
            c.push_back(Assignment{ptr, value});
          choices.push_back(std::move(c));
        }
      }
      matrix.push_back(std::move(choices));
    }
    base.erase("matrix");
  }
  Layout layout;
  std::size_t connect_index = 0;
  bool found = false;
  const json& timeline = base.value("timeline", json::array());
  for (std::size_t i = 0; i < timeline.size() && !found; ++i) {
    if (timeline[i].value("action", "") == "connect") {
      connect_index = i;
      layout.connect_id = timeline[i].value("id", "");
      found = true;
    }
  }
  if (!found) {
    throw InputError(file,
                     "no connect action in its timeline: bench-connect measures the setup of a "
                     "connect action (docs/bench-connect.md)");
  }
  const std::string connect_ptr = "/timeline/" + std::to_string(connect_index);
  for (std::size_t v = 0; v < checked.variants(); ++v) {
    std::vector<const std::vector<Assignment>*> picked(matrix.size());
    std::size_t rest = v;
    // Mixed radix, last entry fastest: the loader's numbering of variants.
    for (std::size_t e = matrix.size(); e-- > 0;) {
      picked[e] = &matrix[e][rest % matrix[e].size()];
      rest /= matrix[e].size();
    }
    json doc = base;
    for (const auto* choice : picked) {
      for (const Assignment& a : *choice)
        doc[json::json_pointer(a.pointer)] = a.value;
    }
    const json& connect = doc["timeline"][connect_index];
    CellKey key;
    std::vector<std::string> nat_pointers;
    const json& sites = doc["topology"].value("sites", json::array());
    if (!find_host(sites, "/topology/sites", connect.value("a", ""), &key.nat_a, &nat_pointers)) {
      key.nat_a = "none";
    }
    if (!find_host(sites, "/topology/sites", connect.value("b", ""), &key.nat_b, &nat_pointers)) {
      key.nat_b = "none";
    }
    std::vector<std::string> conditions;
    std::vector<std::string> strategy;
    for (const auto* choice : picked) {
      for (const Assignment& a : *choice) {
        if (under(a.pointer, "/expect")) continue;
        if (std::any_of(nat_pointers.begin(), nat_pointers.end(),
                        [&](const std::string& p) { return under(a.pointer, p); })) {
          continue;  // in the NAT labels
        }
        // The connect's own options are its strategy, but for the signalling channel,
        // which is a network condition.
        if (under(a.pointer, connect_ptr) && !under(a.pointer, connect_ptr + "/signalling")) {
          strategy.push_back(axis_token(a.pointer.substr(connect_ptr.size()), a.value));
        } else {
          conditions.push_back(axis_token(a.pointer, a.value));
        }
      }
    }
    key.conditions = join_tokens(conditions);
    key.strategy = join_tokens(strategy);
    layout.variants.push_back(std::move(key));
  }
  return layout;
}

bool is_direct(const std::string& path) {
  return path == "host" || path == "srflx" || path == "prflx" || path == "mapped";
}

Sample sample_of(std::size_t variant, std::uint64_t seed, const json& actions,
                 const std::string& id) {
  Sample s;
  s.variant = variant;
  s.seed = seed;
  s.outcome = "timeout";
  s.path = "none";
  for (const json& a : actions) {
    if (a.value("id", "") != id) continue;
    s.outcome = a.value("outcome", "timeout");
    if (a.contains("path") && a["path"].is_string()) s.path = a["path"].get<std::string>();
    if (s.outcome != "connected") s.path = "none";
    if (a.contains("setup_ms") && a["setup_ms"].is_number() && s.outcome == "connected") {
      s.setup_ms = a["setup_ms"].get<double>();
    }
    const json& b = a.value("breakdown", json::object());
    for (std::size_t i = 0; i < kMilestones.size(); ++i) {
      if (b.contains(kMilestones[i]) && b[kMilestones[i]].is_number()) {
        s.milestones[i] = b[kMilestones[i]].get<double>();
      }
    }
  }
  return s;
}

json to_json(const Sample& s) {
  json m = json::array();
  for (const auto& x : s.milestones)
    m.push_back(x ? json(*x) : json(nullptr));
  return json{{"variant", s.variant},
              {"seed", s.seed},
              {"outcome", s.outcome},
              {"path", s.path},
              {"setup_ms", s.setup_ms ? json(*s.setup_ms) : json(nullptr)},
              {"milestones_ms", m}};
}

Sample sample_from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { throw InputError(where, what); };
  if (!j.is_object()) bad("a sample is not an object");
  Sample s;
  if (!j.contains("variant") || !j["variant"].is_number_unsigned()) bad("sample without a variant");
  if (!j.contains("seed") || !j["seed"].is_number_unsigned()) bad("sample without a seed");
  if (!j.contains("outcome") || !j["outcome"].is_string()) bad("sample without an outcome");
  if (!j.contains("path") || !j["path"].is_string()) bad("sample without a path");
  s.variant = j["variant"].get<std::size_t>();
  s.seed = j["seed"].get<std::uint64_t>();
  s.outcome = j["outcome"].get<std::string>();
  s.path = j["path"].get<std::string>();
  if (j.contains("setup_ms") && j["setup_ms"].is_number()) s.setup_ms = j["setup_ms"].get<double>();
  const json m = j.value("milestones_ms", json::array());
  if (!m.is_array() || m.size() != kMilestones.size()) bad("sample without its milestones_ms");
  for (std::size_t i = 0; i < kMilestones.size(); ++i) {
    if (m[i].is_number()) s.milestones[i] = m[i].get<double>();
  }
  return s;
}

std::optional<Quantiles> nearest_rank(std::vector<std::pair<double, double>> values) {
  double total = 0;
  for (const auto& [v, w] : values)
    total += w;
  if (values.empty() || total <= 0) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto at = [&](double p) {
    // The smallest value whose cumulative weight reaches p of the total (with equal
    // weights: the ceil(p*n)-th value, the nearest-rank definition).
    const double goal = p * total * (1 - 1e-12);
    double sum = 0;
    for (const auto& [v, w] : values) {
      sum += w;
      if (sum >= goal) return v;
    }
    return values.back().first;
  };
  return Quantiles{at(0.5), at(0.9), at(0.99), values.back().first};
}

std::string Cell::dominant_path() const {
  // Ties go to the first in this order: the more direct path wins.
  static constexpr std::array<const char*, 8> kOrder = {"host",  "mapped", "srflx",  "prflx",
                                                        "relay", "none",   "failed", "timeout"};
  std::string best;
  std::size_t most = 0;
  for (const char* p : kOrder) {
    const auto it = paths.find(p);
    if (it != paths.end() && it->second > most) {
      best = p;
      most = it->second;
    }
  }
  for (const auto& [p, n] : paths) {
    if (n > most) {
      best = p;
      most = n;
    }
  }
  return best.empty() ? "none" : best;
}

std::vector<Cell> aggregate(const std::vector<CellKey>& variants,
                            const std::vector<Sample>& samples) {
  std::map<CellKey, Cell> cells;
  for (const CellKey& k : variants)
    cells[k].key = k;  // a cell with no runs yet still shows
  for (const Sample& s : samples) {
    if (s.variant >= variants.size()) continue;
    Cell& c = cells[variants[s.variant]];
    ++c.runs;
    const bool connected = s.outcome == "connected";
    c.connected += connected ? 1 : 0;
    c.direct += connected && is_direct(s.path) ? 1 : 0;
    ++c.paths[connected ? s.path : s.outcome];
    if (connected && s.setup_ms) c.setup_ms.push_back(*s.setup_ms);
    for (std::size_t i = 0; i < kMilestones.size(); ++i) {
      if (!s.milestones[i]) continue;
      c.milestone_sum[i] += *s.milestones[i];
      ++c.milestone_count[i];
    }
  }
  std::vector<Cell> out;
  for (auto& [k, c] : cells) {
    std::sort(c.setup_ms.begin(), c.setup_ms.end());
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace natsim::tools::bench
