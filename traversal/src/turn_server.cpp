// The TURN server's front: dispatch of datagrams and TCP streams, error responses,
// expiry from the deadline heap, and the per-user quota book.
#include "natsim/traversal/turn_server.hpp"

#include <algorithm>
#include <array>

#include "natsim/base/random.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_server_internal.hpp"

namespace natsim::traversal::turn {

using stun::Class;
using stun::Message;
using stun::Writer;
namespace attr = stun::attr;
namespace method = stun::method;
namespace error_code = stun::error;
using detail::kMaxBuffer;
using detail::kOfferedAlgorithms;

TurnServer::TurnServer(std::uint64_t seed, ServerConfig config)
    : config_(std::move(config)),
      secret_(Rng(seed)()),
      port_state_(config_.relay_port_count, PortState::free) {}

std::vector<Endpoint> TurnServer::local_endpoints() const {
  std::vector<Endpoint> out{config_.listen};
  for (std::uint16_t i = 0; i < config_.relay_port_count; ++i) {
    out.push_back(
        Endpoint{config_.relay_address, static_cast<std::uint16_t>(config_.relay_port_first + i)});
  }
  return out;
}

TurnServer::Allocation* TurnServer::find(const ClientTuple& client) {
  auto it = allocations_.find(client);
  return it == allocations_.end() ? nullptr : &it->second;
}

std::uint32_t TurnServer::usage(const std::string& user) const {
  auto it = usage_.find(user);
  return it == usage_.end() ? 0 : it->second;
}

void TurnServer::uncharge(const std::string& user) {
  auto it = usage_.find(user);
  if (it == usage_.end()) return;
  if (--it->second == 0) usage_.erase(it);
}

void TurnServer::error(const Message& m, const ClientTuple& client, std::uint16_t code,
                       const Auth* auth, bool challenge, TimePoint now) {
  std::array<std::uint8_t, kMaxBuffer> buf{};
  Writer w(buf, m.method(), Class::error, m.transaction_id());
  w.add_error(code);
  if (challenge) {
    // RFC 8489 §9.2.4: REALM and a fresh NONCE, and the algorithms on offer.
    w.add_text(attr::realm, config_.realm);
    w.add_text(attr::nonce, make_nonce(now));
    if (config_.offer_sha256) w.add(attr::password_algorithms, kOfferedAlgorithms);
  }
  if (!config_.software.empty()) w.add_text(attr::software, config_.software);
  if (auth != nullptr) sign(w, *auth);
  w.add_fingerprint();
  if (auto bytes = w.finish()) reply(client, *bytes);
  ++counters_.errors;
}

// RFC 8489 §6.3.1.1: 420 with UNKNOWN-ATTRIBUTES, cut to a length that always fits.
void TurnServer::unknown_attributes(const Message& m, const ClientTuple& client,
                                    std::vector<std::uint16_t> unknown) {
  if (unknown.size() > detail::kMaxUnknownReported) unknown.resize(detail::kMaxUnknownReported);
  std::array<std::uint8_t, kMaxBuffer> buf{};
  Writer w(buf, m.method(), Class::error, m.transaction_id());
  w.add_error(error_code::unknown_attribute);
  w.add_unknown_attributes(unknown);
  if (!config_.software.empty()) w.add_text(attr::software, config_.software);
  w.add_fingerprint();
  if (auto out = w.finish()) reply(client, *out);
  ++counters_.errors;
}

bool TurnServer::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  expire(now);
  if (local == config_.listen) {
    return handle_client(now, ClientTuple{Transport::udp, local, remote}, bytes);
  }
  auto owner = relay_to_client_.find(local);
  if (owner == relay_to_client_.end()) {
    ++counters_.dropped_no_permission;
    return false;
  }
  auto a = allocations_.find(owner->second);
  if (a == allocations_.end()) return false;  // cannot happen: release() drops both
  return handle_peer(now, a->second, remote, bytes);
}

