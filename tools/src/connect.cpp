#include "connect.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "natsim/io/asio_driver.hpp"
#include "natsim/io/endpoint_conversion.hpp"
#include "natsim/io/random_seed.hpp"
#include "natsim/traversal/ice_agent.hpp"
#include "natsim/traversal/ice_sdp.hpp"

namespace natsim::tools {

namespace ice = traversal::ice;
using Steady = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

void add_connect_options(CLI::App& cmd, ConnectOptions& o) {
  cmd.add_option("--bind", o.bind,
                 "Local IP[:PORT] for a host candidate (repeat for more; default: every "
                 "non-loopback IPv4 address, any port)");
  cmd.add_option("--stun", o.stun, "STUN server HOST:PORT for server-reflexive candidates");
  CLI::Option* turn =
      cmd.add_option("--turn", o.turn, "TURN server HOST:PORT (UDP) for a relayed candidate");
  cmd.add_option("--user", o.user, "TURN user name")->needs(turn);
  cmd.add_option("--password", o.password, "TURN password")->needs(turn);
  CLI::Option* controlling =
      cmd.add_flag("--controlling", o.controlling, "Take the controlling role (nominates)");
  cmd.add_flag("--controlled", o.controlled, "Take the controlled role")->excludes(controlling);
  cmd.add_flag("--aggressive", o.aggressive, "Aggressive nomination (every check nominates)");
  cmd.add_flag("--relay-only", o.relay_only,
               "Offer and pair only the relayed candidate (a TURN-only policy); the host "
               "sockets still carry the TURN traffic")
      ->needs(turn);
  cmd.add_option("--offer-out", o.offer_out,
                 "Write the local description to FILE once gathered (default: stdout, "
                 "candidates as they are gathered)");
  cmd.add_option("--remote", o.remote,
                 "Read the remote description from FILE, polled until complete (default: "
                 "stdin, line by line)");
  cmd.add_flag("--signal-json", o.signal_json,
               "Write the local description as one JSON object {ufrag, pwd, candidates, "
               "end_of_candidates}");
  cmd.add_option("--send", o.send, "Text to send once a pair is selected");
  cmd.add_option("--count", o.count, "How many times to send it")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd.add_option("--interval-ms", o.interval_ms, "Between two sends")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  cmd.add_flag("--echo", o.echo, "Send back every datagram received that is not the --send text");
  cmd.add_option("--expect", o.expect,
                 "Datagrams to receive before finishing (default: --count with --send, else 0)")
      ->check(CLI::Range(0, 100000));
  cmd.add_option("--linger-ms", o.linger_ms,
                 "Keep answering checks and echoing this long after finishing")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  cmd.add_option("--timeout", o.timeout_s, "Give up after SECONDS (everything included)")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
}

namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "natsim connect: %s\n", message.c_str());
  return 2;
}
void note(const std::string& message) {
  std::fprintf(stderr, "natsim connect: %s\n", message.c_str());
}

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// --bind: "IP", "IP:PORT" or "[IPv6]:PORT"; a specific address (it becomes a candidate).
std::optional<Endpoint> parse_bind(const std::string& text) {
  std::optional<Endpoint> e = Endpoint::parse(text);
  if (!e) {
    const auto a = IpAddress::parse(text);
    if (!a) return std::nullopt;
    e = Endpoint{*a, 0};
  }
  if (e->address.is_unspecified() || e->address.is_multicast()) return std::nullopt;
  return e;
}

// Every non-loopback IPv4 address of an interface that is up; 127.0.0.1 when none.
std::vector<Endpoint> default_binds() {
  std::vector<Endpoint> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      const Endpoint e{IpAddress::v4(ntohl(sin->sin_addr.s_addr)), 0};
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    freeifaddrs(list);
  }
  if (out.empty()) out.push_back(Endpoint{IpAddress::v4(127, 0, 0, 1), 0});
  return out;
}

