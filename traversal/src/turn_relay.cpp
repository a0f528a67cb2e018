// Permissions, channels and the relay itself (RFC 8656 §9-§12): CreatePermission,
// ChannelBind, Send indications, and peers' datagrams back to the client.
#include <algorithm>
#include <array>

#include "natsim/base/random.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_server_internal.hpp"

namespace natsim::traversal::turn {

using stun::Class;
using stun::Message;
using stun::Writer;
namespace attr = stun::attr;
namespace method = stun::method;
namespace error_code = stun::error;
using detail::kChannelLifetime;
using detail::kPermissionLifetime;

void TurnServer::create_permission(TimePoint now, const Message& m, const ClientTuple& client,
                                   const Auth& auth) {
  Allocation* a = find(client);
  if (a == nullptr || a->user != auth.user)
    return error(m, client, error_code::allocation_mismatch, &auth);
  prune(*a, now);
  std::vector<IpAddress> peers;
  // Decode every XOR-PEER-ADDRESS in order (a request may carry several, RFC 8656 §9.1):
  // each through a one-attribute message, since Message::xor_address finds the first.
  // Its value is 8 (IPv4) or 20 (IPv6) bytes (RFC 8489 §14.2); anything longer cannot be
  // one and would not fit the one-attribute message.
  constexpr std::size_t kMaxPeerValue = 20;
  for (const stun::Attribute& at : m.attributes()) {
    if (at.type != attr::xor_peer_address) continue;
    if (at.value.size() > kMaxPeerValue) return error(m, client, error_code::bad_request, &auth);
    std::array<std::uint8_t, stun::kHeaderSize + 4 + kMaxPeerValue> one{};
    Writer w(one, m.method(), m.cls(), m.transaction_id());
    w.add(at.type, at.value);
    const auto bytes = w.finish();
    auto single =
        bytes ? Message::parse(*bytes)
              : boost::system::result<Message, stun::ParseError>(stun::ParseError::too_short);
    auto peer = single ? single->xor_address(attr::xor_peer_address) : std::nullopt;
    if (!peer) return error(m, client, error_code::bad_request, &auth);
    // More addresses than an allocation may ever hold: no need to decode the rest.
    if (peers.size() >= config_.max_permissions_per_allocation) {
      ++counters_.capacity_rejections;
      return error(m, client, error_code::insufficient_capacity, &auth);
    }
    peers.push_back(peer->address);
  }
  if (peers.empty()) return error(m, client, error_code::bad_request, &auth);
  std::size_t added = 0;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const IpAddress& p = peers[i];
    if (p.family() != a->relay.address.family())
      return error(m, client, error_code::peer_address_family_mismatch, &auth);
    if (denied(p)) {
      ++counters_.forbidden;
      return error(m, client, error_code::forbidden, &auth);
    }
    const bool repeated = std::find(peers.begin(), peers.begin() + static_cast<std::ptrdiff_t>(i),
                                    p) != peers.begin() + static_cast<std::ptrdiff_t>(i);
    if (!repeated && !a->permissions.contains(p)) ++added;
  }
  // RFC 8656 §9.2: a valid request the server has no room for is 508.
  if (a->permissions.size() + added > config_.max_permissions_per_allocation) {
    ++counters_.capacity_rejections;
    return error(m, client, error_code::insufficient_capacity, &auth);
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
  // RFC 8656 §11.2: a valid request the server has no room for is 508 (prune above left
  // only live channels and permissions).
  const bool new_channel = !a->channels.contains(channel);
  const bool new_permission = !a->permissions.contains(peer->address);
  if ((new_channel && a->channels.size() >= config_.max_channels_per_allocation) ||
      (new_permission && a->permissions.size() >= config_.max_permissions_per_allocation)) {
    ++counters_.capacity_rejections;
    return error(m, client, error_code::insufficient_capacity, &auth);
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
  // Permissions exist only for allowed peers, but the denylist is checked here too so a
  // Send indication can never reach a denied address whatever state the allocation is in.
  if (denied(peer->address)) {
    ++counters_.dropped_forbidden;
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

bool TurnServer::handle_peer(TimePoint now, Allocation& a, const Endpoint& peer, ByteView bytes) {
  // RFC 8656 §10.3: only peers with a permission reach the client.
  auto perm = a.permissions.find(peer.address);
  if (perm == a.permissions.end() || perm->second <= now) {
    ++counters_.dropped_no_permission;
    return true;  // the relay's, filtered (RFC 8656 §10.3)
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
      return true;
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
  return true;
}

void TurnServer::prune(Allocation& a, TimePoint now) {
  std::erase_if(a.permissions, [&](const auto& kv) { return kv.second <= now; });
  std::erase_if(a.channels, [&](const auto& kv) { return kv.second.expires <= now; });
}

}  // namespace natsim::traversal::turn
