#include "bench_connect_report.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::tools::bench {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxPopulationBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxWeights = 1000;

// Fixed precision: the report's numbers are the same text on every machine.
double rounded(double x, double unit = 1e-4) {
  const double per = std::round(1 / unit);  // divide by an exact integer: 0.1 is not one
  return std::round(x * per) / per;
}

json quantiles_json(const std::optional<Quantiles>& q) {
  if (!q) return nullptr;
  return json{{"p50", q->p50}, {"p90", q->p90}, {"p99", q->p99}, {"max", q->max}};
}

json cell_json(const Cell& c) {
  std::vector<std::pair<double, double>> v;
  for (double x : c.setup_ms)
    v.emplace_back(x, 1.0);
  json milestones = json::object();
  for (std::size_t i = 0; i < kMilestones.size(); ++i) {
    milestones[kMilestones[i]] =
        c.milestone_count[i] == 0
            ? json(nullptr)
            : json(rounded(c.milestone_sum[i] / static_cast<double>(c.milestone_count[i]), 0.01));
  }
  const double runs = static_cast<double>(std::max<std::size_t>(c.runs, 1));
  return json{{"nat_a", c.key.nat_a},
              {"nat_b", c.key.nat_b},
              {"conditions", c.key.conditions},
              {"strategy", c.key.strategy},
              {"runs", c.runs},
              {"connected", c.connected},
              {"success_rate", rounded(static_cast<double>(c.connected) / runs)},
              {"direct_rate", rounded(static_cast<double>(c.direct) / runs)},
              {"path", c.dominant_path()},
              {"paths", c.paths},
              {"setup_ms", quantiles_json(nearest_rank(v))},
              {"milestones_ms", milestones}};
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", x * 100);
  return buf;
}

std::string ms_text(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v.get<double>());
  return buf;
}

}  // namespace

std::optional<Population> read_population(const std::string& path) {
  const json j = scenarios::read_json_file(path, kMaxPopulationBytes);
  if (!j.is_object() || !j.contains("population")) return std::nullopt;
  return population_from_json(j["population"], path + ": /population");
}

Population population_from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& at, const std::string& what) {
    throw InputError(where + at, what);
  };
  if (!j.is_object()) bad("", "expected an object");
  static const std::set<std::string> kKeys = {"name", "description", "scenario", "weights",
                                              "field"};
  for (const auto& [k, v] : j.items()) {
    if (!kKeys.contains(k)) {
      bad("/" + pointer_token(k),
          "unknown key '" + k + "', expected one of name, description, scenario, weights, field");
    }
  }
  Population p;
  auto text = [&](const json& o, const char* key, const std::string& at) {
    if (!o.contains(key) || !o[key].is_string() || o[key].get<std::string>().empty()) {
      bad(at + "/" + key, "expected a non-empty string");
    }
    return o[key].get<std::string>();
  };
  p.name = text(j, "name", "");
  p.description = j.contains("description") ? text(j, "description", "") : "";
  p.scenario = text(j, "scenario", "");
  if (!j.contains("weights") || !j["weights"].is_object() || j["weights"].empty()) {
    bad("/weights", "expected an object of {\"NAT\": weight}, at least one");
  }
  if (j["weights"].size() > kMaxWeights) bad("/weights", "more than 1000 NATs");
  double total = 0;
  for (const auto& [nat, w] : j["weights"].items()) {
    if (!w.is_number() || !std::isfinite(w.get<double>()) || w.get<double>() < 0) {
      bad("/weights/" + pointer_token(nat), "expected a weight of 0 or more");
    }
    p.weights[nat] = w.get<double>();
    total += w.get<double>();
  }
  if (!(total > 0)) bad("/weights", "the weights add up to 0");
  if (!j.contains("field") || !j["field"].is_object()) {
    bad("/field", "expected {\"direct_rate\": 0..1, \"what\": ..., \"source\": ...}");
  }
  const json& f = j["field"];
  if (!f.contains("direct_rate") || !f["direct_rate"].is_number() ||
      !(f["direct_rate"].get<double>() >= 0 && f["direct_rate"].get<double>() <= 1)) {
    bad("/field/direct_rate", "expected a number from 0 to 1");
  }
  p.field_direct_rate = f["direct_rate"].get<double>();
  p.field_what = text(f, "what", "/field");
  p.field_source = text(f, "source", "/field");
  return p;
}

