#pragma once
// `natsim bench-connect`'s report: the JSON every output is made from (the terminal
// table, --json, --html, merging shards), and the population view.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench_connect_model.hpp"

namespace natsim::tools::bench {

// A NAT mix: a weight per NAT (as the cells name them, e.g. preset names), the scenario
// file it applies to, and the field figure it is compared with, with its source.
struct Population {
  std::string name;
  std::string description;
  std::string scenario;  // as written in the file, relative to it
  std::map<std::string, double> weights;
  double field_direct_rate = 0;
  std::string field_what;
  std::string field_source;
};
// nullopt when the file's top level has no "population" (a scenario file); throws
// InputError for a population that is not well formed.
[[nodiscard]] std::optional<Population> read_population(const std::string& path);
[[nodiscard]] nlohmann::json to_json(const Population& p);
[[nodiscard]] Population population_from_json(const nlohmann::json& j, const std::string& where);

// The whole report. `meta` is the "bench" object (file, plan, seeds, ...); samples in
// (variant, seed) order.
[[nodiscard]] nlohmann::json make_report(const nlohmann::json& meta,
                                         const std::vector<CellKey>& variants,
                                         const std::vector<Sample>& samples,
                                         const std::optional<Population>& population);
// Throws InputError when a weighted NAT has no cells.
[[nodiscard]] nlohmann::json evaluate(const Population& p, const std::vector<Cell>& cells);

// The variants' keys as stored in a report, and back.
[[nodiscard]] nlohmann::json to_json(const std::vector<CellKey>& variants);
[[nodiscard]] std::vector<CellKey> variants_from_json(const nlohmann::json& j,
                                                      const std::string& where);

// For terminals: one row per cell, then the population lines.
[[nodiscard]] std::string table_text(const nlohmann::json& report);
// "direct-connection rate X% (field figure: ...)" per group of the population.
[[nodiscard]] std::string population_text(const nlohmann::json& report);

}  // namespace natsim::tools::bench
