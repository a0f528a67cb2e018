// RFC 8839 §5.1 candidate lines, §5.4 ice-ufrag / ice-pwd, RFC 8840 §8.2 end-of-candidates.
#include "natsim/traversal/ice_sdp.hpp"

#include <gtest/gtest.h>

namespace natsim::traversal::ice {
namespace {

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

SdpError error_of(std::string_view line) {
  const auto c = parse_candidate(line);
  EXPECT_FALSE(c) << line;
  return c ? SdpError::unknown_attribute : c.error();
}

TEST(IceSdp, ParsesTheRfc8839Examples) {
  // RFC 8839 Appendix A: a host and a server-reflexive candidate.
  const auto host = parse_candidate("a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->foundation, "1");
  EXPECT_EQ(host->component, 1);
  EXPECT_EQ(host->priority, 2130706431u);
  EXPECT_EQ(host->address, ep("203.0.113.141:8998"));
  EXPECT_EQ(host->base, host->address);
  EXPECT_EQ(host->type, CandidateType::host);
  EXPECT_FALSE(host->related);

  const auto srflx = parse_candidate(
      "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998");
  ASSERT_TRUE(srflx);
  EXPECT_EQ(srflx->type, CandidateType::srflx);
  EXPECT_EQ(srflx->address, ep("192.0.2.3:45664"));
  EXPECT_EQ(srflx->related, ep("203.0.113.141:8998"));

  const auto pwd = parse_attribute("a=ice-pwd:asd88fgpdd777uzjYhagZg");
  ASSERT_TRUE(pwd);
  EXPECT_EQ(std::get<IcePwd>(*pwd).value, "asd88fgpdd777uzjYhagZg");
  const auto ufrag = parse_attribute("a=ice-ufrag:8hhY");
  ASSERT_TRUE(ufrag);
  EXPECT_EQ(std::get<IceUfrag>(*ufrag).value, "8hhY");
  const auto end = parse_attribute("a=end-of-candidates");
  ASSERT_TRUE(end);
  EXPECT_TRUE(std::holds_alternative<EndOfCandidates>(*end));
}

TEST(IceSdp, ParsesWhatOtherAgentsWrite) {
  // aioice: lower-case transport, a 32-digit foundation, a generation extension.
  const auto a = parse_candidate(
      "candidate:0b5c6b4c3e7a2d1f9a8b7c6d5e4f3a2b 1 udp 2130706431 10.77.0.2 40312 typ host "
      "generation 0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->foundation.size(), 32u);
  EXPECT_EQ(a->address, ep("10.77.0.2:40312"));
  // A relayed candidate with both related fields, IPv6.
  const auto r = parse_candidate(
      "candidate:3 1 UDP 16777215 2001:db8::5 61000 typ relay raddr 2001:db8::9 rport 40000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, CandidateType::relay);
  EXPECT_EQ(r->address, ep("[2001:db8::5]:61000"));
  EXPECT_EQ(r->related, ep("[2001:db8::9]:40000"));
  // Hidden related addresses (raddr 0.0.0.0 rport 0) are well formed.
  EXPECT_TRUE(parse_candidate(
      "candidate:4 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 0.0.0.0 rport 0"));
  // Literals are case-insensitive (RFC 5234 §2.3).
  EXPECT_TRUE(parse_candidate("CANDIDATE:1 1 udp 1 192.0.2.1 1 TYP Host"));
}

TEST(IceSdp, FormatRoundTrips) {
  Candidate c = make_candidate(CandidateType::srflx, ep("198.51.100.7:50000"), ep("10.0.0.1:4000"),
                               IpAddress::v4(192, 0, 2, 10));
  c.related = ep("10.0.0.1:4000");
  const std::string line = format_candidate(c);
  EXPECT_EQ(line, "candidate:" + c.foundation +
                      " 1 UDP 1694498815 198.51.100.7 50000 typ srflx raddr 10.0.0.1 rport 4000");
  auto back = parse_candidate(line);
  ASSERT_TRUE(back);
  c.base = c.address;  // a parsed candidate's base is its address
  EXPECT_EQ(*back, c);

  const Candidate h = make_candidate(CandidateType::host, ep("[2001:db8::1]:7"), ep("[::1]:7"));
  EXPECT_EQ(format_candidate(h),
            "candidate:" + h.foundation + " 1 UDP 2130706431 2001:db8::1 7 typ host");
}

TEST(IceSdp, RefusesMalformedCandidatesNamingTheField) {
  EXPECT_EQ(error_of("candidat:1 1 UDP 1 192.0.2.1 1 typ host"), SdpError::unknown_attribute);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ host "), SdpError::empty_field);
  EXPECT_EQ(error_of("candidate:1  1 UDP 1 192.0.2.1 1 typ host"), SdpError::empty_field);
  EXPECT_EQ(error_of("candidate: 1 UDP 1 192.0.2.1 1 typ host"), SdpError::empty_field);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ"), SdpError::missing_field);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1"), SdpError::missing_field);
  EXPECT_EQ(error_of("candidate:a-b 1 UDP 1 192.0.2.1 1 typ host"), SdpError::bad_foundation);
  EXPECT_EQ(error_of("candidate:" + std::string(33, 'f') + " 1 UDP 1 192.0.2.1 1 typ host"),
            SdpError::bad_foundation);
  EXPECT_EQ(error_of("candidate:1 0 UDP 1 192.0.2.1 1 typ host"), SdpError::bad_component);
  EXPECT_EQ(error_of("candidate:1 257 UDP 1 192.0.2.1 1 typ host"), SdpError::bad_component);
  EXPECT_EQ(error_of("candidate:1 0001 UDP 1 192.0.2.1 1 typ host"), SdpError::bad_component);
  EXPECT_EQ(error_of("candidate:1 1 U/P 1 192.0.2.1 1 typ host"), SdpError::bad_transport);
  EXPECT_EQ(error_of("candidate:1 1 UDP 0 192.0.2.1 1 typ host"), SdpError::bad_priority);
  EXPECT_EQ(error_of("candidate:1 1 UDP 2147483648 192.0.2.1 1 typ host"), SdpError::bad_priority);
  EXPECT_EQ(error_of("candidate:1 1 UDP 12345678901 192.0.2.1 1 typ host"), SdpError::bad_priority);
  EXPECT_EQ(error_of("candidate:1 1 UDP -1 192.0.2.1 1 typ host"), SdpError::bad_priority);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.256 1 typ host"), SdpError::bad_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 [::1] 1 typ host"), SdpError::bad_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 0 typ host"), SdpError::bad_port);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 65536 typ host"), SdpError::bad_port);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 type host"), SdpError::missing_typ);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ h@st"), SdpError::bad_type);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ srflx raddr"),
            SdpError::bad_related_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ srflx raddr x.local rport 1"),
            SdpError::bad_related_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ srflx rport 1"),
            SdpError::bad_related_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ srflx raddr 10.0.0.1"),
            SdpError::bad_related_port);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 rport 65536"),
            SdpError::bad_related_port);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ host generation"),
            SdpError::bad_extension);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ host gen\x01 0"),
            SdpError::bad_extension);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ host g \x7f"), SdpError::bad_extension);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 1 typ host" + std::string(1100, 'x')),
            SdpError::too_long);
}

