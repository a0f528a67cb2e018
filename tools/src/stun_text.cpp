#include "stun_text.hpp"

namespace natsim::tools {

std::string method_name(std::uint16_t m) {
  namespace method = traversal::stun::method;
  switch (m) {
    case method::binding:
      return "binding";
    case method::allocate:
      return "allocate";
    case method::refresh:
      return "refresh";
    case method::send:
      return "send";
    case method::data:
      return "data";
    case method::create_permission:
      return "create-permission";
    case method::channel_bind:
      return "channel-bind";
    default:
      return "method-" + std::to_string(m);
  }
}

std::string message_summary(const traversal::stun::Message& m) {
  using traversal::stun::Class;
  std::string text = method_name(m.method());
  switch (m.cls()) {
    case Class::request:
      text += " request";
      break;
    case Class::indication:
      text += " indication";
      break;
    case Class::success:
      text += " success";
      break;
    case Class::error:
      text += " error";
      if (auto e = m.error_code()) text += " " + std::to_string(e->code);
      break;
  }
  if (m.classic()) text += " (rfc3489)";
  return text;
}

}  // namespace natsim::tools