json to_json(const Population& p) {
  return json{
      {"name", p.name},
      {"description", p.description},
      {"scenario", p.scenario},
      {"weights", p.weights},
      {"field",
       {{"direct_rate", p.field_direct_rate}, {"what", p.field_what}, {"source", p.field_source}}}};
}

json evaluate(const Population& p, const std::vector<Cell>& cells) {
  double total = 0;
  for (const auto& [nat, w] : p.weights)
    total += w;
  // Groups: one result per (conditions, strategy) of the file.
  std::map<std::pair<std::string, std::string>,
           std::map<std::pair<std::string, std::string>, const Cell*>>
      groups;
  std::set<std::string> nats;
  for (const Cell& c : cells) {
    groups[{c.key.conditions, c.key.strategy}][{c.key.nat_a, c.key.nat_b}] = &c;
    nats.insert(c.key.nat_a);
    nats.insert(c.key.nat_b);
  }
  for (const auto& [nat, w] : p.weights) {
    if (w > 0 && !nats.contains(nat)) {
      std::string known;
      for (const std::string& n : nats)
        known += (known.empty() ? "" : ", ") + n;
      throw InputError("population " + p.name + ": /weights/" + pointer_token(nat),
                       "no NAT '" + nat + "' in the benchmark (its NATs: " + known + ")");
    }
  }
  json results = json::array();
  for (const auto& [group, pairs] : groups) {
    double direct = 0;
    double connected = 0;
    double covered = 0;  // the weight of the pairs that ran
    std::vector<std::pair<double, double>> setup;
    for (const auto& [a, wa] : p.weights) {
      for (const auto& [b, wb] : p.weights) {
        const double w = (wa / total) * (wb / total);
        if (w <= 0) continue;
        const auto it = pairs.find({a, b});
        if (it == pairs.end() || it->second->runs == 0) continue;
        const Cell& c = *it->second;
        const double runs = static_cast<double>(c.runs);
        covered += w;
        direct += w * static_cast<double>(c.direct) / runs;
        connected += w * static_cast<double>(c.connected) / runs;
        for (double x : c.setup_ms)
          setup.emplace_back(x, w / runs);
      }
    }
    json r{{"conditions", group.first}, {"strategy", group.second}};
    // Pairs missing from the run (e.g. a shard) leave their weight out, and say so.
    r["weight_covered"] = rounded(covered);
    r["direct_rate"] = covered > 0 ? json(rounded(direct / covered)) : json(nullptr);
    r["connected_rate"] = covered > 0 ? json(rounded(connected / covered)) : json(nullptr);
    r["setup_ms"] = quantiles_json(nearest_rank(setup));
    if (covered > 0) {
      r["versus_field_points"] = rounded((direct / covered - p.field_direct_rate) * 100, 0.1);
    }
    results.push_back(r);
  }
  return results;
}

json to_json(const std::vector<CellKey>& variants) {
  json out = json::array();
  for (const CellKey& k : variants) {
    out.push_back(json{{"nat_a", k.nat_a},
                       {"nat_b", k.nat_b},
                       {"conditions", k.conditions},
                       {"strategy", k.strategy}});
  }
  return out;
}

std::vector<CellKey> variants_from_json(const json& j, const std::string& where) {
  if (!j.is_array()) throw InputError(where, "no \"variants\" array");
  std::vector<CellKey> out;
  for (const json& k : j) {
    for (const char* key : {"nat_a", "nat_b", "conditions", "strategy"}) {
      if (!k.is_object() || !k.contains(key) || !k[key].is_string()) {
        throw InputError(where, std::string("a variant without \"") + key + "\"");
      }
    }
    out.push_back(CellKey{k["nat_a"], k["nat_b"], k["conditions"], k["strategy"]});
  }
  return out;
}

