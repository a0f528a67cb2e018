#include "natsim/traversal/turn_client.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::turn {

namespace {

using stun::Class;
using stun::IntegrityResult;
using stun::Message;
using stun::PasswordAlgorithm;
using stun::Writer;
namespace attr = stun::attr;
namespace method = stun::method;
namespace error = stun::error;

// When to refresh something that lives `lifetime`: a minute before it expires, or at
// half its lifetime when that is short (never sooner than a second, so a server that
// grants 0 cannot make us spin).
Duration refresh_delay(Duration lifetime) {
  const Duration d =
      lifetime > 2 * kAllocationRefreshMargin ? lifetime - kAllocationRefreshMargin : lifetime / 2;
  return std::max<Duration>(d, seconds(1));
}

std::uint32_t lifetime_seconds(Duration d) {
  const auto s = std::chrono::duration_cast<seconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(s, 0, 0xffffffff));
}

std::string text_of(std::string_view s) {
  return std::string(s);
}

}  // namespace

std::string_view to_string(TurnClient::State s) {
  switch (s) {
    case TurnClient::State::idle:
      return "idle";
    case TurnClient::State::allocating:
      return "allocating";
    case TurnClient::State::allocated:
      return "allocated";
    case TurnClient::State::releasing:
      return "releasing";
    case TurnClient::State::failed:
      return "failed";
  }
  return "?";
}

TurnClient::TurnClient(std::uint64_t seed, ClientConfig config)
    : rng_(seed), config_(std::move(config)), transactions_(config_.retransmit) {}

TurnClientCounters TurnClient::counters() const {
  TurnClientCounters c = counters_;
  c.requests = transactions_.counters().requests;
  c.retransmissions = transactions_.counters().retransmissions;
  c.timeouts = transactions_.counters().timeouts;
  return c;
}

std::uint16_t TurnClient::method_of(Purpose p) {
  switch (p) {
    case Purpose::allocate:
      return method::allocate;
    case Purpose::refresh:
    case Purpose::release:
      return method::refresh;
    case Purpose::permission:
      return method::create_permission;
    case Purpose::channel:
      return method::channel_bind;
  }
  return 0;
}

std::optional<Endpoint> TurnClient::relayed() const {
  if (state_ != State::allocated && state_ != State::releasing) return std::nullopt;
  return relayed_;
}

std::optional<Endpoint> TurnClient::mapped() const {
  if (state_ != State::allocated && state_ != State::releasing) return std::nullopt;
  return mapped_;
}

bool TurnClient::has_permission(const IpAddress& peer) const {
  auto it = permissions_.find(peer);
  return it != permissions_.end() && it->second.installed;
}

std::optional<std::uint16_t> TurnClient::channel(const Endpoint& peer) const {
  auto it = channels_.find(peer);
  if (it == channels_.end() || !it->second.bound) return std::nullopt;
  return it->second.number;
}

// --- commands

void TurnClient::allocate(TimePoint now) {
  if (state_ == State::allocating || state_ == State::allocated || state_ == State::releasing) {
    return;
  }
  reset_allocation();
  state_ = State::allocating;
  start(now, Request{.purpose = Purpose::allocate});
}

void TurnClient::create_permission(TimePoint now, const IpAddress& peer) {
  if (state_ != State::allocated) {
    events_.emplace_back(Failed{method::create_permission, 0, "no allocation"});
    return;
  }
  request_permission(now, peer, true);
}

void TurnClient::bind_channel(TimePoint now, const Endpoint& peer) {
  if (state_ != State::allocated) {
    events_.emplace_back(Failed{method::channel_bind, 0, "no allocation"});
    return;
  }
  std::uint16_t number = 0;
  if (auto it = channels_.find(peer); it != channels_.end()) {
    if (it->second.pending) return;
    number = it->second.number;  // RFC 8656 §12.1: re-binding the same pair refreshes it
  } else {
    if (next_channel_ > kChannelMax) {
      events_.emplace_back(Failed{method::channel_bind, 0, "no free channel number"});
      return;
    }
    number = next_channel_++;
    channels_[peer] = Channel{number, {}, false, false};
    channel_peers_[number] = peer;
  }
  // RFC 8656 §12: a channel binding also installs the permission for the peer's address;
  // track it (not yet installed) so Data indications from that peer are accepted.
  permissions_.try_emplace(peer.address);
  request_channel(now, peer, number);
  for (auto& t : transactions_) {
    if (t.context.purpose == Purpose::channel && t.context.peer == peer) t.context.announce = true;
  }
}

