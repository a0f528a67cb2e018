#pragma once
// Bounds on what a scenario file and one run may ask for, so hostile or mistaken input
// gets exit 2 and a message instead of a signal, a hang or gigabytes. Every limit is
// documented in docs/scenario-format.md ("Limits"); change both together.
#include <cstddef>
#include <cstdint>

#include "natsim/base/time.hpp"

namespace natsim::scenarios::limits {

// Reading a file.
inline constexpr std::size_t kMaxFileBytes = 4u << 20;  // checked before reading it
inline constexpr int kMaxDepth = 64;                    // nested objects and arrays
// A command keeps every file it runs parsed: their sizes together are bounded too.
inline constexpr std::uint64_t kMaxCommandBytes = std::uint64_t{64} << 20;

// Expansion: variants of one file's matrix, and runs (variants x seeds) of one file.
inline constexpr std::size_t kMaxVariants = 10'000;
inline constexpr std::size_t kMaxRuns = 1'000'000;
// Each variant is a copy of the document: variants x file size is bounded too (a 400 KB
// file may have 10 000 variants, a 4 MiB one 1024), so checking a file stays quick.
inline constexpr std::uint64_t kMaxExpandedBytes = std::uint64_t{4} << 30;

// Seeds: one range everywhere (files and --seed), 0 to 2^63-1, so a seed survives every
// JSON reader and the signed integers of other tools unchanged.
inline constexpr std::uint64_t kMaxSeed = 0x7fff'ffff'ffff'ffffULL;

// Topology.
// `natsim bridge`: namespaces one command creates (each a TUN device and a file descriptor).
inline constexpr std::size_t kMaxBridgeHosts = 16;
inline constexpr std::size_t kMaxHostsPerSite = 250;   // a /24 LAN less the gateway
inline constexpr std::size_t kMaxNodes = 4'096;        // hosts, sites and servers together
inline constexpr std::size_t kMaxRelayPorts = 65'536;  // TURN relay sockets, all servers
inline constexpr std::size_t kMinMtu = 68;             // RFC 791
inline constexpr std::size_t kMaxMtu = 65'535;
inline constexpr double kMaxDuplicate = 0.25;  // a link's duplication probability

// Timeline: what one run may schedule.
inline constexpr std::size_t kMaxActions = 10'000;
inline constexpr std::int64_t kMaxSendCount = 100'000;  // datagrams of one send/relay
// Every datagram of a send is scheduled when it starts, its payload copied (about 1.5 KB
// each at the largest size), and links may copy datagrams: 100 000 keep the worst run
// within about 200 MB and a few seconds.
inline constexpr std::int64_t kMaxSendsPerRun = 100'000;    // all sends and relays together
inline constexpr std::int64_t kMaxSendsPerInstant = 1'000;  // one action at interval 0
inline constexpr Duration kMaxDuration = hours(24 * 30);    // simulated time of one run

}  // namespace natsim::scenarios::limits
