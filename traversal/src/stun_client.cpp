#include "natsim/traversal/stun_client.hpp"

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::stun {

StunClient::StunClient(std::uint64_t seed, RetransmitPolicy policy)
    : rng_(seed), transactions_(policy) {}

bool StunClient::owns(const TransactionId& id) const {
  return transactions_.contains(id);
}

ClientCounters StunClient::counters() const {
  ClientCounters c = counters_;
  c.requests = transactions_.counters().requests + counters_.unsendable;
  c.retransmissions = transactions_.counters().retransmissions;
  c.timeouts = transactions_.counters().timeouts;
  return c;
}

TransactionId StunClient::send_binding(TimePoint now, const Endpoint& local, const Endpoint& server,
                                       const RequestOptions& options) {
  const TransactionId id = random_transaction_id(rng_);
  scratch_.resize(kMaxMessageSize);
  const std::uint32_t cookie =
      options.classic ? static_cast<std::uint32_t>(rng_()) | 0x80000000u : kMagicCookie;
  Writer w(scratch_, method::binding, Class::request, id, cookie);
  if (!options.software.empty()) w.add_text(attr::software, options.software);
  if (options.change_request) {
    w.add_change_request(options.change_request->first, options.change_request->second);
  }
  if (options.response_port) w.add_response_port(*options.response_port);
  if (options.padding != 0) w.add_zeros(attr::padding, options.padding);
  if (!options.username.empty()) w.add_text(attr::username, options.username);
  if (!options.integrity_key.empty()) w.add_message_integrity(options.integrity_key);
  if (options.fingerprint && !options.classic) w.add_fingerprint();
  const auto bytes = w.finish();
  if (!bytes) {
    // Larger than a STUN message can be (a caller's USERNAME or PADDING): nothing is sent.
    fail_unsendable(id, local, server);
    return id;
  }
  transactions_.start(now, id, local, server, Transport::udp, *bytes,
                      Context{options.integrity_key}, out_);
  return id;
}

void StunClient::fail_unsendable(const TransactionId& id, const Endpoint& local,
                                 const Endpoint& server) {
  ++counters_.unsendable;
  BindingResult r;
  r.transaction = id;
  r.outcome = BindingResult::Outcome::error;
  r.local = local;
  r.server = server;
  events_.push_back(std::move(r));
}

void StunClient::send_indication(const Endpoint& local, const Endpoint& server) {
  std::uint8_t buf[kHeaderSize + kFingerprintSize];
  Writer w(buf, method::binding, Class::indication, random_transaction_id(rng_));
  w.add_fingerprint();
  if (const auto bytes = w.finish()) out_.push(local, server, *bytes);
}

bool StunClient::cancel(const TransactionId& id) {
  return transactions_.erase(id);
}

bool StunClient::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  auto m = Message::parse(bytes);
  if (!m) {
    ++counters_.malformed;
    return false;
  }
  if (m->cls() != Class::success && m->cls() != Class::error) return false;
  auto* t = transactions_.find(m->transaction_id());
  if (t == nullptr) {
    ++counters_.unmatched;
    return false;
  }
  // RFC 8489 §9.1.4: a response that fails integrity is discarded as if never received.
  const auto& key = t->context.integrity_key;
  if (!key.empty() && m->check_integrity(key) != IntegrityResult::ok) {
    ++counters_.bad_integrity;
    return true;
  }
  BindingResult r;
  r.transaction = t->id;
  r.outcome =
      m->cls() == Class::success ? BindingResult::Outcome::success : BindingResult::Outcome::error;
  r.local = local.address.is_unspecified() ? t->local : local;
  r.server = t->remote;
  r.from = remote;
  r.mapped = m->mapped_address();
  r.other_address = m->address(attr::other_address);
  if (!r.other_address) r.other_address = m->address(attr::changed_address);
  r.response_origin = m->address(attr::response_origin);
  if (!r.response_origin) r.response_origin = m->address(attr::source_address);
  if (auto e = m->error_code()) r.error_code = e->code;
  r.rtt = now - t->last_sent;
  r.transmissions = t->sent;
  transactions_.erase(r.transaction);
  ++counters_.responses;
  events_.push_back(std::move(r));
  return true;
}

void StunClient::handle_timeout(TimePoint now) {
  transactions_.retransmit_due(now, out_);
  while (auto t = transactions_.pop_expired(now)) {
    BindingResult r;
    r.transaction = t->id;
    r.outcome = BindingResult::Outcome::timeout;
    r.local = t->local;
    r.server = t->remote;
    r.transmissions = t->sent;
    events_.push_back(std::move(r));
  }
}

std::optional<TimePoint> StunClient::poll_timeout() const {
  return transactions_.next_deadline();
}

std::optional<BindingResult> StunClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  BindingResult r = std::move(events_.front());
  events_.pop_front();
  return r;
}

}  // namespace natsim::traversal::stun
