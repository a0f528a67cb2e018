#include "server_report.hpp"

#include <csignal>
#include <cstdio>

namespace natsim::tools {

void add_socket_counters(nlohmann::ordered_json& counters, const io::SocketCounters& s) {
  counters["datagrams_received"] = s.received;
  counters["datagrams_sent"] = s.sent;
  counters["send_errors"] = s.send_errors;
  counters["receive_errors"] = s.receive_errors;
  counters["unroutable"] = s.unroutable;
}

int report_stopped(int signal, const nlohmann::ordered_json& counters, bool json_log) {
  if (json_log) {
    const nlohmann::ordered_json line = {
        {"event", "stopped"}, {"signal", signal}, {"counters", counters}};
    std::fprintf(stderr, "%s\n", line.dump().c_str());
  }
  std::printf("stopped by %s\n", signal == SIGINT    ? "SIGINT"
                                 : signal == SIGTERM ? "SIGTERM"
                                                     : "io stop");
  for (auto it = counters.begin(); it != counters.end(); ++it) {
    std::printf("  %-24s %llu\n", it.key().c_str(),
                static_cast<unsigned long long>(it.value().get<std::uint64_t>()));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace natsim::tools
