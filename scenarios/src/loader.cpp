#include "natsim/scenarios/loader.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "action_type.hpp"
#include "json_reader.hpp"
#include "limits.hpp"
#include "nat_reader.hpp"
#include "natsim/nat_models/nat_behavior_json.hpp"
#include "topology_check.hpp"

namespace natsim::scenarios {

using detail::Names;
using detail::parse_action;
using detail::parse_nat;
using detail::parse_range;
using detail::Reader;
using nlohmann::json;

// Seeds share one range everywhere (files and --seed), limits::kMaxSeed.
constexpr auto kMaxSeed = static_cast<std::int64_t>(limits::kMaxSeed);

namespace {

// --- pieces

std::vector<std::uint64_t> parse_seeds(const Reader& r) {
  std::vector<std::uint64_t> seeds;
  if (r.json().is_array()) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      seeds.push_back(static_cast<std::uint64_t>(r[i].integer(0, kMaxSeed)));
    }
  } else {
    r.only({"from", "count"});
    const auto count = r.at("count").integer(1, static_cast<std::int64_t>(limits::kMaxRuns));
    const auto from = r.at("from").integer(0, kMaxSeed - count + 1);
    for (std::int64_t i = 0; i < count; ++i)
      seeds.push_back(static_cast<std::uint64_t>(from + i));
  }
  if (seeds.empty()) r.fail("expected at least one seed");
  return seeds;
}

ServerSpec parse_server(const Reader& r) {
  r.only({"name", "type", "address", "port", "alternate_address", "alternate_port", "link", "users",
          "realm", "relay_ports", "icmp_unreachable"});
  ServerSpec s;
  s.name = r.at("name").name();
  const std::string& type = r.at("type").string();
  if (type == "stun") {
    s.kind = ServerKind::stun;
  } else if (type == "echo") {
    s.kind = ServerKind::echo;
    s.port = 7;
  } else if (type == "host") {
    s.kind = ServerKind::host;
  } else if (type == "turn") {
    s.kind = ServerKind::turn;
  } else {
    r.at("type").fail("unknown server type '" + type + "', expected stun, echo, turn or host");
  }
  const bool turn = s.kind == ServerKind::turn;
  for (const char* key : {"users", "realm", "relay_ports"}) {
    if (r.has(key) && !turn) r.at(key).fail(std::string("only TURN servers have '") + key + "'");
  }
  if (auto users = r.get("users")) {
    if (!users->json().is_object() || users->json().empty()) {
      users->fail("expected an object of {\"username\": \"password\"}");
    }
    for (const auto& item : users->json().items()) {
      s.users[item.key()] = users->at(item.key().c_str()).string();
    }
  }
  if (turn && s.users.empty()) r.fail("a TURN server needs 'users'");
  if (auto realm = r.get("realm")) s.realm = realm->string();
  if (auto i = r.get("icmp_unreachable")) s.icmp_unreachable = i->boolean();
  if (auto ports = r.get("relay_ports"))
    s.relay_ports = static_cast<std::uint16_t>(ports->integer(1, 16384));
  s.address = r.at("address").address();
  if (auto p = r.get("port")) s.port = static_cast<std::uint16_t>(p->integer(1, 65535));
  if (auto a = r.get("alternate_address")) {
    if (s.kind != ServerKind::stun) a->fail("only STUN servers have an alternate address");
    s.alternate_address = a->address();
    if (s.alternate_address->family() != s.address.family())
      a->fail("address family differs from 'address'");
  }
  if (auto p = r.get("alternate_port"))
    s.alternate_port = static_cast<std::uint16_t>(p->integer(1, 65535));
  if (auto l = r.get("link")) s.link = parse_link_params(l->json(), l->pointer());
  return s;
}

