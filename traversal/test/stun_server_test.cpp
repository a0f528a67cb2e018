// The STUN server against hostile requests: what handle_datagram claims as its own, and
// a 420 that still fits when a request carries hundreds of unknown attributes.
#include "natsim/traversal/stun_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::stun {
namespace {

const Endpoint kServer = *Endpoint::parse("198.51.100.1:3478");
const Endpoint kClient = *Endpoint::parse("203.0.113.2:40000");

struct Answer {
  bool handled = false;
  std::vector<std::uint8_t> bytes;
};

Answer feed(StunServer& s, ByteView bytes) {
  Answer a;
  a.handled = s.handle_datagram(at(seconds(1)), kServer, kClient, bytes);
  std::array<std::uint8_t, 4096> buf{};
  while (auto t = s.poll_transmit(buf))
    a.bytes.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
  return a;
}

ServerConfig config() {
  ServerConfig c;
  c.primary = kServer;
  return c;
}

TEST(StunServer, ManyUnknownAttributesGetATruncated420) {
  StunServer s(config());
  std::array<std::uint8_t, 2048> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{1});
  for (std::uint16_t i = 0; i < 300; ++i)
    w.add_empty(static_cast<std::uint16_t>(0x7000 + i));
  w.add_fingerprint();
  auto a = feed(s, *w.finish());
  EXPECT_TRUE(a.handled);
  auto m = Message::parse(a.bytes);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->error_code());
  EXPECT_EQ(m->error_code()->code, 420);
  EXPECT_TRUE(m->fingerprint_ok());
  const auto listed = m->unknown_attributes_value();
  ASSERT_EQ(listed.size(), 64u);
  EXPECT_EQ(listed.front(), 0x7000);
  EXPECT_EQ(s.counters().error_responses, 1u);
}

TEST(StunServer, HandleDatagramSaysWhetherTheDatagramWasItsOwn) {
  StunServer s(config());
  const std::uint8_t junk[] = {0x40, 0, 0, 4, 1, 2, 3, 4};
  EXPECT_FALSE(feed(s, junk).handled);
  std::array<std::uint8_t, 64> buf{};
  Writer request(buf, method::binding, Class::request, TransactionId{2});
  request.add_fingerprint();
  auto a = feed(s, *request.finish());
  EXPECT_TRUE(a.handled);
  EXPECT_EQ(Message::parse(a.bytes)->cls(), Class::success);
  Writer response(buf, method::binding, Class::success, TransactionId{3});
  EXPECT_FALSE(feed(s, *response.finish()).handled);
  // A request it refuses (not Binding) is still its own.
  Writer other(buf, 0x003, Class::request, TransactionId{4});
  EXPECT_TRUE(feed(s, *other.finish()).handled);
}

TEST(StunServer, PaddedResponseIsCappedAtTheLargestMessage) {
  // RFC 5780 §7.6: the response matches the request's size, which here is near the
  // largest a STUN message can be.
  StunServer s(config());
  std::vector<std::uint8_t> buf(65555);
  Writer w(buf, method::binding, Class::request, TransactionId{5});
  w.add(attr::padding, std::vector<std::uint8_t>(65000, 0));
  w.add_fingerprint();
  const auto request = *w.finish();
  std::vector<std::uint8_t> out(70000);
  EXPECT_TRUE(s.handle_datagram(at(seconds(1)), kServer, kClient, request));
  auto t = s.poll_transmit(out);
  ASSERT_TRUE(t);
  EXPECT_GE(t->size, request.size());
  EXPECT_LE(t->size, 20u + 0xffff);
}

}  // namespace
}  // namespace natsim::traversal::stun
