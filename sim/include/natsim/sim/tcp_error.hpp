#pragma once
// Errors of the virtual TCP: an error_code category of their own, so a TcpSocket's
// operations return boost::system::result like every other natsim operation.
#include <boost/system/error_code.hpp>
#include <string>
#include <type_traits>

namespace natsim::sim {

enum class TcpErrc {
  ok = 0,
  connection_refused,  // RST in answer to our SYN (RFC 9293 §3.10.7.3)
  timed_out,           // retransmissions exhausted (RFC 9293 §3.8.3, R2)
  reset,               // the peer reset an established connection
  aborted,             // this side called abort()
  not_connected,       // the operation needs a connection that is not (yet/any more) there
  shutdown,            // send after close()
  would_block,         // accept() with no connection waiting
  backlog_full,        // (counted only) a SYN refused because the listen queue was full
};

class TcpErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "natsim.tcp"; }
  std::string message(int ev) const override {
    switch (static_cast<TcpErrc>(ev)) {
      case TcpErrc::ok:
        return "success";
      case TcpErrc::connection_refused:
        return "connection refused";
      case TcpErrc::timed_out:
        return "connection timed out";
      case TcpErrc::reset:
        return "connection reset by peer";
      case TcpErrc::aborted:
        return "connection aborted";
      case TcpErrc::not_connected:
        return "not connected";
      case TcpErrc::shutdown:
        return "send after close";
      case TcpErrc::would_block:
        return "no connection waiting";
      case TcpErrc::backlog_full:
        return "listen queue full";
    }
    return "unknown TCP error";
  }
};

inline const TcpErrorCategory& tcp_error_category() {
  static const TcpErrorCategory category;
  return category;
}

inline boost::system::error_code make_error_code(TcpErrc e) {
  return {static_cast<int>(e), tcp_error_category()};
}

}  // namespace natsim::sim

template <>
struct boost::system::is_error_code_enum<natsim::sim::TcpErrc> : std::true_type {};