void TurnClient::send(TimePoint /*now*/, const Endpoint& peer, ByteView data) {
  if (state_ != State::allocated) {
    ++counters_.send_dropped;
    return;
  }
  auto ch = channels_.find(peer);
  if (ch != channels_.end() && ch->second.bound) {
    // RFC 8656 §12.5: ChannelData is padded to 4 bytes over TCP, need not be over UDP.
    const MutableByteView buf = scratch(kChannelHeaderSize + data.size() + 3);
    const auto n =
        write_channel_data(buf, ch->second.number, data, config_.transport == Transport::tcp);
    if (!n) {
      ++counters_.send_dropped;
      return;
    }
    emit(ByteView(buf.data(), *n));
    ++counters_.channel_data_out;
    counters_.bytes_out += data.size();
    return;
  }
  // RFC 8656 §11.1: a Send indication with XOR-PEER-ADDRESS and DATA; indications
  // carry no credentials (they cannot be authenticated).
  const MutableByteView buf = scratch(stun::kHeaderSize + 24 + 4 + data.size() + 4);
  Writer w(buf, method::send, Class::indication, stun::random_transaction_id(rng_));
  w.add_xor_address(attr::xor_peer_address, peer);
  w.add(attr::data, data);
  const auto bytes = w.finish();
  if (!bytes) {
    ++counters_.send_dropped;
    return;
  }
  emit(*bytes);
  ++counters_.send_indications;
  counters_.bytes_out += data.size();
}

void TurnClient::release(TimePoint now) {
  if (state_ == State::releasing) return;
  if (state_ != State::allocated) {
    // Nothing to delete on the server (an Allocate in flight is abandoned).
    reset_allocation();
    state_ = State::idle;
    events_.emplace_back(Released{});
    return;
  }
  // RFC 8656 §8.1: a Refresh with LIFETIME 0 deletes the allocation. Pending
  // permission and channel transactions no longer matter.
  transactions_.clear();
  permissions_.clear();
  channels_.clear();
  channel_peers_.clear();
  refresh_at_.reset();
  state_ = State::releasing;
  start(now, Request{.purpose = Purpose::release});
}

void TurnClient::request_permission(TimePoint now, const IpAddress& peer, bool announce) {
  Permission& p = permissions_[peer];
  if (p.pending) {
    for (auto& t : transactions_) {
      if (t.context.purpose == Purpose::permission && t.context.peer_ip == peer)
        t.context.announce |= announce;
    }
    return;
  }
  p.pending = true;
  start(now, Request{.purpose = Purpose::permission, .peer_ip = peer, .announce = announce});
}

void TurnClient::request_channel(TimePoint now, const Endpoint& peer, std::uint16_t number) {
  Channel& c = channels_[peer];
  c.pending = true;
  start(now, Request{.purpose = Purpose::channel, .peer = peer, .channel = number});
}

void TurnClient::reset_allocation() {
  transactions_.clear();
  permissions_.clear();
  channels_.clear();
  channel_peers_.clear();
  refresh_at_.reset();
  relayed_ = {};
  mapped_ = {};
  lifetime_ = {};
  expires_ = {};
  next_channel_ = kChannelMin;
}

void TurnClient::fail_allocation(std::uint16_t m, std::uint16_t code, std::string reason) {
  reset_allocation();
  state_ = State::failed;
  events_.emplace_back(Failed{m, code, std::move(reason)});
}

// --- requests

void TurnClient::start(TimePoint now, Request r) {
  const stun::TransactionId id = stun::random_transaction_id(rng_);
  const std::vector<std::uint8_t> request = build(id, r);
  transactions_.start(now, id, config_.local, config_.server, config_.transport, request,
                      std::move(r), out_);
}

