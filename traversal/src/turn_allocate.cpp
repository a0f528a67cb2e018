// Allocations (RFC 8656 §7): Allocate with EVEN-PORT reservations and RESERVATION-TOKEN,
// the per-user quota, and Refresh.
#include <algorithm>
#include <array>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/wire.hpp"
#include "turn_server_internal.hpp"

namespace natsim::traversal::turn {

using stun::Class;
using stun::Message;
using stun::Writer;
namespace attr = stun::attr;
namespace error_code = stun::error;
using detail::kMaxBuffer;
using detail::kReservationLifetime;

// A free relay port: even if asked, and with a pair also port+1 free (RFC 8656 §7.2,
// EVEN-PORT with the R bit). Reserved ports are not free.
std::optional<std::uint16_t> TurnServer::pick_port(bool even, bool pair) const {
  const std::size_t count = port_state_.size();
  for (std::size_t i = 0; i < count; ++i) {
    const auto port = static_cast<std::uint16_t>(config_.relay_port_first + i);
    if (port_state_[i] != PortState::free || ((even || pair) && port % 2 != 0)) continue;
    if (pair && (i + 1 >= count || port_state_[i + 1] != PortState::free)) continue;
    return port;
  }
  return std::nullopt;
}

// RFC 8656 §18.10: an 8-byte token. The machine is deterministic, so tokens are not
// random: the first 8 bytes of an HMAC under the server's secret of a counter, which
// nobody without the secret can predict (the seeded Rng would give away its state).
std::uint64_t TurnServer::make_token() {
  std::uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = static_cast<std::uint8_t>(secret_ >> (8 * i));
  for (;;) {
    std::uint8_t input[19] = {'r', 'e', 's', 'e', 'r', 'v', 'a', 't', 'i', 'o', 'n'};
    const std::uint64_t n = tokens_made_++;
    for (int i = 0; i < 8; ++i)
      input[11 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    const auto mac = stun::hmac_sha1(key, input);
    const std::uint64_t token = wire::get64(mac.data());
    if (token != 0 && !reservations_.contains(token)) return token;
  }
}

void TurnServer::allocate(TimePoint now, const Message& m, const ClientTuple& client,
                          const Auth& auth) {
  const auto success = [&](const Endpoint& relay, Duration lifetime,
                           std::optional<std::uint64_t> token) {
    respond(m, client, auth, [&](Writer& w) {
      w.add_xor_address(attr::xor_relayed_address, relay);
      w.add_u32(attr::lifetime, static_cast<std::uint32_t>(lifetime / seconds(1)));
      // RFC 8656 §7.2: RESERVATION-TOKEN when port+1 was reserved.
      if (token) w.add_u64(attr::reservation_token, *token);
      w.add_xor_address(attr::xor_mapped_address, client.remote);
    });
  };
  // RFC 8656 §7.2 checks, in the RFC's order.
  // 2. A retransmitted Allocate gets the same answer; another on the 5-tuple is 437.
  if (Allocation* existing = find(client)) {
    if (existing->allocate_tid != m.transaction_id())
      return error(m, client, error_code::allocation_mismatch, &auth);
    return success(existing->relay, existing->expires - now, existing->reservation_token);
  }
  // 3. REQUESTED-TRANSPORT: missing or malformed 400, not UDP 442.
  auto transport = m.u32(attr::requested_transport);
  if (!transport) return error(m, client, error_code::bad_request, &auth);
  if ((*transport >> 24) != kTransportUdp)
    return error(m, client, error_code::unsupported_transport, &auth);
  // 4. Relays here cannot set DF, so DONT-FRAGMENT is an unknown attribute (420).
  if (m.has(attr::dont_fragment)) {
    std::array<std::uint8_t, kMaxBuffer> buf{};
    Writer w(buf, m.method(), Class::error, m.transaction_id());
    w.add_error(error_code::unknown_attribute);
    w.add_unknown_attributes({attr::dont_fragment});
    sign(w, auth);
    w.add_fingerprint();
    if (auto bytes = w.finish()) reply(client, *bytes);
    ++counters_.errors;
    return;
  }
  const bool has_token = m.has(attr::reservation_token);
  const auto token = m.u64(attr::reservation_token);  // nullopt too when not 8 bytes
  const bool has_even = m.has(attr::even_port);
  const auto even = m.even_port();  // its R bit; nullopt too when empty
  const bool has_family = m.has(attr::requested_address_family);
  const auto family = m.requested_address_family();
  const bool additional = m.has(attr::additional_address_family);
  // 5. RESERVATION-TOKEN (8 bytes, §18.10) excludes EVEN-PORT, REQUESTED-ADDRESS-FAMILY
  // and ADDITIONAL-ADDRESS-FAMILY (400); a token not reserved (unknown, expired, used)
  // is 508.
  std::optional<std::uint64_t> claimed;
  if (has_token) {
    if (!token || has_even || has_family || additional)
      return error(m, client, error_code::bad_request, &auth);
    claimed = *token;
    if (!reservations_.contains(*claimed)) {
      ++counters_.capacity_rejections;
      return error(m, client, error_code::insufficient_capacity, &auth);
    }
  }
  // 6. REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY together: 400.
  if (has_family && additional) return error(m, client, error_code::bad_request, &auth);
  // 7. A family the relay address does not have is 440 (0x01 IPv4, 0x02 IPv6, §18.6).
  if (family) {
    const std::uint8_t have = config_.relay_address.is_v4() ? 0x01 : 0x02;
    if (*family != have) return error(m, client, error_code::address_family_not_supported, &auth);
  }
  // 8. EVEN-PORT (one byte, §18.7; the R bit is its top bit) with R and
  // ADDITIONAL-ADDRESS-FAMILY: 400.
  if (has_even && !even) return error(m, client, error_code::bad_request, &auth);
  const bool reserve_next = even.value_or(false);
  if (reserve_next && additional) return error(m, client, error_code::bad_request, &auth);
  // 10. The per-user quota: 486. Unclaimed reservations count (else Allocate with R and
  // Refresh 0, repeated, would let one user hold every port); with R the allocation needs
  // room for its reservation too, and claiming one's own reservation needs no new room.
  std::uint32_t used = usage(auth.user);
  if (claimed && reservations_.find(*claimed)->second.user == auth.user) --used;
  const std::uint32_t needed = reserve_next ? 2 : 1;
  if (used + needed > config_.max_allocations_per_user) {
    ++counters_.quota_rejections;
    return error(m, client, error_code::allocation_quota_reached, &auth);
  }
  // The relayed port: the reserved one for a token (a server-wide reservation, usable
  // from any 5-tuple); for EVEN-PORT an even one, with R an even N whose N+1 is free too
  // (N+1 is then reserved); otherwise any free one. None: 508.
  std::optional<std::uint16_t> port;
  std::optional<std::uint64_t> made;
  if (claimed) {
    auto r = reservations_.find(*claimed);
    port = r->second.port;
    uncharge(r->second.user);
    reservations_.erase(r);
    ++counters_.reservations_used;
  } else {
    port = pick_port(even.has_value(), reserve_next);
  }
  if (!port) {
    ++counters_.capacity_rejections;
    return error(m, client, error_code::insufficient_capacity, &auth);
  }
  port_state(*port) = PortState::allocated;
  if (reserve_next) {
    const auto next = static_cast<std::uint16_t>(*port + 1);
    made = make_token();
    reservations_[*made] = Reservation{next, now + kReservationLifetime, auth.user};
    charge(auth.user);
    push_deadline(Deadline{now + kReservationLifetime, {}, *made, DeadlineKind::reservation});
    port_state(next) = PortState::reserved;
    ++counters_.reservations;
  }
  // The lifetime: the requested one clamped to [default, max].
  Duration lifetime = config_.default_lifetime;
  if (auto requested = m.u32(attr::lifetime)) {
    lifetime =
        std::clamp(Duration{seconds(*requested)}, config_.default_lifetime, config_.max_lifetime);
  }
  Allocation a;
  a.client = client;
  a.user = auth.user;
  a.relay = Endpoint{config_.relay_address, *port};
  a.expires = now + lifetime;
  a.allocate_tid = m.transaction_id();
  a.reservation_token = made;
  a.queued = a.expires;
  relay_to_client_[a.relay] = client;
  charge(auth.user);
  push_deadline(Deadline{a.expires, client});
  const Endpoint relay = a.relay;
  allocations_.emplace(client, std::move(a));
  ++counters_.allocations;
  success(relay, lifetime, made);
}

void TurnServer::refresh(TimePoint now, const Message& m, const ClientTuple& client,
                         const Auth& auth) {
  Allocation* a = find(client);
  if (a == nullptr || a->user != auth.user)
    return error(m, client, error_code::allocation_mismatch, &auth);
  const std::uint32_t requested =
      m.u32(attr::lifetime)
          .value_or(static_cast<std::uint32_t>(config_.default_lifetime / seconds(1)));
  Duration lifetime{0};
  if (requested == 0) {
    // RFC 8656 §7.3: LIFETIME 0 deletes the allocation.
    release(allocations_.find(client));
  } else {
    lifetime = std::min(Duration{seconds(requested)}, config_.max_lifetime);
    a->expires = now + lifetime;
    // The queued entry re-queues a later expiry when it comes up; only an earlier one
    // needs an entry of its own (so Refreshes cannot grow the heap, see push_deadline).
    if (a->expires < a->queued) {
      a->queued = a->expires;
      push_deadline(Deadline{a->expires, client});
    }
    prune(*a, now);
  }
  respond(m, client, auth, [&](Writer& w) {
    w.add_u32(attr::lifetime, static_cast<std::uint32_t>(lifetime / seconds(1)));
  });
}

}  // namespace natsim::traversal::turn
