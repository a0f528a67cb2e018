#include "natsim/traversal/ice_checklist.hpp"

#include <algorithm>

namespace natsim::traversal::ice {

std::string_view to_string(PairState s) {
  switch (s) {
    case PairState::frozen:
      return "frozen";
    case PairState::waiting:
      return "waiting";
    case PairState::in_progress:
      return "in-progress";
    case PairState::succeeded:
      return "succeeded";
    case PairState::failed:
      return "failed";
  }
  return "?";
}

namespace {

std::uint64_t priority_of(const CandidatePair& p, bool controlling) {
  return controlling ? pair_priority(p.local_priority, p.remote_priority)
                     : pair_priority(p.remote_priority, p.local_priority);
}

}  // namespace

std::optional<std::size_t> Checklist::find(const Endpoint& local_base,
                                           const Endpoint& remote_address) const {
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    if (pairs_[i].local_base == local_base && pairs_[i].remote_address == remote_address) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> Checklist::add(std::size_t local, const Candidate& l, std::size_t remote,
                                          const Candidate& r, bool controlling) {
  controlling_ = controlling;
  // RFC 8445 §6.1.2.2: only candidates of the same address family pair up.
  if (l.base.address.family() != r.address.address.family()) return std::nullopt;
  CandidatePair p;
  p.local = local;
  p.remote = remote;
  p.local_base = l.base;
  p.remote_address = r.address;
  p.local_priority = l.priority;
  p.remote_priority = r.priority;
  p.foundation = l.foundation + ":" + r.foundation;
  p.priority = priority_of(p, controlling);
  if (auto existing = find(p.local_base, p.remote_address)) {
    // RFC 8445 §6.1.2.4: of two redundant pairs keep the one of higher priority.
    CandidatePair& e = pairs_[*existing];
    if (p.priority > e.priority && e.state == PairState::frozen) {
      e.local = p.local;
      e.remote = p.remote;
      e.local_priority = p.local_priority;
      e.remote_priority = p.remote_priority;
      e.foundation = p.foundation;
      e.priority = p.priority;
    }
    return existing;
  }
  if (pairs_.size() >= max_pairs_) return std::nullopt;  // §6.1.2.5
  pairs_.push_back(std::move(p));
  return pairs_.size() - 1;
}

void Checklist::set_role(bool controlling) {
  controlling_ = controlling;
  for (CandidatePair& p : pairs_)
    p.priority = priority_of(p, controlling);
}

std::vector<std::size_t> Checklist::ordered() const {
  std::vector<std::size_t> order(pairs_.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    return pairs_[a].priority > pairs_[b].priority;
  });
  return order;
}

void Checklist::unfreeze_initial() {
  for (std::size_t i : ordered()) {
    CandidatePair& p = pairs_[i];
    if (p.state != PairState::frozen) continue;
    const bool taken = std::any_of(pairs_.begin(), pairs_.end(), [&](const CandidatePair& o) {
      return o.foundation == p.foundation && o.state != PairState::frozen;
    });
    if (!taken) p.state = PairState::waiting;
  }
}

void Checklist::trigger(std::size_t pair) {
  CandidatePair& p = pairs_[pair];
  if (p.state == PairState::succeeded) return;
  p.state = PairState::waiting;
  if (std::find(triggered_.begin(), triggered_.end(), pair) == triggered_.end()) {
    triggered_.push_back(pair);
  }
}

std::optional<std::size_t> Checklist::next(const std::function<bool(const CandidatePair&)>& ready) {
  for (auto it = triggered_.begin(); it != triggered_.end(); ++it) {
    CandidatePair& p = pairs_[*it];
    if (p.state == PairState::succeeded) continue;  // dropped below
    if (!ready(p)) continue;
    const std::size_t i = *it;
    triggered_.erase(it);
    p.state = PairState::in_progress;
    return i;
  }
  std::erase_if(triggered_,
                [this](std::size_t i) { return pairs_[i].state == PairState::succeeded; });
  auto pick = [&]() -> std::optional<std::size_t> {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < pairs_.size(); ++i) {
      const CandidatePair& p = pairs_[i];
      if (p.state != PairState::waiting || !ready(p)) continue;
      if (!best) {
        best = i;
        continue;
      }
      const CandidatePair& b = pairs_[*best];
      if (p.unlikely != b.unlikely ? !p.unlikely : p.priority > b.priority) best = i;
    }
    return best;
  };
  auto best = pick();
  if (!best) {
    // RFC 8445 §6.1.4.2: unfreeze the Frozen pairs of foundations with nothing Waiting
    // or In-Progress.
    for (CandidatePair& p : pairs_) {
      if (p.state != PairState::frozen) continue;
      const bool busy = std::any_of(pairs_.begin(), pairs_.end(), [&](const CandidatePair& o) {
        return o.foundation == p.foundation &&
               (o.state == PairState::waiting || o.state == PairState::in_progress);
      });
      if (!busy) p.state = PairState::waiting;
    }
    best = pick();
  }
  if (best) pairs_[*best].state = PairState::in_progress;
  return best;
}

void Checklist::succeed(std::size_t pair, std::size_t valid_local) {
  CandidatePair& p = pairs_[pair];
  p.state = PairState::succeeded;
  p.valid_local = valid_local;
  for (CandidatePair& o : pairs_) {
    if (o.state == PairState::frozen && o.foundation == p.foundation) o.state = PairState::waiting;
  }
}

void Checklist::fail(std::size_t pair) {
  pairs_[pair].state = PairState::failed;
}

bool Checklist::finished() const {
  return triggered_.empty() && std::none_of(pairs_.begin(), pairs_.end(), [](const auto& p) {
           return p.state == PairState::frozen || p.state == PairState::waiting ||
                  p.state == PairState::in_progress;
         });
}

bool Checklist::has_waiting_work() const {
  return !triggered_.empty() || std::any_of(pairs_.begin(), pairs_.end(), [](const auto& p) {
    return p.state == PairState::frozen || p.state == PairState::waiting;
  });
}

bool Checklist::queued(std::size_t pair) const {
  return std::find(triggered_.begin(), triggered_.end(), pair) != triggered_.end();
}

std::size_t Checklist::active() const {
  return static_cast<std::size_t>(std::count_if(pairs_.begin(), pairs_.end(), [](const auto& p) {
    return p.state == PairState::waiting || p.state == PairState::in_progress;
  }));
}

std::optional<std::size_t> Checklist::best_valid() const {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    if (pairs_[i].state != PairState::succeeded) continue;
    if (!best || pairs_[i].priority > pairs_[*best].priority) best = i;
  }
  return best;
}

bool Checklist::better_pending(std::uint64_t priority) const {
  return std::any_of(pairs_.begin(), pairs_.end(), [&](const CandidatePair& p) {
    return p.priority > priority &&
           (p.state == PairState::frozen || p.state == PairState::waiting ||
            p.state == PairState::in_progress);
  });
}

void Checklist::update_remote(std::size_t remote, const Candidate& r,
                              const std::vector<Candidate>& local) {
  for (CandidatePair& p : pairs_) {
    if (p.remote != remote) continue;
    p.remote_priority = r.priority;
    p.foundation = local[p.local].foundation + ":" + r.foundation;
    p.priority = priority_of(p, controlling_);
  }
}

}  // namespace natsim::traversal::ice