// HOST:PORT (a name is resolved, IPv4 first) or [IPv6]:PORT.
std::optional<Endpoint> resolve(boost::asio::io_context& io, const std::string& text,
                                std::string& error) {
  if (auto e = Endpoint::parse(text); e && e->port != 0 && !e->address.is_unspecified()) return e;
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    error = "expected HOST:PORT, got '" + text + "'";
    return std::nullopt;
  }
  boost::asio::ip::udp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(text.substr(0, colon), text.substr(colon + 1), ec);
  if (ec || results.empty()) {
    error = "cannot resolve '" + text + "': " + (ec ? ec.message() : "no address");
    return std::nullopt;
  }
  std::optional<Endpoint> first;
  for (const auto& r : results) {
    const Endpoint e = io::from_asio(r.endpoint());
    if (e.address.is_v4()) return e;
    if (!first) first = e;
  }
  return first;
}

std::string printable(ByteView bytes) {
  std::string s;
  for (std::uint8_t b : bytes) {
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      s += static_cast<char>(b);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", b);
      s += buf;
    }
  }
  return s;
}

// Reads stdin on a thread of its own (a pipe, a file or a terminal alike) and posts each
// line, then the end, to the io_context.
class StdinLines {
 public:
  using Line = std::function<void(std::string)>;
  StdinLines(boost::asio::io_context& io, Line on_line, std::function<void()> on_end)
      : thread_([this, &io, on_line = std::move(on_line), on_end = std::move(on_end)] {
          std::string pending;
          char buf[4096];
          while (!stop_) {
            pollfd p{STDIN_FILENO, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) break;
            pending.append(buf, static_cast<std::size_t>(n));
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
              boost::asio::post(io, [on_line, line = pending.substr(0, nl)] { on_line(line); });
              pending.erase(0, nl + 1);
            }
            if (pending.size() > 64 * 1024) break;  // no line is that long
          }
          if (!stop_) {
            if (!pending.empty())
              boost::asio::post(io, [on_line, line = pending] { on_line(line); });
            boost::asio::post(io, on_end);
          }
        }) {}
  StdinLines(const StdinLines&) = delete;
  StdinLines& operator=(const StdinLines&) = delete;
  ~StdinLines() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Json candidate_json(const ice::Candidate& c) {
  return Json{{"type", std::string(ice::to_string(c.type))},
              {"address", c.address.to_string()},
              {"candidate", ice::format_candidate(c)}};
}

// One run: the agent, its driver, signalling in and out, data, and the result.
class Session {
 public:
  Session(const ConnectOptions& o, boost::asio::io_context& io, io::UdpSocketSet& sockets,
          ice::Agent& agent, Steady::time_point started)
      : o_(o),
        io_(io),
        agent_(agent),
        driver_(sockets, agent),
        started_(started),
        deadline_(started + std::chrono::duration_cast<Steady::duration>(
                                std::chrono::duration<double>(o.timeout_s))),
        send_timer_(io),
        poll_timer_(io),
        expect_(o.expect >= 0 ? o.expect : (o.send.empty() ? 0 : o.count)) {
    driver_.on_event([this](const ice::Event& e) { on_event(e); });
  }