std::vector<std::uint8_t> TurnClient::build(const stun::TransactionId& id, Request& t) const {
  std::vector<std::uint8_t> buf(stun::kHeaderSize + 256 + config_.username.size() + realm_.size() +
                                nonce_.size() + config_.software.size() +
                                password_algorithms_.size());
  Writer w(buf, method_of(t.purpose), Class::request, id);
  switch (t.purpose) {
    case Purpose::allocate:
      // RFC 8656 §7.1: REQUESTED-TRANSPORT (UDP: protocol 17, then 3 bytes RFFU), and
      // optionally the LIFETIME the client would like.
      w.add_u32(attr::requested_transport, std::uint32_t{kTransportUdp} << 24);
      w.add_u32(attr::lifetime, lifetime_seconds(config_.lifetime));
      if (config_.reservation_token) {
        // RFC 8656 §7.1: the port reserved under the token, and no EVEN-PORT (§7.2: 400).
        w.add_u64(attr::reservation_token, *config_.reservation_token);
      } else if (config_.even_port || config_.reserve_next) {
        // RFC 8656 §18.7: one byte, the R bit on top (reserve the next port).
        const std::uint8_t value[1] = {static_cast<std::uint8_t>(config_.reserve_next ? 0x80 : 0)};
        w.add(attr::even_port, value);
      }
      if (!config_.software.empty()) w.add_text(attr::software, config_.software);
      break;
    case Purpose::refresh:
      w.add_u32(attr::lifetime, lifetime_seconds(config_.lifetime));  // RFC 8656 §8.1
      break;
    case Purpose::release:
      w.add_u32(attr::lifetime, 0);  // RFC 8656 §8.1: LIFETIME 0 deletes the allocation
      break;
    case Purpose::permission:
      // RFC 8656 §10.1: the port of XOR-PEER-ADDRESS is ignored by the server (§9).
      w.add_xor_address(attr::xor_peer_address, Endpoint{t.peer_ip, 0});
      break;
    case Purpose::channel:
      // RFC 8656 §18.1: CHANNEL-NUMBER is the number then 16 bits RFFU.
      w.add_u32(attr::channel_number, std::uint32_t{t.channel} << 16);
      w.add_xor_address(attr::xor_peer_address, t.peer);
      break;
  }
  t.authenticated = !key_.empty();
  t.key = key_;
  if (t.authenticated) {
    // RFC 8489 §9.2.3.2: USERNAME, REALM and NONCE from the last 401/438, and when the
    // server offered PASSWORD-ALGORITHMS, that list echoed unchanged (the server checks
    // it, §9.2.4) and the PASSWORD-ALGORITHM chosen from it; then MESSAGE-INTEGRITY-SHA256
    // once the server has offered algorithms (§9.2.5), else MESSAGE-INTEGRITY.
    w.add_text(attr::username, config_.username);
    w.add_text(attr::realm, realm_);
    w.add_text(attr::nonce, nonce_);
    if (!password_algorithms_.empty()) {
      w.add(attr::password_algorithms, password_algorithms_);
      std::uint8_t value[4] = {};
      wire::put16(value, static_cast<std::uint16_t>(algorithm_));  // no parameters
      w.add(attr::password_algorithm, value);
    }
    if (integrity_sha256_) {
      w.add_message_integrity_sha256(key_);
    } else {
      w.add_message_integrity(key_);
    }
  }
  w.add_fingerprint();
  // The buffer is sized for every attribute above; an overflow is a programming error
  // (nothing is sent and the transaction times out).
  const auto bytes = w.finish();
  if (!bytes) return {};
  buf.resize(bytes->size());
  return buf;
}

MutableByteView TurnClient::scratch(std::size_t size) {
  if (scratch_.size() < size) scratch_.resize(size);
  return {scratch_.data(), size};
}

void TurnClient::emit(ByteView bytes) {
  out_.push(config_.local, config_.server, bytes, config_.transport);
}

// --- input