json make_report(const json& meta, const std::vector<CellKey>& variants,
                 const std::vector<Sample>& samples, const std::optional<Population>& population) {
  const std::vector<Cell> cells = aggregate(variants, samples);
  json report;
  report["natsim_version"] = NATSIM_VERSION;
  report["bench"] = meta;
  report["quantiles"] = "nearest-rank over connected runs, simulated ms";
  json cj = json::array();
  for (const Cell& c : cells)
    cj.push_back(cell_json(c));
  report["cells"] = cj;
  if (population) {
    json p = to_json(*population);
    p["results"] = evaluate(*population, cells);
    report["population"] = p;
  }
  report["variants"] = to_json(variants);
  json sj = json::array();
  for (const Sample& s : samples)
    sj.push_back(to_json(s));
  report["samples"] = sj;
  return report;
}

std::string population_text(const json& report) {
  if (!report.contains("population")) return "";
  const json& p = report["population"];
  std::string out;
  const double field = p["field"]["direct_rate"].get<double>();
  for (const json& r : p["results"]) {
    char buf[1024];
    const std::string group =
        r["conditions"].get<std::string>() + ", " + r["strategy"].get<std::string>();
    if (!r["direct_rate"].is_number()) {
      std::snprintf(buf, sizeof buf, "population %s [%s]: no runs of its NAT pairs\n",
                    p["name"].get<std::string>().c_str(), group.c_str());
      out += buf;
      continue;
    }
    const double rate = r["direct_rate"].get<double>();
    const double points = r["versus_field_points"].get<double>();
    const std::string where =
        std::fabs(points) < 1 ? "in line with it"
        : points > 0
            ? "above it by " + std::to_string(static_cast<int>(std::lround(points))) + " points"
            : "below it by " + std::to_string(static_cast<int>(std::lround(-points))) + " points";
    std::snprintf(buf, sizeof buf,
                  "population %s [%s]: direct-connection rate %s (field figure: %s %s, %s): %s\n",
                  p["name"].get<std::string>().c_str(), group.c_str(), percent(rate).c_str(),
                  percent(field).c_str(), p["field"]["what"].get<std::string>().c_str(),
                  p["field"]["source"].get<std::string>().c_str(), where.c_str());
    out += buf;
    const json& q = r["setup_ms"];
    if (q.is_object()) {
      std::snprintf(buf, sizeof buf,
                    "  connected %s; setup p50 %s ms, p90 %s ms, p99 %s ms, max %s ms; weight "
                    "covered %s\n",
                    percent(r["connected_rate"].get<double>()).c_str(), ms_text(q["p50"]).c_str(),
                    ms_text(q["p90"]).c_str(), ms_text(q["p99"]).c_str(), ms_text(q["max"]).c_str(),
                    percent(r["weight_covered"].get<double>()).c_str());
      out += buf;
    }
  }
  return out;
}

std::string table_text(const json& report) {
  std::string out;
  char buf[1024];
  std::snprintf(buf, sizeof buf, "%-22s %-22s %-18s %-18s %5s %6s %-22s %6s %6s %6s %6s  %s\n",
                "NAT A", "NAT B", "conditions", "strategy", "runs", "ok", "paths", "p50", "p90",
                "p99", "max", "mean ms: gather/answer/check/success/nominate/data");
  out += buf;
  for (const json& c : report["cells"]) {
    std::string paths;
    for (const auto& [p, n] : c["paths"].items())
      paths += (paths.empty() ? "" : " ") + p + ":" + std::to_string(n.get<std::size_t>());
    const json& q = c["setup_ms"];
    const json none;
    std::string milestones;
    for (const char* m : kMilestones)
      milestones += (milestones.empty() ? "" : "/") + ms_text(c["milestones_ms"][m]);
    std::snprintf(buf, sizeof buf, "%-22s %-22s %-18s %-18s %5zu %6s %-22s %6s %6s %6s %6s  %s\n",
                  c["nat_a"].get<std::string>().c_str(), c["nat_b"].get<std::string>().c_str(),
                  c["conditions"].get<std::string>().c_str(),
                  c["strategy"].get<std::string>().c_str(), c["runs"].get<std::size_t>(),
                  percent(c["success_rate"].get<double>()).c_str(), paths.c_str(),
                  ms_text(q.is_object() ? q["p50"] : none).c_str(),
                  ms_text(q.is_object() ? q["p90"] : none).c_str(),
                  ms_text(q.is_object() ? q["p99"] : none).c_str(),
                  ms_text(q.is_object() ? q["max"] : none).c_str(), milestones.c_str());
    out += buf;
  }
  return out + population_text(report);
}

}  // namespace natsim::tools::bench