SiteSpec parse_site(const Reader& r, const sim::LinkParams& core) {
  r.only({"name", "nat", "hosts", "lan", "wan", "uplink", "lan_link", "sites", "port_mapping",
          "ipv6"});
  SiteSpec s;
  s.pointer = r.pointer();
  s.name = r.at("name").name();
  s.nat = r.has("nat") ? parse_nat(r.at("nat")) : *nat::preset("port-restricted-cone");
  if (auto v = r.get("ipv6")) s.ipv6 = v->boolean();
  if (auto h = r.get("hosts")) {
    if (h->json().is_number()) {
      const auto n = h->integer(0, 250);
      for (std::int64_t i = 1; i <= n; ++i)
        s.hosts.push_back(s.name + "-h" + std::to_string(i));
    } else {
      for (std::size_t i = 0; i < h->size(); ++i)
        s.hosts.push_back((*h)[i].name());
    }
  } else {
    s.hosts.push_back(s.name + "-h1");
  }
  if (auto a = r.get("lan")) s.lan = a->interface_address();
  if (auto a = r.get("wan")) s.wan = a->interface_address();
  s.uplink = core;
  if (auto l = r.get("uplink")) s.uplink = parse_link_params(l->json(), l->pointer(), core);
  if (auto l = r.get("lan_link")) s.lan_link = parse_link_params(l->json(), l->pointer());
  if (auto p = r.get("port_mapping")) s.port_mapping = detail::parse_port_mapping(*p);
  if (auto nested = r.get("sites")) {
    for (std::size_t i = 0; i < nested->size(); ++i)
      s.sites.push_back(parse_site((*nested)[i], {}));
  }
  return s;
}

Expectation parse_expectation(const Reader& r,
                              const std::map<std::string, const Action*>& actions) {
  Expectation e;
  e.pointer = r.pointer();
  if (r.has("counter")) {
    r.only({"counter", "metric", "value"});
    e.counter = r.at("counter").string();
    if (e.counter.empty()) r.at("counter").fail("expected a node or link name (or \"network\")");
    e.metric = r.at("metric").string();
    e.value = parse_range(r.at("value"));
    return e;
  }
  e.action = r.at("action").string();
  auto it = actions.find(e.action);
  if (it == actions.end()) r.at("action").fail("no action with id '" + e.action + "'");
  e.check = detail::parse_action_check(r, *it->second, actions);
  return e;
}

// RFC 6901 pointer application for the matrix: the pointer must name an existing value
// (or a new key of an existing object), so typos are errors rather than new keys.
void set_pointer(json& doc, const std::string& pointer, const std::string& where,
                 const json& value) {
  try {
    const json::json_pointer ptr(pointer);
    if (ptr.empty()) throw InputError(where, "the matrix cannot replace the whole document");
    const json::json_pointer parent = ptr.parent_pointer();
    if (!doc.contains(parent) || !doc.at(parent).is_structured()) {
      throw InputError(where, "'" + pointer + "' does not point into the document");
    }
    if (doc.at(parent).is_array() && !doc.contains(ptr)) {
      throw InputError(where, "'" + pointer + "' is past the end of its array");
    }
    doc[ptr] = value;
  } catch (const json::exception& e) {
    throw InputError(where, "bad JSON Pointer '" + pointer + "'");
  }
}

// Runs an InputError-throwing step and puts the file in front of where it failed; any
// nlohmann exception that slips through becomes an InputError too, never an abort.
template <typename F>
auto in_file(const std::string& file, F&& step) {
  try {
    return step();
  } catch (const InputError& e) {
    const std::string what =
        std::string(e.what()).substr(e.where().empty() ? 0 : e.where().size() + 2);
    throw InputError(e.where().empty() ? file : file + ": " + e.where(), what);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (auto bracket = what.find("] "); bracket != std::string::npos)
      what = what.substr(bracket + 2);
    throw InputError(file, what);
  }
}

}  // namespace

sim::LinkParams parse_link_params(const json& j, const std::string& pointer, sim::LinkParams base) {
  const Reader r(j, pointer);
  r.only({"latency", "jitter", "reorder", "loss", "burst", "bandwidth", "queue_bytes", "mtu",
          "duplicate"});
  sim::LinkParams p = base;
  if (auto v = r.get("latency")) p.latency = v->duration();
  if (auto v = r.get("jitter")) p.jitter = v->duration();
  if (auto v = r.get("reorder")) p.reorder = v->boolean();
  if (auto v = r.get("loss")) p.loss = v->number(0, 1);
  if (auto v = r.get("burst")) {
    v->only({"p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad"});
    sim::GilbertElliott ge;
    if (auto x = v->get("p_good_to_bad")) ge.p_good_to_bad = x->number(0, 1);
    if (auto x = v->get("p_bad_to_good")) ge.p_bad_to_good = x->number(0, 1);
    if (auto x = v->get("loss_good")) ge.loss_good = x->number(0, 1);
    if (auto x = v->get("loss_bad")) ge.loss_bad = x->number(0, 1);
    p.burst = ge;
  }
  if (auto v = r.get("bandwidth")) p.bandwidth_bps = v->bandwidth();
  if (auto v = r.get("queue_bytes"))
    p.queue_bytes = static_cast<std::size_t>(v->integer(1, 1LL << 32));
  if (auto v = r.get("mtu")) p.mtu = static_cast<std::size_t>(v->integer(68, 65535));
  // Every link may copy a datagram: at 1 a six-link echo path makes 64 copies of each.
  if (auto v = r.get("duplicate")) p.duplicate = v->number(0, limits::kMaxDuplicate);
  return p;
}