bool TurnClient::handle_datagram(TimePoint now, const Endpoint& /*local*/, const Endpoint& remote,
                                 ByteView bytes) {
  // A TURN session over UDP is the 5-tuple client <-> server: nothing else is ours.
  if (remote != config_.server || config_.transport != Transport::udp) {
    ++counters_.foreign;
    return false;
  }
  handle_message(now, bytes);
  return true;
}

void TurnClient::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                               ByteView bytes) {
  if (remote != config_.server || config_.transport != Transport::tcp) {
    ++counters_.foreign;
    return;
  }
  if (!framer_.push(bytes)) {
    // Junk on the stream: no frame boundary can be found again (RFC 8656 §12.5).
    ++counters_.malformed;
    out_.push_close(local, remote);
    return handle_stream_closed(now, local, remote);
  }
  while (auto frame = framer_.next())
    handle_message(now, *frame);
}

void TurnClient::handle_stream_closed(TimePoint /*now*/, const Endpoint& /*local*/,
                                      const Endpoint& remote) {
  if (remote != config_.server || config_.transport != Transport::tcp) return;
  ++counters_.connection_lost;
  framer_ = StreamFramer{};
  // The server deletes an allocation with its connection, and a reconnect has a new
  // 5-tuple: whatever was allocated is gone.
  switch (state_) {
    case State::allocating:
      return fail_allocation(stun::method::allocate, 0, "connection closed");
    case State::allocated:
      return fail_allocation(stun::method::refresh, 0, "connection closed");
    case State::releasing:
      reset_allocation();
      state_ = State::idle;
      events_.emplace_back(Released{});
      return;
    case State::idle:
    case State::failed:
      return;
  }
}

void TurnClient::handle_message(TimePoint now, ByteView bytes) {
  // RFC 8656 §12.4 / RFC 7983: a first byte 0x40-0x7F is ChannelData, 0x00-0x3F STUN.
  if (!bytes.empty() && (bytes[0] & 0xC0) == 0x40) {
    on_channel_data(bytes);
    return;
  }
  auto m = Message::parse(bytes);
  if (!m || m->classic()) {
    ++counters_.malformed;
    return;
  }
  switch (m->cls()) {
    case Class::success:
    case Class::error:
      on_response(now, *m);
      return;
    case Class::indication:
      if (m->method() == method::data) {
        on_data_indication(*m);
        return;
      }
      break;
    case Class::request:
      break;
  }
  ++counters_.malformed;  // a client expects no requests and no other indications
}

void TurnClient::on_channel_data(ByteView bytes) {
  auto cd = parse_channel_data(bytes);
  if (!cd) {
    ++counters_.malformed;
    return;
  }
  // RFC 8656 §12.6: data on a channel not bound to a peer is discarded.
  auto it = channel_peers_.find(cd->channel);
  if (it == channel_peers_.end()) {
    ++counters_.unknown_channel;
    return;
  }
  ++counters_.channel_data_in;
  push_peer_data(it->second, cd->data, true);
}

void TurnClient::on_data_indication(const Message& m) {
  // RFC 8656 §11.4: a Data indication without XOR-PEER-ADDRESS or DATA is discarded,
  // and so is one from a peer the client has no permission for.
  const auto peer = m.xor_address(attr::xor_peer_address);
  const auto data = m.find(attr::data);
  if (!peer || !data) {
    ++counters_.malformed;
    return;
  }
  if (state_ != State::allocated || !permissions_.contains(peer->address)) {
    ++counters_.no_permission;
    return;
  }
  ++counters_.data_indications;
  push_peer_data(*peer, data->value, false);
}

void TurnClient::push_peer_data(const Endpoint& peer, ByteView data, bool via_channel) {
  counters_.bytes_in += data.size();
  events_.emplace_back(
      PeerData{peer, std::vector<std::uint8_t>(data.begin(), data.end()), via_channel});
}

