#pragma once
// The device side of UPnP control (UPnP Device Architecture 1.1 §3.2): reading a control
// point's SOAP action request and writing the answer or the UPnP error (a s:Fault with
// <UPnPError>, sent with HTTP 500). The IGD service that decides the answers comes later;
// the envelopes' shapes are in traversal/upnp_soap.hpp.
#include <boost/system/result.hpp>
#include <string>
#include <string_view>

#include "natsim/traversal/upnp_soap.hpp"

namespace natsim::nat::upnp {

using traversal::upnp::Action;
using traversal::upnp::UpnpError;

// A request's action: the first element of the Body, its namespace the service type.
// `soap_action` is the SOAPACTION header; when not empty it must name the same service
// and action (UDA 1.1 §3.2.1), else 401 Invalid Action. Malformed XML or envelopes are
// 401 too (no action could be read); the device answers either with format_fault().
[[nodiscard]] boost::system::result<Action, UpnpError> parse_request(std::string_view xml,
                                                                     std::string_view soap_action);
// "<u:NAMEResponse xmlns:u=SERVICE>" with `out.arguments`; out.name is the action's name.
[[nodiscard]] std::string format_response(const Action& out);
// UDA 1.1 §3.2.2: s:Client / UPnPError / detail with errorCode and errorDescription.
[[nodiscard]] std::string format_fault(const UpnpError& e);

inline const UpnpError kInvalidAction{401, "Invalid Action"};
inline const UpnpError kInvalidArgs{402, "Invalid Args"};

}  // namespace natsim::nat::upnp
