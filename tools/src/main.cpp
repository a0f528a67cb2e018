// natsim: the command-line entry point.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "bench_connect.hpp"
#include "bridge.hpp"
#include "connect.hpp"
#include "demo.hpp"
#include "list.hpp"
#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/batch.hpp"
#include "probe.hpp"
#include "probe_portmap.hpp"
#include "probe_turn.hpp"
#include "run.hpp"
#include "serve_gateway.hpp"
#include "serve_stun.hpp"
#include "serve_turn.hpp"

int main(int argc, char** argv) {
  CLI::App app{"natsim: a deterministic NAT-traversal test harness"};
  // One seed range everywhere (docs/scenario-format.md): CLI11 alone would take "-1" as
  // 2^64-1 for an unsigned option.
  const CLI::Validator kSeed(
      [](std::string& text) -> std::string {
        if (natsim::scenarios::parse_seed(text)) return {};
        return "expects an integer from 0 to " + std::to_string(natsim::scenarios::max_seed()) +
               ", got '" + text + "'";
      },
      "SEED");
  app.set_version_flag("--version", NATSIM_VERSION);
  app.require_subcommand(1);

  natsim::tools::DemoOptions demo;
  CLI::App* demo_cmd =
      app.add_subcommand("demo",
                         "Run a small built-in network (two routers, an impaired core) "
                         "and print what happened");
  demo_cmd->add_option("--seed", demo.seed, "Seed for every random choice, 0 to 2^63-1")
      ->check(kSeed)
      ->capture_default_str();
  demo_cmd->add_option("--pings", demo.pings, "Number of UDP echo requests")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  demo_cmd->add_option("--pcap", demo.pcap_path, "Write a pcap of the core link to FILE");
  demo_cmd->add_option("--trace", demo.trace_path, "Write a JSON Lines trace to FILE");

  CLI::App* list_cmd = app.add_subcommand("list", "List catalogues (presets, actions, metrics)");
  list_cmd->require_subcommand(1);
  bool list_json = false;
  CLI::App* presets_cmd = list_cmd->add_subcommand("presets", "NAT presets and their knobs");
  presets_cmd->add_flag("--json", list_json, "Machine-readable output");
  CLI::App* actions_cmd = list_cmd->add_subcommand("actions", "Scenario timeline actions");
  actions_cmd->add_flag("--json", list_json, "Machine-readable output");
  CLI::App* metrics_cmd =
      list_cmd->add_subcommand("metrics", "Counter metrics for scenario expectations");

  CLI::App* serve_cmd = app.add_subcommand("serve", "Run a server on real sockets");
  serve_cmd->require_subcommand(1);
  natsim::tools::ServeStunOptions serve;
  CLI::App* stun_cmd = serve_cmd->add_subcommand(
      "stun",
      "STUN Binding server (RFC 8489; RFC 5780 with --alternate; answers RFC 3489 "
      "clients) until SIGINT/SIGTERM");
  stun_cmd->add_option("--listen", serve.listen, "Primary endpoint IP:PORT")->required();
  stun_cmd->add_option("--alternate", serve.alternate,
                       "Alternate endpoint IP:PORT (another address and port): enables RFC 5780 "
                       "and binds all four address/port combinations");
  stun_cmd->add_option("--software", serve.software, "SOFTWARE attribute (empty: none)")
      ->capture_default_str();
  stun_cmd->add_flag("--json-log", serve.json_log,
                     "Log every datagram and the final counters as JSON Lines on stderr");

  natsim::tools::ServeTurnOptions serve_turn;
  CLI::App* turn_cmd = serve_cmd->add_subcommand(
      "turn",
      "TURN server (RFC 8656 over UDP and TCP, long-term credentials) until SIGINT/SIGTERM");
  turn_cmd->add_option("--listen", serve_turn.listen, "Listening endpoint IP:PORT (UDP and TCP)")
      ->required();
  turn_cmd->add_option("--user", serve_turn.users, "NAME:PASSWORD (repeat for more users)")
      ->required();
  turn_cmd->add_option("--realm", serve_turn.realm, "REALM for long-term credentials")->required();
  turn_cmd->add_option("--relay-ip", serve_turn.relay_ip,
                       "Address of the relayed transport addresses (default: --listen's)");
  turn_cmd
      ->add_option("--relay-ports", serve_turn.relay_ports,
                   "Relay port range FIRST:COUNT, all bound at start")
      ->capture_default_str();
  turn_cmd->add_flag("--allow-loopback-peers", serve_turn.allow_loopback_peers,
                     "Allow relaying to 127.0.0.0/8 and ::1 (private ranges stay denied)");
  turn_cmd->add_flag("--rfc5766-channels", serve_turn.rfc5766_channels,
                     "Accept RFC 5766 channel numbers 0x4000-0x7FFF (RFC 8656: 0x4000-0x4FFF), "
                     "as older clients such as coturn's turnutils_uclient pick them");
  turn_cmd
      ->add_option("--max-allocations-per-user", serve_turn.max_allocations_per_user,
                   "Allocation quota per user (486 beyond it)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  turn_cmd->add_option("--software", serve_turn.software, "SOFTWARE attribute (empty: none)")
      ->capture_default_str();
  turn_cmd->add_flag(
      "--no-tcp", [&serve_turn](std::int64_t) { serve_turn.tcp = false; },
      "Do not accept TURN over TCP");
  turn_cmd->add_flag("--json-log", serve_turn.json_log,
                     "Log every datagram or TCP frame and the final counters as JSON Lines on "
                     "stderr");
  natsim::tools::add_serve_turn_limit_options(*turn_cmd, serve_turn);
  natsim::tools::ServeGatewayOptions serve_gateway;
  CLI::App* gateway_cmd = natsim::tools::add_serve_gateway(*serve_cmd, serve_gateway);

  natsim::tools::ProbeOptions probe;
  CLI::App* probe_cmd = app.add_subcommand(
      "probe", "Classify the NAT between here and an RFC 5780 STUN server (RFC 5780 section 4)");
  CLI::Option* stun_opt = probe_cmd->add_option("--stun", probe.stun, "STUN server IP:PORT");
  natsim::tools::ProbeTurnOptions probe_turn;
  CLI::Option* turn_opt = probe_cmd->add_option(
      "--turn", probe_turn.server,
      "Instead of --stun: test a TURN server IP:PORT: allocate, relay to --peer, release");
  turn_opt->excludes(stun_opt);
  natsim::tools::ProbePortmapOptions probe_portmap;
  natsim::tools::add_probe_portmap_options(*probe_cmd, probe_portmap, {stun_opt, turn_opt});
  probe_cmd->add_flag("--tcp", probe_turn.tcp, "With --turn: talk to the server over TCP")
      ->needs(turn_opt);
  probe_cmd->add_option("--user", probe_turn.user, "With --turn: NAME:PASSWORD")->needs(turn_opt);
  probe_cmd->add_option("--realm", probe_turn.realm, "With --turn: the realm the server must use")
      ->needs(turn_opt);
  probe_cmd
      ->add_option("--peer", probe_turn.peer,
                   "With --turn: a UDP echo peer IP:PORT to relay to (Send indication and "
                   "ChannelData)")
      ->needs(turn_opt);
  probe_cmd
      ->add_option("--hold-ms", probe_turn.hold_ms,
                   "With --turn: keep the allocation this many ms (refreshing it) before the "
                   "channel test and release")
      ->check(CLI::Range(0, 86'400'000))
      ->needs(turn_opt);
  probe_cmd->add_option("--local", probe.local,
                        "Local IP:PORT to probe from (default: the address routed to the server, "
                        "any port)");
  probe_cmd
      ->add_option("--timeout-ms", probe.timeout_ms,
                   "Give up after this many ms (default 30000; 3600000 with --lifetime)")
      ->check(CLI::Range(1, 86'400'000));
  probe_cmd->add_flag("--json", probe.json, "Print a JSON object instead of a table");
  probe_cmd->add_flag("--lifetime", probe.lifetime,
                      "Also measure the binding lifetime with a second socket (behind a NAT "
                      "this takes minutes)");
  probe_cmd
      ->add_option("--lifetime-max", probe.lifetime_max,
                   "Longest idle time the lifetime search tries (e.g. 90s, 10m)")
      ->capture_default_str();
  probe_cmd
      ->add_option("--lifetime-precision", probe.lifetime_precision,
                   "The lifetime search stops when its bounds are this close (default 5s)")
      ->capture_default_str();
  probe_cmd->add_flag("--lifetime-reuse", probe.lifetime_reuse,
                      "Run every lifetime trial on the first socket's flow (default: a fresh "
                      "socket per trial, which measures a new flow's lifetime)");
  probe_cmd->add_option("--software", probe.software,
                        "SOFTWARE attribute in requests (default natsim; \"\": none, for RFC "
                        "3489 servers that reject it)");

  natsim::tools::ConnectOptions connect;
  CLI::App* connect_cmd = app.add_subcommand(
      "connect",
      "Connect to another ICE agent on real sockets (RFC 8445), exchanging descriptions "
      "through files or stdin/stdout; exit 0 connected, 1 failed, 2 bad input");
  natsim::tools::add_connect_options(*connect_cmd, connect);

  natsim::tools::RunCommand run;
  CLI::App* run_cmd =
      app.add_subcommand("run",
                         "Run scenario files in virtual time and check their expectations "
                         "(exit 0 all held, 1 one failed, 2 bad input)");
  run_cmd->add_option("files", run.files, "Scenario files")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--seed", run.seed,
                      "Run only this seed, 0 to 2^63-1 (replaces the files' seeds)");
  run_cmd->add_option("--variant", run.variant, "Run only this matrix variant (0-based)")
      ->check(CLI::Range(0, 9999));  // a file has at most 10000 variants
  run_cmd->add_flag("--json", run.json, "Print the report as JSON");
  run_cmd->add_option(
      "--pcap", run.pcap_dir,
      "Write pcaps of every gateway and server to DIR/<scenario>-v<variant>-s<seed>/");
  run_cmd->add_option(
      "--trace", run.trace_path,
      "Write the JSON Lines trace to FILE (FILE.<n> per run when there are several)");
  run_cmd->add_option("--jobs", run.jobs, "Runs in parallel (default: one per core)")
      ->check(CLI::Range(1, 1024));
  run_cmd->add_option(
      "--shard", run.shard,
      "Run only slice I of N (0-based, e.g. 3/8): for spreading sweeps over machines");
  run_cmd->add_flag("--quiet", run.quiet, "No progress on stderr");

  natsim::tools::BenchConnectCommand bench_connect;
  CLI::App* bench_connect_cmd = natsim::tools::add_bench_connect_command(app, bench_connect);

  natsim::tools::BridgeOptions bridge;
  CLI::App* bridge_cmd = natsim::tools::add_bridge_command(app, bridge);

  std::vector<std::string> validate_files;
  CLI::App* validate_cmd = app.add_subcommand(
      "validate", "Check scenario files without running them (exit 2 if one is bad)");
  validate_cmd->add_option("files", validate_files, "Scenario files")->required();

  std::vector<std::string> merge_files;
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "Merge JSON reports of 'natsim run --json' (e.g. from shards) into one");
  merge_cmd->add_option("reports", merge_files, "Report files")->required();

  // Before CLI11, which would only say "A subcommand is required": a word that is no
  // command is named, and plain `natsim` shows the help.
  if (argc < 2) {
    std::printf("%s", app.help().c_str());
    return 2;
  }
  const std::string first = argv[1];
  if (first.empty() || first[0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known = known || sub->get_name() == first;
    }
    if (!known) {
      std::fprintf(stderr, "natsim: unknown command '%s'; commands: %s (see natsim --help)\n",
                   first.c_str(), names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit 2
  }
  // The edge of the program: whatever a command did not turn into a message and an exit
  // code still gets both, never an abort.
  try {
    if (demo_cmd->parsed()) return natsim::tools::run_demo(demo);
    if (presets_cmd->parsed()) return natsim::tools::list_presets(list_json);
    if (actions_cmd->parsed()) return natsim::tools::list_actions(list_json);
    if (metrics_cmd->parsed()) return natsim::tools::list_metrics();
    if (stun_cmd->parsed()) return natsim::tools::serve_stun(serve);
    if (turn_cmd->parsed()) return natsim::tools::serve_turn(serve_turn);
    if (gateway_cmd->parsed()) return natsim::tools::serve_gateway(serve_gateway);
    if (probe_cmd->parsed() &&
        (!probe_portmap.pcp.empty() || !probe_portmap.natpmp.empty() || probe_portmap.upnp)) {
      probe_portmap.local = probe.local;
      probe_portmap.timeout_ms = probe.timeout_ms;
      probe_portmap.json = probe.json;
      return natsim::tools::run_probe_portmap(probe_portmap);
    }
    if (probe_cmd->parsed() && !probe_turn.server.empty()) {
      probe_turn.local = probe.local;
      probe_turn.timeout_ms = probe.timeout_ms;
      probe_turn.json = probe.json;
      return natsim::tools::run_probe_turn(probe_turn);
    }
    if (probe_cmd->parsed() && probe.stun.empty()) {
      std::fprintf(
          stderr,
          "natsim probe: --stun, --turn, --pcp, --natpmp or --upnp is required (see --help)\n");
      return 2;
    }
    if (probe_cmd->parsed()) return natsim::tools::run_probe(probe);
    if (connect_cmd->parsed()) return natsim::tools::run_connect(connect);
    if (run_cmd->parsed()) return natsim::tools::run_scenarios(run);
    if (bench_connect_cmd->parsed()) return natsim::tools::run_bench_connect(bench_connect);
    if (bridge_cmd->parsed()) return natsim::tools::run_bridge(bridge);
    if (validate_cmd->parsed()) return natsim::tools::validate_scenarios(validate_files);
    if (merge_cmd->parsed()) return natsim::tools::merge_reports(merge_files);
  } catch (const natsim::InputError& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "natsim: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "natsim: %s\n", e.what());
  }
  return 2;
}
