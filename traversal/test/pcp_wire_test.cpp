// PCP (RFC 6887) and NAT-PMP (RFC 6886) messages byte for byte against the RFCs'
// figures, round trips, the server's parse errors in §8.3 order, and truncations.
#include <gtest/gtest.h>

#include <vector>

#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::traversal {
namespace {

using Bytes = std::vector<std::uint8_t>;

IpAddress ip(const char* t) {
  return *IpAddress::parse(t);
}

// ::ffff:a.b.c.d, as 16 bytes.
Bytes mapped(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

const pcp::Nonce kNonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// §7.1 header + §11.1 MAP + §13.1 THIRD_PARTY + §13.2 PREFER_FAILURE + §13.3 FILTER.
Bytes map_request_bytes() {
  return cat({
      {2, 1, 0, 0},                             // version 2, R=0, opcode MAP, reserved
      {0, 0, 0x0e, 0x10},                       // requested lifetime 3600
      mapped(10, 0, 0, 2),                      // client's IP address
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},  // mapping nonce
      {17, 0, 0, 0},                            // protocol UDP, reserved
      {0x1f, 0x90, 0x1f, 0x91},                 // internal port 8080, suggested external 8081
      mapped(203, 0, 113, 2),                   // suggested external address
      {1, 0, 0, 16},                            // THIRD_PARTY, length 16
      mapped(10, 0, 0, 9),                      //   internal IP address
      {2, 0, 0, 0},                             // PREFER_FAILURE, length 0
      {3, 0, 0, 20},                            // FILTER, length 20
      {0, 120, 0x0d, 0x3d},                     //   reserved, prefix 120 (/24), remote port 3389
      mapped(198, 51, 100, 0),                  //   remote peer address
  });
}

pcp::Request map_request() {
  pcp::Request r;
  r.opcode = pcp::Opcode::map;
  r.lifetime = 3600;
  r.client_address = ip("10.0.0.2");
  r.data.nonce = kNonce;
  r.data.protocol = 17;
  r.data.internal_port = 8080;
  r.data.external_port = 8081;
  r.data.external_address = ip("203.0.113.2");
  r.options.third_party = ip("10.0.0.9");
  r.options.prefer_failure = true;
  r.options.filters[0] = pcp::Filter{120, 3389, ip("198.51.100.0")};
  r.options.filter_count = 1;
  return r;
}

TEST(PcpWire, MapRequestMatchesTheFigures) {
  std::uint8_t buf[pcp::kMaxMessageSize];
  const auto n = pcp::emit_request(map_request(), buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(Bytes(buf, buf + *n), map_request_bytes());

  const Bytes wire = map_request_bytes();
  auto r = pcp::parse_request(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->opcode, pcp::Opcode::map);
  EXPECT_EQ(r->lifetime, 3600u);
  EXPECT_EQ(r->client_address, ip("10.0.0.2"));
  EXPECT_EQ(r->data, map_request().data);
  EXPECT_EQ(r->options, map_request().options);
}

TEST(PcpWire, PeerResponseMatchesTheFigures) {
  // §7.2 header + §12.1 PEER.
  const Bytes expected = cat({
      {2, 0x82, 0, 0},     // version 2, R=1, opcode PEER, reserved, SUCCESS
      {0, 0, 0x00, 0x78},  // lifetime 120
      {0, 0, 0x01, 0x2c},  // epoch 300
      Bytes(12, 0),        // reserved
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
      {6, 0, 0, 0},              // TCP
      {0x04, 0x00, 0x04, 0x01},  // internal 1024, assigned external 1025
      mapped(203, 0, 113, 2),
      {0x00, 0x50, 0, 0},  // remote peer port 80, reserved
      mapped(198, 51, 100, 10),
  });
  pcp::Response r;
  r.opcode = pcp::Opcode::peer;
  r.lifetime = 120;
  r.epoch = 300;
  r.data.nonce = kNonce;
  r.data.protocol = 6;
  r.data.internal_port = 1024;
  r.data.external_port = 1025;
  r.data.external_address = ip("203.0.113.2");
  r.data.remote_port = 80;
  r.data.remote_address = ip("198.51.100.10");
  std::uint8_t buf[pcp::kMaxMessageSize];
  const auto n = pcp::emit_response(r, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(Bytes(buf, buf + *n), expected);
  auto back = pcp::parse_response(expected);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data, r.data);
  EXPECT_EQ(back->epoch, 300u);
  EXPECT_EQ(back->result, pcp::ResultCode::success);
}

TEST(PcpWire, AnnounceIsTheHeaderAlone) {
  pcp::Request r;
  r.client_address = ip("2001:db8::5");
  std::uint8_t buf[64];
  const auto n = pcp::emit_request(r, buf);
  ASSERT_EQ(n, std::optional<std::size_t>(24));
  EXPECT_EQ(Bytes(buf, buf + 8), (Bytes{2, 0, 0, 0, 0, 0, 0, 0}));
  const auto v6 = ip("2001:db8::5").bytes();
  EXPECT_EQ(Bytes(buf + 8, buf + 24), Bytes(v6.begin(), v6.end()));
  auto back = pcp::parse_request(ByteView(buf, *n));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->client_address, ip("2001:db8::5"));
}

TEST(PcpWire, RequestErrorsInSection83Order) {
  using E = pcp::RequestError;
  auto err = [](const Bytes& b) {
    auto r = pcp::parse_request(b);
    return r ? std::optional<E>() : std::optional<E>(r.error());
  };
  Bytes good = map_request_bytes();
  EXPECT_EQ(err({2}), E::drop);  // shorter than 2 octets
  Bytes response = good;
  response[1] |= 0x80;
  EXPECT_EQ(err(response), E::drop);
  Bytes v1 = good;
  v1[0] = 1;
  EXPECT_EQ(err(v1), E::unsupp_version);
  EXPECT_EQ(err(Bytes(good.begin(), good.begin() + 20)), E::malformed_request);
  Bytes odd = good;
  odd.push_back(0);
  EXPECT_EQ(err(odd), E::malformed_request);
  Bytes big(1104, 0);
  big[0] = 2;
  EXPECT_EQ(err(big), E::malformed_request);
  Bytes op = good;
  op[1] = 3;
  EXPECT_EQ(err(op), E::unsupp_opcode);
  // MAP data cut: the message is only the header and 8 bytes.
  EXPECT_EQ(err(Bytes(good.begin(), good.begin() + 32)), E::malformed_request);
  // Options: unknown mandatory, unknown optional, bad lengths, repeats, wrong opcode.
  Bytes base(good.begin(), good.begin() + 60);
  EXPECT_FALSE(err(base));
  EXPECT_EQ(err(cat({base, {127, 0, 0, 0}})), E::unsupp_option);
  EXPECT_FALSE(err(cat({base, {200, 0, 0, 3, 9, 9, 9, 0}})));                    // optional, padded
  EXPECT_EQ(err(cat({base, {200, 0, 0, 5, 9, 9, 9, 0}})), E::malformed_option);  // past end
  EXPECT_EQ(err(cat({base, {2, 0, 0, 4, 0, 0, 0, 0}})), E::malformed_option);
  EXPECT_EQ(err(cat({base, {2, 0, 0, 0, 2, 0, 0, 0}})), E::malformed_option);
  Bytes filter = cat({{3, 0, 0, 20, 0, 95, 0, 0}, mapped(1, 2, 3, 4)});  // prefix < 96
  EXPECT_EQ(err(cat({base, filter})), E::malformed_option);
  Bytes announce = {2, 0, 0, 0, 0, 0, 0, 0};
  announce = cat({announce, mapped(10, 0, 0, 2), {2, 0, 0, 0}});
  EXPECT_EQ(err(announce), E::malformed_option);  // PREFER_FAILURE is for MAP only
}

TEST(PcpWire, TooManyFiltersAreFlaggedNotStored) {
  const Bytes full = map_request_bytes();
  Bytes b(full.begin(), full.begin() + 60);
  for (std::size_t i = 0; i < pcp::kMaxFilters + 1; ++i)
    b = cat({b, {3, 0, 0, 20, 0, 128, 0, 1}, mapped(1, 2, 3, static_cast<std::uint8_t>(i))});
  auto r = pcp::parse_request(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->options.filter_count, pcp::kMaxFilters);
  EXPECT_TRUE(r->options.too_many_filters);
}

TEST(PcpWire, EveryTruncationIsAnErrorNeverAnOverread) {
  const Bytes wire = map_request_bytes();
  for (std::size_t n = 0; n < wire.size(); ++n) {
    std::vector<std::uint8_t> cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    // Truncations that end on an option boundary are valid shorter requests.
    if (n == 60 || n == 80 || n == 84) {
      EXPECT_TRUE(pcp::parse_request(cut)) << n;
    } else {
      EXPECT_FALSE(pcp::parse_request(cut)) << n;
    }
    EXPECT_FALSE(pcp::parse_response(cut)) << n;
  }
}

TEST(PcpWire, ErrorResponseCopiesTheOpcodeData) {
  const Bytes req = map_request_bytes();
  std::uint8_t buf[128];
  const auto n = pcp::emit_error(req, pcp::ResultCode::not_authorized, 1800, 42, buf);
  ASSERT_EQ(n, std::optional<std::size_t>(24 + 36));
  EXPECT_EQ(Bytes(buf, buf + 12), (Bytes{2, 0x81, 0, 2, 0, 0, 0x07, 0x08, 0, 0, 0, 42}));
  EXPECT_EQ(Bytes(buf + 24, buf + 60), Bytes(req.begin() + 24, req.begin() + 60));
  auto r = pcp::parse_response(ByteView(buf, *n));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, pcp::ResultCode::not_authorized);
  EXPECT_EQ(r->data.internal_port, 8080);
  // A version-1 request: header only, answered with version 2 (§9).
  Bytes v1 = req;
  v1[0] = 1;
  EXPECT_EQ(pcp::emit_error(v1, pcp::ResultCode::unsupp_version, 1800, 0, buf),
            std::optional<std::size_t>(24));
  EXPECT_EQ(buf[0], 2);
  EXPECT_TRUE(pcp::parse_response(ByteView(buf, 24)));
  EXPECT_EQ(pcp::to_string(pcp::ResultCode::excessive_remote_peers), "EXCESSIVE_REMOTE_PEERS");
  EXPECT_TRUE(pcp::short_lifetime_error(pcp::ResultCode::user_ex_quota));
  EXPECT_FALSE(pcp::short_lifetime_error(pcp::ResultCode::not_authorized));
}

