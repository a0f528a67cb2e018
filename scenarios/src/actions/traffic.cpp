#include "traffic.hpp"

#include "../limits.hpp"

namespace natsim::scenarios::detail {

Traffic parse_traffic(const Reader& r, Traffic t, std::size_t min_size, std::size_t max_size) {
  if (auto c = r.get("count")) t.count = static_cast<int>(c->integer(1, limits::kMaxSendCount));
  if (auto i = r.get("interval")) t.interval = i->duration();
  if (auto z = r.get("size")) {
    t.size = static_cast<std::size_t>(
        z->integer(static_cast<std::int64_t>(min_size), static_cast<std::int64_t>(max_size)));
  }
  // Every datagram of an interval-0 burst is an event at one instant.
  if (t.interval == Duration::zero() && t.count > limits::kMaxSendsPerInstant) {
    r.at("count").fail("more than " + std::to_string(limits::kMaxSendsPerInstant) +
                       " datagrams at one instant (interval 0); give an interval");
  }
  return t;
}

EchoCheck parse_echo_check(const Reader& r) {
  EchoCheck e;
  if (auto f = r.get("delivered")) e.delivered = parse_range(*f);
  if (auto f = r.get("echoed")) e.echoed = parse_range(*f);
  return e;
}

void check_echoes(const EchoCheck& e, std::uint64_t delivered, std::uint64_t echoed,
                  Checks& checks) {
  if (e.delivered) checks.check_range("delivered", *e.delivered, static_cast<double>(delivered));
  if (e.echoed) checks.check_range("echoed", *e.echoed, static_cast<double>(echoed));
}

std::string traffic_line(const nlohmann::json& a) {
  return std::to_string(a["sent"].get<std::uint64_t>()) + " sent, " +
         std::to_string(a["delivered"].get<std::uint64_t>()) + " delivered, " +
         std::to_string(a["echoed"].get<std::uint64_t>()) + " echoed";
}

}  // namespace natsim::scenarios::detail
