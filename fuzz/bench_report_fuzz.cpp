// `natsim bench-connect --merge` and population files: any JSON as a report or a
// population is either read (and its report and HTML page made) or refused with an
// InputError or a JSON type error, which the command turns into exit 2.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench_connect_html.hpp"
#include "bench_connect_model.hpp"
#include "bench_connect_report.hpp"
#include "natsim/base/input_error.hpp"

using nlohmann::json;
namespace bench = natsim::tools::bench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json j = json::parse(data, data + size, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  try {
    std::optional<bench::Population> population;
    if (j.contains("population")) population = bench::population_from_json(j["population"], "p");
    const auto variants = bench::variants_from_json(j.value("variants", json()), "r");
    std::vector<bench::Sample> samples;
    for (const json& s : j.value("samples", json::array()))
      samples.push_back(bench::sample_from_json(s, "r"));
    const json report = bench::make_report(json{{"name", "fuzz"}, {"seeds", json::object()}},
                                           variants, samples, population);
    (void)bench::table_text(report);
    (void)bench::render_html(report);
  } catch (const natsim::InputError&) {
  } catch (const json::exception&) {
  }
  return 0;
}