TEST(PcpWire, EmitRefusesSmallBuffers) {
  std::uint8_t buf[100];
  EXPECT_FALSE(pcp::emit_request(map_request(), std::span(buf, 99)));
  EXPECT_FALSE(pcp::emit_response(pcp::Response{}, std::span(buf, 23)));
}

TEST(NatPmpWire, MessagesMatchTheFigures) {
  std::uint8_t buf[64];
  natpmp::Request address;
  ASSERT_EQ(natpmp::emit_request(address, buf), std::optional<std::size_t>(2));
  EXPECT_EQ(Bytes(buf, buf + 2), (Bytes{0, 0}));

  natpmp::Request map{natpmp::Opcode::map_tcp, 8080, 8081, 7200};
  ASSERT_EQ(natpmp::emit_request(map, buf), std::optional<std::size_t>(12));
  const Bytes map_wire = {0, 2, 0, 0, 0x1f, 0x90, 0x1f, 0x91, 0, 0, 0x1c, 0x20};
  EXPECT_EQ(Bytes(buf, buf + 12), map_wire);
  EXPECT_EQ(*natpmp::parse_request(map_wire), map);

  natpmp::Response ext;
  ext.epoch = 1234;
  ext.external_address = ip("203.0.113.2");
  ASSERT_EQ(natpmp::emit_response(ext, buf), std::optional<std::size_t>(12));
  const Bytes ext_wire = {0, 128, 0, 0, 0, 0, 0x04, 0xd2, 203, 0, 113, 2};
  EXPECT_EQ(Bytes(buf, buf + 12), ext_wire);
  EXPECT_EQ(*natpmp::parse_response(ext_wire), ext);

  natpmp::Response mr;
  mr.opcode = natpmp::Opcode::map_udp;
  mr.result = natpmp::ResultCode::out_of_resources;
  mr.epoch = 5;
  mr.internal_port = 4000;
  mr.external_port = 0;
  mr.lifetime = 0;
  ASSERT_EQ(natpmp::emit_response(mr, buf), std::optional<std::size_t>(16));
  const Bytes mr_wire = {0, 129, 0, 4, 0, 0, 0, 5, 0x0f, 0xa0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Bytes(buf, buf + 16), mr_wire);
  EXPECT_EQ(*natpmp::parse_response(mr_wire), mr);
}

