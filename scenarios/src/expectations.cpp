#include "expectations.hpp"

namespace natsim::scenarios::detail {

using nlohmann::json;

namespace {

std::optional<double> counter_value(const World& w, const std::string& name,
                                    const std::string& metric, std::string* why) {
  const sim::Counters* c = nullptr;
  nat::NatCounters nc;
  bool is_gateway = false;
  if (name == "network") {
    c = &w.net.counters();
  } else if (sim::Node* n = w.net.find_node(name)) {
    c = &n->counters();
    if (auto it = w.sites.find(name); it != w.sites.end()) {
      nc = it->second.gateway->nat_counters();
      is_gateway = true;
    }
  } else if (sim::Link* l = w.net.find_link(name)) {
    c = &l->counters();
  } else {
    *why = "no node or link named '" + name + "'";
    return std::nullopt;
  }
  if (metric == "sent") return static_cast<double>(c->sent);
  if (metric == "delivered") return static_cast<double>(c->delivered);
  if (metric == "forwarded") return static_cast<double>(c->forwarded);
  if (metric == "dropped") return static_cast<double>(c->total_drops());
  if (metric.starts_with("drops.")) {
    for (std::size_t r = 0; r < sim::kDropReasonCount; ++r) {
      if (metric.substr(6) == sim::to_string(static_cast<sim::DropReason>(r)))
        return static_cast<double>(c->dropped[r]);
    }
  }
  if (is_gateway) {
    if (metric == "nat.outbound") return static_cast<double>(nc.outbound);
    if (metric == "nat.inbound") return static_cast<double>(nc.inbound);
    if (metric == "nat.hairpinned") return static_cast<double>(nc.hairpinned);
    if (metric == "nat.icmp_unreachable")
      return static_cast<double>(w.sites.at(name).gateway->icmp_errors_sent());
    if (metric == "nat.mappings_created") return static_cast<double>(nc.mappings_created);
    if (metric == "nat.mappings_expired") return static_cast<double>(nc.mappings_expired);
    if (metric == "nat.mappings")
      return static_cast<double>(w.sites.at(name).gateway->mappings().size());
    if (metric == "nat.mappings_mapped") return static_cast<double>(nc.mappings_mapped);
    if (metric == "nat.mappings_unmapped") return static_cast<double>(nc.mappings_unmapped);
    if (const nat::PcpServer* pm = w.sites.at(name).gateway->port_mapping();
        pm != nullptr && (metric.starts_with("pcp.") || metric.starts_with("natpmp."))) {
      for (const auto& [key, value] : nat::port_mapping_metrics(*pm, true)) {
        if (key == metric) return static_cast<double>(value);
      }
    }
    if (const nat::upnp::IgdService* igd = w.sites.at(name).gateway->upnp();
        igd != nullptr && metric.starts_with("upnp.")) {
      for (const auto& [key, value] : nat::upnp::igd_metrics(igd->counters(), true)) {
        if (key == metric) return static_cast<double>(value);
      }
    }
    if (metric.starts_with("nat.drops.")) {
      for (std::size_t r = 0; r < nat::kNatDropCount; ++r) {
        if (metric.substr(10) == nat::to_string(static_cast<nat::NatDrop>(r)))
          return static_cast<double>(nc.dropped[r]);
      }
    }
  }
  if (auto it = w.servers.find(name); it != w.servers.end() && it->second.turn) {
    const auto& t = it->second.turn->counters();
    if (metric == "turn.allocations") return static_cast<double>(t.allocations);
    if (metric == "turn.relayed_to_peer") return static_cast<double>(t.relayed_to_peer);
    if (metric == "turn.relayed_to_client") return static_cast<double>(t.relayed_to_client);
    if (metric == "turn.bytes_to_peer") return static_cast<double>(t.bytes_to_peer);
    if (metric == "turn.bytes_to_client") return static_cast<double>(t.bytes_to_client);
    if (metric == "turn.auth_failures") return static_cast<double>(t.auth_failures);
    if (metric == "turn.dropped_no_permission") return static_cast<double>(t.dropped_no_permission);
  }
  *why =
      "unknown metric '" + metric + "' (sent, delivered, forwarded, dropped, drops.<reason>" +
      std::string(is_gateway ? ", nat.outbound, nat.inbound, nat.hairpinned, "
                               "nat.icmp_unreachable, nat.mappings, "
                               "nat.mappings_created, nat.mappings_expired, nat.mappings_mapped, "
                               "nat.mappings_unmapped, nat.drops.<reason>, and with "
                               "port_mapping pcp.<counter>, natpmp.<counter>"
                             : "") +
      ")";
  return std::nullopt;
}

}  // namespace

ExpectationResult evaluate(const Expectation& e, const World& w, const OutcomesById& by_id) {
  ExpectationResult r;
  r.pointer = e.pointer;
  Checks checks;
  if (!e.counter.empty()) {
    std::string why;
    auto v = counter_value(w, e.counter, e.metric, &why);
    if (!v) {
      r.message = why;
      return r;
    }
    checks.check(e.value->contains(*v), e.counter + " " + e.metric + ": expected " +
                                            range_text(*e.value) + ", got " + number_text(*v));
    r.passed = checks.passed();
    r.message = checks.text();
    return r;
  }
  const Outcome& o = *by_id.at(e.action);
  if (!o.error.empty()) {
    r.message = e.action + ": " + o.error;
    return r;
  }
  if (!o.finished) {
    r.message = e.action + ": did not finish within the run";
    return r;
  }
  if (e.check && o.run) o.run->check(*e.check, by_id, checks);
  r.passed = checks.passed();
  r.message = e.action + ": " + checks.text();
  return r;
}

}  // namespace natsim::scenarios::detail
