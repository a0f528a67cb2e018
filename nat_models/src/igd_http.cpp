#include "natsim/nat_models/igd_http.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

namespace natsim::nat::upnp {

namespace http = boost::beast::http;

struct HttpRequestReader::Impl {
  http::request_parser<http::string_body> parser;
  std::string pending;  // bytes the parser has not consumed yet (a partial header line)
  std::size_t max_body = 0;
};

HttpRequestReader::HttpRequestReader(std::size_t max_body) : impl_(std::make_unique<Impl>()) {
  impl_->parser.header_limit(kMaxHttpHeader);
  impl_->parser.body_limit(max_body);
  impl_->parser.eager(true);
  impl_->max_body = max_body;
}

HttpRequestReader::~HttpRequestReader() = default;

HttpRequestReader::State HttpRequestReader::feed(ByteView bytes) {
  if (state_ != State::more) return state_;
  // Beast's parser consumes only whole header lines: keep what it leaves for next time.
  std::string& buf = impl_->pending;
  if (buf.size() + bytes.size() > kMaxHttpHeader + impl_->max_body) {
    state_ = State::too_large;
    return state_;
  }
  buf.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto& p = impl_->parser;
  while (!buf.empty() && !p.is_done()) {
    boost::beast::error_code ec;
    const std::size_t used = p.put(boost::asio::buffer(buf.data(), buf.size()), ec);
    buf.erase(0, used);
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit) {
      state_ = State::too_large;
      return state_;
    }
    if (ec == http::error::header_limit) {
      header_too_large_ = true;
      state_ = State::too_large;
      return state_;
    }
    if (ec) {
      state_ = State::bad;
      return state_;
    }
    if (used == 0) break;
  }
  if (!p.is_done()) {
    // A header that never ends is capped here as well (Beast counts only what it took).
    if (!p.is_header_done() && buf.size() > kMaxHttpHeader) {
      header_too_large_ = true;
      state_ = State::too_large;
    }
    return state_;
  }
  const auto& m = p.get();
  request_.method = std::string(m.method_string());
  request_.target = std::string(m.target());
  if (auto it = m.find("SOAPAction"); it != m.end())
    request_.soap_action = std::string(it->value());
  request_.body = m.body();
  state_ = State::done;
  return state_;
}

std::string format_http_response(unsigned status, std::string_view content_type,
                                 std::string_view body, std::string_view server) {
  http::response<http::string_body> r{static_cast<http::status>(status), 11};
  r.set(http::field::server, server);
  if (!content_type.empty()) r.set(http::field::content_type, content_type);
  r.keep_alive(false);
  r.body() = std::string(body);
  r.prepare_payload();
  std::ostringstream out;
  out << r;
  return out.str();
}

}  // namespace natsim::nat::upnp
