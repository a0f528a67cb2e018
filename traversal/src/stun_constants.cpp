#include "natsim/traversal/stun_constants.hpp"

#include <algorithm>
#include <utility>

namespace natsim::traversal::stun {

namespace {

constexpr std::pair<std::uint16_t, std::string_view> kAttributeNames[] = {
    {attr::mapped_address, "MAPPED-ADDRESS"},
    {attr::response_address, "RESPONSE-ADDRESS"},
    {attr::change_request, "CHANGE-REQUEST"},
    {attr::source_address, "SOURCE-ADDRESS"},
    {attr::changed_address, "CHANGED-ADDRESS"},
    {attr::username, "USERNAME"},
    {attr::message_integrity, "MESSAGE-INTEGRITY"},
    {attr::error_code, "ERROR-CODE"},
    {attr::unknown_attributes, "UNKNOWN-ATTRIBUTES"},
    {attr::channel_number, "CHANNEL-NUMBER"},
    {attr::lifetime, "LIFETIME"},
    {attr::xor_peer_address, "XOR-PEER-ADDRESS"},
    {attr::data, "DATA"},
    {attr::realm, "REALM"},
    {attr::nonce, "NONCE"},
    {attr::xor_relayed_address, "XOR-RELAYED-ADDRESS"},
    {attr::requested_address_family, "REQUESTED-ADDRESS-FAMILY"},
    {attr::even_port, "EVEN-PORT"},
    {attr::requested_transport, "REQUESTED-TRANSPORT"},
    {attr::dont_fragment, "DONT-FRAGMENT"},
    {attr::message_integrity_sha256, "MESSAGE-INTEGRITY-SHA256"},
    {attr::password_algorithm, "PASSWORD-ALGORITHM"},
    {attr::userhash, "USERHASH"},
    {attr::xor_mapped_address, "XOR-MAPPED-ADDRESS"},
    {attr::reservation_token, "RESERVATION-TOKEN"},
    {attr::priority, "PRIORITY"},
    {attr::use_candidate, "USE-CANDIDATE"},
    {attr::padding, "PADDING"},
    {attr::response_port, "RESPONSE-PORT"},
    {attr::additional_address_family, "ADDITIONAL-ADDRESS-FAMILY"},
    {attr::address_error_code, "ADDRESS-ERROR-CODE"},
    {attr::password_algorithms, "PASSWORD-ALGORITHMS"},
    {attr::icmp, "ICMP"},
    {attr::alternate_domain, "ALTERNATE-DOMAIN"},
    {attr::software, "SOFTWARE"},
    {attr::alternate_server, "ALTERNATE-SERVER"},
    {attr::fingerprint, "FINGERPRINT"},
    {attr::ice_controlled, "ICE-CONTROLLED"},
    {attr::ice_controlling, "ICE-CONTROLLING"},
    {attr::response_origin, "RESPONSE-ORIGIN"},
    {attr::other_address, "OTHER-ADDRESS"},
};

}  // namespace

bool attr::known(std::uint16_t type) {
  return std::any_of(std::begin(kAttributeNames), std::end(kAttributeNames),
                     [type](const auto& entry) { return entry.first == type; });
}

std::string_view attr::name(std::uint16_t type) {
  for (const auto& [t, n] : kAttributeNames) {
    if (t == type) return n;
  }
  return "unknown";
}

std::string_view error::reason(std::uint16_t code) {
  switch (code) {
    case try_alternate:
      return "Try Alternate";
    case bad_request:
      return "Bad Request";
    case unauthenticated:
      return "Unauthenticated";
    case forbidden:
      return "Forbidden";
    case unknown_attribute:
      return "Unknown Attribute";
    case allocation_mismatch:
      return "Allocation Mismatch";
    case stale_nonce:
      return "Stale Nonce";
    case address_family_not_supported:
      return "Address Family not Supported";
    case wrong_credentials:
      return "Wrong Credentials";
    case unsupported_transport:
      return "Unsupported Transport Protocol";
    case peer_address_family_mismatch:
      return "Peer Address Family Mismatch";
    case allocation_quota_reached:
      return "Allocation Quota Reached";
    case server_error:
      return "Server Error";
    case insufficient_capacity:
      return "Insufficient Capacity";
    default:
      return "Error";
  }
}

}  // namespace natsim::traversal::stun
