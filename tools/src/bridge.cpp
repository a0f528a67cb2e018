// `natsim bridge` (docs/bridge.md): a scenario's world in real time, with Linux network
// namespaces attached to some of its hosts through TUN devices.
#include "bridge.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "natsim/base/input_error.hpp"
#include "natsim/base/time.hpp"
#include "natsim/io/realtime_driver.hpp"
#include "natsim/io/tun_port.hpp"
#include "natsim/scenarios/batch.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/world.hpp"

extern char** environ;

namespace natsim::tools {

namespace {

using nlohmann::json;

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Spawn attributes for every child: SIGPIPE back to its default (natsim ignores it, and
// an ignored signal would stay ignored across exec), and with `own_group` a process group
// of its own, so the terminal's Ctrl-C does not kill an `ip netns delete` half-way.
class SpawnAttr {
 public:
  explicit SpawnAttr(bool own_group) {
    posix_spawnattr_init(&attr_);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr_, &def);
    short flags = POSIX_SPAWN_SETSIGDEF;
    if (own_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      posix_spawnattr_setpgroup(&attr_, 0);
    }
    posix_spawnattr_setflags(&attr_, flags);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  [[nodiscard]] const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Ends `pid`: SIGTERM, up to `grace` for it to exit, then SIGKILL (which it cannot
// ignore). Returns its wait status.
int terminate_child(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(3)) {
  (void)::kill(pid, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return status;
    ::usleep(10000);
  }
  (void)::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Runs `ip ARGS...` and waits for it; throws if it does not exit 0. Every call names a
// namespace this command created (`ip -n NS ...`, `ip netns add/delete NS`): nothing here
// touches the host's own interfaces.
int run_ip(const std::vector<std::string>& args, bool quiet = false) {
  std::vector<char*> argv;
  std::string ip = "ip";
  argv.push_back(ip.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const SpawnAttr attr(true);
  const int rc = posix_spawnp(&pid, "ip", &actions, attr.get(), argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    fail_errno("cannot run 'ip' (iproute2)");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ip_or_throw(const std::vector<std::string>& args) {
  if (run_ip(args) != 0) {
    std::string line = "ip";
    for (const std::string& a : args)
      line += " " + a;
    throw std::runtime_error("'" + line + "' failed");
  }
}

// The namespaces this command created; it deletes them (and only them) when it ends.
class Namespaces {
 public:
  Namespaces() {
    self_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self_ < 0) fail_errno("cannot open this process's network namespace");
  }
  Namespaces(const Namespaces&) = delete;
  Namespaces& operator=(const Namespaces&) = delete;
  ~Namespaces() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
      (void)run_ip({"netns", "delete", *it});
    if (self_ >= 0) ::close(self_);
  }

  [[nodiscard]] const std::vector<std::string>& created() const { return created_; }

  // A new namespace; one that exists already is someone else's and is never reused.
  void create(const std::string& name) {
    struct stat st {};
    if (::stat(("/run/netns/" + name).c_str(), &st) == 0) {
      throw InputError("", "network namespace '" + name +
                               "' exists already; natsim bridge only uses namespaces it "
                               "creates (remove it with 'ip netns delete " +
                               name + "', or choose another --netns-prefix)");
    }
    ip_or_throw({"netns", "add", name});
    created_.push_back(name);
  }

  // Opens a TUN device named `ifname` from inside namespace `name` (the device lives
  // there; the descriptor keeps working from here), and with `no_ipv6` turns IPv6 off
  // there first so the kernel sends no neighbour discovery through it.
  int open_tun(const std::string& name, const char* ifname, bool no_ipv6) {
    const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) fail_errno("cannot open namespace " + name);
    if (::setns(target, CLONE_NEWNET) != 0) {
      ::close(target);
      fail_errno("cannot enter namespace " + name);
    }
    ::close(target);
    int fd = -1;
    int saved = 0;
    if (no_ipv6) {
      // /proc/sys/net shows the namespace of the thread that opens it.
      for (const char* f : {"/proc/sys/net/ipv6/conf/all/disable_ipv6",
                            "/proc/sys/net/ipv6/conf/default/disable_ipv6"}) {
        const int s = ::open(f, O_WRONLY | O_CLOEXEC);
        if (s >= 0) {
          (void)!::write(s, "1", 1);
          ::close(s);
        }
      }
    }
    fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      ifreq ifr{};
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
      if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
        saved = errno;
        ::close(fd);
        fd = -1;
      }
    } else {
      saved = errno;
    }
    // Back home before anything else can fail.
    if (::setns(self_, CLONE_NEWNET) != 0) std::abort();  // cannot continue in the wrong one
    if (fd < 0) {
      errno = saved;
      fail_errno("cannot create a TUN device in " + name + " (is the tun module loaded?)");
    }
    return fd;
  }

 private:
  int self_ = -1;
  std::vector<std::string> created_;
};

struct Attached {
  std::string host;
  std::string ns;
  InterfaceAddress address;
  std::string where;  // "site home (symmetric)" or "server"
  sim::Host* node = nullptr;
  std::unique_ptr<io::TunPort> port;
};

// UDP echo servers answer as in `natsim run` (the bridge measures round trips with them).
void start_echo_servers(scenarios::World& w) {
  for (auto& [name, node] : w.servers) {
    if (node.spec->kind != scenarios::ServerKind::echo) continue;
    sim::UdpSocket* s = node.host->udp_bind(Endpoint{node.spec->address, node.spec->port}).value();
    s->on_receive([s](const sim::Datagram& d) { (void)s->send_to(d.from, d.payload); });
  }
}

std::string describe(const scenarios::World& w, const std::string& host) {
  for (const auto& [name, site] : w.sites) {
    for (const std::string& h : site.spec->hosts) {
      if (h == host) return "behind " + name;
    }
  }
  return "public host";
}

}  // namespace

CLI::App* add_bridge_command(CLI::App& app, BridgeOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "bridge",
      "Run a scenario's world in real time and attach Linux network namespaces to the hosts "
      "in its \"bridge\" section through TUN devices (root; docs/bridge.md)");
  cmd->add_option("file", o.file, "Scenario file with a \"bridge\" section")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--seed", o.seed, "Seed, 0 to 2^63-1 (default: the file's first)");
  cmd->add_option("--duration", o.duration,
                  "Run this long (e.g. 30s, 5m); default: the file's duration, else until a "
                  "signal");
  cmd->add_option("--netns-prefix", o.prefix,
                  "Name namespaces PREFIX-<host> (default: the file's bridge.prefix, else "
                  "natsim)");
  cmd->add_option("--pcap", o.pcap_dir, "Write pcaps of every gateway and server to DIR");
  cmd->add_option("--trace", o.trace_path, "Write the JSON Lines trace to FILE");
  cmd->add_option("--exec", o.exec_host,
                  "Once ready, run the command after -- in HOST's namespace and exit with its "
                  "status when it ends");
  cmd->add_option("command", o.command, "With --exec: the command and its arguments (after --)");
  cmd->add_flag("--json", o.json, "Print the final report as JSON on stdout");
  return cmd;
}

int run_bridge(const BridgeOptions& o) {
  std::vector<scenarios::Scenario> variants = scenarios::load_scenario_file(o.file);
  if (variants.size() != 1) {
    throw InputError(o.file, "has a matrix (" + std::to_string(variants.size()) +
                                 " variants); natsim bridge runs one world");
  }
  scenarios::Scenario scenario = std::move(variants.front());
  if (!scenario.bridge) {
    throw InputError(o.file,
                     "has no \"bridge\" section naming the hosts to attach "
                     "(e.g. \"bridge\": {\"attach\": [\"alice\"]})");
  }
  std::uint64_t seed = scenario.seeds.front();
  if (o.seed) {
    auto s = scenarios::parse_seed(*o.seed);
    if (!s) throw InputError("--seed", "expects an integer from 0 to 2^63-1");
    seed = *s;
  }
  std::optional<Duration> duration = scenario.duration;
  if (!o.duration.empty()) {
    duration = parse_duration(o.duration);
    if (!duration || *duration <= Duration::zero())
      throw InputError("--duration",
                       "expected a positive duration such as 30s, got '" + o.duration + "'");
  }
  const std::string prefix = o.prefix.empty() ? scenario.bridge->prefix : o.prefix;
  if (prefix.empty() || prefix.size() > 32 ||
      prefix.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    throw InputError("--netns-prefix", "expected 1 to 32 letters, digits, '_' or '-'");
  }
  bool exec_known = o.exec_host.empty();
  for (const std::string& h : scenario.bridge->attach)
    exec_known = exec_known || h == o.exec_host;
  if (!exec_known) throw InputError("--exec", "'" + o.exec_host + "' is not an attached host");
  if (!o.exec_host.empty() && o.command.empty())
    throw InputError("--exec", "give the command after --");
  if (o.exec_host.empty() && !o.command.empty())
    throw InputError("command", "a command needs --exec HOST");
  if (::geteuid() != 0) {
    std::fprintf(stderr,
                 "natsim bridge: needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create "
                 "network namespaces and TUN devices\n");
    return 2;
  }
  if (!scenario.timeline.empty() || !scenario.expectations.empty()) {
    std::fprintf(stderr,
                 "natsim bridge: note: the file's timeline and expectations are not played "
                 "in real time (natsim run plays them)\n");
  }

  scenarios::RunOptions run_options;
  run_options.pcap_dir = o.pcap_dir;
  run_options.trace_path = o.trace_path;
  if (!o.pcap_dir.empty()) ::mkdir(o.pcap_dir.c_str(), 0755);

  // `natsim bridge | head`: a closed stdout fails a write instead of killing natsim
  // before it deletes its namespaces.
  (void)std::signal(SIGPIPE, SIG_IGN);

  // Declaration order is teardown order reversed: the TUN ports (in `attached`) close
  // before the namespaces are deleted, and both go before the world they point into.
  boost::asio::io_context io;
  // Before any namespace exists, and destroyed after they are deleted: a signal during
  // setup or teardown (a second Ctrl-C) is queued here, never the default action that
  // would leave namespaces behind.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  scenarios::World world(scenario, seed, run_options);
  start_echo_servers(world);
  io::RealtimeDriver driver(io, world.net.sim());
  Namespaces namespaces;
  std::vector<Attached> attached;
  pid_t child = -1;
  int exit_code = 0;
  std::string stopped_by = "the duration";
  std::string command_status;  // how the --exec command ended, when the bridge ended it

  // A signal during setup is seen by io.run() at once, which then stops.
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    // A signal is the ordinary way to end an open-ended bridge: exit 0.
    stopped_by = std::string("signal ") + ::strsignal(signo);
    io.stop();
  });
  // From here every failure still deletes the namespaces made so far (destructors).
  for (const std::string& host : scenario.bridge->attach) {
    Attached a;
    a.host = host;
    a.ns = prefix + "-" + host;
    auto h = world.hosts.find(host);
    a.node = h != world.hosts.end() ? h->second : world.servers.at(host).host;
    a.address = a.node->interface(0).addresses.at(0);
    a.where = describe(world, host);
    namespaces.create(a.ns);
    const bool v4 = a.address.address.is_v4();
    const int fd = namespaces.open_tun(a.ns, "tun0", v4);
    a.port = std::make_unique<io::TunPort>(io, fd, *a.node, driver);
    ip_or_throw({"-n", a.ns, "link", "set", "lo", "up"});
    std::vector<std::string> add{"-n", a.ns, "addr", "add", a.address.to_string(), "dev", "tun0"};
    // IPv6: usable at once, without duplicate address detection (nothing else is there).
    if (!v4) add.emplace_back("nodad");
    ip_or_throw(add);
    ip_or_throw({"-n", a.ns, "link", "set", "tun0", "up"});
    // Everything leaves through the world: the simulated host's routes decide the rest.
    ip_or_throw({"-n", a.ns, v4 ? "-4" : "-6", "route", "replace", "default", "dev", "tun0"});
    attached.push_back(std::move(a));
  }