  int run() {
    boost::asio::signal_set signals(io_, SIGINT, SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) interrupted_ = true;
    });
    if (trickle_out()) {
      print_line(ice::format_ufrag(agent_.ufrag()));
      print_line(ice::format_pwd(agent_.pwd()));
    }
    agent_.gather(driver_.now());
    driver_.pump();

    std::unique_ptr<StdinLines> stdin_lines;
    if (o_.remote.empty()) {
      stdin_lines = std::make_unique<StdinLines>(
          io_, [this](std::string line) { on_stdin_line(line); }, [this] { on_stdin_end(); });
    } else {
      poll_remote_file();
    }

    const auto stop = [this] { return bad_input_ || failed_ || interrupted_; };
    driver_.run_until([&] { return stop() || finished(); }, deadline_);
    if (!stop() && finished()) {
      done_ms_ = ms_since(started_);
      // Linger: the other agent may still check, nominate or wait for an echo.
      driver_.run_until(
          stop, std::min(deadline_, Steady::now() + std::chrono::milliseconds(o_.linger_ms)));
    }
    send_timer_.cancel();
    poll_timer_.cancel();
    signals.cancel();
    agent_.close();
    stdin_lines.reset();
    return report();
  }

 private:
  [[nodiscard]] bool trickle_out() const { return o_.offer_out.empty() && !o_.signal_json; }
  [[nodiscard]] bool finished() const {
    return selected_ && sent_ >= (o_.send.empty() ? 0 : o_.count) && received_ >= expect_;
  }
  static void print_line(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  void bad_input(const std::string& message) {
    if (bad_input_) return;
    bad_input_ = true;
    note(message);
  }

  // ---- local description --------------------------------------------------------------

  void on_event(const ice::Event& e) {
    if (const auto* c = std::get_if<ice::LocalCandidate>(&e)) {
      if (signalled(c->candidate) && trickle_out()) print_line(ice::format_candidate(c->candidate));
    } else if (const auto* g = std::get_if<ice::GatheringDone>(&e)) {
      gathered_ms_ = ms_since(started_);
      std::vector<ice::Candidate> offered;
      for (const ice::Candidate& gathered : g->candidates) {
        if (signalled(gathered)) offered.push_back(gathered);
      }
      write_description(offered);
    } else if (const auto* s = std::get_if<ice::Selected>(&e)) {
      const bool first = !selected_;
      selected_ = *s;
      if (!selected_ms_) selected_ms_ = ms_since(started_);
      if (first) start_sending();
    } else if (const auto* f = std::get_if<ice::Failed>(&e)) {
      failed_ = true;
      reason_ = f->reason;
    } else if (const auto* d = std::get_if<ice::Data>(&e)) {
      on_data(d->from, d->bytes);
    }
  }

  // Peer-reflexive local candidates are learnt from checks, never signalled; with
  // --relay-only neither is the server-reflexive one the TURN server reports.
  [[nodiscard]] bool signalled(const ice::Candidate& c) const {
    if (c.type == ice::CandidateType::prflx) return false;
    return !o_.relay_only || c.type == ice::CandidateType::relay;
  }

  void write_description(const std::vector<ice::Candidate>& candidates) {
    if (trickle_out()) {
      print_line(std::string(ice::kEndOfCandidates));
      return;
    }
    ice::Description d{agent_.ufrag(), agent_.pwd(), candidates, true};
    std::string text;
    if (o_.signal_json) {
      Json lines = Json::array();
      for (const ice::Candidate& c : candidates)
        lines.push_back(ice::format_candidate(c));
      text = Json{{"ufrag", d.ufrag},
                  {"pwd", d.pwd},
                  {"candidates", lines},
                  {"end_of_candidates", true}}
                 .dump() +
             "\n";
    } else {
      text = ice::format_description(d);
    }
    if (o_.offer_out.empty()) {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
      return;
    }
    // Written whole, then renamed: a reader polling the file never sees half of it.
    const std::string tmp = o_.offer_out + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << text;
      if (!f.flush()) {
        bad_input("cannot write " + tmp);
        return;
      }
    }
    if (std::rename(tmp.c_str(), o_.offer_out.c_str()) != 0)
      bad_input("cannot rename " + tmp + " to " + o_.offer_out);
  }

  // ---- remote description ---------------------------------------------------------------

  // One line of the remote description; false when it is malformed (bad input).
  bool add_remote_line(ice::DescriptionReader& reader, std::string_view line,
                       const std::string& where) {
    const auto r = reader.add_line(line);
    if (r) return true;
    const std::string message = where + " line " + std::to_string(reader.lines()) + ": " +
                                std::string(ice::to_string(r.error())) + ": '" + std::string(line) +
                                "'";
    if (ice::is_unsupported(r.error())) {
      note("skipped " + message);
      return true;
    }
    bad_input(message);
    return false;
  }

  // A JSON description {ufrag, pwd, candidates: ["candidate:..." or without the prefix],
  // end_of_candidates (default true)} as lines.
  static std::optional<std::vector<std::string>> json_lines(const std::string& text,
                                                            std::string& error) {
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    if (!j.is_object() || !j.contains("ufrag") || !j["ufrag"].is_string() || !j.contains("pwd") ||
        !j["pwd"].is_string() || !j.contains("candidates") || !j["candidates"].is_array()) {
      error = "a JSON description needs string ufrag and pwd and an array of candidates";
      return std::nullopt;
    }
    std::vector<std::string> lines{ice::format_ufrag(j["ufrag"].get<std::string>()),
                                   ice::format_pwd(j["pwd"].get<std::string>())};
    for (const Json& c : j["candidates"]) {
      if (!c.is_string()) {
        error = "JSON candidates must be strings";
        return std::nullopt;
      }
      std::string line = c.get<std::string>();
      if (line.rfind("candidate:", 0) != 0 && line.rfind("a=candidate:", 0) != 0)
        line = "candidate:" + line;
      lines.push_back(line);
    }
    const auto end = j.find("end_of_candidates");
    if (end == j.end() || *end == true) lines.emplace_back(ice::kEndOfCandidates);
    return lines;
  }

  // Hands the agent what the reader has and the agent has not.
  void sync_remote(const ice::DescriptionReader& reader) {
    if (bad_input_ || !reader.has_credentials()) return;
    const ice::Description& d = reader.description();
    const TimePoint now = driver_.now();
    std::vector<ice::Candidate> fresh;
    for (; applied_ < d.candidates.size(); ++applied_) {
      const ice::Candidate& c = d.candidates[applied_];
      if (c.component != 1) {
        note("skipped remote candidate of component " + std::to_string(c.component) +
             " (one component only): " + ice::format_candidate(c));
        continue;
      }
      fresh.push_back(c);
    }
    if (!remote_set_) {
      remote_set_ = true;
      remote_ms_ = ms_since(started_);
      agent_.set_remote(now, d.ufrag, d.pwd, fresh, d.end_of_candidates);
      remote_end_ = d.end_of_candidates;
    } else {
      for (const ice::Candidate& c : fresh)
        agent_.add_remote_candidate(now, c);
      if (d.end_of_candidates && !remote_end_) {
        remote_end_ = true;
        agent_.end_of_remote_candidates(now);
      }
    }
    driver_.pump();
  }

  void on_stdin_line(const std::string& line) {
    if (bad_input_ || remote_end_) return;
    if (json_mode_ || (stdin_reader_.lines() == 0 && json_.empty() &&
                       line.find_first_not_of(" \t") != std::string::npos &&
                       line[line.find_first_not_of(" \t")] == '{')) {
      json_mode_ = true;
      json_ += line + "\n";
      try_json(json_, false);
      return;
    }
    if (add_remote_line(stdin_reader_, line, "stdin")) sync_remote(stdin_reader_);
  }
  void on_stdin_end() {
    if (bad_input_ || remote_end_) return;
    if (json_mode_) {
      if (!try_json(json_, true)) return;
    }
    if (!stdin_reader_.has_credentials()) {
      bad_input("stdin ended before ice-ufrag and ice-pwd");
      return;
    }
    // No more lines: no more candidates (RFC 8838 §4.4).
    if (!remote_end_) (void)stdin_reader_.add_line(ice::kEndOfCandidates);
    sync_remote(stdin_reader_);
  }
  // Applies a JSON description once it parses; `last`: no more text will come.
  bool try_json(const std::string& text, bool last) {
    std::string error;
    const auto lines = json_lines(text, error);
    if (!lines) {
      if (!error.empty() || last)
        bad_input("remote JSON description: " + (error.empty() ? "not valid JSON" : error));
      return false;
    }
    ice::DescriptionReader& reader = stdin_reader_;
    for (const std::string& l : *lines) {
      if (!add_remote_line(reader, l, "remote JSON")) return false;
    }
    sync_remote(reader);
    return true;
  }

  // --remote FILE: read whole every 50 ms until it holds a complete description.
  void poll_remote_file() {
    if (remote_set_ || bad_input_) return;
    std::ifstream f(o_.remote);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      const std::string text = ss.str();
      const auto first = text.find_first_not_of(" \t\r\n");
      if (first != std::string::npos && text[first] == '{') {
        std::string error;
        if (const auto lines = json_lines(text, error)) {
          ice::DescriptionReader reader;
          for (const std::string& l : *lines) {
            if (!add_remote_line(reader, l, o_.remote)) return;
          }
          sync_remote(reader);
          return;
        }
        if (!error.empty()) return bad_input(o_.remote + ": " + error);
      } else {
        // Only whole lines count: the writer may be half-way through one. The description
        // ends at end-of-candidates (the file may be the other side's whole stdout).
        ice::DescriptionReader reader;
        std::size_t start = 0;
        for (auto nl = text.find('\n');
             nl != std::string::npos && !reader.description().end_of_candidates;
             nl = text.find('\n', start)) {
          if (!add_remote_line(reader, std::string_view(text).substr(start, nl - start), o_.remote))
            return;
          start = nl + 1;
        }
        if (reader.description().end_of_candidates) {
          if (!reader.has_credentials())
            return bad_input(o_.remote + ": end-of-candidates before ice-ufrag and ice-pwd");
          sync_remote(reader);
          return;
        }
      }
    }
    poll_timer_.expires_after(std::chrono::milliseconds(50));
    poll_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_remote_file();
    });
  }

  // ---- data -----------------------------------------------------------------------------

  void start_sending() {
    for (const std::vector<std::uint8_t>& bytes : pending_echoes_)
      send_bytes(bytes, true);
    pending_echoes_.clear();
    send_next();
  }
  void send_next() {
    if (o_.send.empty() || sent_ >= o_.count || failed_) return;
    const std::vector<std::uint8_t> bytes(o_.send.begin(), o_.send.end());
    if (send_bytes(bytes, false)) ++sent_;
    driver_.pump();
    if (sent_ >= o_.count) return;
    send_timer_.expires_after(std::chrono::milliseconds(o_.interval_ms));
    send_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) send_next();
    });
  }
  bool send_bytes(const std::vector<std::uint8_t>& bytes, bool echo) {
    if (!agent_.send(driver_.now(), ByteView(bytes.data(), bytes.size()))) {
      ++send_failures_;
      return false;
    }
    if (echo) ++echoed_;
    return true;
  }

  void on_data(const Endpoint& from, ByteView bytes) {
    ++received_;
    if (!first_data_ms_) first_data_ms_ = ms_since(started_);
    const std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
    const bool own =
        !o_.send.empty() &&
        std::string_view(reinterpret_cast<const char*>(copy.data()), copy.size()) == o_.send;
    if (own) ++echoes_back_;
    print_line("recv " + from.to_string() + " " + printable(bytes));
    if (!o_.echo || own) return;
    // Data can come before this side selects (the controlling agent sends once its
    // nomination succeeds); the echo waits for the selected pair.
    if (selected_) {
      send_bytes(copy, true);
    } else if (pending_echoes_.size() < 64) {
      pending_echoes_.push_back(copy);
    }
  }

  // ---- result ---------------------------------------------------------------------------

  int report() {
    const bool connected = !bad_input_ && !failed_ && !interrupted_ && done_ms_.has_value();
    std::string outcome = connected ? "connected" : failed_ ? "failed" : "timeout";
    if (interrupted_) outcome = "interrupted";
    if (bad_input_) outcome = "bad_input";
    std::string reason = reason_;
    if (!connected && reason.empty() && !bad_input_ && !interrupted_) {
      if (!remote_set_) {
        char limit[32];
        std::snprintf(limit, sizeof limit, "%g", o_.timeout_s);
        reason = std::string("no complete remote description within ") + limit + " s";
      } else if (!selected_) {
        reason = "no pair selected within the timeout";
      } else {
        reason = "received " + std::to_string(received_) + " of " + std::to_string(expect_) +
                 " datagrams";
      }
    }
    const auto opt = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
    Json j;
    j["outcome"] = outcome;
    j["reason"] = reason.empty() ? Json(nullptr) : Json(reason);
    j["role"] = agent_.controlling() ? "controlling" : "controlled";
    j["path"] = selected_ ? Json(std::string(ice::to_string(selected_->path))) : Json(nullptr);
    j["selected"] = selected_ ? Json{{"local", candidate_json(selected_->local)},
                                     {"remote", candidate_json(selected_->remote)}}
                              : Json(nullptr);
    j["timings_ms"] = Json{{"gathered", opt(gathered_ms_)}, {"remote", opt(remote_ms_)},
                           {"selected", opt(selected_ms_)}, {"first_data", opt(first_data_ms_)},
                           {"done", opt(done_ms_)},         {"end", ms_since(started_)}};
    j["sent"] = sent_;
    j["received"] = received_;
    j["echoes_back"] = echoes_back_;
    j["echoed"] = echoed_;
    j["send_failures"] = send_failures_;
    Json local = Json::array();
    for (const ice::Candidate& c : agent_.local_candidates())
      local.push_back(ice::format_candidate(c));
    Json remote = Json::array();
    for (const ice::Candidate& c : agent_.remote_candidates())
      remote.push_back(ice::format_candidate(c));
    j["local_candidates"] = local;
    j["remote_candidates"] = remote;
    const ice::AgentCounters& c = agent_.counters();
    j["counters"] = Json{{"checks_sent", c.checks_sent},
                         {"triggered_checks", c.triggered_checks},
                         {"requests_received", c.requests_received},
                         {"bad_requests", c.bad_requests},
                         {"role_conflicts", c.role_conflicts},
                         {"prflx_remote", c.prflx_remote},
                         {"prflx_local", c.prflx_local},
                         {"responses", c.responses},
                         {"check_timeouts", c.check_timeouts},
                         {"consent_checks", c.consent_checks},
                         {"data_in", c.data_in},
                         {"data_out", c.data_out},
                         {"malformed", c.malformed},
                         {"socket_send_failures", driver_.send_failures()}};
    print_line(j.dump());
    if (bad_input_) return 2;
    return connected ? 0 : 1;
  }

  const ConnectOptions& o_;
  boost::asio::io_context& io_;
  ice::Agent& agent_;
  io::AsioDriver<ice::Agent> driver_;
  Steady::time_point started_;
  Steady::time_point deadline_;
  boost::asio::steady_timer send_timer_;
  boost::asio::steady_timer poll_timer_;
  int expect_;

  ice::DescriptionReader stdin_reader_;
  bool json_mode_ = false;
  std::string json_;
  std::size_t applied_ = 0;  // remote candidates handed to the agent
  bool remote_set_ = false;
  bool remote_end_ = false;

  std::optional<ice::Selected> selected_;
  bool failed_ = false;
  bool bad_input_ = false;
  bool interrupted_ = false;
  std::string reason_;
  int sent_ = 0;
  int received_ = 0;
  int echoes_back_ = 0;
  int echoed_ = 0;
  int send_failures_ = 0;
  std::vector<std::vector<std::uint8_t>> pending_echoes_;
  std::optional<double> gathered_ms_, remote_ms_, selected_ms_, first_data_ms_, done_ms_;
};

}  // namespace

