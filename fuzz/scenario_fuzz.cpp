// Scenario files as a hostile user writes them: the loader either returns scenarios or
// throws InputError with a message; any other exception, a crash or a runaway
// allocation is a bug. Loading is bounded (size, depth, variants × seeds), so even
// inputs that expand are cheap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "natsim/scenarios/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto scenarios = natsim::scenarios::load_scenario_text(text, "fuzz.json");
    (void)scenarios;
  } catch (const natsim::InputError& e) {
    if (std::string_view(e.what()).empty()) std::abort();  // an error names the problem
  }
  return 0;
}
