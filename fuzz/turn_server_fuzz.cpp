// The TURN server's authenticated paths. A client first allocates for real (401, then an
// Allocate with the nonce it got, over UDP and over TCP) and permits and binds a peer;
// then the input is a script of operations: requests built from fuzzed attributes and
// signed with valid MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT (so Allocate, Refresh,
// CreatePermission and ChannelBind handlers see them), raw datagrams and TCP bytes,
// ChannelData, peer datagrams, Send indications, time passing, connections opening and
// closing. Invariants are checked after every step: the relay never sends to a denied
// peer, state stays bounded.
//
// Input: byte 0 = flags (bit 0: SHA-256 credentials), then operations, each an opcode
// byte and its operands (see step()). Attributes are (type: 2 bytes, length: 1, value);
// type 0xFFF0 with 6 bytes (IPv4 + port) or 0xFFF1 with 18 (IPv6 + port) becomes an
// XOR-PEER-ADDRESS encoded properly, so denylist and permission paths are easy to reach.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "natsim/traversal/peer_denylist.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"

using namespace natsim;
using namespace natsim::traversal;
namespace attr = stun::attr;
namespace method = stun::method;

namespace {

const Endpoint kListen{IpAddress::v4(192, 0, 2, 1), 3478};
const Endpoint kUdpClient{IpAddress::v4(198, 51, 100, 7), 40000};
const Endpoint kTcpClient{IpAddress::v4(198, 51, 100, 7), 40001};
const Endpoint kPeer{IpAddress::v4(198, 51, 100, 9), 6000};
const Endpoint kOtherPeer{IpAddress::v4(127, 0, 0, 1), 6000};  // denied: never permitted
constexpr std::uint16_t kRelayFirst = 50000;
constexpr std::uint16_t kRelayCount = 4;
constexpr std::uint16_t kMethods[] = {
    method::binding, method::allocate,          method::refresh,      method::send,
    method::data,    method::create_permission, method::channel_bind, 0x00A};

// Reads operands; past the end everything is zero-length or zero.
struct Reader {
  ByteView in;
  std::size_t pos = 0;
  [[nodiscard]] bool done() const { return pos >= in.size(); }
  std::uint8_t u8() { return done() ? 0 : in[pos++]; }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  ByteView take(std::size_t n) {
    n = std::min(n, in.size() - std::min(pos, in.size()));
    const ByteView out = in.subspan(pos, n);
    pos += n;
    return out;
  }
};

struct World {
  explicit World(bool sha256) : sha256(sha256), server(1, config(sha256)) {
    key = stun::long_term_key(
        "alice", "natsim", "secret",
        sha256 ? stun::PasswordAlgorithm::sha256 : stun::PasswordAlgorithm::md5);
  }

  static turn::ServerConfig config(bool sha256) {
    turn::ServerConfig c;
    c.listen = kListen;
    c.relay_address = kListen.address;
    c.relay_port_first = kRelayFirst;
    c.relay_port_count = kRelayCount;
    c.users = {{"alice", "secret"}};
    c.offer_sha256 = sha256;
    c.max_allocations_per_user = 3;
    c.max_permissions_per_allocation = 8;
    c.max_channels_per_allocation = 4;
    c.max_stream_frame = 2048;
    return c;
  }

  // Takes every transmit, checks it, and learns the newest nonce from the answers.
  void drain() {
    while (auto t = server.poll_transmit(out)) {
      const ByteView bytes(out.data(), t->size);
      if (t->local != kListen) {
        // From a relay: the one thing a TURN server must never do is reach a denied peer.
        if (turn::peer_denied(t->remote.address, denied, {})) std::abort();
        continue;
      }
      if (t->close || bytes.empty()) continue;
      auto m = stun::Message::parse(bytes);
      if (!m) continue;
      if (auto n = m->text(attr::nonce)) nonce.assign(n->begin(), n->end());
    }
    // Bounded state, whatever the input: the heap holds at most about twice the most
    // live state there has been (entries of released state wait for their time).
    if (server.allocation_count() > kRelayCount) std::abort();
    const std::size_t live =
        server.allocation_count() + server.reservation_count() + server.stream_count();
    peak_live = std::max(peak_live, live);
    if (server.deadline_count() > 2 * peak_live + 64 + 4) std::abort();
  }

  void to_client(const Endpoint& client, Transport transport, ByteView bytes) {
    if (transport == Transport::tcp) {
      server.handle_stream(now, kListen, client, bytes);
    } else {
      (void)server.handle_datagram(now, kListen, client, bytes);
    }
    drain();
  }

  // A request (or indication) with the given attributes; signed like a real client's
  // unless `sign` is false.
  std::optional<ByteView> build(std::uint16_t mth, stun::Class cls, Reader* attrs,
                                std::size_t count, bool sign) {
    stun::TransactionId tid{};
    ++tids;
    std::memcpy(tid.data(), &tids, sizeof tids);
    stun::Writer w(buf, mth, cls, tid);
    for (std::size_t i = 0; attrs != nullptr && i < count && !attrs->done(); ++i) {
      const std::uint16_t type = attrs->u16();
      const ByteView value = attrs->take(attrs->u8());
      if (type == 0xFFF0 && value.size() == 6) {
        const Endpoint e{IpAddress::v4(value[0], value[1], value[2], value[3]),
                         static_cast<std::uint16_t>((value[4] << 8) | value[5])};
        w.add_xor_address(attr::xor_peer_address, e);
      } else if (type == 0xFFF1 && value.size() == 18) {
        IpAddress::Bytes16 b{};
        std::memcpy(b.data(), value.data(), 16);
        w.add_xor_address(
            attr::xor_peer_address,
            Endpoint{IpAddress::v6(b), static_cast<std::uint16_t>((value[16] << 8) | value[17])});
      } else {
        w.add(type, value);
      }
    }
    if (sign) {
      w.add_text(attr::username, "alice");
      w.add_text(attr::realm, "natsim");
      w.add_text(attr::nonce, nonce);
      if (sha256) {
        // RFC 8489 §9.2.4: the 401's list echoed, SHA-256 chosen from it.
        const std::uint8_t algs[] = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
        const std::uint8_t alg[] = {0x00, 0x02, 0x00, 0x00};
        w.add(attr::password_algorithms, algs);
        w.add(attr::password_algorithm, alg);
        w.add_message_integrity_sha256(key);
      } else {
        w.add_message_integrity(key);
      }
    }
    w.add_fingerprint();
    return w.finish();
  }

