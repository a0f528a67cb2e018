#include "batch_progress.hpp"

#include <cstdio>

namespace natsim::tools {

bool parse_shard(const std::string& text, std::size_t* index, std::size_t* count) {
  const auto slash = text.find('/');
  // Digits only: stoul would read "-1" as the largest number.
  if (slash == std::string::npos || text.find_first_not_of("0123456789/") != std::string::npos) {
    return false;
  }
  try {
    std::size_t used = 0;
    *index = std::stoul(text.substr(0, slash), &used);
    if (used != slash) return false;
    *count = std::stoul(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return *count > 0 && *index < *count;
}

std::atomic<bool> g_stop{false};

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  g_stop.store(true);
}

std::string format_eta(double seconds) {
  char buf[32];
  const auto s = static_cast<long long>(seconds);
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

int stop_signal() {
  return static_cast<int>(g_signal);
}

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void restore_stop_signals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void ProgressLine::operator()(std::size_t done, std::size_t total, bool passed) {
  failed_ += passed ? 0 : 1;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (done != total && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const std::string left = rate > 0 ? format_eta(static_cast<double>(total - done) / rate) : "?";
    std::fprintf(stderr, "\r%zu/%zu runs, %zu failed, %.0f runs/s, %s left  ", done, total, failed_,
                 rate, left.c_str());
    if (done == total) std::fputc('\n', stderr);
  } else if (done == 1 || done * 10 / total != (done - 1) * 10 / total) {
    std::fprintf(stderr, "%zu/%zu runs, %zu failed\n", done, total, failed_);
  }
}

void ProgressLine::interrupted() const {
  if (enabled_ && tty_) std::fputc('\n', stderr);
}

}  // namespace natsim::tools
