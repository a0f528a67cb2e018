#pragma once
// What the commands that run sweeps (`run`, `bench-connect`) share: --shard parsing,
// stopping on SIGINT/SIGTERM, and the progress line on stderr.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <string>

namespace natsim::tools {

// "I/N" with 0 <= I < N, digits only.
bool parse_shard(const std::string& text, std::size_t* index, std::size_t* count);

// Set by SIGINT/SIGTERM once catch_stop_signals ran: no new run starts, the finished
// ones are reported. stop_signal() is the signal's number (0 before one came).
extern std::atomic<bool> g_stop;
int stop_signal();
// Installed for the runs only; SA_RESETHAND: a second Ctrl-C ends the program at once.
void catch_stop_signals();
void restore_stop_signals();

// Progress of a sweep on stderr (stdout stays the report): on a terminal one line
// rewritten at most 4 times a second with failures, rate and time left; elsewhere a
// line after the first run and every tenth.
class ProgressLine {
 public:
  ProgressLine(bool tty, bool enabled) : tty_(tty), enabled_(enabled) {}
  void operator()(std::size_t done, std::size_t total, bool passed);
  void interrupted() const;

 private:
  bool tty_;
  bool enabled_;
  std::size_t failed_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace natsim::tools
