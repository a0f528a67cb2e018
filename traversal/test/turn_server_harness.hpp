#pragma once
// A scripted TURN client for the server tests: builds requests (authenticated with the
// nonce of the last answer), feeds them to a TurnServer in virtual time, returns the
// answers.
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_server.hpp"
#include "natsim/traversal/turn_wire.hpp"
#include "turn_test_server.hpp"

namespace natsim::traversal::turn::test {

namespace attr = stun::attr;
namespace method = stun::method;
using stun::Class;
using stun::Message;
using stun::Writer;

inline const Endpoint kClient = *Endpoint::parse("203.0.113.2:40000");
inline const Endpoint kPeer = *Endpoint::parse("192.0.2.77:6000");

// The test server with a quota of 2 and 10.0.0.0/8 denied (and nothing else).
inline ServerConfig config() {
  ServerConfig c = server_config();
  c.max_allocations_per_user = 2;
  c.denied_peers = {*Prefix::parse("10.0.0.0/8")};
  return c;
}

// A scripted client: builds requests, feeds them to the server, returns its answers.
struct Harness {
  explicit Harness(ServerConfig c = config()) : server(1, std::move(c)) {}

  std::vector<std::vector<std::uint8_t>> feed(const Endpoint& from, const Endpoint& to,
                                              ByteView bytes) {
    handled = server.handle_datagram(now, to, from, bytes);
    std::vector<std::vector<std::uint8_t>> out;
    std::array<std::uint8_t, 4096> buf{};
    while (auto t = server.poll_transmit(buf)) {
      last_from = t->local;
      last_to = t->remote;
      out.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
    }
    return out;
  }

  // A request with the given attributes, authenticated unless `user` is empty.
  std::vector<std::uint8_t> build(std::uint16_t m, const std::function<void(Writer&)>& fill,
                                  const std::string& user = "alice",
                                  const std::string& password = "secret", bool sha256 = false) {
    std::array<std::uint8_t, 4096> buf{};
    stun::TransactionId id{};
    id[0] = static_cast<std::uint8_t>(++tid);
    id[1] = static_cast<std::uint8_t>(tid >> 8);
    Writer w(buf, m, Class::request, id);
    fill(w);
    if (!user.empty()) {
      w.add_text(attr::username, user);
      w.add_text(attr::realm, "example.org");
      w.add_text(attr::nonce, nonce);
      if (sha256) {
        // RFC 8489 §9.2.4: the 401's list echoed, and the algorithm chosen from it.
        const std::uint8_t algs[] = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
        w.add(attr::password_algorithms, algs);
        const std::uint8_t alg[] = {0x00, 0x02, 0x00, 0x00};
        w.add(attr::password_algorithm, alg);
        w.add_message_integrity_sha256(
            stun::long_term_key(user, "example.org", password, stun::PasswordAlgorithm::sha256));
      } else {
        w.add_message_integrity(stun::long_term_key(user, "example.org", password));
      }
    }
    w.add_fingerprint();
    const ByteView request = *w.finish();
    return {request.begin(), request.end()};
  }

  // The last answer as a message (the nonce it carries is kept for the next request).
  std::optional<Message> answer(const std::vector<std::vector<std::uint8_t>>& out) {
    if (out.empty()) return std::nullopt;
    stored = out.back();
    auto msg = Message::parse(stored);
    if (msg && msg->text(attr::nonce)) nonce = std::string(*msg->text(attr::nonce));
    return msg ? std::optional<Message>(*msg) : std::nullopt;
  }

  // Sends a request with the given attributes, authenticated unless `user` is empty.
  std::optional<Message> request(std::uint16_t m, const std::function<void(Writer&)>& fill,
                                 const std::string& user = "alice",
                                 const std::string& password = "secret",
                                 const Endpoint& from = kClient, bool sha256 = false) {
    sent = build(m, fill, user, password, sha256);
    return answer(feed(from, kListen, sent));
  }

  std::optional<Message> allocate(const std::string& user = "alice",
                                  const Endpoint& from = kClient) {
    auto transport = [](Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); };
    if (nonce.empty())
      (void)request(method::allocate, transport, "", "", from);  // 401 gives the nonce
    return request(method::allocate, transport, user, user == "alice" ? "secret" : "hunter2", from);
  }

  TurnServer server;
  bool handled = false;  // what handle_datagram said of the last datagram
  TimePoint now = at(seconds(1));
  std::string nonce;
  int tid = 0;
  std::vector<std::uint8_t> stored;
  std::vector<std::uint8_t> sent;  // the last request
  Endpoint last_from;
  Endpoint last_to;
};

inline std::uint16_t code_of(const std::optional<Message>& m) {
  return m && m->error_code() ? m->error_code()->code : 0;
}

}  // namespace natsim::traversal::turn::test
