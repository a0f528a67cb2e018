#include "natsim/io/route_source.hpp"

#include <boost/asio/ip/udp.hpp>

#include "natsim/io/endpoint_conversion.hpp"

namespace natsim::io {

std::optional<IpAddress> route_source(boost::asio::io_context& io, const Endpoint& to,
                                      std::string& error) {
  boost::asio::ip::udp::socket s(io);
  boost::system::error_code ec;
  const auto remote = to_asio(to);
  s.open(remote.protocol(), ec);
  if (!ec) s.connect(remote, ec);
  if (ec) {
    error = "no route to " + to.to_string() + ": " + ec.message();
    return std::nullopt;
  }
  const auto local = s.local_endpoint(ec);
  if (ec) {
    error = ec.message();
    return std::nullopt;
  }
  return from_asio(local.address());
}

}  // namespace natsim::io
