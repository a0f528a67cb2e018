#include "natsim/sim/tcp_socket.hpp"

#include "natsim/sim/network.hpp"
#include "natsim/sim/node.hpp"

namespace natsim::sim {

namespace {
// RFC 9293 §3.7.1: MSS = MTU minus the fixed IP and TCP headers (1500-byte Ethernet).
std::uint16_t default_mss(const Endpoint& local) {
  return local.address.is_v4() ? 1460 : 1440;
}
}  // namespace

TcpSocket::TcpSocket(Node& node, Endpoint local, Endpoint remote, const TcpConfig& config)
    : node_(&node), local_(local), remote_(remote), conn_(config, default_mss(local)) {}

void TcpSocket::on_receive(ReceiveHandler h) {
  on_receive_ = std::move(h);
  if (!pumping_ && conn_.peek()[0].size() != 0) {
    deliver();
    pump();
  }
}

Result<std::size_t> TcpSocket::send(ByteView data) {
  if (user_closed_) return Errc::closed;
  if (conn_.state() == TcpConnState::closed) {
    if (conn_.error() != TcpErrc::ok) return make_error_code(conn_.error());
    return make_error_code(TcpErrc::not_connected);
  }
  if (conn_.close_requested()) return make_error_code(TcpErrc::shutdown);
  const std::size_t n = conn_.send(data);
  pump();
  return n;
}

void TcpSocket::pause_receive(bool paused) {
  paused_ = paused;
  if (!paused_ && !pumping_) {
    deliver();
    pump();
  }
}

void TcpSocket::close() {
  if (user_closed_) return;
  user_closed_ = true;
  conn_.close(node_->now());
  pump();
}

void TcpSocket::abort() {
  if (user_closed_) return;
  user_closed_ = true;
  conn_.abort();
  pump();
}

void TcpSocket::input(TimePoint now, const Packet& p) {
  conn_.handle_segment(now, p.tcp, p.payload());
  pump();
}

// Drain until quiet: segments leave at this instant, then events, and again, since an
// event handler may send or close.
void TcpSocket::pump() {
  if (pumping_) return;
  pumping_ = true;
  Network& net = node_->network();
  PacketPtr p;
  for (bool busy = true; busy;) {
    busy = false;
    for (;;) {
      if (!p) p = net.packets().acquire();
      p->resize(conn_.mss());
      std::size_t length = 0;
      auto header = conn_.poll_transmit(node_->now(), p->payload(), length);
      if (!header) break;
      busy = true;
      p->resize(length);
      p->proto = IpProto::tcp;
      p->src = local_;
      p->dst = remote_;
      p->tcp = *header;
      (void)node_->send(std::move(p));  // a failure is a counted drop, like a lost segment
    }
    while (auto e = conn_.poll_event()) {
      busy = true;
      dispatch(*e);
    }
  }
  pumping_ = false;
  if (conn_.state() == TcpConnState::closed) {
    finished();
  } else {
    rearm();
  }
}

void TcpSocket::dispatch(const TcpEvent& e) {
  switch (e.kind) {
    case TcpEventKind::connected:
      connected_ = true;
      if (listener_ != nullptr) {
        listener_->ready(this);
      } else if (on_connect_ && !user_closed_) {
        on_connect_(Result<void>{});
      }
      break;
    case TcpEventKind::readable:
      deliver();
      break;
    case TcpEventKind::writable:
      if (on_writable_ && !user_closed_ && listener_ == nullptr) on_writable_();
      break;
    case TcpEventKind::peer_closed:
      if (on_close_ && !user_closed_ && listener_ == nullptr) on_close_(Result<void>{});
      break;
    case TcpEventKind::closed:
      break;
    case TcpEventKind::failed:
      if (user_closed_ || listener_ != nullptr) break;
      if (!connected_) {
        if (on_connect_) on_connect_(make_error_code(e.error));
      } else if (on_close_) {
        on_close_(make_error_code(e.error));
      }
      break;
  }
}

void TcpSocket::deliver() {
  if (user_closed_) {
    // Nobody reads any more: bytes are taken and forgotten.
    auto pieces = conn_.peek();
    conn_.consume(pieces[0].size() + pieces[1].size());
    return;
  }
  if (paused_ || !on_receive_ || listener_ != nullptr) return;
  auto pieces = conn_.peek();
  for (ByteView piece : pieces) {
    if (piece.empty()) continue;
    on_receive_(piece);
    conn_.consume(piece.size());
    if (paused_ || user_closed_) break;
  }
}

void TcpSocket::rearm() {
  const std::optional<TimePoint> due = conn_.poll_timeout();
  if (due == armed_) return;
  // A deadline that moved later (every ACK restarts the retransmission timer) keeps the
  // armed timer: it fires early, finds nothing due, and re-arms. Few cancellations.
  if (due && armed_ && *armed_ < *due) return;
  if (armed_) node_->cancel(timer_);
  armed_ = due;
  if (!due) return;
  auto id = node_->schedule_at(*due, [this] {
    armed_.reset();
    conn_.handle_timeout(node_->now());
    pump();
  });
  timer_ = id ? *id : TimerId{};
}

void TcpSocket::finished() {
  if (armed_) {
    node_->cancel(timer_);
    armed_.reset();
  }
  if (in_table_) node_->tcp_release(*this);
  if (listener_ != nullptr) {
    listener_->forget(this);
    listener_ = nullptr;
    user_closed_ = true;  // never handed out: nobody else holds it
  }
  if (user_closed_) node_->tcp_destroy(*this);
}

// --- TcpListener

Result<TcpSocket*> TcpListener::accept() {
  if (closed_) return Errc::closed;
  if (ready_.empty()) return make_error_code(TcpErrc::would_block);
  TcpSocket* s = ready_.front();
  ready_.pop_front();
  --pending_;
  s->listener_ = nullptr;
  ++accepted_;
  return s;
}

void TcpListener::ready(TcpSocket* s) {
  if (on_accept_) {
    --pending_;
    s->listener_ = nullptr;
    ++accepted_;
    on_accept_(s);
    // Bytes that arrived with the handshake's last ACK wait for the handler.
    if (!s->user_closed_) s->deliver();
    return;
  }
  ready_.push_back(s);
}

void TcpListener::forget(TcpSocket* s) {
  for (auto it = ready_.begin(); it != ready_.end(); ++it) {
    if (*it == s) {
      ready_.erase(it);
      break;
    }
  }
  --pending_;
}

void TcpListener::close() {
  if (closed_) return;
  closed_ = true;
  node_->tcp_close_listener(*this);
}

}  // namespace natsim::sim
