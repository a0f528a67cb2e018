#pragma once
// The error vocabulary: boost::system::result with natsim's own error codes.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <type_traits>

namespace natsim {

enum class Errc {
  ok = 0,
  address_in_use,       // bind to a port that is taken
  address_unavailable,  // bind to an address the node does not own
  no_route,             // no route to the destination
  no_free_port,         // ephemeral range exhausted
  time_in_past,         // a timer or event before the current time
  invalid_argument,     // a parameter outside its domain
  not_found,            // a name or handle that does not exist
  closed,               // use of a closed socket
};

class ErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "natsim"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok:
        return "success";
      case Errc::address_in_use:
        return "address already in use";
      case Errc::address_unavailable:
        return "address not available on this node";
      case Errc::no_route:
        return "no route to destination";
      case Errc::no_free_port:
        return "no free port";
      case Errc::time_in_past:
        return "time is in the past";
      case Errc::invalid_argument:
        return "invalid argument";
      case Errc::not_found:
        return "not found";
      case Errc::closed:
        return "closed";
    }
    return "unknown natsim error";
  }
};

inline const ErrorCategory& error_category() {
  static const ErrorCategory category;
  return category;
}

inline boost::system::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace natsim

template <>
struct boost::system::is_error_code_enum<natsim::Errc> : std::true_type {};