namespace {

// What the timeline schedules, from the keys every sending action shares ("count",
// "interval"): the datagrams of one run together are bounded, and the time of the last
// one is returned so a run without a "duration" lasts until it has left.
Duration bound_schedule(const Reader& timeline, const std::vector<Action>& actions) {
  std::int64_t datagrams = 0;
  Duration end{0};
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const Reader a = timeline[i];
    if (a.has("times")) {  // a send's explicit schedule (the action checked it)
      const Reader t = a.at("times");
      datagrams += static_cast<std::int64_t>(t.size());
      end = std::max(end, actions[i].at + t[t.size() - 1].duration());
      continue;
    }
    if (!a.has("count")) continue;
    const std::int64_t count = a.at("count").integer(1, limits::kMaxSendCount);
    const Duration interval = a.has("interval") ? a.at("interval").duration() : milliseconds(100);
    const Duration at = actions[i].at;
    if (interval.count() > 0 && count - 1 > (limits::kMaxDuration - at) / interval) {
      a.at("interval")
          .fail("the last of " + std::to_string(count) + " datagrams would leave after " +
                format_duration(limits::kMaxDuration) + ", the longest run");
    }
    datagrams += count;
    end = std::max(end, at + interval * (count - 1));
  }
  if (datagrams > limits::kMaxSendsPerRun) {
    timeline.fail("schedules " + std::to_string(datagrams) + " datagrams in all (counts of every " +
                  "action); at most " + std::to_string(limits::kMaxSendsPerRun) + " per run");
  }
  return end;
}

// "bridge": {"attach": ["alice", "peer"], "prefix": "lab"}. Only hosts without a service
// of natsim's own can be attached: a namespace's kernel answers for the whole host.
BridgeSpec parse_bridge(const Reader& r, const Names& names) {
  r.only({"attach", "prefix"});
  BridgeSpec b;
  const Reader attach = r.at("attach");
  if (attach.size() == 0 || attach.size() > limits::kMaxBridgeHosts) {
    attach.fail("expected 1 to " + std::to_string(limits::kMaxBridgeHosts) + " host names");
  }
  for (std::size_t i = 0; i < attach.size(); ++i) {
    const Reader h = attach[i];
    const std::string& name = h.string();
    auto kind = names.kinds.find(name);
    const bool host = kind != names.kinds.end() && kind->second == "host";
    const bool bare_server = kind != names.kinds.end() && kind->second == "server" &&
                             names.servers.at(name) == ServerKind::host;
    if (!host && !bare_server) {
      h.fail("'" + name + "' is not a host of a site or a server of type 'host'" +
             (kind != names.kinds.end() && kind->second == "server"
                  ? " (a server running natsim's own service cannot also be a namespace)"
                  : ""));
    }
    for (const std::string& seen : b.attach) {
      if (seen == name) h.fail("'" + name + "' is attached twice");
    }
    b.attach.push_back(name);
  }
  if (auto p = r.get("prefix")) {
    b.prefix = p->string();
    // Namespace names become file names under /run/netns: keep them plain and short.
    const bool plain = !b.prefix.empty() && b.prefix.size() <= 32 &&
                       b.prefix.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string::npos;
    if (!plain) p->fail("expected 1 to 32 letters, digits, '_' or '-'");
  }
  return b;
}

}  // namespace

