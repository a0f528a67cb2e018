#pragma once
// What the actions that send datagrams (send, relay) share: their "count", "interval"
// and "size" keys, and the "delivered" and "echoed" expectation keys.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "../checks.hpp"
#include "../json_reader.hpp"
#include "natsim/base/time.hpp"

namespace natsim::scenarios::detail {

struct Traffic {
  int count = 1;
  Duration interval = milliseconds(100);
  std::size_t size = 100;
};

// Reads count, interval and size (bytes in [min_size, max_size]) within the run limits.
// Throws InputError.
[[nodiscard]] Traffic parse_traffic(const Reader& r, Traffic defaults, std::size_t min_size,
                                    std::size_t max_size);

struct EchoCheck {
  std::optional<Range> delivered;
  std::optional<Range> echoed;
};

[[nodiscard]] EchoCheck parse_echo_check(const Reader& r);
void check_echoes(const EchoCheck& e, std::uint64_t delivered, std::uint64_t echoed,
                  Checks& checks);

// "N sent, N delivered, N echoed" from an outcome's report, for the table line.
[[nodiscard]] std::string traffic_line(const nlohmann::json& outcome);

}  // namespace natsim::scenarios::detail