TEST(NatPmpWire, RequestErrorsAndTheirAnswers) {
  using E = natpmp::RequestError;
  auto err = [](const Bytes& b) {
    auto r = natpmp::parse_request(b);
    return r ? std::optional<E>() : std::optional<E>(r.error());
  };
  EXPECT_EQ(err({0}), E::drop);
  EXPECT_EQ(err({0, 129}), E::drop);
  EXPECT_EQ(err({2, 1, 0, 0}), E::unsupported_version);
  EXPECT_EQ(err({0, 3, 0, 0}), E::unsupported_opcode);
  EXPECT_EQ(err({0, 1, 0, 0, 0, 1}), E::too_short);

  std::uint8_t buf[32];
  // RFC 6887 §9: a PCP request to a NAT-PMP-only server.
  const Bytes pcp_map = {2, 1, 0, 0};
  ASSERT_EQ(natpmp::emit_error(pcp_map, E::unsupported_version, 77, buf),
            std::optional<std::size_t>(8));
  EXPECT_EQ(Bytes(buf, buf + 8), (Bytes{0, 129, 0, 1, 0, 0, 0, 77}));
  auto r = natpmp::parse_response(ByteView(buf, 8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, natpmp::ResultCode::unsupported_version);
  EXPECT_EQ(r->epoch, 77u);
  // §3.5: an unsupported opcode comes back whole with the top bit set and result 5.
  const Bytes op9 = {0, 9, 0, 0, 1, 2, 3, 4};
  ASSERT_EQ(natpmp::emit_error(op9, E::unsupported_opcode, 0, buf), std::optional<std::size_t>(8));
  EXPECT_EQ(Bytes(buf, buf + 8), (Bytes{0, 137, 0, 5, 1, 2, 3, 4}));
  EXPECT_FALSE(natpmp::emit_error(Bytes{0, 1}, E::drop, 0, buf));
}

TEST(NatPmpWire, TruncatedResponsesAreErrors) {
  const Bytes map = {0, 130, 0, 0, 0, 0, 0, 5, 0x0f, 0xa0, 0x0f, 0xa1, 0, 0, 0, 60};
  ASSERT_TRUE(natpmp::parse_response(map));
  for (std::size_t n = 0; n < map.size(); ++n)
    EXPECT_FALSE(natpmp::parse_response(ByteView(map.data(), n))) << n;
  EXPECT_EQ(natpmp::parse_response(Bytes{1, 128, 0, 0, 0, 0, 0, 0}).error(),
            natpmp::ResponseError::bad_version);
  EXPECT_EQ(natpmp::parse_response(Bytes{0, 3, 0, 0, 0, 0, 0, 0}).error(),
            natpmp::ResponseError::not_response);
  EXPECT_EQ(natpmp::parse_response(Bytes{0, 131, 0, 0, 0, 0, 0, 0}).error(),
            natpmp::ResponseError::bad_opcode);
}

}  // namespace
}  // namespace natsim::traversal
