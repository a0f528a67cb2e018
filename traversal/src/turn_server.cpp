#include "natsim/traversal/turn_server.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "natsim/base/random.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::turn {

using stun::Class;
using stun::Message;
using stun::Writer;
namespace attr = stun::attr;
namespace method = stun::method;
namespace error_code = stun::error;

namespace {
constexpr Duration kPermissionLifetime = minutes(5);  // RFC 8656 §9
constexpr Duration kChannelLifetime = minutes(10);    // RFC 8656 §12
// RFC 8656 §7.2: a reserved port is held at least 30 s (we hold it exactly that long).
constexpr Duration kReservationLifetime = seconds(30);
// RFC 8489 §9.2: a nonce starting with this cookie announces security features; "AAAB"
// is the 24-bit set with "Password algorithms" (bit 0, §18.1 with erratum 6290) set.
constexpr std::string_view kNonceCookie = "obMatJos2AAAB";
// RFC 8489 §14.11: what the 401 offers, in order of preference: SHA-256, then MD5.
constexpr std::uint8_t kOfferedAlgorithms[] = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
constexpr std::size_t kMaxBuffer = 1500 + 128;

}  // namespace

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

std::string TurnServer::make_nonce(TimePoint now) {
  // Stateless: the issue time and a MAC over it under the server's secret.
  const auto t = static_cast<unsigned long long>(to_ns(now));
  char time_hex[17];
  std::snprintf(time_hex, sizeof time_hex, "%016llx", t);
  std::uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = static_cast<std::uint8_t>(secret_ >> (8 * i));
  const auto mac = stun::hmac_sha1(key, stun::as_bytes(time_hex));
  char mac_hex[17];
  std::snprintf(mac_hex, sizeof mac_hex, "%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5], mac[6], mac[7]);
  return std::string(config_.offer_sha256 ? kNonceCookie : "") + time_hex + mac_hex;
}

bool TurnServer::nonce_fresh(std::string_view nonce, TimePoint now) const {
  if (config_.offer_sha256) {
    if (!nonce.starts_with(kNonceCookie)) return false;
    nonce.remove_prefix(kNonceCookie.size());
  }
  if (nonce.size() != 32) return false;
  const std::string time_hex(nonce.substr(0, 16));
  std::uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = static_cast<std::uint8_t>(secret_ >> (8 * i));
  const auto mac = stun::hmac_sha1(key, stun::as_bytes(time_hex));
  char mac_hex[17];
  std::snprintf(mac_hex, sizeof mac_hex, "%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5], mac[6], mac[7]);
  if (nonce.substr(16) != mac_hex) return false;
  unsigned long long issued = 0;
  if (std::sscanf(time_hex.c_str(), "%16llx", &issued) != 1) return false;
  return to_ns(now) - static_cast<std::int64_t>(issued) < config_.nonce_lifetime.count();
}

bool TurnServer::denied(const IpAddress& peer) const {
  return std::any_of(config_.denied_peers.begin(), config_.denied_peers.end(),
                     [&](const Prefix& p) { return p.contains(peer); });
}

TurnServer::Allocation* TurnServer::find(const ClientTuple& client) {
  auto it = allocations_.find(client);
  return it == allocations_.end() ? nullptr : &it->second;
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

std::optional<TurnServer::Auth> TurnServer::authenticate(TimePoint now, const Message& m,
                                                         const ClientTuple& client) {
  const bool has_mi = m.has(attr::message_integrity) || m.has(attr::message_integrity_sha256);
  if (!has_mi) {
    ++counters_.challenges;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  auto user = m.text(attr::username);
  auto realm = m.text(attr::realm);
  auto nonce = m.text(attr::nonce);
  if (!user || !realm || !nonce) {
    error(m, client, error_code::bad_request);  // RFC 8489 §9.2.4
    return std::nullopt;
  }
  if (!nonce_fresh(*nonce, now)) {
    ++counters_.stale_nonces;
    error(m, client, error_code::stale_nonce, nullptr, true, now);
    return std::nullopt;
  }
  auto it = config_.users.find(std::string(*user));
  Auth auth;
  auth.user = std::string(*user);
  // RFC 8489 §9.2.4: with neither PASSWORD-ALGORITHMS nor PASSWORD-ALGORITHM the key is
  // MD5 and responses carry MESSAGE-INTEGRITY; otherwise (our nonces carry the cookie
  // with "Password algorithms") both must be there, PASSWORD-ALGORITHMS exactly as our
  // 401 sent it (a list changed on the way is a bid-down, §9.2.1) and PASSWORD-ALGORITHM
  // one of its entries, else 400; responses then carry MESSAGE-INTEGRITY-SHA256.
  auto algorithm = m.find(attr::password_algorithm);
  auto algorithms = m.find(attr::password_algorithms);
  stun::PasswordAlgorithm key_algorithm = stun::PasswordAlgorithm::md5;
  if (algorithm || algorithms) {
    const ByteView offered = config_.offer_sha256 ? ByteView(kOfferedAlgorithms) : ByteView();
    const bool listed = algorithms && std::ranges::equal(algorithms->value, offered);
    const std::uint16_t id =
        algorithm && algorithm->value.size() >= 2 ? wire::get16(algorithm->value.data()) : 0;
    const bool md5 = id == static_cast<std::uint16_t>(stun::PasswordAlgorithm::md5);
    const bool sha256 = id == static_cast<std::uint16_t>(stun::PasswordAlgorithm::sha256);
    if (!config_.offer_sha256) {
      // No cookie and no list offered (an RFC 5389 server): only MD5 makes sense.
      if (algorithms || !md5) {
        error(m, client, error_code::bad_request);
        return std::nullopt;
      }
    } else if (!listed || !(md5 || sha256)) {
      error(m, client, error_code::bad_request);
      return std::nullopt;
    }
    key_algorithm = sha256 ? stun::PasswordAlgorithm::sha256 : stun::PasswordAlgorithm::md5;
    auth.sha256 = config_.offer_sha256;
  }
  if (it == config_.users.end() || *realm != config_.realm) {
    ++counters_.auth_failures;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  const auto key = stun::long_term_key(*user, config_.realm, it->second, key_algorithm);
  // RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when present, else MESSAGE-INTEGRITY.
  if (m.check_integrity(key) != stun::IntegrityResult::ok) {
    ++counters_.auth_failures;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  auth.key = key;
  return auth;
}

void TurnServer::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  expire(now);
  if (local == config_.listen) {
    return handle_client(now, ClientTuple{Transport::udp, local, remote}, bytes);
  }
  auto owner = relay_to_client_.find(local);
  if (owner == relay_to_client_.end()) {
    ++counters_.dropped_no_permission;
    return;
  }
  handle_peer(now, allocations_.at(owner->second), remote, bytes);
}

void TurnServer::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                               ByteView bytes) {
  expire(now);
  const ClientTuple client{Transport::tcp, local, remote};
  StreamFramer& framer = streams_[client];
  if (!framer.push(bytes)) {
    // RFC 8656 §12.5: the stream carries only STUN and ChannelData; past junk there is
    // no finding the next frame, so the connection goes.
    ++counters_.dropped_malformed;
    out_.push_close(local, remote);
    return close_stream(client);
  }
  while (auto frame = framer.next())
    handle_client(now, client, *frame);
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
  allocations_.erase(it);
}

void TurnServer::handle_client(TimePoint now, const ClientTuple& client, ByteView bytes) {
  if (!bytes.empty() && (bytes[0] & 0xC0) == 0x40) {
    // RFC 8656 §12.6: ChannelData from the client goes to the bound peer; numbers in
    // the reserved range (past 0x4FFF, or 0x7FFF with RFC 5766 channels) are discarded.
    auto cd = parse_channel_data(bytes, channel_range());
    Allocation* a = find(client);
    if (!cd || a == nullptr) {
      ++counters_.dropped_malformed;
      return;
    }
    auto ch = a->channels.find(cd->channel);
    if (ch == a->channels.end() || ch->second.expires <= now) {
      ++counters_.dropped_no_permission;
      return;
    }
    out_.push(a->relay, ch->second.peer, cd->data);
    ++counters_.relayed_to_peer;
    counters_.bytes_to_peer += cd->data.size();
    return;
  }
  auto m = Message::parse(bytes);
  if (!m || (m->has(attr::fingerprint) && !m->fingerprint_ok())) {
    ++counters_.dropped_malformed;
    return;
  }
  if (m->cls() == Class::indication) {
    if (m->method() == method::send) send_indication(now, *m, client);
    return;
  }
  if (m->cls() != Class::request) return;
  ++counters_.requests;
  if (auto unknown = m->unknown_required(); !unknown.empty()) {
    std::array<std::uint8_t, kMaxBuffer> buf{};
    Writer w(buf, m->method(), Class::error, m->transaction_id());
    w.add_error(error_code::unknown_attribute);
    w.add_unknown_attributes(unknown);
    w.add_fingerprint();
    if (auto out = w.finish()) reply(client, *out);
    ++counters_.errors;
    return;
  }
  const std::uint16_t mth = m->method();
  if (mth == method::binding) {
    std::array<std::uint8_t, kMaxBuffer> buf{};
    Writer w(buf, method::binding, Class::success, m->transaction_id());
    w.add_xor_address(attr::xor_mapped_address, client.remote);
    w.add_fingerprint();
    if (auto out = w.finish()) reply(client, *out);
    return;
  }
  if (mth != method::allocate && mth != method::refresh && mth != method::create_permission &&
      mth != method::channel_bind) {
    return error(*m, client, error_code::bad_request);
  }
  auto auth = authenticate(now, *m, client);
  if (!auth) return;
  switch (mth) {
    case method::allocate:
      return allocate(now, *m, client, *auth);
    case method::refresh:
      return refresh(now, *m, client, *auth);
    case method::create_permission:
      return create_permission(now, *m, client, *auth);
    default:
      return channel_bind(now, *m, client, *auth);
  }
}

// A success response, integrity-protected with the request's key.
template <class Fill>
void TurnServer::respond(const Message& m, const ClientTuple& client, const Auth& auth, Fill fill) {
  std::array<std::uint8_t, kMaxBuffer> buf{};
  Writer w(buf, m.method(), Class::success, m.transaction_id());
  fill(w);
  if (!config_.software.empty()) w.add_text(attr::software, config_.software);
  sign(w, auth);
  w.add_fingerprint();
  if (auto bytes = w.finish()) reply(client, *bytes);
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
  const auto token = m.find(attr::reservation_token);
  const auto even = m.find(attr::even_port);
  const auto family = m.find(attr::requested_address_family);
  const bool additional = m.has(attr::additional_address_family);
  // 5. RESERVATION-TOKEN (8 bytes, §18.10) excludes EVEN-PORT, REQUESTED-ADDRESS-FAMILY
  // and ADDITIONAL-ADDRESS-FAMILY (400); a token not reserved (unknown, expired, used)
  // is 508.
  std::optional<std::uint64_t> claimed;
  if (token) {
    if (token->value.size() != 8 || even || family || additional)
      return error(m, client, error_code::bad_request, &auth);
    claimed = wire::get64(token->value.data());
    if (!reservations_.contains(*claimed)) {
      ++counters_.capacity_rejections;
      return error(m, client, error_code::insufficient_capacity, &auth);
    }
  }
  // 6. REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY together: 400.
  if (family && additional) return error(m, client, error_code::bad_request, &auth);
  // 7. A family the relay address does not have is 440 (0x01 IPv4, 0x02 IPv6, §18.6).
  if (family && !family->value.empty()) {
    const std::uint8_t have = config_.relay_address.is_v4() ? 0x01 : 0x02;
    if (family->value[0] != have)
      return error(m, client, error_code::address_family_not_supported, &auth);
  }
  // 8. EVEN-PORT (one byte, §18.7; the R bit is its top bit) with R and
  // ADDITIONAL-ADDRESS-FAMILY: 400.
  if (even && even->value.empty()) return error(m, client, error_code::bad_request, &auth);
  const bool reserve_next = even && (even->value[0] & 0x80) != 0;
  if (reserve_next && additional) return error(m, client, error_code::bad_request, &auth);
  // 10. The per-user quota: 486.
  const auto user_allocations = static_cast<std::uint32_t>(
      std::count_if(allocations_.begin(), allocations_.end(),
                    [&](const auto& kv) { return kv.second.user == auth.user; }));
  if (user_allocations >= config_.max_allocations_per_user) {
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
    reservations_[*made] = Reservation{next, now + kReservationLifetime};
    deadlines_.push(Deadline{now + kReservationLifetime, {}, *made});
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
  relay_to_client_[a.relay] = client;
  deadlines_.push(Deadline{a.expires, client, 0});
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
    deadlines_.push(Deadline{a->expires, client, 0});
    prune(*a, now);
  }
  respond(m, client, auth, [&](Writer& w) {
    w.add_u32(attr::lifetime, static_cast<std::uint32_t>(lifetime / seconds(1)));
  });
}

void TurnServer::create_permission(TimePoint now, const Message& m, const ClientTuple& client,
                                   const Auth& auth) {
  Allocation* a = find(client);
  if (a == nullptr || a->user != auth.user)
    return error(m, client, error_code::allocation_mismatch, &auth);
  prune(*a, now);
  std::vector<IpAddress> peers;
  // Decode every XOR-PEER-ADDRESS in order (a request may carry several, RFC 8656 §9.1):
  // each through a one-attribute message, since Message::xor_address finds the first.
  for (const stun::Attribute& at : m.attributes()) {
    if (at.type != attr::xor_peer_address) continue;
    std::array<std::uint8_t, 64> one{};
    Writer w(one, m.method(), m.cls(), m.transaction_id());
    w.add(at.type, at.value);
    auto single = Message::parse(*w.finish());
    auto peer = single ? single->xor_address(attr::xor_peer_address) : std::nullopt;
    if (!peer) return error(m, client, error_code::bad_request, &auth);
    peers.push_back(peer->address);
  }
  if (peers.empty()) return error(m, client, error_code::bad_request, &auth);
  for (const IpAddress& p : peers) {
    if (p.family() != a->relay.address.family())
      return error(m, client, error_code::peer_address_family_mismatch, &auth);
    if (denied(p)) {
      ++counters_.forbidden;
      return error(m, client, error_code::forbidden, &auth);
    }
  }
  for (const IpAddress& p : peers)
    a->permissions[p] = now + kPermissionLifetime;
  respond(m, client, auth, [](Writer&) {});
}

void TurnServer::channel_bind(TimePoint now, const Message& m, const ClientTuple& client,
                              const Auth& auth) {
  Allocation* a = find(client);
  if (a == nullptr || a->user != auth.user)
    return error(m, client, error_code::allocation_mismatch, &auth);
  prune(*a, now);
  auto number = m.u32(attr::channel_number);
  auto peer = m.xor_address(attr::xor_peer_address);
  // RFC 8656 §12.2: 0x4000-0x4FFF (RFC 5766 §11: 0x4000-0x7FFF, when configured), else 400.
  if (!number || !peer ||
      !valid_channel(static_cast<std::uint16_t>(*number >> 16), channel_range())) {
    return error(m, client, error_code::bad_request, &auth);
  }
  const auto channel = static_cast<std::uint16_t>(*number >> 16);
  if (peer->address.family() != a->relay.address.family()) {
    return error(m, client, error_code::peer_address_family_mismatch, &auth);
  }
  if (denied(peer->address)) {
    ++counters_.forbidden;
    return error(m, client, error_code::forbidden, &auth);
  }
  // RFC 8656 §11.2: a channel stays with one peer, a peer with one channel.
  for (const auto& [c, bound] : a->channels) {
    const bool same_channel = c == channel;
    const bool same_peer = bound.peer == *peer;
    if (same_channel != same_peer && bound.expires > now)
      return error(m, client, error_code::bad_request, &auth);
  }
  a->channels[channel] = Channel{*peer, now + kChannelLifetime};
  a->permissions[peer->address] = now + kPermissionLifetime;
  respond(m, client, auth, [](Writer&) {});
}

void TurnServer::send_indication(TimePoint now, const Message& m, const ClientTuple& client) {
  // RFC 8656 §10.2: no response either way; without a permission the data is dropped.
  Allocation* a = find(client);
  auto peer = m.xor_address(attr::xor_peer_address);
  auto data = m.find(attr::data);
  if (a == nullptr || !peer || !data) {
    ++counters_.dropped_malformed;
    return;
  }
  auto perm = a->permissions.find(peer->address);
  if (perm == a->permissions.end() || perm->second <= now) {
    ++counters_.dropped_no_permission;
    return;
  }
  out_.push(a->relay, *peer, data->value);
  ++counters_.relayed_to_peer;
  counters_.bytes_to_peer += data->value.size();
}

void TurnServer::handle_peer(TimePoint now, Allocation& a, const Endpoint& peer, ByteView bytes) {
  // RFC 8656 §10.3: only peers with a permission reach the client.
  auto perm = a.permissions.find(peer.address);
  if (perm == a.permissions.end() || perm->second <= now) {
    ++counters_.dropped_no_permission;
    return;
  }
  // Room for the Data indication's header and attributes around the payload.
  if (scratch_.size() < bytes.size() + 64) scratch_.resize(bytes.size() + 64);
  const MutableByteView buf(scratch_.data(), bytes.size() + 64);
  for (const auto& [channel, bound] : a.channels) {
    if (bound.peer == peer && bound.expires > now) {
      // §12.5: ChannelData, padded to 4 bytes over TCP only.
      if (auto n = write_channel_data(buf, channel, bytes, a.client.transport == Transport::tcp)) {
        reply(a.client, ByteView(buf.data(), *n));
        ++counters_.relayed_to_client;
        counters_.bytes_to_client += bytes.size();
      }
      return;
    }
  }
  stun::TransactionId tid{};
  const std::uint64_t r = Rng(secret_ ^ counters_.relayed_to_client)();
  for (std::size_t i = 0; i < 8; ++i)
    tid[i] = static_cast<std::uint8_t>(r >> (8 * i));
  Writer w(buf, method::data, Class::indication, tid);
  w.add_xor_address(attr::xor_peer_address, peer);
  w.add(attr::data, bytes);
  w.add_fingerprint();
  if (auto out = w.finish()) {
    reply(a.client, *out);
    ++counters_.relayed_to_client;
    counters_.bytes_to_client += bytes.size();
  }
}

void TurnServer::expire(TimePoint now) {
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    if (d.token != 0) {
      // RFC 8656 §7.2: a reservation nobody claimed frees its port when it lapses.
      auto r = reservations_.find(d.token);
      if (r == reservations_.end() || r->second.expires > now) continue;
      port_state(r->second.port) = PortState::free;
      ++counters_.reservations_expired;
      reservations_.erase(r);
      continue;
    }
    auto it = allocations_.find(d.client);
    if (it == allocations_.end() || it->second.expires > now) continue;  // refreshed or gone
    ++counters_.allocations_expired;
    release(it);
  }
}

void TurnServer::prune(Allocation& a, TimePoint now) {
  std::erase_if(a.permissions, [&](const auto& kv) { return kv.second <= now; });
  std::erase_if(a.channels, [&](const auto& kv) { return kv.second.expires <= now; });
}

void TurnServer::handle_timeout(TimePoint now) {
  expire(now);
}

std::optional<TimePoint> TurnServer::poll_timeout() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.top().at;
}

}  // namespace natsim::traversal::turn