bool TurnClient::learn_credentials(const Message& m) {
  const auto nonce = m.text(attr::nonce);
  const auto realm = m.text(attr::realm);
  if (!nonce || nonce->empty()) return false;
  if (realm) {
    realm_ = text_of(*realm);
  } else if (realm_.empty()) {
    return false;
  }
  nonce_ = text_of(*nonce);
  if (auto algorithms = m.find(attr::password_algorithms)) {
    // RFC 8489 §9.2.5: PASSWORD-ALGORITHM is the first one on the list that we support
    // (the list is in the server's order of preference); none: no retry.
    std::optional<PasswordAlgorithm> chosen;
    const auto entries = m.password_algorithms();
    for (const auto& entry : entries ? *entries : std::vector<stun::PasswordAlgorithmEntry>{}) {
      if (entry.algorithm == static_cast<std::uint16_t>(PasswordAlgorithm::sha256) ||
          entry.algorithm == static_cast<std::uint16_t>(PasswordAlgorithm::md5)) {
        chosen = static_cast<PasswordAlgorithm>(entry.algorithm);
        break;
      }
    }
    if (!chosen) return false;  // nothing we can compute a key with
    algorithm_ = *chosen;
    password_algorithms_.assign(algorithms->value.begin(), algorithms->value.end());
  } else if (m.error_code() && m.error_code()->code == error::unauthenticated) {
    // A 401 without PASSWORD-ALGORITHMS: plain RFC 5389 long-term credentials (MD5).
    algorithm_ = PasswordAlgorithm::md5;
    password_algorithms_.clear();
  }
  // RFC 8489 §9.2.2: key = MD5 or SHA-256 of "username:realm:password" (no SASLprep /
  // OpaqueString processing here: the caller passes the processed strings).
  key_ = stun::long_term_key(config_.username, realm_, config_.password, algorithm_);
  return true;
}

void TurnClient::on_response(TimePoint now, const Message& m) {
  auto* it = transactions_.find(m.transaction_id());
  if (it == nullptr) {
    ++counters_.unmatched;
    return;
  }
  // RFC 8489 §9.2.5: a response with MESSAGE-INTEGRITY(-SHA256) that does not verify
  // with the request's key is discarded as if never received (the transaction goes on).
  if (it->context.authenticated &&
      m.check_integrity(it->context.key) == IntegrityResult::mismatch) {
    ++counters_.bad_integrity;
    // RFC 8489 §9.2.5: over UDP the transaction goes on (and, if it times out, says the
    // integrity protection was violated); over TCP it ends now.
    it->context.integrity_violated = true;
    if (config_.transport == Transport::tcp) {
      Request t = std::move(transactions_.take(m.transaction_id())->context);
      on_failure(t, 0, "integrity protection violated");
    }
    return;
  }
  std::optional<stun::ErrorCodeValue> err;
  if (m.cls() == Class::error) {
    err = m.error_code();
    if (!err) {
      ++counters_.malformed;  // an error response without a valid ERROR-CODE
      return;
    }
  } else if (it->context.purpose == Purpose::allocate &&
             !m.xor_address(attr::xor_relayed_address)) {
    ++counters_.malformed;  // RFC 8656 §7.3: the relayed address is the point
    return;
  }
  // RFC 8489 §9.2.1 / §9.2.5, bid-down: a NONCE whose cookie announces "Password
  // algorithms" comes with PASSWORD-ALGORITHMS, or someone on the path removed it. A
  // 401/438 like that is not retried (below); any other response like that is ignored.
  const auto nonce = m.text(attr::nonce);
  const bool stripped =
      nonce && nonce_announces_password_algorithms(*nonce) && !m.has(attr::password_algorithms);
  const bool challenge =
      err && (err->code == error::unauthenticated || err->code == error::stale_nonce);
  if (stripped && !challenge) {
    ++counters_.bid_down;
    return;
  }
  // RFC 8489 §9.2.5: a 400 without MESSAGE-INTEGRITY(-SHA256) is discarded as if never
  // received (anyone can forge one; the transaction times out instead).
  if (err && err->code == error::bad_request && !m.has(attr::message_integrity) &&
      !m.has(attr::message_integrity_sha256)) {
    ++counters_.unprotected_400;
    return;
  }
  Request t = std::move(transactions_.take(m.transaction_id())->context);
  ++counters_.responses;
  // RFC 8489 §9.2.5: once a response carried PASSWORD-ALGORITHMS, every later request
  // uses MESSAGE-INTEGRITY-SHA256 only, whatever later challenges say.
  if (m.has(attr::password_algorithms)) integrity_sha256_ = true;
  if (!err) {
    on_success(now, t, m);
    return;
  }
  const std::uint16_t code = err->code;
  if (stripped) {
    // RFC 8489 §9.2.5: MUST NOT retry.
    ++counters_.bid_down;
    if (code == error::unauthenticated) {
      ++counters_.unauthenticated;
    } else {
      ++counters_.stale_nonce;
    }
    on_failure(t, code, "PASSWORD-ALGORITHMS missing though the nonce announces it (bid-down)");
    return;
  }
  if (code == error::unauthenticated) {
    ++counters_.unauthenticated;
    // RFC 8489 §9.2.5: a 401 with REALM and NONCE is answered once with credentials;
    // a second 401 in the same exchange means the credentials are wrong.
    if (!t.auth_retried && learn_credentials(m)) {
      t.auth_retried = true;
      start(now, std::move(t));
      return;
    }
  } else if (code == error::stale_nonce) {
    ++counters_.stale_nonce;
    // RFC 8489 §9.2.5: 438 carries a new NONCE (and REALM): retry once with it.
    if (!t.nonce_retried && learn_credentials(m)) {
      t.nonce_retried = true;
      start(now, std::move(t));
      return;
    }
  } else {
    ++counters_.error_responses;
  }
  // RFC 8656 §7.4, §8.3, §10.3, §12.3: 403, 437, 441, 442, 486, 508 and other errors
  // are final: no retry.
  std::string reason = err->reason.empty() ? text_of(error::reason(code)) : text_of(err->reason);
  on_failure(t, code, std::move(reason));
}

