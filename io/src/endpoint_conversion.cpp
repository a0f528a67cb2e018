#include "natsim/io/endpoint_conversion.hpp"

#include <algorithm>

namespace natsim::io {

boost::asio::ip::address to_asio(const IpAddress& address) {
  if (address.is_v4()) return boost::asio::ip::address_v4(address.v4_value());
  boost::asio::ip::address_v6::bytes_type bytes;
  std::copy_n(address.bytes().begin(), bytes.size(), bytes.begin());
  return boost::asio::ip::address_v6(bytes);
}

boost::asio::ip::udp::endpoint to_asio(const Endpoint& endpoint) {
  return {to_asio(endpoint.address), endpoint.port};
}

IpAddress from_asio(const boost::asio::ip::address& address) {
  if (address.is_v4()) return IpAddress::v4(address.to_v4().to_uint());
  IpAddress::Bytes16 bytes{};
  const auto v6 = address.to_v6().to_bytes();
  std::copy(v6.begin(), v6.end(), bytes.begin());
  return IpAddress::v6(bytes);
}

Endpoint from_asio(const boost::asio::ip::udp::endpoint& endpoint) {
  return Endpoint{from_asio(endpoint.address()), endpoint.port()};
}

boost::asio::ip::tcp::endpoint to_asio_tcp(const Endpoint& endpoint) {
  return {to_asio(endpoint.address), endpoint.port};
}

Endpoint from_asio(const boost::asio::ip::tcp::endpoint& endpoint) {
  return Endpoint{from_asio(endpoint.address()), endpoint.port()};
}

}  // namespace natsim::io
