#pragma once
// HTTP/1.1 framing for the IGD's description and control server (UDA 1.1 §2.1, §3.2),
// bytes in, bytes out: a request is read with Boost.Beast's request_parser under a header
// and body size cap, an answer is written with Beast's serializer. Beast (and its Asio
// headers) stays inside igd_http.cpp.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "natsim/base/bytes.hpp"

namespace natsim::nat::upnp {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/rootDesc.xml"
  std::string soap_action;
  std::string body;
};

// Header bytes a request may have.
inline constexpr std::size_t kMaxHttpHeader = 8 * 1024;

class HttpRequestReader {
 public:
  enum class State : std::uint8_t {
    more,       // a request is not complete yet
    done,       // request() holds it
    bad,        // not HTTP: answer 400 and close
    too_large,  // header or body over its cap: answer 413 (431 for the header) and close
  };
  explicit HttpRequestReader(std::size_t max_body);
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Consumes `bytes` (all of them unless the request ends or fails first).
  State feed(ByteView bytes);
  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const HttpRequest& request() const { return request_; }
  [[nodiscard]] bool header_too_large() const { return header_too_large_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  State state_ = State::more;
  bool header_too_large_ = false;
  HttpRequest request_;
};

// An HTTP/1.1 answer that closes the connection (as miniupnpd's do), with SERVER,
// CONTENT-TYPE and CONTENT-LENGTH.
[[nodiscard]] std::string format_http_response(unsigned status, std::string_view content_type,
                                               std::string_view body, std::string_view server);

}  // namespace natsim::nat::upnp
