#pragma once
// The local address the kernel would send from towards a destination.
#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>

#include "natsim/base/endpoint.hpp"

namespace natsim::io {

// Connects a UDP socket (which sends nothing) and reads its local address. Probing from a
// specific address lets discovery compare it with the mapped one. On failure returns
// nullopt and sets `error`.
[[nodiscard]] std::optional<IpAddress> route_source(boost::asio::io_context& io, const Endpoint& to,
                                                    std::string& error);

}  // namespace natsim::io