  void request(const Endpoint& client, Transport transport, std::uint16_t mth,
               const std::vector<std::uint8_t>& script) {
    Reader r{script};
    if (auto bytes = build(mth, stun::Class::request, &r, 64, true))
      to_client(client, transport, *bytes);
  }

  // What a real client does first: challenge, Allocate, permit and bind kPeer.
  void set_up(const Endpoint& client, Transport transport) {
    const std::vector<std::uint8_t> udp = {0x00, 0x19, 4, turn::kTransportUdp, 0, 0, 0};
    if (auto challenge = build(method::allocate, stun::Class::request, nullptr, 0, false))
      to_client(client, transport, *challenge);
    request(client, transport, method::allocate, udp);
    const auto p = kPeer.address.bytes();
    const std::uint8_t port_hi = kPeer.port >> 8, port_lo = kPeer.port & 0xff;
    const std::vector<std::uint8_t> peer = {0xFF, 0xF0, 6,       p[0],   p[1],
                                            p[2], p[3], port_hi, port_lo};
    request(client, transport, method::create_permission, peer);
    std::vector<std::uint8_t> bind = {0x00, 0x0C, 4, 0x40, 0x00, 0, 0};
    bind.insert(bind.end(), peer.begin(), peer.end());
    request(client, transport, method::channel_bind, bind);
  }

  void step(Reader& r) {
    const std::uint8_t op = r.u8();
    const bool tcp = (op & 0x80) != 0;
    const Endpoint& client = tcp ? kTcpClient : kUdpClient;
    const Transport transport = tcp ? Transport::tcp : Transport::udp;
    switch (op & 0x07) {
      case 0: {  // a signed request: method, attribute count, attributes
        const std::uint16_t mth = kMethods[r.u8() % std::size(kMethods)];
        const std::size_t count = r.u8();
        if (auto bytes = build(mth, stun::Class::request, &r, count, true))
          to_client(client, transport, *bytes);
        break;
      }
      case 1: {  // raw bytes from the client
        const ByteView bytes = r.take(r.u16());
        to_client(client, transport, bytes);
        break;
      }
      case 2: {  // a peer's datagram to a relay port
        const auto port = static_cast<std::uint16_t>(kRelayFirst + r.u8() % kRelayCount);
        const Endpoint& from = (r.u8() & 1) ? kOtherPeer : kPeer;
        (void)server.handle_datagram(now, Endpoint{kListen.address, port}, from, r.take(r.u16()));
        drain();
        break;
      }
      case 3: {  // ChannelData
        const std::uint16_t channel = r.u16();
        const ByteView data = r.take(r.u16());
        if (auto n = turn::write_channel_data(frame, channel, data, tcp))
          to_client(client, transport, ByteView(frame.data(), *n));
        break;
      }
      case 4: {  // time passes (up to ~70 minutes: past every lifetime)
        now += seconds(r.u16() % 4200);
        server.handle_timeout(now);
        drain();
        break;
      }
      case 5: {  // a Send indication (never signed)
        const std::size_t count = r.u8();
        if (auto bytes = build(method::send, stun::Class::indication, &r, count, false))
          to_client(client, transport, *bytes);
        break;
      }
      case 6: {  // the TCP connection closes, reopens, allocates again
        server.handle_stream_closed(now, kListen, kTcpClient);
        drain();
        server.handle_stream_opened(now, kListen, kTcpClient);
        set_up(kTcpClient, Transport::tcp);
        break;
      }
      default: {  // the next poll_timeout fires
        if (auto t = server.poll_timeout()) {
          now = std::max(now, *t);
          server.handle_timeout(now);
          drain();
        }
        break;
      }
    }
  }

  bool sha256;
  turn::TurnServer server;
  std::vector<std::uint8_t> key;
  std::string nonce;
  std::uint64_t tids = 0;
  TimePoint now = at(seconds(1));
  std::vector<Prefix> denied = turn::default_denied_peers();
  std::size_t peak_live = 0;
  // Scratch, shared by every input (zeroing 200 KiB per input would halve the speed).
  static inline std::array<std::uint8_t, 70000> buf{};    // requests are built here
  static inline std::array<std::uint8_t, 70000> frame{};  // ChannelData
  static inline std::array<std::uint8_t, 70000> out{};    // transmits
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r{ByteView(data, size)};
  const bool sha256 = (r.u8() & 1) != 0;
  auto world = std::make_unique<World>(sha256);  // a fresh server per input
  world->set_up(kUdpClient, Transport::udp);
  world->server.handle_stream_opened(world->now, kListen, kTcpClient);
  world->set_up(kTcpClient, Transport::tcp);
  if (world->server.allocation_count() != 2) std::abort();  // the set-up must succeed
  for (int steps = 0; steps < 64 && !r.done(); ++steps)
    world->step(r);
  return 0;
}