Scenario parse_scenario(const json& doc, const std::string& file) {
  const Reader r(doc, "");
  r.only({"$schema", "name", "description", "seed", "seeds", "duration", "topology", "timeline",
          "expect", "matrix", "bridge"});
  Scenario s;
  s.file = file;
  s.name = r.at("name").string();
  if (auto d = r.get("description")) s.description = d->string();
  if (r.has("seed") && r.has("seeds"))
    r.at("seeds").fail("give either 'seed' or 'seeds', not both");
  if (auto v = r.get("seed")) s.seeds = {static_cast<std::uint64_t>(v->integer(0, kMaxSeed))};
  if (auto v = r.get("seeds")) s.seeds = parse_seeds(*v);
  if (auto d = r.get("duration")) {
    s.duration = d->duration();
    if (*s.duration > limits::kMaxDuration) {
      d->fail("longer than " + format_duration(limits::kMaxDuration) + " of simulated time");
    }
  }

  const Reader topo = r.at("topology");
  topo.only({"core", "servers", "sites"});
  if (auto c = topo.get("core")) s.core = parse_link_params(c->json(), c->pointer());
  Names names;
  if (auto servers = topo.get("servers")) {
    for (std::size_t i = 0; i < servers->size(); ++i) {
      ServerSpec spec = parse_server((*servers)[i]);
      if (!(*servers)[i].has("link")) spec.link = s.core;
      names.add(spec.name, "server", (*servers)[i].pointer() + "/name");
      names.servers[spec.name] = spec.kind;
      names.turn_users[spec.name] = spec.users;
      s.servers.push_back(std::move(spec));
    }
  }
  if (auto sites = topo.get("sites")) {
    for (std::size_t i = 0; i < sites->size(); ++i) {
      s.sites.push_back(parse_site((*sites)[i], s.core));
      names.add_site(s.sites.back());
    }
  }
  detail::check_topology(s);
  if (auto b = r.get("bridge")) s.bridge = parse_bridge(*b, names);

  std::map<std::string, const Action*> by_id;
  if (auto timeline = r.get("timeline")) {
    if (timeline->size() > limits::kMaxActions) {
      timeline->fail("more than " + std::to_string(limits::kMaxActions) + " actions");
    }
    for (std::size_t i = 0; i < timeline->size(); ++i) {
      s.timeline.push_back(parse_action((*timeline)[i], names, i));
    }
    for (std::size_t i = 0; i < s.timeline.size(); ++i) {
      const Action& a = s.timeline[i];
      if (i > 0 && a.at < s.timeline[i - 1].at) {
        throw InputError(a.pointer + "/at", "time in the past: " + format_duration(a.at) +
                                                " is before the previous action's " +
                                                format_duration(s.timeline[i - 1].at) +
                                                " (list actions in time order)");
      }
      if (!by_id.emplace(a.id, &a).second) {
        throw InputError(a.pointer + "/id", "duplicate action id '" + a.id + "'");
      }
    }
  }
  if (auto timeline = r.get("timeline")) {
    const Duration end = bound_schedule(*timeline, s.timeline);
    // The runner's default is the last start plus the longest settle time; a send still
    // sending then would be cut short, so its last datagram gets ten minutes instead.
    Duration settle = minutes(10);
    for (const Action& a : s.timeline)
      settle = std::max(settle, a.spec->settle());
    if (!s.duration && !s.timeline.empty() && end > s.timeline.back().at + settle) {
      s.duration = end + minutes(10);
    }
  }
  if (s.duration && !s.timeline.empty() && *s.duration < s.timeline.back().at) {
    throw InputError("/duration", "shorter than the timeline (last action at " +
                                      format_duration(s.timeline.back().at) + ")");
  }
  if (auto expect = r.get("expect")) {
    for (std::size_t i = 0; i < expect->size(); ++i) {
      s.expectations.push_back(parse_expectation((*expect)[i], by_id));
    }
  }
  detail::check_counter_names(s);
  return s;
}

