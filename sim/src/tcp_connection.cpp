#include "natsim/sim/tcp_connection.hpp"

#include <algorithm>

namespace natsim::sim {

using namespace tcp_flags;

namespace {
// RFC 9293 §3.7.1: the send MSS when the peer sent no MSS option.
constexpr std::uint32_t kDefaultPeerMss = 536;
constexpr std::size_t kMaxWindow = 65535;  // no window scaling (RFC 7323 not modelled)
}  // namespace

const char* to_string(TcpConnState s) {
  constexpr const char* kNames[] = {"CLOSED",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED",
                                    "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",   "CLOSING",
                                    "LAST-ACK",   "TIME-WAIT"};
  return kNames[static_cast<std::size_t>(s)];
}

std::optional<TcpHeader> tcp_reset_for(const TcpHeader& h, std::size_t payload) {
  // RFC 9293 §3.10.7.1: never answer a RST; take the sequence number from an ACK,
  // otherwise acknowledge everything the segment occupied.
  if ((h.flags & rst) != 0) return std::nullopt;
  TcpHeader r;
  if ((h.flags & ack) != 0) {
    r.seq = h.ack;
    r.flags = rst;
  } else {
    r.ack = h.seq + static_cast<std::uint32_t>(payload) + ((h.flags & syn) != 0 ? 1u : 0u) +
            ((h.flags & fin) != 0 ? 1u : 0u);
    r.flags = rst | ack;
  }
  return r;
}

TcpConnection::TcpConnection(const TcpConfig& config, std::uint16_t default_mss)
    : config_(config),
      mss_(config.mss != 0 ? config.mss : default_mss),
      our_mss_(config.mss != 0 ? config.mss : default_mss),
      snd_(std::max<std::size_t>(config.send_buffer, 1)),
      rcv_(std::clamp<std::size_t>(config.receive_buffer, 1, kMaxWindow)),
      rtt_(config.initial_rto, config.min_rto, config.max_rto),
      cc_(mss_) {}

bool TcpConnection::is_synchronized() const {
  return state_ != TcpConnState::closed && state_ != TcpConnState::syn_sent;
}

bool TcpConnection::sending_state() const {
  switch (state_) {
    case TcpConnState::established:
    case TcpConnState::close_wait:
    case TcpConnState::fin_wait_1:
    case TcpConnState::closing:
    case TcpConnState::last_ack:
      return true;
    default:
      return false;
  }
}

// --- commands

void TcpConnection::open_active(TimePoint /*now*/, std::uint32_t iss) {
  iss_ = snd_una_ = snd_nxt_ = snd_max_ = iss;
  buf_seq_ = iss + 1;
  state_ = TcpConnState::syn_sent;
}

void TcpConnection::open_passive(TimePoint /*now*/, std::uint32_t iss, const TcpHeader& first) {
  open_active({}, iss);
  passive_ = true;
  irs_ = first.seq;
  rcv_.reset(first.seq + 1);
  mss_ = std::min<std::uint32_t>(our_mss_, first.mss != 0 ? first.mss : kDefaultPeerMss);
  snd_wnd_ = first.window;
  snd_wl1_ = first.seq;
  state_ = TcpConnState::syn_received;
}

std::size_t TcpConnection::send(ByteView data) {
  if (fin_queued_ || state_ == TcpConnState::closed) return 0;
  const std::size_t n = snd_.push(data);
  if (n < data.size()) send_blocked_ = true;
  return n;
}

void TcpConnection::close(TimePoint /*now*/) {
  // RFC 9293 §3.10.4.
  switch (state_) {
    case TcpConnState::syn_sent:
      enter_closed(true);
      break;
    case TcpConnState::syn_received:
      fin_queued_ = true;  // FIN-WAIT-1 once the handshake completes
      break;
    case TcpConnState::established:
      fin_queued_ = true;
      state_ = TcpConnState::fin_wait_1;
      break;
    case TcpConnState::close_wait:
      fin_queued_ = true;
      state_ = TcpConnState::last_ack;
      break;
    default:
      break;
  }
}

void TcpConnection::abort() {
  // RFC 9293 §3.10.5: a synchronized connection tells the peer with a RST.
  if (is_synchronized() && state_ != TcpConnState::time_wait) {
    rst_pending_ = true;
    rst_seq_ = snd_nxt_;
  }
  error_ = TcpErrc::aborted;
  state_ = TcpConnState::closed;
  rtx_deadline_.reset();
  time_wait_deadline_.reset();
  ack_pending_ = fast_rtx_pending_ = probe_pending_ = false;
}

void TcpConnection::consume(std::size_t n) {
  const std::size_t threshold = std::min<std::size_t>(rcv_.capacity() / 2, mss_);
  const std::size_t before = rcv_.window();
  rcv_.consume(n);
  // RFC 9293 §3.8.6.2.2: tell the sender once the window has opened by a useful amount.
  if (before < threshold && rcv_.window() >= threshold && is_synchronized()) ack_pending_ = true;
}

void TcpConnection::fail(TcpErrc e) {
  error_ = e;
  enter_closed(false);
  raise(TcpEventKind::failed);
}

void TcpConnection::enter_closed(bool normal) {
  state_ = TcpConnState::closed;
  rtx_deadline_.reset();
  time_wait_deadline_.reset();
  ack_pending_ = fast_rtx_pending_ = probe_pending_ = false;
  if (normal) raise(TcpEventKind::closed);
}

void TcpConnection::enter_time_wait(TimePoint now) {
  state_ = TcpConnState::time_wait;
  rtx_deadline_.reset();
  time_wait_deadline_ = now + config_.time_wait;
}

std::uint16_t TcpConnection::advertised_window() const {
  return static_cast<std::uint16_t>(std::min(rcv_.window(), kMaxWindow));
}

// --- inputs

void TcpConnection::handle_segment(TimePoint now, const TcpHeader& h, ByteView payload) {
  ++stats_.segments_received;
  if (state_ == TcpConnState::closed) {
    ++stats_.dropped;
    return;
  }
  if (state_ == TcpConnState::syn_sent) return on_syn_sent(now, h);
  const std::size_t len =
      payload.size() + ((h.flags & syn) != 0 ? 1 : 0) + ((h.flags & fin) != 0 ? 1 : 0);
  // RFC 9293 §3.10.7.4, first: the sequence number must fall in the window.
  if (!acceptable(h, len)) {
    if ((h.flags & rst) == 0) {
      ack_pending_ = true;
      // The only thing that arrives in TIME-WAIT is the peer's FIN again.
      if (state_ == TcpConnState::time_wait && (h.flags & fin) != 0) enter_time_wait(now);
    }
    ++stats_.dropped;
    return;
  }
  // Second: RST. RFC 9293 §3.10.7.4 (after RFC 5961 §3.2): only an exact sequence
  // number resets; one elsewhere in the window gets a challenge ACK.
  if ((h.flags & rst) != 0) {
    if (h.seq != rcv_nxt()) {
      ack_pending_ = true;
      return;
    }
    switch (state_) {
      case TcpConnState::syn_received:
        return fail(passive_ ? TcpErrc::reset : TcpErrc::connection_refused);
      case TcpConnState::closing:
      case TcpConnState::last_ack:
      case TcpConnState::time_wait:
        return enter_closed(true);
      default:
        return fail(TcpErrc::reset);
    }
  }
  // Fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4.2).
  if ((h.flags & syn) != 0) {
    ack_pending_ = true;
    ++stats_.dropped;
    return;
  }
  // Fifth: without ACK the segment is dropped.
  if ((h.flags & ack) == 0) {
    ++stats_.dropped;
    return;
  }
  if (!process_ack(now, h, payload.size())) return;
  // Seventh: the segment text, in ESTABLISHED and FIN-WAIT-1/2 only.
  const bool takes_text = state_ == TcpConnState::established ||
                          state_ == TcpConnState::fin_wait_1 || state_ == TcpConnState::fin_wait_2;
  if (takes_text) process_text(h, payload);
  // Eighth: FIN, once every byte before it has arrived.
  if ((h.flags & fin) != 0 && takes_text && !peer_fin_) {
    const std::uint32_t at = h.seq + static_cast<std::uint32_t>(payload.size());
    if (seq_ge(at, rcv_nxt()) && seq_lt(at - rcv_nxt(), rcv_.window() + 1)) peer_fin_seq_ = at;
  }
  if (peer_fin_seq_ && *peer_fin_seq_ == rcv_nxt()) process_fin(now);
  // A zero window with data waiting: the persist timer probes it (RFC 9293 §3.8.6.1).
  if (sending_state() && snd_wnd_ == 0 && seq_lt(snd_nxt_, data_end()) && !rtx_deadline_)
    arm_rtx(now);
}

void TcpConnection::on_syn_sent(TimePoint now, const TcpHeader& h) {
  // RFC 9293 §3.10.7.3.
  const bool has_ack = (h.flags & ack) != 0;
  if (has_ack && (seq_le(h.ack, iss_) || seq_gt(h.ack, snd_max_))) {
    if ((h.flags & rst) == 0) {
      rst_pending_ = true;
      rst_seq_ = h.ack;
    }
    ++stats_.dropped;
    return;
  }
  if ((h.flags & rst) != 0) {
    if (has_ack) return fail(TcpErrc::connection_refused);
    ++stats_.dropped;
    return;
  }
  if ((h.flags & syn) == 0) {
    ++stats_.dropped;
    return;
  }
  irs_ = h.seq;
  rcv_.reset(h.seq + 1);
  mss_ = std::min<std::uint32_t>(our_mss_, h.mss != 0 ? h.mss : kDefaultPeerMss);
  snd_wnd_ = h.window;
  snd_wl1_ = h.seq;
  snd_wl2_ = h.ack;
  ack_pending_ = true;
  if (!has_ack) {
    // Simultaneous open: SYN-RECEIVED, and our SYN goes out again carrying an ACK.
    state_ = TcpConnState::syn_received;
    snd_nxt_ = iss_;
    timing_ = false;
    return;
  }
  if (timing_ && seq_gt(h.ack, timed_seq_)) rtt_.sample(now - timed_at_);
  timing_ = false;
  if (syn_retransmitted_) rtt_.reset_after_syn_loss();
  snd_una_ = h.ack;
  state_ = TcpConnState::established;
  cc_ = TcpNewReno(mss_);
  rtx_deadline_.reset();
  retries_ = 0;
  raise(TcpEventKind::connected);
}

bool TcpConnection::acceptable(const TcpHeader& h, std::size_t len) const {
  // RFC 9293 §3.10.7.4, the four cases of segment length and receive window.
  const std::uint32_t nxt = rcv_nxt();
  const auto wnd = static_cast<std::uint32_t>(rcv_.window());
  auto in_window = [&](std::uint32_t s) { return seq_le(nxt, s) && seq_lt(s, nxt + wnd); };
  // With a zero window a segment at RCV.NXT is let in for its ACK and RST (the text is
  // then trimmed away): "special allowance should be made to accept valid ACKs".
  if (wnd == 0) return h.seq == nxt;
  if (len == 0) return in_window(h.seq);
  return in_window(h.seq) || in_window(h.seq + static_cast<std::uint32_t>(len) - 1);
}

bool TcpConnection::process_ack(TimePoint now, const TcpHeader& h, std::size_t payload) {
  if (state_ == TcpConnState::syn_received) {
    if (!seq_lt(snd_una_, h.ack) || !seq_le(h.ack, snd_max_)) {
      rst_pending_ = true;  // <SEQ=SEG.ACK><CTL=RST>
      rst_seq_ = h.ack;
      ++stats_.dropped;
      return false;
    }
    if (timing_ && seq_gt(h.ack, timed_seq_)) rtt_.sample(now - timed_at_);
    timing_ = false;
    if (syn_retransmitted_) rtt_.reset_after_syn_loss();
    snd_una_ = iss_ + 1;
    state_ = fin_queued_ ? TcpConnState::fin_wait_1 : TcpConnState::established;
    cc_ = TcpNewReno(mss_);
    rtx_deadline_.reset();
    retries_ = 0;
    raise(TcpEventKind::connected);
  }
  if (seq_gt(h.ack, snd_max_)) {  // acknowledges something not yet sent
    ack_pending_ = true;
    ++stats_.dropped;
    return false;
  }
  const bool in_range = seq_ge(h.ack, snd_una_);
  // RFC 5681 §2: a duplicate ACK carries no data, no SYN/FIN, the same window, and
  // arrives while data is outstanding.
  const bool duplicate = h.ack == snd_una_ && payload == 0 && (h.flags & (syn | fin)) == 0 &&
                         h.window == snd_wnd_ && seq_lt(snd_una_, snd_max_);
  if (seq_gt(h.ack, snd_una_)) {
    const std::uint32_t acked = h.ack - snd_una_;
    retries_ = 0;
    if (timing_ && seq_gt(h.ack, timed_seq_)) {
      rtt_.sample(now - timed_at_);
      timing_ = false;
    }
    const std::uint32_t front = seq_lt(h.ack, data_end()) ? h.ack : data_end();
    if (seq_gt(front, buf_seq_)) {
      snd_.pop(front - buf_seq_);
      buf_seq_ = front;
    }
    snd_una_ = h.ack;
    if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
    if (config_.congestion_control && cc_.on_ack(acked, h.ack, snd_max_ - snd_una_)) {
      fast_rtx_pending_ = true;  // RFC 6582 partial ACK
    }
    // RFC 6298 §5.2 and §5.3.
    if (snd_una_ == snd_max_) {
      rtx_deadline_.reset();
    } else {
      arm_rtx(now);
    }
    if (send_blocked_ && snd_.space() > 0) {
      send_blocked_ = false;
      raise(TcpEventKind::writable);
    }
  } else if (duplicate && config_.congestion_control &&
             cc_.on_dupack(snd_una_, snd_max_, flight())) {
    fast_rtx_pending_ = true;  // RFC 5681 §3.2 step 2
    ++stats_.fast_retransmits;
  }
  // RFC 9293 §3.10.7.4: the send window, from the newest segment.
  if (in_range && (seq_lt(snd_wl1_, h.seq) || (snd_wl1_ == h.seq && seq_le(snd_wl2_, h.ack)))) {
    snd_wnd_ = h.window;
    snd_wl1_ = h.seq;
    snd_wl2_ = h.ack;
  }
  if (fin_acked()) {
    if (state_ == TcpConnState::fin_wait_1) state_ = TcpConnState::fin_wait_2;
    if (state_ == TcpConnState::closing) enter_time_wait(now);
    if (state_ == TcpConnState::last_ack) {
      enter_closed(true);
      return false;
    }
  }
  return true;
}

void TcpConnection::process_text(const TcpHeader& h, ByteView payload) {
  if (payload.empty()) return;
  ack_pending_ = true;  // every data segment is acknowledged at once (no delayed ACK)
  std::uint32_t seq = h.seq;
  ByteView data = payload;
  const std::uint32_t nxt = rcv_.next();
  if (seq_lt(seq, nxt)) {  // trim what already arrived
    const std::uint32_t skip = nxt - seq;
    data = skip >= data.size() ? ByteView{} : data.subspan(skip);
    seq = nxt;
  }
  const std::size_t offset = seq - nxt;
  const std::size_t wnd = rcv_.window();
  if (offset >= wnd) return;
  if (offset + data.size() > wnd) data = data.first(wnd - offset);  // trim past the window
  if (data.empty()) return;
  const bool in_order = seq == nxt;
  if (!rcv_.insert(seq, data)) {
    ++stats_.dropped;
    return;
  }
  if (!in_order) ++stats_.out_of_order;
  if (rcv_.readable() > 0) raise(TcpEventKind::readable);
}

void TcpConnection::process_fin(TimePoint now) {
  peer_fin_seq_.reset();
  peer_fin_ = true;
  ack_pending_ = true;
  raise(TcpEventKind::peer_closed);
  switch (state_) {
    case TcpConnState::established:
      state_ = TcpConnState::close_wait;
      break;
    case TcpConnState::fin_wait_1:
      if (fin_acked()) {
        enter_time_wait(now);
      } else {
        state_ = TcpConnState::closing;  // simultaneous close
      }
      break;
    case TcpConnState::fin_wait_2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

void TcpConnection::handle_timeout(TimePoint now) {
  if (time_wait_deadline_ && now >= *time_wait_deadline_) {
    enter_closed(true);
    return;
  }
  if (!rtx_deadline_ || now < *rtx_deadline_) return;
  rtx_deadline_.reset();
  ++stats_.timeouts;
  const bool handshake = state_ == TcpConnState::syn_sent || state_ == TcpConnState::syn_received;
  const bool probe = !handshake && snd_wnd_ == 0;
  // RFC 9293 §3.8.3: give up after R2 retransmissions (persist probes do not count).
  if (retries_ >= (handshake ? config_.syn_retries : config_.data_retries) && !probe)
    return fail(TcpErrc::timed_out);
  if (!probe) ++retries_;
  timing_ = false;  // Karn: never time a retransmitted segment
  if (handshake) {
    snd_nxt_ = iss_;
    syn_retransmitted_ = true;
    ++stats_.retransmits;
  } else if (probe) {
    snd_nxt_ = snd_una_;
    probe_pending_ = true;
  } else {
    // RFC 5681 §3.1: the loss window, then everything outstanding again (go back N).
    if (config_.congestion_control) cc_.on_timeout(flight(), snd_max_);
    snd_nxt_ = snd_una_;
  }
  rtt_.back_off();  // RFC 6298 §5.5
  arm_rtx(now);     // §5.6
}

// --- outputs

bool TcpConnection::retransmit_first(TimePoint /*now*/, MutableByteView out, TcpHeader& h,
                                     std::size_t& length) {
  const std::uint32_t seq = snd_una_;
  const std::size_t buffered = seq_lt(seq, data_end()) ? data_end() - seq : 0;
  const std::size_t len = std::min<std::size_t>(mss_, buffered);
  const bool with_fin = fin_queued_ && seq + len == fin_seq() && seq_lt(fin_seq(), snd_max_);
  if (len == 0 && !with_fin) return false;
  snd_.copy_out(seq - buf_seq_, out.first(len));
  h.seq = seq;
  h.flags = static_cast<std::uint8_t>(ack | (with_fin ? fin : 0));
  length = len;
  timing_ = false;
  return true;
}

std::optional<TcpHeader> TcpConnection::poll_transmit(TimePoint now, MutableByteView out,
                                                      std::size_t& length) {
  length = 0;
  TcpHeader h;
  h.window = advertised_window();
  h.ack = rcv_nxt();
  if (rst_pending_) {
    rst_pending_ = false;
    h.seq = rst_seq_;
    h.ack = 0;
    h.flags = rst;
    ++stats_.segments_sent;
    return h;
  }
  if (state_ == TcpConnState::closed) return std::nullopt;
  const bool handshake = state_ == TcpConnState::syn_sent || state_ == TcpConnState::syn_received;
  if (handshake && snd_nxt_ == iss_) {
    h.seq = iss_;
    h.mss = our_mss_;
    h.flags = syn;
    if (state_ == TcpConnState::syn_received) {
      h.flags |= ack;
    } else {
      h.ack = 0;
    }
    if (!syn_retransmitted_ && !timing_) {
      timing_ = true;
      timed_seq_ = iss_;
      timed_at_ = now;
    }
    snd_nxt_ = iss_ + 1;
    if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
    if (!rtx_deadline_) arm_rtx(now);
    ack_pending_ = false;
    ++stats_.segments_sent;
    return h;
  }
  if (sending_state()) {
    if (fast_rtx_pending_) {
      fast_rtx_pending_ = false;
      if (retransmit_first(now, out, h, length)) {
        ack_pending_ = false;
        ++stats_.retransmits;
        ++stats_.segments_sent;
        return h;
      }
    }
    std::uint32_t wnd = snd_wnd_;
    if (config_.congestion_control) wnd = std::min(wnd, cc_.cwnd());
    const std::uint32_t outstanding = flight();
    const std::uint32_t usable = wnd > outstanding ? wnd - outstanding : 0;
    const std::size_t unsent = seq_lt(snd_nxt_, data_end()) ? data_end() - snd_nxt_ : 0;
    std::size_t len = std::min<std::size_t>({mss_, unsent, usable});
    const bool probe = probe_pending_ && len == 0 && unsent > 0;
    if (probe) len = 1;  // RFC 9293 §3.8.6.1: a zero-window probe of one byte
    probe_pending_ = false;
    const bool with_fin = fin_queued_ && seq_le(snd_nxt_, fin_seq()) && snd_nxt_ + len == fin_seq();
    // RFC 9293 §3.7.4 (Nagle): hold a small segment while data is unacknowledged.
    const bool nagle_holds = config_.nagle && len < mss_ && outstanding > 0 && !with_fin;
    if ((len > 0 || with_fin) && !nagle_holds) {
      snd_.copy_out(snd_nxt_ - buf_seq_, out.first(len));
      h.seq = snd_nxt_;
      h.flags = static_cast<std::uint8_t>(ack | (with_fin ? fin : 0) |
                                          (len > 0 && snd_nxt_ + len == data_end() ? psh : 0));
      if (seq_lt(snd_nxt_, snd_max_)) {
        ++stats_.retransmits;
      } else if (!timing_ && len > 0) {
        timing_ = true;
        timed_seq_ = snd_nxt_;
        timed_at_ = now;
      }
      snd_nxt_ += static_cast<std::uint32_t>(len) + (with_fin ? 1u : 0u);
      if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
      if (!rtx_deadline_) arm_rtx(now);  // RFC 6298 §5.1
      length = len;
      ack_pending_ = false;
      ++stats_.segments_sent;
      return h;
    }
  }
  if (ack_pending_) {
    ack_pending_ = false;
    h.seq = snd_nxt_;
    h.flags = ack;
    ++stats_.segments_sent;
    return h;
  }
  return std::nullopt;
}

std::optional<TimePoint> TcpConnection::poll_timeout() const {
  if (rtx_deadline_ && time_wait_deadline_) return std::min(*rtx_deadline_, *time_wait_deadline_);
  return rtx_deadline_ ? rtx_deadline_ : time_wait_deadline_;
}

std::optional<TcpEvent> TcpConnection::poll_event() {
  if (events_ == 0) return std::nullopt;
  const unsigned k = static_cast<unsigned>(__builtin_ctz(events_));
  events_ &= events_ - 1;
  const auto kind = static_cast<TcpEventKind>(k);
  return TcpEvent{kind, kind == TcpEventKind::failed ? error_ : TcpErrc::ok};
}

}  // namespace natsim::sim
