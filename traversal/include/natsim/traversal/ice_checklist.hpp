#pragma once
// The ICE checklist (RFC 8445 §6.1.2): candidate pairs ordered by priority, their states
// (§6.1.2.6: Frozen, Waiting, In-Progress, Succeeded, Failed), the initial unfreezing, the
// triggered-check queue and the choice of the next check (§6.1.4.2). It knows pairs by
// the indices of their candidates in the agent's lists; it sends nothing.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/time.hpp"
#include "natsim/traversal/ice_candidate.hpp"

namespace natsim::traversal::ice {

enum class PairState : std::uint8_t { frozen, waiting, in_progress, succeeded, failed };
[[nodiscard]] std::string_view to_string(PairState s);

struct CandidatePair {
  std::size_t local = 0;   // index of the local candidate (host or relay: a base)
  std::size_t remote = 0;  // index of the remote candidate
  Endpoint local_base;     // where checks leave from
  Endpoint remote_address;
  std::uint32_t local_priority = 0;
  std::uint32_t remote_priority = 0;
  std::string foundation;  // RFC 8445 §6.1.2.6: local and remote foundations joined
  std::uint64_t priority = 0;
  PairState state = PairState::frozen;
  // RFC 8445 §7.2.5.3.2: the local candidate whose address the success response mapped
  // (the valid pair is that candidate with `remote`); set once succeeded.
  std::optional<std::size_t> valid_local;
  bool nominated = false;
  bool use_candidate_seen = false;  // controlled: USE-CANDIDATE arrived (§7.3.1.5)
  int in_flight = 0;                // check transactions outstanding (not cancelled)
  TimePoint last_check{};           // when its latest check transaction started
  Duration last_rto{};              // that transaction's initial RTO (prefer_direct)
  std::optional<Duration> rtt;      // of the check that made it valid (nomination)
  // Success unlikely on what the candidates tell (the agent's judgement, see
  // Agent::mark_unlikely): checked after the other Waiting pairs, and it does not hold
  // nomination unless the peer's check came through on it.
  bool unlikely = false;
};

class Checklist {
 public:
  // RFC 8445 §6.1.2.5: the default limit on the number of pairs.
  static constexpr std::size_t kDefaultMaxPairs = 100;

  explicit Checklist(std::size_t max_pairs = kDefaultMaxPairs) : max_pairs_(max_pairs) {}

  // Adds a pair (Frozen), unless one with the same local base and remote address exists
  // (§6.1.2.4: the redundant pair of lower priority goes) or the list is full. Returns the
  // index of the pair now standing for (base, remote address), or nullopt.
  std::optional<std::size_t> add(std::size_t local, const Candidate& l, std::size_t remote,
                                 const Candidate& r, bool controlling);
  [[nodiscard]] std::optional<std::size_t> find(const Endpoint& local_base,
                                                const Endpoint& remote_address) const;
  // RFC 8445 §7.3.1.1: after a role change every pair priority is computed again.
  void set_role(bool controlling);

  // RFC 8445 §6.1.2.6: for each foundation, the pair of highest priority goes Waiting.
  void unfreeze_initial();
  // RFC 8445 §7.3.1.4: the pair goes Waiting (unless Succeeded; an In-Progress check is
  // replaced, the caller cancels its transaction) and is queued for a triggered check.
  void trigger(std::size_t pair);
  // RFC 8445 §6.1.4.2: the next pair to check — the first queued triggered check, else the
  // highest-priority Waiting pair (those marked unlikely after the others), else (after unfreezing,
  // for each foundation with nothing Waiting or In-Progress, its Frozen pairs) the highest Waiting
  // one. Pairs for which `ready` is false are skipped (a relayed pair awaiting its TURN
  // permission). The pair returned is In-Progress.
  std::optional<std::size_t> next(const std::function<bool(const CandidatePair&)>& ready);
  // RFC 8445 §7.2.5.3.3: Succeeded, and the Frozen pairs of its foundation go Waiting.
  void succeed(std::size_t pair, std::size_t valid_local);
  void fail(std::size_t pair);

  // Nothing Frozen, Waiting or In-Progress and no triggered check queued.
  [[nodiscard]] bool finished() const;
  [[nodiscard]] bool has_waiting_work() const;
  // Queued for a triggered check.
  [[nodiscard]] bool queued(std::size_t pair) const;
  // RFC 8445 §14.3: Num-Waiting + Num-In-Progress.
  [[nodiscard]] std::size_t active() const;
  // The Succeeded pair of highest priority.
  [[nodiscard]] std::optional<std::size_t> best_valid() const;
  // Whether some pair of higher priority than `priority` may still succeed.
  [[nodiscard]] bool better_pending(std::uint64_t priority) const;
  // RFC 8838 §11: a signalled candidate with the address of a peer-reflexive one replaces
  // its priority and foundation in the pairs it is in (states kept, priorities recomputed).
  void update_remote(std::size_t remote, const Candidate& r, const std::vector<Candidate>& local);

  [[nodiscard]] const std::vector<CandidatePair>& pairs() const { return pairs_; }
  [[nodiscard]] CandidatePair& operator[](std::size_t i) { return pairs_[i]; }
  [[nodiscard]] const CandidatePair& operator[](std::size_t i) const { return pairs_[i]; }
  [[nodiscard]] std::size_t size() const { return pairs_.size(); }
  [[nodiscard]] std::size_t triggered() const { return triggered_.size(); }
  // Indices sorted by priority, highest first (§6.1.2.3 ordering).
  [[nodiscard]] std::vector<std::size_t> ordered() const;

 private:
  std::vector<CandidatePair> pairs_;  // in the order added; indices are stable
  std::deque<std::size_t> triggered_;
  std::size_t max_pairs_;
  bool controlling_ = true;
};

}  // namespace natsim::traversal::ice