TurnServer::Stream& TurnServer::open_stream(TimePoint now, const ClientTuple& client) {
  auto [it, inserted] = streams_.try_emplace(client);
  if (inserted) {
    it->second.setup_deadline = now + config_.unallocated_stream_timeout;
    push_deadline(Deadline{it->second.setup_deadline, client, 0, DeadlineKind::stream_setup});
  }
  return it->second;
}

void TurnServer::handle_stream_opened(TimePoint now, const Endpoint& local,
                                      const Endpoint& remote) {
  expire(now);
  (void)open_stream(now, ClientTuple{Transport::tcp, local, remote});
}

void TurnServer::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                               ByteView bytes) {
  expire(now);
  const ClientTuple client{Transport::tcp, local, remote};
  StreamFramer& framer = open_stream(now, client).framer;
  if (!framer.push(bytes)) {
    // RFC 8656 §12.5: the stream carries only STUN and ChannelData; past junk there is
    // no finding the next frame, so the connection goes.
    ++counters_.dropped_malformed;
    out_.push_close(local, remote);
    return close_stream(client);
  }
  while (auto frame = framer.next()) {
    (void)handle_client(now, client, *frame);
    // A frame's handling may close the connection (never today, but cheap to respect).
    if (!streams_.contains(client)) return;
  }
  // What is left is one incomplete frame: past the limit it is too large to be one we
  // accept, and waiting for the rest would let a client park that much memory here.
  if (framer.failed() || framer.buffered() > config_.max_stream_frame) {
    ++counters_.streams_oversized;
    out_.push_close(local, remote);
    close_stream(client);
  }
}

void TurnServer::handle_stream_closed(TimePoint now, const Endpoint& local,
                                      const Endpoint& remote) {
  expire(now);
  close_stream(ClientTuple{Transport::tcp, local, remote});
}

void TurnServer::close_stream(const ClientTuple& client) {
  streams_.erase(client);
  // The allocation's 5-tuple is the connection's: once it is gone nothing can refresh
  // or use the allocation, so it goes too (as coturn does).
  auto it = allocations_.find(client);
  if (it == allocations_.end()) return;
  release(it);
  ++counters_.allocations_closed;
}

void TurnServer::reply(const ClientTuple& client, ByteView bytes) {
  out_.push(client.local, client.remote, bytes, client.transport);
}

void TurnServer::release(AllocationTable::iterator it) {
  port_state(it->second.relay.port) = PortState::free;
  relay_to_client_.erase(it->second.relay);
  uncharge(it->second.user);
  allocations_.erase(it);
}

// RFC 8656 §12.6: ChannelData from the client goes to the bound peer; numbers in the
// reserved range (past 0x4FFF, or 0x7FFF with RFC 5766 channels) are discarded.
bool TurnServer::channel_data(TimePoint now, const ClientTuple& client, ByteView bytes) {
  auto cd = parse_channel_data(bytes, channel_range());
  Allocation* a = find(client);
  if (!cd || a == nullptr) {
    ++counters_.dropped_malformed;
    return false;
  }
  auto ch = a->channels.find(cd->channel);
  if (ch == a->channels.end() || ch->second.expires <= now) {
    ++counters_.dropped_no_permission;
    return false;
  }
  out_.push(a->relay, ch->second.peer, cd->data);
  ++counters_.relayed_to_peer;
  counters_.bytes_to_peer += cd->data.size();
  return true;
}

