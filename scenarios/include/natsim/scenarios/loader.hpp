#pragma once
// Loading scenario files. Syntax errors name the file and line:column; errors of meaning
// name the file and the JSON Pointer of the offending value, and say what was expected.
// Unknown keys are errors. A "matrix" expands one file into the cartesian product of its
// variants. Input is bounded (file size, nesting depth, variants, runs): see
// docs/scenario-format.md, "Limits".
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios {

// One scenario file, read and its matrix checked; variants are built on demand (index ->
// variant), so a large matrix costs nothing until a variant is asked for.
class ScenarioFile {
 public:
  // Throws InputError.
  [[nodiscard]] static ScenarioFile read(const std::string& path);
  [[nodiscard]] static ScenarioFile parse(std::string_view text, const std::string& file);

  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] bool has_matrix() const { return !matrix_.empty(); }
  [[nodiscard]] std::size_t variants() const { return variants_; }
  // Variant `index` (0-based; matrix entries vary last-fastest), parsed and validated.
  // Throws InputError.
  [[nodiscard]] Scenario variant(std::size_t index) const;
  // Builds every variant (so checks them all) and counts variants x seeds; throws
  // InputError beyond limits::kMaxRuns.
  [[nodiscard]] std::size_t runs() const;

 private:
  struct Assignment {
    std::string pointer;
    std::string where;  // location of the pointer in the file, for errors
    nlohmann::json value;
  };
  struct Choice {
    std::vector<Assignment> assignments;
    std::string label;
  };
  std::string file_;
  nlohmann::json base_;                      // the document without its matrix
  std::vector<std::vector<Choice>> matrix_;  // per entry, its choices
  std::size_t variants_ = 1;
};

// Every variant of the scenario in `path` (one if there is no matrix), with variants x
// seeds at most limits::kMaxRuns. Throws InputError.
[[nodiscard]] std::vector<Scenario> load_scenario_file(const std::string& path);
[[nodiscard]] std::vector<Scenario> load_scenario_text(std::string_view text,
                                                       const std::string& file);
// One scenario from an already expanded document.
[[nodiscard]] Scenario parse_scenario(const nlohmann::json& doc, const std::string& file);

// Link parameters from {"latency": "10ms", "loss": 0.01, "bandwidth": "10Mbps", ...}
// applied over `base`.
[[nodiscard]] sim::LinkParams parse_link_params(const nlohmann::json& j, const std::string& pointer,
                                                sim::LinkParams base = {});

// A JSON file of at most `max_bytes` (checked before reading), nested at most
// limits::kMaxDepth deep. Throws InputError naming the file and line:column.
[[nodiscard]] nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes);

}  // namespace natsim::scenarios