TEST(IceSdp, WellFormedButUnusableCandidatesAreSetApart) {
  // RFC 8839 §5.1: such candidates are ignored, not a reason to refuse the description.
  EXPECT_EQ(error_of("candidate:1 1 TCP 1 192.0.2.1 9 typ host tcptype active"),
            SdpError::unsupported_transport);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 4b0e7c36-7d2e.local 5000 typ host"),
            SdpError::unsupported_address);
  EXPECT_EQ(error_of("candidate:1 1 UDP 1 192.0.2.1 5000 typ mapped"), SdpError::unsupported_type);
  EXPECT_TRUE(is_unsupported(SdpError::unsupported_type));
  EXPECT_FALSE(is_unsupported(SdpError::bad_port));
  // A syntax error wins over what would only be unsupported.
  EXPECT_EQ(error_of("candidate:1 1 TCP 1 192.0.2.1 0 typ host"), SdpError::bad_port);
}

TEST(IceSdp, CredentialsFollowRfc8839Section5_4) {
  EXPECT_TRUE(parse_attribute("ice-ufrag:abcd"));
  EXPECT_TRUE(parse_attribute("ice-ufrag:" + std::string(256, 'a')));
  EXPECT_EQ(parse_attribute("ice-ufrag:abc").error(), SdpError::bad_ufrag);
  EXPECT_EQ(parse_attribute("ice-ufrag:" + std::string(257, 'a')).error(), SdpError::bad_ufrag);
  EXPECT_EQ(parse_attribute("ice-ufrag:ab-d").error(), SdpError::bad_ufrag);
  EXPECT_EQ(parse_attribute("ice-ufrag:abcd ").error(), SdpError::bad_ufrag);
  EXPECT_TRUE(parse_attribute("ice-pwd:" + std::string(22, '+')));
  EXPECT_EQ(parse_attribute("ice-pwd:" + std::string(21, 'a')).error(), SdpError::bad_pwd);
  EXPECT_EQ(parse_attribute("end-of-candidates x").error(), SdpError::trailing_text);
  EXPECT_EQ(parse_attribute("ice-options:trickle").error(), SdpError::unknown_attribute);
  EXPECT_EQ(parse_attribute("").error(), SdpError::unknown_attribute);
  EXPECT_EQ(parse_attribute("a=a=candidate:1 1 UDP 1 192.0.2.1 1 typ host").error(),
            SdpError::unknown_attribute);  // one "a=" at most
  EXPECT_EQ(format_ufrag("8hhY"), "ice-ufrag:8hhY");
  EXPECT_EQ(format_pwd("asd88fgpdd777uzjYhagZg"), "ice-pwd:asd88fgpdd777uzjYhagZg");
  for (auto e = static_cast<int>(SdpError::too_long);
       e <= static_cast<int>(SdpError::unsupported_type); ++e) {
    EXPECT_NE(to_string(static_cast<SdpError>(e)), "unknown error");
  }
}

