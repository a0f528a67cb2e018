#pragma once
// natsim::Endpoint <-> Boost.Asio UDP endpoints. IPv4 stays IPv4 and IPv6 stays IPv6:
// the io/ sockets bind IPv6 as v6-only, so an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// never appears unless a peer really uses one.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "natsim/base/endpoint.hpp"

namespace natsim::io {

[[nodiscard]] boost::asio::ip::address to_asio(const IpAddress& address);
[[nodiscard]] boost::asio::ip::udp::endpoint to_asio(const Endpoint& endpoint);
[[nodiscard]] IpAddress from_asio(const boost::asio::ip::address& address);
[[nodiscard]] Endpoint from_asio(const boost::asio::ip::udp::endpoint& endpoint);

// The same for TCP endpoints (tcp_stream_set.hpp). to_asio(Endpoint) stays the UDP one, so
// the TCP direction has its own name.
[[nodiscard]] boost::asio::ip::tcp::endpoint to_asio_tcp(const Endpoint& endpoint);
[[nodiscard]] Endpoint from_asio(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace natsim::io
