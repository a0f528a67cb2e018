#include "natsim/traversal/stun_client.hpp"

#include <algorithm>
#include <cstring>

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::stun {

StunClient::StunClient(std::uint64_t seed, RetransmitPolicy policy) : rng_(seed), policy_(policy) {}

TransactionId StunClient::new_id() {
  TransactionId id;
  const std::uint64_t a = rng_();
  const std::uint64_t b = rng_();
  std::memcpy(id.data(), &a, 8);
  std::memcpy(id.data() + 8, &b, 4);
  return id;
}

bool StunClient::owns(const TransactionId& id) const {
  return std::any_of(transactions_.begin(), transactions_.end(),
                     [&](const Transaction& t) { return t.id == id; });
}

TransactionId StunClient::send_binding(TimePoint now, const Endpoint& local, const Endpoint& server,
                                       const RequestOptions& options) {
  Transaction t;
  t.id = new_id();
  t.local = local;
  t.server = server;
  t.integrity_key = options.integrity_key;
  t.rto = policy_.rto;
  std::vector<std::uint8_t> buf(kHeaderSize + 512 + options.padding);
  const std::uint32_t cookie =
      options.classic ? static_cast<std::uint32_t>(rng_()) | 0x80000000u : kMagicCookie;
  Writer w(buf, method::binding, Class::request, t.id, cookie);
  if (!options.software.empty()) w.add_text(attr::software, options.software);
  if (options.change_request) {
    w.add_change_request(options.change_request->first, options.change_request->second);
  }
  if (options.response_port) {
    // RFC 5780 §7.5: the port, then two bytes of padding.
    const std::uint8_t value[4] = {static_cast<std::uint8_t>(*options.response_port >> 8),
                                   static_cast<std::uint8_t>(*options.response_port), 0, 0};
    w.add(attr::response_port, value);
  }
  if (options.padding != 0) w.add(attr::padding, std::vector<std::uint8_t>(options.padding, 0));
  if (!options.username.empty()) w.add_text(attr::username, options.username);
  if (!options.integrity_key.empty()) w.add_message_integrity(options.integrity_key);
  if (options.fingerprint && !options.classic) w.add_fingerprint();
  const ByteView bytes = *w.finish();
  t.request.assign(bytes.begin(), bytes.end());
  ++counters_.requests;
  transmit(t, now);
  transactions_.push_back(std::move(t));
  return transactions_.back().id;
}

void StunClient::send_indication(const Endpoint& local, const Endpoint& server) {
  std::uint8_t buf[kHeaderSize + 8];
  Writer w(buf, method::binding, Class::indication, new_id());
  w.add_fingerprint();
  out_.push(local, server, *w.finish());
}

bool StunClient::cancel(const TransactionId& id) {
  const auto before = transactions_.size();
  std::erase_if(transactions_, [&](const Transaction& t) { return t.id == id; });
  return transactions_.size() != before;
}

void StunClient::transmit(Transaction& t, TimePoint now) {
  out_.push(t.local, t.server, t.request);
  if (t.sent > 0) ++counters_.retransmissions;
  ++t.sent;
  t.last_sent = now;
  // RFC 8489 §6.2.1: after the Rc-th request wait Rm × RTO; otherwise the doubled RTO.
  t.deadline = t.sent >= policy_.rc ? now + policy_.rto * policy_.rm : now + t.rto;
  t.rto *= 2;
}

bool StunClient::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  auto m = Message::parse(bytes);
  if (!m) {
    ++counters_.malformed;
    return false;
  }
  if (m->cls() != Class::success && m->cls() != Class::error) return false;
  auto it = std::find_if(transactions_.begin(), transactions_.end(),
                         [&](const Transaction& t) { return t.id == m->transaction_id(); });
  if (it == transactions_.end()) {
    ++counters_.unmatched;
    return false;
  }
  // RFC 8489 §9.1.4: a response that fails integrity is discarded as if never received.
  if (!it->integrity_key.empty() && m->check_integrity(it->integrity_key) != IntegrityResult::ok) {
    ++counters_.bad_integrity;
    return true;
  }
  BindingResult r;
  r.transaction = it->id;
  r.outcome =
      m->cls() == Class::success ? BindingResult::Outcome::success : BindingResult::Outcome::error;
  r.local = local.address.is_unspecified() ? it->local : local;
  r.server = it->server;
  r.from = remote;
  r.mapped = m->mapped_address();
  r.other_address = m->address(attr::other_address);
  if (!r.other_address) r.other_address = m->address(attr::changed_address);
  r.response_origin = m->address(attr::response_origin);
  if (!r.response_origin) r.response_origin = m->address(attr::source_address);
  if (auto e = m->error_code()) r.error_code = e->code;
  r.rtt = now - it->last_sent;
  r.transmissions = it->sent;
  transactions_.erase(it);
  ++counters_.responses;
  events_.push_back(std::move(r));
  return true;
}

void StunClient::handle_timeout(TimePoint now) {
  for (auto it = transactions_.begin(); it != transactions_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    if (it->sent < policy_.rc) {
      transmit(*it, now);
      ++it;
      continue;
    }
    BindingResult r;
    r.transaction = it->id;
    r.outcome = BindingResult::Outcome::timeout;
    r.local = it->local;
    r.server = it->server;
    r.transmissions = it->sent;
    events_.push_back(std::move(r));
    ++counters_.timeouts;
    it = transactions_.erase(it);
  }
}

std::optional<TimePoint> StunClient::poll_timeout() const {
  std::optional<TimePoint> earliest;
  for (const Transaction& t : transactions_) {
    if (!earliest || t.deadline < *earliest) earliest = t.deadline;
  }
  return earliest;
}

std::optional<BindingResult> StunClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  BindingResult r = std::move(events_.front());
  events_.pop_front();
  return r;
}

}  // namespace natsim::traversal::stun
