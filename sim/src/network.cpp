#include "natsim/sim/network.hpp"

#include <algorithm>
#include <stdexcept>

namespace natsim::sim {

Network::Network(std::uint64_t seed) : seed_(seed) {}

Network::~Network() = default;

void Network::check_new_name(std::string_view name) const {
  const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c == '#';
  });
  if (!valid) throw std::invalid_argument("invalid name '" + std::string(name) + "'");
  if (find_node(name) != nullptr || find_link(name) != nullptr) {
    throw std::invalid_argument("duplicate name '" + std::string(name) + "'");
  }
}

Connection Network::connect(Node& a, Node& b, const LinkParams& params, std::string name) {
  if (name.empty()) {
    name = a.name() + "--" + b.name();
    if (find_link(name) != nullptr) {
      int n = 2;
      while (find_link(name + "#" + std::to_string(n)) != nullptr)
        ++n;
      name += "#" + std::to_string(n);
    }
  }
  Link& link = add_segment(std::move(name), params);
  const IfaceId a_iface = a.add_interface(link);
  const IfaceId b_iface = b.add_interface(link);
  return Connection{link, a_iface, b_iface};
}

Link& Network::add_segment(std::string name, const LinkParams& params) {
  check_new_name(name);
  links_.push_back(make_in<Link>(arena_, *this, std::move(name), params));
  link_names_.emplace(links_.back()->name(), links_.back().get());
  return *links_.back();
}

IfaceId Network::attach(Node& node, Link& segment) {
  return node.add_interface(segment);
}

Node* Network::find_node(std::string_view name) const {
  auto it = node_names_.find(name);
  return it == node_names_.end() ? nullptr : it->second;
}

Link* Network::find_link(std::string_view name) const {
  auto it = link_names_.find(name);
  return it == link_names_.end() ? nullptr : it->second;
}

}  // namespace natsim::sim
