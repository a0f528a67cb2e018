#include "natsim/sim/link.hpp"

#include <algorithm>
#include <cassert>

#include "natsim/sim/network.hpp"
#include "natsim/sim/node.hpp"
#include "natsim/sim/pcap.hpp"

namespace natsim::sim {

Link::Link(Network& net, std::string name, const LinkParams& params)
    : net_(net), name_(std::move(name)), name_hash_(stable_hash(name_)), default_params_(params) {}

std::uint32_t Link::attach(Node& node, IfaceId iface) {
  const auto member = static_cast<std::uint32_t>(members_.size());
  // Most links join two nodes: one allocation, not one per member.
  if (members_.empty()) members_.reserve(2);
  // One random stream per direction, named after the link and the sender: the stream of
  // rng_for(name_ + ">" + node.name()), without building that string. stable_hash is
  // FNV-1a, so hashing the parts in turn from name_hash_ equals hashing the whole.
  std::uint64_t h = name_hash_;
  auto more = [&h](std::string_view part) {
    for (const char c : part)
      h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;  // FNV-1a 64 prime
  };
  more(">");
  more(node.name());
  std::uint64_t mix = net_.seed() ^ h;
  members_.push_back(Member{&node, iface, Channel{default_params_, Rng(splitmix64(mix))}});
  return member;
}

void Link::learn_address(std::uint32_t member, const IpAddress& address) {
  if (!neighbors_.empty()) {
    neighbors_.insert_or_assign(address, member);
    return;
  }
  for (auto& [known, owner] : few_neighbors_) {
    if (known == address) {
      owner = member;
      return;
    }
  }
  if (few_neighbors_.size() < kFewNeighbors) {
    few_neighbors_.emplace_back(address, member);
    return;
  }
  neighbors_.insert(few_neighbors_.begin(), few_neighbors_.end());
  neighbors_.insert_or_assign(address, member);
  few_neighbors_ = {};
}

void Link::forget_address(const IpAddress& address) {
  if (!neighbors_.empty()) {
    neighbors_.erase(address);
    return;
  }
  std::erase_if(few_neighbors_, [&](const auto& n) { return n.first == address; });
}

std::optional<std::uint32_t> Link::neighbor(const IpAddress& address) const {
  if (!neighbors_.empty()) {
    const auto it = neighbors_.find(address);
    if (it == neighbors_.end()) return std::nullopt;
    return it->second;
  }
  for (const auto& [known, owner] : few_neighbors_) {
    if (known == address) return owner;
  }
  return std::nullopt;
}

void Link::set_params(const LinkParams& params) {
  default_params_ = params;
  for (Member& m : members_)
    m.egress.params = params;
}

void Link::set_params_from(const Node& from, const LinkParams& params) {
  for (Member& m : members_) {
    if (m.node == &from) m.egress.params = params;
  }
}

const LinkParams& Link::params_from(const Node& from) const {
  for (const Member& m : members_) {
    if (m.node == &from) return m.egress.params;
  }
  return default_params_;
}

void Link::set_up(bool up) {
  if (up_ && !up) ++epoch_;
  up_ = up;
}

void Link::drop(PacketPtr packet, DropReason reason) {
  counters_.count_drop(reason);
  net_.counters().count_drop(reason);
  net_.trace().packet(net_.now(), TraceKind::drop, name_, name_hash_, *packet, reason);
}

std::optional<DropReason> Link::draw_loss(Channel& ch) {
  const LinkParams& lp = ch.params;
  std::optional<DropReason> lost;
  if (ch.rng.bernoulli(lp.loss)) lost = DropReason::random_loss;
  if (lp.burst) {
    const GilbertElliott& ge = *lp.burst;
    const bool burst_lost = ch.rng.bernoulli(ch.burst_bad ? ge.loss_bad : ge.loss_good);
    if (burst_lost && !lost) lost = DropReason::burst_loss;
    ch.burst_bad = ch.rng.bernoulli(ch.burst_bad ? 1.0 - ge.p_bad_to_good : ge.p_good_to_bad);
  }
  return lost;
}

void Link::transmit(std::uint32_t from, PacketPtr packet, const IpAddress& next_hop_ref) {
  assert(from < members_.size());
  const IpAddress next_hop = next_hop_ref;  // may point into the packet
  Channel& ch = members_[from].egress;
  const LinkParams& lp = ch.params;
  if (!up_) return drop(std::move(packet), DropReason::link_down);
  const std::size_t size = packet->wire_size();
  if (size > lp.mtu) return drop(std::move(packet), DropReason::mtu_exceeded);

  const TimePoint now = net_.now();
  TimePoint sent_at = now;  // when the last bit leaves
  if (lp.bandwidth_bps != 0) {
    const TimePoint start = std::max(now, ch.busy_until);
    // A FIFO drained at a constant rate: its backlog is the time until it is idle.
    if (start > now) {
      __extension__ using U128 = unsigned __int128;
      const U128 backlog_bits_ns = static_cast<U128>((start - now).count()) * lp.bandwidth_bps;
      const U128 limit_bits_ns =
          static_cast<U128>(lp.queue_bytes > size ? lp.queue_bytes - size : 0) * 8'000'000'000u;
      if (backlog_bits_ns > limit_bits_ns) return drop(std::move(packet), DropReason::queue_full);
    } else if (size > lp.queue_bytes) {
      return drop(std::move(packet), DropReason::queue_full);
    }
    const std::uint64_t bits_ns = static_cast<std::uint64_t>(size) * 8'000'000'000ull;
    const Duration serialisation{(bits_ns + lp.bandwidth_bps - 1) / lp.bandwidth_bps};
    ch.busy_until = start + serialisation;
    sent_at = ch.busy_until;
  }
  ++counters_.sent;
  counters_.bytes_sent += size;
  if (capture_ != nullptr) capture_->write(now, *packet);
  if (auto lost = draw_loss(ch)) return drop(std::move(packet), *lost);

  Duration delay = lp.latency;
  if (lp.jitter > Duration::zero()) {
    delay += Duration{
        static_cast<std::int64_t>(ch.rng.below(static_cast<std::uint64_t>(lp.jitter.count()) + 1))};
  }
  TimePoint arrival = sent_at + delay;
  if (!lp.reorder) {
    arrival = std::max(arrival, ch.last_arrival);
    ch.last_arrival = arrival;
  }
  const bool duplicate = ch.rng.bernoulli(lp.duplicate);

  if (members_.size() == 2) {
    const std::uint32_t to = 1 - from;
    if (duplicate) schedule_arrival(to, arrival, net_.packets().clone(*packet));
    return schedule_arrival(to, arrival, std::move(packet));
  }
  if (next_hop.is_multicast() || next_hop.is_broadcast()) {
    for (std::uint32_t to = 0; to < members_.size(); ++to) {
      if (to != from) schedule_arrival(to, arrival, net_.packets().clone(*packet));
    }
    return;
  }
  const auto to = neighbor(next_hop);
  if (!to || *to == from) return drop(std::move(packet), DropReason::no_neighbor);
  if (duplicate) schedule_arrival(*to, arrival, net_.packets().clone(*packet));
  schedule_arrival(*to, arrival, std::move(packet));
}

void Link::schedule_arrival(std::uint32_t to, TimePoint when, PacketPtr packet) {
  net_.sim().post_at(when, [this, to, epoch = epoch_, p = std::move(packet)]() mutable {
    arrive(to, epoch, std::move(p));
  });
}

void Link::arrive(std::uint32_t to, std::uint32_t epoch, PacketPtr packet) {
  if (!up_ || epoch != epoch_) return drop(std::move(packet), DropReason::link_down);
  ++counters_.delivered;
  counters_.bytes_delivered += packet->wire_size();
  const Member& m = members_[to];
  m.node->receive(std::move(packet), m.iface);
}

}  // namespace natsim::sim
