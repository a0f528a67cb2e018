// natsim: the command-line entry point.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "demo.hpp"
#include "list.hpp"

int main(int argc, char** argv) {
  CLI::App app{"natsim: a deterministic NAT-traversal test harness"};
  app.set_version_flag("--version", NATSIM_VERSION);
  app.require_subcommand(1);

  natsim::tools::DemoOptions demo;
  CLI::App* demo_cmd =
      app.add_subcommand("demo", "Run a small built-in network (two routers, an impaired core) "
                                 "and print what happened");
  demo_cmd->add_option("--seed", demo.seed, "Seed for every random choice")->capture_default_str();
  demo_cmd->add_option("--pings", demo.pings, "Number of UDP echo requests")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  demo_cmd->add_option("--pcap", demo.pcap_path, "Write a pcap of the core link to FILE");
  demo_cmd->add_option("--trace", demo.trace_path, "Write a JSON Lines trace to FILE");

  CLI::App* list_cmd = app.add_subcommand("list", "List catalogues (presets)");
  list_cmd->require_subcommand(1);
  bool list_json = false;
  CLI::App* presets_cmd = list_cmd->add_subcommand("presets", "NAT presets and their knobs");
  presets_cmd->add_flag("--json", list_json, "Machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit 2
  }
  if (demo_cmd->parsed()) return natsim::tools::run_demo(demo);
  if (presets_cmd->parsed()) return natsim::tools::list_presets(list_json);
  return 2;
}