void TurnClient::on_success(TimePoint now, const Request& t, const Message& m) {
  switch (t.purpose) {
    case Purpose::allocate: {
      // RFC 8656 §7.3: XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS and LIFETIME.
      relayed_ = *m.xor_address(attr::xor_relayed_address);
      mapped_ = m.xor_address(attr::xor_mapped_address).value_or(Endpoint{});
      const auto granted = m.u32(attr::lifetime);
      lifetime_ = granted ? Duration(seconds(*granted)) : config_.lifetime;
      expires_ = now + lifetime_;
      refresh_at_ = now + refresh_delay(lifetime_);
      state_ = State::allocated;
      // RFC 8656 §7.2: RESERVATION-TOKEN (8 bytes, §18.10) when port+1 was reserved.
      events_.emplace_back(Allocated{relayed_, mapped_, lifetime_, m.u64(attr::reservation_token)});
      return;
    }
    case Purpose::refresh: {
      // RFC 8656 §8.3: the LIFETIME in the response is the new remaining lifetime.
      const auto granted = m.u32(attr::lifetime);
      lifetime_ = granted ? Duration(seconds(*granted)) : config_.lifetime;
      expires_ = now + lifetime_;
      refresh_at_ = now + refresh_delay(lifetime_);
      return;
    }
    case Purpose::release:
      reset_allocation();
      state_ = State::idle;
      events_.emplace_back(Released{});
      return;
    case Purpose::permission: {
      // RFC 8656 §9: a permission lasts 300 s from its last refresh.
      Permission& p = permissions_[t.peer_ip];
      p.installed = true;
      p.pending = false;
      p.refresh_at = now + kPermissionRefresh;
      if (t.announce) events_.emplace_back(PermissionCreated{t.peer_ip});
      return;
    }
    case Purpose::channel: {
      auto it = channels_.find(t.peer);
      if (it == channels_.end()) return;  // forgotten meanwhile
      Channel& c = it->second;
      const bool first = !c.bound;
      c.bound = true;
      c.pending = false;
      c.refresh_at = now + kChannelRefresh;  // RFC 8656 §12: bindings last 10 minutes
      // RFC 8656 §12.2: a ChannelBind also installs or refreshes the permission.
      Permission& p = permissions_[t.peer.address];
      p.installed = true;
      if (!p.pending) p.refresh_at = now + kPermissionRefresh;
      if (first || t.announce) events_.emplace_back(ChannelBound{t.peer, c.number});
      return;
    }
  }
}

