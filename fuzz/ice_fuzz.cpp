// The ICE agent driven with arbitrary STUN from any address: raw datagrams, requests
// signed with the agent's password (so they reach the check logic), answers to the
// agent's own checks (any class, error code and mapped address, signed with the remote
// password) and the passing of time. Invariants: nothing crashes, and a deadline that
// has passed is consumed by handle_timeout (no driver could spin on it forever).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "natsim/traversal/ice_agent.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"

using namespace natsim;
using namespace natsim::traversal;

namespace {

struct Input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::uint64_t u64() { return std::uint64_t{u32()} << 32 | u32(); }
};

const Endpoint kLocal{IpAddress::v4(10, 0, 0, 1), 5000};
const Endpoint kLocal2{IpAddress::v4(10, 0, 0, 1), 5001};
const Endpoint kRemotes[] = {
    {IpAddress::v4(10, 0, 0, 2), 6000},
    {IpAddress::v4(203, 0, 113, 9), 40000},
    {IpAddress::v4(203, 0, 113, 9), 40001},
    {IpAddress::v4(192, 0, 2, 7), 9},
};
const std::string kRemoteUfrag = "rmt1";
const std::string kRemotePwd = "remote-password-0123456789";

Endpoint pick(Input& in) {
  const std::uint8_t b = in.u8();
  if (b < 200) return kRemotes[b % 4];
  return Endpoint{IpAddress::v4(198, 51, 100, in.u8()), in.u16()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{data, size};
  ice::AgentConfig config;
  config.controlling = (in.u8() & 1) != 0;
  config.aggressive_nomination = (in.u8() & 1) != 0;
  config.host = {kLocal, kLocal2};
  config.ufrag = "fuzz";
  config.pwd = "fuzz-password-0123456789";
  ice::Agent agent(in.u64(), config);
  TimePoint now{};
  agent.gather(now);
  std::vector<ice::Candidate> remote{
      ice::make_candidate(ice::CandidateType::host, kRemotes[0], kRemotes[0]),
      ice::make_candidate(ice::CandidateType::srflx, kRemotes[1], kRemotes[0])};
  agent.set_remote(now, kRemoteUfrag, kRemotePwd, remote, (in.u8() & 1) != 0);

  std::array<std::uint8_t, 65536> buf;
  std::vector<std::uint8_t> msg(2048);
  std::optional<stun::TransactionId> last_request;
  Endpoint last_to = kRemotes[0];
  Endpoint last_from = kLocal;
  auto drain = [&] {
    while (auto t = agent.poll_transmit(buf)) {
      if (t->size > buf.size()) std::abort();
      auto m = stun::Message::parse(ByteView(buf.data(), t->size));
      if (m && m->cls() == stun::Class::request) {
        last_request = m->transaction_id();
        last_to = t->remote;
        last_from = t->local;
      }
    }
    while (auto e = agent.poll_event()) {
      if (std::holds_alternative<ice::Selected>(*e)) {
        const std::uint8_t x[] = {1, 2, 3};
        (void)agent.send(now, x);
      }
    }
  };
  drain();

  for (int steps = 0; in.n > 0 && steps < 256; ++steps) {
    switch (in.u8() % 5) {
      case 0: {  // raw bytes from anywhere
        const Endpoint from = pick(in);
        const Endpoint to = (in.u8() & 1) ? kLocal : kLocal2;
        const std::size_t len = std::min<std::size_t>(in.u16() % 1024, in.n);
        (void)agent.handle_datagram(now, to, from, ByteView(in.p, len));
        in.p += len;
        in.n -= len;
        break;
      }
      case 1: {  // a check from the other agent, properly signed or nearly so
        const std::uint8_t flags = in.u8();
        stun::TransactionId id{};
        for (auto& b : id)
          b = in.u8();
        stun::Writer w(msg, stun::method::binding, stun::Class::request, id);
        if (flags & 1) w.add_text(stun::attr::username, "fuzz:" + kRemoteUfrag);
        if (flags & 2) w.add_u32(stun::attr::priority, in.u32());
        if (flags & 4) w.add_u64(stun::attr::ice_controlling, in.u64());
        if (flags & 8) w.add_u64(stun::attr::ice_controlled, in.u64());
        if (flags & 16) w.add_empty(stun::attr::use_candidate);
        if (flags & 32) w.add_u32(static_cast<std::uint16_t>(in.u16() & 0x7FFF), 0);
        w.add_message_integrity(stun::as_bytes(flags & 64 ? "wrong" : "fuzz-password-0123456789"));
        if (!(flags & 128)) w.add_fingerprint();
        if (auto b = w.finish()) (void)agent.handle_datagram(now, last_from, pick(in), *b);
        break;
      }
      case 2: {  // an answer to the agent's last check
        if (!last_request) break;
        const std::uint8_t flags = in.u8();
        stun::Writer w(msg, stun::method::binding,
                       flags & 1 ? stun::Class::error : stun::Class::success, *last_request);
        if (flags & 1) w.add_error(flags & 2 ? ice::kRoleConflict : in.u16() % 700);
        if (flags & 4) w.add_xor_address(stun::attr::xor_mapped_address, pick(in));
        w.add_message_integrity(stun::as_bytes(flags & 8 ? "wrong" : kRemotePwd));
        w.add_fingerprint();
        const Endpoint from = flags & 16 ? pick(in) : last_to;
        if (auto b = w.finish()) (void)agent.handle_datagram(now, last_from, from, *b);
        break;
      }
      case 3: {  // time passes
        now += milliseconds(in.u16());
        break;
      }
      case 4: {  // trickle
        const Endpoint e = pick(in);
        if (in.u8() & 1) {
          agent.add_remote_candidate(now, ice::make_candidate(ice::CandidateType::host, e, e));
        } else {
          agent.end_of_remote_candidates(now);
        }
        break;
      }
    }
    drain();
    for (int spins = 0;; ++spins) {
      const auto t = agent.poll_timeout();
      if (!t || *t > now) break;
      if (spins > 10000) std::abort();  // a deadline handle_timeout never consumes
      agent.handle_timeout(now);
      drain();
    }
  }
  return 0;
}