  boost::asio::steady_timer end(io);
  if (duration) {
    end.expires_after(*duration);
    end.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) io.stop();
    });
  }

  driver.start();
  for (Attached& a : attached)
    a.port->start();
  std::printf("natsim bridge: %s, seed %llu, real time%s\n", scenario.name.c_str(),
              static_cast<unsigned long long>(seed),
              duration ? (", for " + format_duration(*duration)).c_str() : ", until a signal");
  for (const Attached& a : attached) {
    std::printf("  %-12s %-20s %-16s %s\n", a.host.c_str(), a.address.to_string().c_str(),
                a.ns.c_str(), a.where.c_str());
    std::printf("    ip netns exec %s COMMAND\n", a.ns.c_str());
  }
  std::printf("ready\n");
  std::fflush(stdout);

  boost::asio::signal_set children(io, SIGCHLD);
  const auto started = std::chrono::steady_clock::now();
  if (!o.exec_host.empty()) {
    std::function<void()> wait_child = [&] {
      children.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        int status = 0;
        if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) {
          child = -1;
          exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          stopped_by = "the command's exit (status " + std::to_string(exit_code) + ")";
          io.stop();
          return;
        }
        wait_child();
      });
    };
    wait_child();
    std::vector<std::string> args{"ip", "netns", "exec", prefix + "-" + o.exec_host};
    args.insert(args.end(), o.command.begin(), o.command.end());
    std::vector<char*> argv;
    for (std::string& s : args)
      argv.push_back(s.data());
    argv.push_back(nullptr);
    // In the terminal's process group (it may be interactive): Ctrl-C reaches it too.
    const SpawnAttr attr(false);
    if (::posix_spawnp(&child, "ip", nullptr, attr.get(), argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start the --exec command");
    }
  }

  try {
    io.run();
  } catch (...) {
    if (child > 0) (void)terminate_child(child);
    throw;
  }
  const auto wall = std::chrono::steady_clock::now() - started;
  driver.catch_up();  // the simulator's clock up to now, for the report
  driver.stop();
  for (Attached& a : attached)
    a.port->close();
  if (child > 0) {
    // The duration or a signal ended the run while the command ran: the bridge exits 0
    // (it ran as long as asked) and reports how the command ended.
    command_status = describe_status(terminate_child(child));
    child = -1;
  }

  json report;
  report["scenario"] = scenario.name;
  report["seed"] = seed;
  report["stopped_by"] = stopped_by;
  if (!command_status.empty()) report["command_stopped"] = command_status;
  report["wall_ms"] = std::chrono::duration<double, std::milli>(wall).count();
  report["virtual_ms"] =
      std::chrono::duration<double, std::milli>(world.net.now().time_since_epoch()).count();
  report["timer_wakeups"] = driver.wakeups();
  report["max_timer_lateness_us"] =
      std::chrono::duration<double, std::micro>(driver.max_lateness()).count();
  for (const Attached& a : attached) {
    const io::TunCounters& c = a.port->counters();
    json& j = report["attached"][a.host];
    j["namespace"] = a.ns;
    j["address"] = a.address.to_string();
    j["from_tun"] = c.from_tun;
    j["to_tun"] = c.to_tun;
    j["bytes_from_tun"] = c.bytes_from_tun;
    j["bytes_to_tun"] = c.bytes_to_tun;
    j["malformed"] = c.malformed;
    j["unsupported"] = c.unsupported;
    j["foreign_source"] = c.foreign_source;
    j["write_dropped"] = c.write_dropped;
    j["read_failed"] = c.read_failed;
  }
  report["counters"] = scenarios::counters_report(world);
  world.net.trace().close_log();
  for (auto& c : world.captures)
    c->close();
  if (o.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf(
        "stopped by %s after %.1f s (virtual %.1f s); %llu timer wake-ups, the latest "
        "%.0f us late\n",
        stopped_by.c_str(), report["wall_ms"].get<double>() / 1000,
        report["virtual_ms"].get<double>() / 1000,
        static_cast<unsigned long long>(driver.wakeups()),
        report["max_timer_lateness_us"].get<double>());
    if (!command_status.empty())
      std::printf("  the --exec command was still running; stopped: %s\n", command_status.c_str());
    for (const Attached& a : attached) {
      const io::TunCounters& c = a.port->counters();
      std::printf(
          "  %-12s from tun %llu, to tun %llu, dropped: %llu unsupported, %llu "
          "malformed, %llu foreign source, %llu write\n",
          a.host.c_str(), static_cast<unsigned long long>(c.from_tun),
          static_cast<unsigned long long>(c.to_tun), static_cast<unsigned long long>(c.unsupported),
          static_cast<unsigned long long>(c.malformed),
          static_cast<unsigned long long>(c.foreign_source),
          static_cast<unsigned long long>(c.write_dropped));
    }
  }
  std::fflush(stdout);
  return exit_code;
}

}  // namespace natsim::tools
