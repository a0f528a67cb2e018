#pragma once
// `natsim bench-connect`'s data: which cell (NAT A, NAT B, conditions, strategy) each
// matrix variant of a connect scenario is, one sample per run, and the per-cell
// aggregates (success, path mix, setup-time quantiles, mean milestones).
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace natsim::tools::bench {

struct CellKey {
  std::string nat_a;
  std::string nat_b;
  std::string conditions;  // "default" when the matrix varies none
  std::string strategy;    // likewise
  auto operator<=>(const CellKey&) const = default;
};

// The cells of a scenario file's variants, by variant index, and the id of the connect
// action measured. Throws InputError when the file has no connect action.
struct Layout {
  std::string connect_id;
  std::vector<CellKey> variants;
};
[[nodiscard]] Layout layout_of(const std::string& file);

// Milestones of a connect, in simulated ms since it started, for the whole connection
// (docs/bench-connect.md): they overlap under trickle, so they are times, not phases.
inline constexpr std::array<const char*, 6> kMilestones = {"gathering_ms",   "answer_received_ms",
                                                           "first_check_ms", "first_success_ms",
                                                           "nomination_ms",  "first_data_ms"};

struct Sample {
  std::size_t variant = 0;
  std::uint64_t seed = 0;
  std::string outcome;  // connected, failed, timeout
  std::string path;     // host, srflx, prflx, mapped, relay; "none" when not connected
  std::optional<double> setup_ms;
  std::array<std::optional<double>, kMilestones.size()> milestones{};
};
// The run's connect action `id` in its report's actions.
[[nodiscard]] Sample sample_of(std::size_t variant, std::uint64_t seed,
                               const nlohmann::json& actions, const std::string& id);
[[nodiscard]] nlohmann::json to_json(const Sample& s);
// Throws InputError naming `where` for anything but what to_json writes.
[[nodiscard]] Sample sample_from_json(const nlohmann::json& j, const std::string& where);

struct Quantiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// Nearest-rank quantiles (the smallest value with at least p of the weight at or below
// it) of values with weights; nullopt when there are none.
[[nodiscard]] std::optional<Quantiles> nearest_rank(std::vector<std::pair<double, double>> values);

struct Cell {
  CellKey key;
  std::size_t runs = 0;
  std::size_t connected = 0;
  std::size_t direct = 0;                    // connected on a path other than relay
  std::map<std::string, std::size_t> paths;  // path, or the outcome when not connected
  std::vector<double> setup_ms;              // connected runs, sorted
  std::array<double, kMilestones.size()> milestone_sum{};
  std::array<std::size_t, kMilestones.size()> milestone_count{};
  // The most frequent path ("failed"/"timeout" included); ties go to the more direct.
  [[nodiscard]] std::string dominant_path() const;
};
// One cell per distinct key, sorted by key.
[[nodiscard]] std::vector<Cell> aggregate(const std::vector<CellKey>& variants,
                                          const std::vector<Sample>& samples);

[[nodiscard]] bool is_direct(const std::string& path);

}  // namespace natsim::tools::bench