bool TurnServer::handle_client(TimePoint now, const ClientTuple& client, ByteView bytes) {
  if (!bytes.empty() && (bytes[0] & 0xC0) == 0x40) return channel_data(now, client, bytes);
  auto m = Message::parse(bytes);
  if (!m || (m->has(attr::fingerprint) && !m->fingerprint_ok())) {
    ++counters_.dropped_malformed;
    return false;
  }
  if (m->cls() == Class::indication) {
    if (m->method() != method::send) return false;
    send_indication(now, *m, client);
    return true;
  }
  if (m->cls() != Class::request) return false;  // a server sends no requests
  ++counters_.requests;
  if (auto unknown = m->unknown_required(); !unknown.empty()) {
    unknown_attributes(*m, client, std::move(unknown));
    return true;
  }
  const std::uint16_t mth = m->method();
  if (mth == method::binding) {
    std::array<std::uint8_t, kMaxBuffer> buf{};
    Writer w(buf, method::binding, Class::success, m->transaction_id());
    w.add_xor_address(attr::xor_mapped_address, client.remote);
    w.add_fingerprint();
    if (auto out = w.finish()) reply(client, *out);
    return true;
  }
  if (mth != method::allocate && mth != method::refresh && mth != method::create_permission &&
      mth != method::channel_bind) {
    error(*m, client, error_code::bad_request);
    return true;
  }
  auto auth = authenticate(now, *m, client);
  if (!auth) return true;
  switch (mth) {
    case method::allocate:
      allocate(now, *m, client, *auth);
      break;
    case method::refresh:
      refresh(now, *m, client, *auth);
      break;
    case method::create_permission:
      create_permission(now, *m, client, *auth);
      break;
    default:
      channel_bind(now, *m, client, *auth);
      break;
  }
  return true;
}

// RFC 8489 §9.2.4: responses to an authenticated request carry the integrity attribute
// the request's processing calls for, keyed like the request.
void TurnServer::sign(Writer& w, const Auth& auth) const {
  if (auth.sha256) {
    w.add_message_integrity_sha256(auth.key);
  } else {
    w.add_message_integrity(auth.key);
  }
}

// Stale entries (an allocation shortened by a Refresh, a connection that allocated or
// closed, a claimed reservation) wait in the heap until their time. Once they outnumber
// the live state the heap is rebuilt from it: O(n) after at least n pushes, so each push
// stays O(log n) amortised and the heap never holds more than about twice the live state.
// Compaction comes first: `d` may belong to state not in the tables yet.
void TurnServer::push_deadline(const Deadline& d) {
  const std::size_t live = allocations_.size() + reservations_.size() + streams_.size();
  if (deadlines_.size() >= 2 * live + 64) compact_deadlines();
  deadlines_.push_back(d);
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
}

void TurnServer::compact_deadlines() {
  deadlines_.clear();
  for (auto& [client, a] : allocations_) {
    a.queued = a.expires;
    deadlines_.push_back(Deadline{a.expires, client});
  }
  for (const auto& [token, r] : reservations_)
    deadlines_.push_back(Deadline{r.expires, {}, token, DeadlineKind::reservation});
  for (const auto& [client, s] : streams_) {
    if (!allocations_.contains(client))
      deadlines_.push_back(Deadline{s.setup_deadline, client, 0, DeadlineKind::stream_setup});
  }
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
}

void TurnServer::expire(TimePoint now) {
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
    const Deadline d = deadlines_.back();
    deadlines_.pop_back();
    switch (d.kind) {
      case DeadlineKind::reservation: {
        // RFC 8656 §7.2: a reservation nobody claimed frees its port when it lapses.
        auto r = reservations_.find(d.token);
        if (r == reservations_.end() || r->second.expires > now) break;
        port_state(r->second.port) = PortState::free;
        uncharge(r->second.user);
        ++counters_.reservations_expired;
        reservations_.erase(r);
        break;
      }
      case DeadlineKind::stream_setup: {
        // A connection that has not allocated by now goes (docs/turn.md).
        auto s = streams_.find(d.client);
        if (s == streams_.end() || s->second.setup_deadline != d.at ||
            allocations_.contains(d.client))
          break;
        ++counters_.streams_setup_timeout;
        out_.push_close(d.client.local, d.client.remote);
        close_stream(d.client);
        break;
      }
      case DeadlineKind::allocation: {
        auto it = allocations_.find(d.client);
        if (it == allocations_.end() || it->second.queued != d.at) break;  // gone or stale
        if (it->second.expires > now) {
          // Refreshed since this entry was queued: look again at the new expiry.
          it->second.queued = it->second.expires;
          push_deadline(Deadline{it->second.expires, d.client});
          break;
        }
        ++counters_.allocations_expired;
        release(it);
        break;
      }
    }
  }
}

void TurnServer::handle_timeout(TimePoint now) {
  expire(now);
}

std::optional<TimePoint> TurnServer::poll_timeout() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.front().at;
}

}  // namespace natsim::traversal::turn
