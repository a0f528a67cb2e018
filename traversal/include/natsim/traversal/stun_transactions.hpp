#pragma once
// STUN client transactions (RFC 8489 §6.2): transaction IDs, the retransmission timer and
// response matching, in one component that every client machine (STUN, TURN, ICE) uses.
// The machine keeps what a transaction means in `Context`; the table keeps the request
// bytes, when to send them again, and when to give up.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "natsim/base/random.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/stun_constants.hpp"

namespace natsim::traversal::stun {

// RFC 8489 §6.2.1: RTO starts at 500 ms and doubles; Rc requests in all; after the last
// one the client waits Rm × RTO (the initial RTO) before giving up.
struct RetransmitPolicy {
  Duration rto = milliseconds(500);
  int rc = 7;
  int rm = 16;
  // RFC 8489 §6.2.2: over a reliable transport a request is sent once and fails after Ti.
  Duration ti = milliseconds(39500);
};

// RFC 8489 §5: 96 random bits. Written byte by byte from the seeded stream, so the same
// seed gives the same bytes on the wire on every CPU.
[[nodiscard]] inline TransactionId random_transaction_id(Rng& rng) {
  TransactionId id{};
  const std::uint64_t words[2] = {rng(), rng()};
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(words[i / 8] >> (56 - 8 * (i % 8)));
  return id;
}

struct TransactionCounters {
  std::uint64_t requests = 0;  // transactions started
  std::uint64_t retransmissions = 0;
  std::uint64_t timeouts = 0;
};

template <class Context>
class TransactionTable {
 public:
  struct Transaction {
    TransactionId id{};
    Endpoint local;   // sent from
    Endpoint remote;  // sent to
    Transport transport = Transport::udp;
    std::vector<std::uint8_t> request;
    TimePoint last_sent{};
    TimePoint deadline{};
    Duration initial_rto{};  // RFC 8489 §6.2.1: the first interval; Rm counts in it
    Duration rto{};
    int sent = 0;
    // Cancelled (RFC 8445 §7.3.1.4): no more retransmissions; responses still match until
    // it would have timed out, and its expiry is no failure for the caller to act on.
    bool cancelled = false;
    Context context{};
  };

  explicit TransactionTable(RetransmitPolicy policy = {}) : policy_(policy) {}

  [[nodiscard]] const RetransmitPolicy& policy() const { return policy_; }
  void set_policy(const RetransmitPolicy& policy) { policy_ = policy; }

  // Sends `request` (whose header carries `id`) and keeps it for retransmission.
  Transaction& start(TimePoint now, const TransactionId& id, const Endpoint& local,
                     const Endpoint& remote, Transport transport, ByteView request, Context context,
                     TransmitQueue& out) {
    return start(now, id, local, remote, transport, request, std::move(context), out, policy_.rto);
  }
  // The same with this transaction's own initial RTO (RFC 8445 §14.3 derives it from the
  // checklist); the policy's Rc and Rm still apply.
  Transaction& start(TimePoint now, const TransactionId& id, const Endpoint& local,
                     const Endpoint& remote, Transport transport, ByteView request, Context context,
                     TransmitQueue& out, Duration initial_rto) {
    Transaction& t = items_.emplace_back();
    t.id = id;
    t.local = local;
    t.remote = remote;
    t.transport = transport;
    t.request.assign(request.begin(), request.end());
    t.initial_rto = initial_rto;
    t.rto = initial_rto;
    t.context = std::move(context);
    ++counters_.requests;
    transmit(t, now, out);
    return t;
  }

  [[nodiscard]] Transaction* find(const TransactionId& id) {
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const Transaction& t) { return t.id == id; });
    return it == items_.end() ? nullptr : &*it;
  }
  [[nodiscard]] bool contains(const TransactionId& id) const {
    return std::any_of(items_.begin(), items_.end(),
                       [&](const Transaction& t) { return t.id == id; });
  }
  // Removes the transaction (answered, or abandoned) and hands it back.
  std::optional<Transaction> take(const TransactionId& id) {
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const Transaction& t) { return t.id == id; });
    if (it == items_.end()) return std::nullopt;
    Transaction t = std::move(*it);
    items_.erase(it);
    return t;
  }
  bool erase(const TransactionId& id) { return take(id).has_value(); }
  // Stops retransmitting the transaction but keeps matching its responses until the
  // instant its last retransmission would have timed out.
  void cancel(Transaction& t) {
    if (t.cancelled) return;
    t.cancelled = true;
    if (t.transport == Transport::tcp) return;  // sent once: its deadline is already final
    // Walk the remaining schedule: the doubled intervals, then Rm × the initial RTO.
    TimePoint end = t.deadline;
    Duration rto = t.rto;
    for (int sent = t.sent; sent < policy_.rc; ++sent) {
      end += sent + 1 >= policy_.rc ? t.initial_rto * policy_.rm : rto;
      rto *= 2;
    }
    t.deadline = end;
  }
  void clear() { items_.clear(); }

  // Retransmits every transaction whose timer fired and that has tries left.
  void retransmit_due(TimePoint now, TransmitQueue& out) {
    for (Transaction& t : items_) {
      if (t.deadline <= now && !t.cancelled && !exhausted(t)) transmit(t, now, out);
    }
  }
  // The oldest transaction that has run out of time, removed; call until nullopt. The
  // caller may start or clear transactions between calls.
  std::optional<Transaction> pop_expired(TimePoint now) {
    auto it = std::find_if(items_.begin(), items_.end(), [&](const Transaction& t) {
      return t.deadline <= now && (t.cancelled || exhausted(t));
    });
    if (it == items_.end()) return std::nullopt;
    Transaction t = std::move(*it);
    items_.erase(it);
    ++counters_.timeouts;
    return t;
  }

  [[nodiscard]] std::optional<TimePoint> next_deadline() const {
    std::optional<TimePoint> earliest;
    for (const Transaction& t : items_) {
      if (!earliest || t.deadline < *earliest) earliest = t.deadline;
    }
    return earliest;
  }

  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] auto begin() { return items_.begin(); }
  [[nodiscard]] auto end() { return items_.end(); }
  [[nodiscard]] auto begin() const { return items_.begin(); }
  [[nodiscard]] auto end() const { return items_.end(); }
  [[nodiscard]] const TransactionCounters& counters() const { return counters_; }

 private:
  [[nodiscard]] bool exhausted(const Transaction& t) const {
    return t.transport == Transport::tcp || t.sent >= policy_.rc;
  }
  void transmit(Transaction& t, TimePoint now, TransmitQueue& out) {
    if (!t.request.empty()) out.push(t.local, t.remote, t.request, t.transport);
    if (t.sent > 0) ++counters_.retransmissions;
    ++t.sent;
    t.last_sent = now;
    if (t.transport == Transport::tcp) {
      t.deadline = now + policy_.ti;  // RFC 8489 §6.2.2: sent once, fails after Ti
      return;
    }
    // RFC 8489 §6.2.1: after the Rc-th request wait Rm × RTO; otherwise the doubled RTO.
    t.deadline = t.sent >= policy_.rc ? now + t.initial_rto * policy_.rm : now + t.rto;
    t.rto *= 2;
  }

  RetransmitPolicy policy_;
  std::vector<Transaction> items_;
  TransactionCounters counters_;
};

}  // namespace natsim::traversal::stun
