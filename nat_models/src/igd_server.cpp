#include "natsim/nat_models/igd_server.hpp"

#include <algorithm>

namespace natsim::nat::upnp {

namespace ssdp = traversal::ssdp;

IgdServer::IgdServer(sim::Node& node, NatTable& table, const PortMappingConfig& config,
                     IpAddress lan, Multicast multicast)
    : node_(node),
      service_(table, config, lan, node.now()),
      multicast_(std::move(multicast)),
      lan_(lan) {
  auto on_datagram = [this](const sim::Datagram& d) {
    (void)service_.handle_datagram(d.at, d.to, d.from, d.payload);
    pump();
  };
  if (auto s = node_.udp_bind(Endpoint{ssdp::kMulticastV4, ssdp::kPort})) {
    group_socket_ = *s;
    group_socket_->on_receive(on_datagram);
  }
  if (auto s = node_.udp_bind(Endpoint{lan, ssdp::kPort})) {
    lan_socket_ = *s;
    lan_socket_->on_receive(on_datagram);
  }
  if (auto l = node_.tcp_listen(Endpoint{lan, config.upnp.http_port})) {
    listener_ = *l;
    listener_->on_accept([this](sim::TcpSocket* s) { accept(s); });
  }
}

IgdServer::~IgdServer() = default;

void IgdServer::close() {
  drop_connections();
  if (group_socket_ != nullptr) group_socket_->close();
  if (lan_socket_ != nullptr) lan_socket_->close();
  if (listener_ != nullptr) listener_->close();
  group_socket_ = lan_socket_ = nullptr;
  listener_ = nullptr;
  if (timer_) (void)node_.cancel(*timer_);
  timer_.reset();
  armed_.reset();
}

void IgdServer::boot() {
  service_.boot(node_.now());
  pump();
}

void IgdServer::shutdown() {
  drop_connections();
  service_.shutdown();
  pump();
}

void IgdServer::drop_connections() {
  while (!connections_.empty())
    finish(connections_.begin()->first, true);
}

void IgdServer::pump() {
  const auto deadline = traversal::pump(
      service_, buffer_,
      [this](const traversal::Transmit& t, ByteView bytes) {
        if (t.remote.address.is_multicast()) return multicast_(t, bytes);
        if (lan_socket_ != nullptr) (void)lan_socket_->send_to(t.remote, bytes);
      },
      [](int) {});
  if (deadline == armed_) return;
  if (timer_) (void)node_.cancel(*timer_);
  timer_.reset();
  armed_ = deadline;
  if (!deadline) return;
  auto id = node_.schedule_at(std::max(*deadline, node_.now()), [this] {
    timer_.reset();
    armed_.reset();
    service_.handle_timeout(node_.now());
    pump();
  });
  if (id) timer_ = *id;
}

void IgdServer::accept(sim::TcpSocket* s) {
  const UpnpConfig& u = service_.config();
  if (connections_.size() >= u.max_connections) {
    ++service_.counters().http_refused;
    s->abort();
    return;
  }
  const std::uint64_t id = next_id_++;
  auto [it, _] = connections_.try_emplace(id, u.max_body);
  it->second.socket = s;
  s->on_receive([this, id](ByteView bytes) { receive(id, bytes); });
  s->on_writable([this, id] { send_answer(id); });
  s->on_close([this, id](Result<void>) {
    // The peer closed or the connection failed before its answer was out.
    if (connections_.contains(id)) finish(id, false);
  });
  // Slow or silent clients (and ones that never read their answer) hold a connection
  // for at most idle_timeout.
  auto t = node_.schedule_in(seconds(u.idle_timeout), [this, id] {
    auto c = connections_.find(id);
    if (c == connections_.end()) return;
    c->second.timer.reset();
    ++service_.counters().http_timeouts;
    finish(id, true);
  });
  if (t) it->second.timer = *t;
}

void IgdServer::receive(std::uint64_t id, ByteView bytes) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (!c.answer.empty()) return;  // one request per connection (answers close it)
  const auto state = c.reader.feed(bytes);
  if (state == HttpRequestReader::State::more) return;
  if (state == HttpRequestReader::State::done) {
    c.answer = service_.answer_http(node_.now(), c.socket->remote(), c.reader.request());
  } else {
    c.answer = service_.answer_unreadable(state, c.reader.header_too_large());
  }
  send_answer(id);
}

void IgdServer::send_answer(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second.answer.empty()) return;
  Connection& c = it->second;
  auto n = c.socket->send(
      ByteView(reinterpret_cast<const std::uint8_t*>(c.answer.data()), c.answer.size()));
  if (!n) return finish(id, true);
  c.answer.erase(0, *n);
  if (c.answer.empty()) finish(id, false);  // all queued: close after it (FIN)
}

void IgdServer::finish(std::uint64_t id, bool reset) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (c.timer) (void)node_.cancel(*c.timer);
  sim::TcpSocket* s = c.socket;
  connections_.erase(it);
  if (reset) {
    s->abort();
  } else {
    s->close();
  }
}

}  // namespace natsim::nat::upnp