int run_connect(const ConnectOptions& o) {
  const auto started = Steady::now();
  if (!o.controlling && !o.controlled)
    return usage_error("--controlling or --controlled is required");
  if (!o.turn.empty() && (o.user.empty() || o.password.empty()))
    return usage_error("--turn needs --user and --password");
  if (!o.send.empty() && o.send.size() > 1200)
    return usage_error("--send: at most 1200 bytes (one datagram)");

  std::vector<Endpoint> binds;
  for (const std::string& b : o.bind) {
    const auto e = parse_bind(b);
    if (!e) return usage_error("--bind: expected a specific IP[:PORT], got '" + b + "'");
    binds.push_back(*e);
  }
  if (binds.empty()) binds = default_binds();

  boost::asio::io_context io;
  ice::AgentConfig config;
  config.controlling = o.controlling;
  config.aggressive_nomination = o.aggressive;
  std::string error;
  if (!o.stun.empty()) {
    config.stun_server = resolve(io, o.stun, error);
    if (!config.stun_server) return usage_error("--stun: " + error);
  }
  std::optional<Endpoint> turn_server;
  if (!o.turn.empty()) {
    turn_server = resolve(io, o.turn, error);
    if (!turn_server) return usage_error("--turn: " + error);
  }

  io::UdpSocketSet sockets(io);
  for (const Endpoint& b : binds) {
    const auto bound = sockets.bind(b);
    if (!bound) {
      return usage_error("cannot bind " + b.to_string() + ": " + bound.error().message());
    }
    config.host.push_back(*bound);
  }
  if (turn_server) {
    // The relayed candidate comes from the first socket of the server's family.
    const auto local = std::find_if(config.host.begin(), config.host.end(), [&](const Endpoint& h) {
      return h.address.family() == turn_server->address.family();
    });
    if (local == config.host.end())
      return usage_error("--turn: no --bind address of the server's address family");
    traversal::turn::ClientConfig t;
    t.local = *local;
    t.server = *turn_server;
    t.username = o.user;
    t.password = o.password;
    config.turn = t;
    // Relayed candidates only, as the connect strategy's relay_only: no host candidate is
    // paired and nothing server-reflexive is gathered; the TURN client keeps its socket.
    if (o.relay_only) {
      config.host.clear();
      config.stun_server.reset();
    }
  }

  ice::Agent agent(io::random_seed(), config);
  Session session(o, io, sockets, agent, started);
  return session.run();
}

}  // namespace natsim::tools
