#pragma once
// ICE's SDP attribute lines (RFC 8839 §5.1, §5.4; end-of-candidates from RFC 8840 §8.2):
// what two agents exchange through their signalling.
//
//   candidate:<foundation> <component> UDP <priority> <address> <port> typ <type>
//             [raddr <address> rport <port>] *(<extension name> <extension value>)
//   ice-ufrag:<4-256 ice-chars>
//   ice-pwd:<22-256 ice-chars>
//   end-of-candidates
//
// Each line may carry SDP's "a=" prefix. Parsing is strict: a line is read whole or
// refused with an error naming the field. Lines that are well formed but describe what
// an agent of one UDP component cannot use (a TCP candidate, an FQDN address, a candidate
// type this grammar's `token` allows but RFC 8445 does not define) get errors of their
// own (is_unsupported), so a caller can skip them as RFC 8839 §5.1 asks instead of
// refusing the whole description.
#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "natsim/traversal/ice_candidate.hpp"

namespace natsim::traversal::ice {

enum class SdpError : std::uint8_t {
  too_long,             // longer than kMaxSdpLine
  unknown_attribute,    // none of candidate, ice-ufrag, ice-pwd, end-of-candidates
  empty_field,          // two spaces in a row, or a leading or trailing space
  missing_field,        // fewer than the eight fields up to the candidate type
  bad_foundation,       // 1-32 ice-chars
  bad_component,        // 1-3 digits, 1 to 256
  bad_transport,        // not a token
  bad_priority,         // 1-10 digits, 1 to 2^31 - 1 (RFC 8445 §5.1.2.1)
  bad_address,          // neither an IP address nor a host name
  bad_port,             // 1 to 65535
  missing_typ,          // the seventh field is not "typ"
  bad_type,             // not a token
  bad_related_address,  // raddr without an IP address, or rport without raddr
  bad_related_port,     // rport not 0 to 65535, or raddr without rport
  bad_extension,        // an extension name that is not a token, or without its value
  bad_ufrag,            // not 4-256 ice-chars
  bad_pwd,              // not 22-256 ice-chars
  trailing_text,        // end-of-candidates followed by something
  after_end,            // a candidate after end-of-candidates (DescriptionReader)
  // Well formed, but not for this agent: skip the candidate (RFC 8839 §5.1).
  unsupported_transport,  // not UDP (e.g. TCP candidates, RFC 6544)
  unsupported_address,    // an FQDN (e.g. an mDNS .local name): not resolved here
  unsupported_type,       // a type token other than host, srflx, prflx, relay
};
[[nodiscard]] std::string_view to_string(SdpError e);
[[nodiscard]] constexpr bool is_unsupported(SdpError e) {
  return e == SdpError::unsupported_transport || e == SdpError::unsupported_address ||
         e == SdpError::unsupported_type;
}

// Longer lines are refused before they are read: 32 + 3 + 3 + 10 + 2 × (39 + 5) + words.
inline constexpr std::size_t kMaxSdpLine = 1024;

// One candidate line. The candidate's base is its address (a remote candidate has no
// base the receiver could know); related holds raddr/rport when both are present.
[[nodiscard]] boost::system::result<Candidate, SdpError> parse_candidate(std::string_view line);
// "candidate:..." without the "a=" prefix; raddr/rport when `related` is set.
[[nodiscard]] std::string format_candidate(const Candidate& c);

struct IceUfrag {
  std::string value;
};
struct IcePwd {
  std::string value;
};
struct EndOfCandidates {};
using SdpAttribute = std::variant<Candidate, IceUfrag, IcePwd, EndOfCandidates>;

// Any one of the four lines (with or without "a=").
[[nodiscard]] boost::system::result<SdpAttribute, SdpError> parse_attribute(std::string_view line);
[[nodiscard]] std::string format_ufrag(std::string_view ufrag);
[[nodiscard]] std::string format_pwd(std::string_view pwd);
inline constexpr std::string_view kEndOfCandidates = "end-of-candidates";

// What one agent tells the other: its credentials and candidates.
struct Description {
  std::string ufrag, pwd;
  std::vector<Candidate> candidates;
  bool end_of_candidates = false;
};
// ice-ufrag, ice-pwd, one line per candidate, end-of-candidates when set; "\n" after each.
[[nodiscard]] std::string format_description(const Description& d);

// Reads a description line by line (a file, or lines as they trickle in). Blank lines and
// lines starting with '#' are comments; a trailing "\r" is dropped. A line in error leaves
// the description as it was: the caller decides whether to go on (an unsupported
// candidate, counted in skipped()) or refuse the rest.
class DescriptionReader {
 public:
  // Adds one line. A second ice-ufrag or ice-pwd that differs is bad_ufrag / bad_pwd (an
  // ICE restart is not supported); a candidate after end-of-candidates is after_end.
  boost::system::result<void, SdpError> add_line(std::string_view line);

  [[nodiscard]] const Description& description() const { return d_; }
  [[nodiscard]] bool has_credentials() const { return !d_.ufrag.empty() && !d_.pwd.empty(); }
  [[nodiscard]] bool complete() const { return has_credentials() && d_.end_of_candidates; }
  [[nodiscard]] std::size_t lines() const { return lines_; }
  [[nodiscard]] std::size_t skipped() const { return skipped_; }  // unsupported candidates

 private:
  Description d_;
  std::size_t lines_ = 0;
  std::size_t skipped_ = 0;
};

}  // namespace natsim::traversal::ice