TEST(IceSdp, DescriptionReaderCollectsLinesAndRoundTrips) {
  Description d;
  d.ufrag = "8hhY";
  d.pwd = "asd88fgpdd777uzjYhagZg";
  d.candidates.push_back(
      *parse_candidate("candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host"));
  d.candidates.push_back(*parse_candidate(
      "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998"));
  d.end_of_candidates = true;
  const std::string text = format_description(d);
  EXPECT_EQ(text,
            "ice-ufrag:8hhY\nice-pwd:asd88fgpdd777uzjYhagZg\n"
            "candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host\n"
            "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport "
            "8998\nend-of-candidates\n");

  DescriptionReader r;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    EXPECT_TRUE(r.add_line(std::string_view(text).substr(start, nl - start)));
    start = nl + 1;
  }
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.description().ufrag, d.ufrag);
  EXPECT_EQ(r.description().pwd, d.pwd);
  EXPECT_EQ(r.description().candidates, d.candidates);
  EXPECT_EQ(r.lines(), 5u);
}

TEST(IceSdp, DescriptionReaderRules) {
  DescriptionReader r;
  EXPECT_TRUE(r.add_line("# a comment"));
  EXPECT_TRUE(r.add_line(""));
  EXPECT_TRUE(r.add_line("a=ice-ufrag:8hhY\r"));
  EXPECT_FALSE(r.has_credentials());
  EXPECT_EQ(r.add_line("ice-ufrag:9hhY").error(), SdpError::bad_ufrag);  // no restart
  EXPECT_TRUE(r.add_line("ice-ufrag:8hhY"));                             // the same again
  EXPECT_TRUE(r.add_line("a=ice-pwd:asd88fgpdd777uzjYhagZg"));
  EXPECT_TRUE(r.has_credentials());
  EXPECT_EQ(r.add_line("candidate:1 1 TCP 1 192.0.2.1 9 typ host").error(),
            SdpError::unsupported_transport);
  EXPECT_EQ(r.skipped(), 1u);
  EXPECT_EQ(r.add_line("candidate:1 1 UDP 1 192.0.2.1 0 typ host").error(), SdpError::bad_port);
  EXPECT_TRUE(r.description().candidates.empty());
  EXPECT_FALSE(r.complete());
  EXPECT_TRUE(r.add_line("end-of-candidates"));
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.add_line("candidate:1 1 UDP 1 192.0.2.1 5 typ host").error(), SdpError::after_end);
  EXPECT_TRUE(r.description().candidates.empty());
}

}  // namespace
}  // namespace natsim::traversal::ice