void TurnClient::on_failure(const Request& t, std::uint16_t code, std::string reason) {
  switch (t.purpose) {
    case Purpose::allocate:
      fail_allocation(method::allocate, code, std::move(reason));
      return;
    case Purpose::refresh:
      // RFC 8656 §8.3: a failed refresh (437: the allocation is gone) leaves us without
      // a usable allocation.
      fail_allocation(method::refresh, code, std::move(reason));
      return;
    case Purpose::release:
      if (code == error::allocation_mismatch) {
        // RFC 8656 §8.3: 437 to a deleting Refresh: the allocation is already gone.
        reset_allocation();
        state_ = State::idle;
        events_.emplace_back(Released{});
        return;
      }
      reset_allocation();
      state_ = State::idle;
      events_.emplace_back(Failed{method::refresh, code, std::move(reason)});
      return;
    case Purpose::permission:
      // RFC 8656 §10.3: the permission is not installed (or no longer refreshed).
      permissions_.erase(t.peer_ip);
      events_.emplace_back(Failed{method::create_permission, code, std::move(reason)});
      return;
    case Purpose::channel: {
      // RFC 8656 §12.3: the binding failed; forget it (bind_channel may try again).
      if (auto it = channels_.find(t.peer); it != channels_.end()) {
        channel_peers_.erase(it->second.number);
        channels_.erase(it);
      }
      events_.emplace_back(Failed{method::channel_bind, code, std::move(reason)});
      return;
    }
  }
}

void TurnClient::handle_timeout(TimePoint now) {
  // Transactions: retransmit, or give up (Failed with code 0). on_failure may clear the
  // table; pop_expired then finds nothing more.
  transactions_.retransmit_due(now, out_);
  while (auto done = transactions_.pop_expired(now)) {
    // RFC 8489 §9.2.5: if responses came but all failed integrity, say so.
    const bool violated = done->context.integrity_violated;
    on_failure(done->context, 0, violated ? "integrity protection violated" : "timeout");
  }
  if (state_ != State::allocated) return;
  // RFC 8656 §8: refresh the allocation before it expires.
  if (refresh_at_ && *refresh_at_ <= now) {
    refresh_at_.reset();
    ++counters_.allocation_refreshes;
    start(now, Request{.purpose = Purpose::refresh});
  }
  // RFC 8656 §9: permissions expire after 300 s; refresh at 240 s.
  std::vector<IpAddress> due_permissions;
  for (const auto& [address, p] : permissions_) {
    if (p.installed && !p.pending && p.refresh_at <= now) due_permissions.push_back(address);
  }
  for (const IpAddress& address : due_permissions) {
    ++counters_.permission_refreshes;
    request_permission(now, address, false);
  }
  // RFC 8656 §12: channel bindings expire after 600 s; refresh at 540 s.
  std::vector<std::pair<Endpoint, std::uint16_t>> due_channels;
  for (const auto& [peer, c] : channels_) {
    if (c.bound && !c.pending && c.refresh_at <= now) due_channels.emplace_back(peer, c.number);
  }
  for (const auto& due : due_channels) {
    ++counters_.channel_refreshes;
    request_channel(now, due.first, due.second);
  }
}

std::optional<TimePoint> TurnClient::poll_timeout() const {
  std::optional<TimePoint> earliest;
  const auto consider = [&earliest](TimePoint t) {
    if (!earliest || t < *earliest) earliest = t;
  };
  if (auto t = transactions_.next_deadline()) consider(*t);
  if (state_ == State::allocated) {
    if (refresh_at_) consider(*refresh_at_);
    for (const auto& entry : permissions_) {
      if (entry.second.installed && !entry.second.pending) consider(entry.second.refresh_at);
    }
    for (const auto& entry : channels_) {
      if (entry.second.bound && !entry.second.pending) consider(entry.second.refresh_at);
    }
  }
  return earliest;
}

std::optional<ClientEvent> TurnClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  ClientEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace natsim::traversal::turn