ScenarioFile ScenarioFile::parse(std::string_view text, const std::string& file) {
  ScenarioFile out;
  out.file_ = file;
  out.base_ = detail::parse_json(text, file, limits::kMaxFileBytes);
  in_file(file, [&] {
    const Reader root(out.base_, "");
    auto matrix = root.get("matrix");
    if (!matrix) return 0;
    for (std::size_t i = 0; i < matrix->size(); ++i) {
      const Reader entry = (*matrix)[i];
      entry.only({"pointer", "values", "set"});
      if (entry.has("set") == entry.has("pointer")) {
        entry.fail("expected either \"pointer\" with \"values\", or \"set\"");
      }
      // Each choice is a list of assignments; variants multiply across entries.
      std::vector<Choice> choices;
      if (entry.has("pointer")) {
        const Reader values = entry.at("values");
        if (values.size() == 0) values.fail("empty matrix: give at least one value");
        const std::string& ptr = entry.at("pointer").string();
        for (std::size_t k = 0; k < values.size(); ++k) {
          const json& v = values[k].json();
          choices.push_back(Choice{{Assignment{ptr, entry.pointer() + "/pointer", v}},
                                   v.is_string() ? v.get<std::string>() : v.dump()});
        }
      } else {
        const Reader sets = entry.at("set");
        if (sets.size() == 0) sets.fail("empty matrix: give at least one set");
        for (std::size_t k = 0; k < sets.size(); ++k) {
          if (!sets[k].json().is_object() || sets[k].json().empty()) {
            sets[k].fail("expected an object of {\"/json/pointer\": value}");
          }
          Choice choice;
          // Keys come in sorted order (JSON objects are unordered): labels follow it.
          for (const auto& [ptr, value] : sets[k].json().items()) {
            choice.assignments.push_back(
                Assignment{ptr, sets[k].pointer() + "/" + pointer_token(ptr), value});
            // Labels name the variant by its scalar values; objects are left out.
            if (value.is_primitive()) {
              choice.label += (choice.label.empty() ? "" : ",") +
                              (value.is_string() ? value.get<std::string>() : value.dump());
            }
          }
          choices.push_back(std::move(choice));
        }
      }
      // Counted before anything is built: the product is checked entry by entry.
      if (choices.size() > limits::kMaxVariants / out.variants_) {
        matrix->fail("more than " + std::to_string(limits::kMaxVariants) +
                     " variants (the limit of one file)");
      }
      out.variants_ *= choices.size();
      out.matrix_.push_back(std::move(choices));
    }
    if (out.variants_ * std::uint64_t{text.size()} > limits::kMaxExpandedBytes) {
      matrix->fail(std::to_string(out.variants_) + " variants of a " + std::to_string(text.size()) +
                   "-byte file: at most " +
                   std::to_string(limits::kMaxExpandedBytes / text.size()) +
                   " for a file this size (variants x file size, 4 GiB)");
    }
    out.base_.erase("matrix");
    return 0;
  });
  return out;
}

ScenarioFile ScenarioFile::read(const std::string& path) {
  return parse(detail::read_file(path, limits::kMaxFileBytes), path);
}

Scenario ScenarioFile::variant(std::size_t index) const {
  if (index >= variants_) {
    throw InputError(file_, "has " + std::to_string(variants_) + " variant(s); variant " +
                                std::to_string(index) + " does not exist");
  }
  return in_file(file_, [&] {
    json doc = base_;
    std::string label;
    // Mixed radix, last entry fastest: the order the variants are numbered in.
    std::vector<const Choice*> picked(matrix_.size());
    std::size_t rest = index;
    for (std::size_t e = matrix_.size(); e-- > 0;) {
      picked[e] = &matrix_[e][rest % matrix_[e].size()];
      rest /= matrix_[e].size();
    }
    for (const Choice* c : picked) {
      for (const Assignment& a : c->assignments)
        set_pointer(doc, a.pointer, a.where, a.value);
      label += (label.empty() ? "" : " ") + c->label;
    }
    Scenario s = parse_scenario(doc, file_);
    s.variant = label;
    return s;
  });
}

std::size_t ScenarioFile::runs() const {
  std::size_t runs = 0;
  for (std::size_t v = 0; v < variants_; ++v) {
    runs += variant(v).seeds.size();
    if (runs > limits::kMaxRuns) {
      throw InputError(file_, "more than " + std::to_string(limits::kMaxRuns) +
                                  " runs (variants x seeds, the limit of one file)");
    }
  }
  return runs;
}

std::vector<Scenario> load_scenario_text(std::string_view text, const std::string& file) {
  const ScenarioFile f = ScenarioFile::parse(text, file);
  (void)f.runs();
  std::vector<Scenario> out;
  for (std::size_t v = 0; v < f.variants(); ++v)
    out.push_back(f.variant(v));
  return out;
}

std::vector<Scenario> load_scenario_file(const std::string& path) {
  return load_scenario_text(detail::read_file(path, limits::kMaxFileBytes), path);
}

json read_json_file(const std::string& path, std::size_t max_bytes) {
  return detail::parse_json(detail::read_file(path, max_bytes), path, max_bytes);
}

}  // namespace natsim::scenarios
