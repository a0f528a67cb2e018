#pragma once
// One TCP connection as a sans-I/O machine (RFC 9293): segments and timeouts in,
// segments, events and a deadline out. It never touches a node, a socket or a clock;
// the node's TcpSocket drives it (drain until quiet after every input).
#include <array>
#include <cstdint>
#include <optional>

#include "natsim/base/bytes.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/tcp_buffers.hpp"
#include "natsim/sim/tcp_congestion.hpp"
#include "natsim/sim/tcp_error.hpp"

namespace natsim::sim {

struct TcpConfig {
  std::uint16_t mss = 0;  // our MSS option; 0 = 1460 (IPv4) / 1440 (IPv6)
  std::size_t send_buffer = 256 * 1024;
  std::size_t receive_buffer = 65535;  // no window scaling: the window is at most 65535
  Duration initial_rto = seconds(1);   // RFC 6298 §2.1
  Duration min_rto = seconds(1);       // RFC 6298 §2.4
  Duration max_rto = seconds(60);      // RFC 6298 §2.5
  int syn_retries = 6;                 // SYN retransmissions before connect fails (Linux default)
  int data_retries = 15;               // retransmissions of one segment before the connection fails
  Duration time_wait = seconds(60);    // 2 x MSL (RFC 9293 §3.4.2), as Linux has it
  bool nagle = false;                  // RFC 9293 §3.7.4; off = TCP_NODELAY
  bool congestion_control = true;      // NewReno; off = only the peer's window limits
};

enum class TcpConnState : std::uint8_t {
  closed,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};
[[nodiscard]] const char* to_string(TcpConnState s);

enum class TcpEventKind : std::uint8_t {
  connected,    // the handshake completed
  readable,     // in-order bytes are waiting in the receive buffer
  writable,     // the send buffer has room again after being full
  peer_closed,  // the peer's FIN arrived in order (end of stream)
  closed,       // the connection finished normally (after TIME-WAIT or LAST-ACK)
  failed,       // reset, refused or timed out: see the error
};

struct TcpEvent {
  TcpEventKind kind;
  TcpErrc error = TcpErrc::ok;
};

struct TcpStats {
  std::uint64_t segments_sent = 0;
  std::uint64_t segments_received = 0;
  std::uint64_t retransmits = 0;       // segments sent again (timeout or fast retransmit)
  std::uint64_t timeouts = 0;          // retransmission timer expiries
  std::uint64_t fast_retransmits = 0;  // RFC 5681 §3.2
  std::uint64_t dropped = 0;           // segments discarded as unacceptable or out of state
  std::uint64_t out_of_order = 0;      // segments kept ahead of a gap
};

// The answer to a segment for which no connection exists (RFC 9293 §3.10.7.1), or
// nothing when the segment is itself a RST.
[[nodiscard]] std::optional<TcpHeader> tcp_reset_for(const TcpHeader& h, std::size_t payload);

class TcpConnection {
 public:
  TcpConnection(const TcpConfig& config, std::uint16_t default_mss);

  // Commands.
  void open_active(TimePoint now, std::uint32_t iss);  // CLOSED -> SYN-SENT
  // A SYN arrived at a listener: CLOSED (LISTEN) -> SYN-RECEIVED.
  void open_passive(TimePoint now, std::uint32_t iss, const TcpHeader& first);
  std::size_t send(ByteView data);  // bytes taken into the send buffer
  void close(TimePoint now);        // FIN once everything queued is sent
  void abort();                     // RST to the peer, CLOSED at once

  // Inputs.
  void handle_segment(TimePoint now, const TcpHeader& h, ByteView payload);
  void handle_timeout(TimePoint now);

  // Outputs. poll_transmit writes the segment's payload into `out` (at least the MSS)
  // and returns its header and payload length.
  [[nodiscard]] std::optional<TcpHeader> poll_transmit(TimePoint now, MutableByteView out,
                                                       std::size_t& length);
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<TcpEvent> poll_event();

  // Reading: the in-order bytes, then how many the application took.
  [[nodiscard]] std::array<ByteView, 2> peek() const { return rcv_.peek(); }
  void consume(std::size_t n);

  [[nodiscard]] TcpConnState state() const { return state_; }
  [[nodiscard]] bool is_synchronized() const;
  [[nodiscard]] TcpErrc error() const { return error_; }
  [[nodiscard]] const TcpStats& stats() const { return stats_; }
  [[nodiscard]] std::uint32_t mss() const { return mss_; }
  [[nodiscard]] std::uint32_t cwnd() const { return cc_.cwnd(); }
  [[nodiscard]] Duration rto() const { return rtt_.rto(); }
  [[nodiscard]] const TcpRttEstimator& rtt() const { return rtt_; }
  [[nodiscard]] std::size_t send_space() const { return snd_.space(); }
  [[nodiscard]] std::size_t unacked() const { return snd_.size(); }
  [[nodiscard]] bool close_requested() const { return fin_queued_; }

 private:
  void on_syn_sent(TimePoint now, const TcpHeader& h);
  bool acceptable(const TcpHeader& h, std::size_t len) const;
  // ACK processing for synchronized states; false if the segment is to be dropped.
  bool process_ack(TimePoint now, const TcpHeader& h, std::size_t payload);
  void process_text(const TcpHeader& h, ByteView payload);
  void process_fin(TimePoint now);
  [[nodiscard]] std::uint32_t rcv_nxt() const { return rcv_.next() + (peer_fin_ ? 1u : 0u); }
  [[nodiscard]] bool sending_state() const;
  bool retransmit_first(TimePoint now, MutableByteView out, TcpHeader& h, std::size_t& length);
  void fail(TcpErrc e);
  void enter_closed(bool normal);
  void enter_time_wait(TimePoint now);
  void raise(TcpEventKind k) { events_ |= 1u << static_cast<unsigned>(k); }
  [[nodiscard]] std::uint16_t advertised_window() const;
  [[nodiscard]] std::uint32_t flight() const { return snd_nxt_ - snd_una_; }
  [[nodiscard]] std::uint32_t data_end() const {
    return buf_seq_ + static_cast<std::uint32_t>(snd_.size());
  }
  [[nodiscard]] std::uint32_t fin_seq() const { return data_end(); }
  [[nodiscard]] bool fin_acked() const { return fin_queued_ && seq_gt(snd_una_, fin_seq()); }
  void arm_rtx(TimePoint now) { rtx_deadline_ = now + rtt_.rto(); }

  TcpConfig config_;
  TcpConnState state_ = TcpConnState::closed;
  TcpErrc error_ = TcpErrc::ok;
  std::uint32_t mss_;
  std::uint16_t our_mss_;

  // RFC 9293 §3.3.1: send sequence variables. snd_max_ is the highest SND.NXT yet,
  // since a timeout sends again from SND.UNA (go back N).
  std::uint32_t iss_ = 0;
  std::uint32_t snd_una_ = 0;
  std::uint32_t snd_nxt_ = 0;
  std::uint32_t snd_max_ = 0;
  std::uint32_t snd_wnd_ = 0;
  std::uint32_t snd_wl1_ = 0;
  std::uint32_t snd_wl2_ = 0;
  std::uint32_t buf_seq_ = 0;  // sequence number of the oldest byte in snd_
  std::uint32_t irs_ = 0;
  bool passive_ = false;
  bool fin_queued_ = false;
  bool peer_fin_ = false;
  std::optional<std::uint32_t> peer_fin_seq_;  // a FIN that arrived ahead of a gap
  bool ack_pending_ = false;
  bool rst_pending_ = false;
  std::uint32_t rst_seq_ = 0;
  bool fast_rtx_pending_ = false;
  bool probe_pending_ = false;
  bool send_blocked_ = false;  // send() came up short: raise writable when room frees

  TcpSendBuffer snd_;
  TcpReceiveBuffer rcv_;
  TcpRttEstimator rtt_;
  TcpNewReno cc_;

  // Timers: a small fixed set of deadlines; poll_timeout is their minimum.
  std::optional<TimePoint> rtx_deadline_;        // retransmission, SYN and persist
  std::optional<TimePoint> time_wait_deadline_;  // 2 MSL
  int retries_ = 0;
  bool syn_retransmitted_ = false;
  // Karn's algorithm (RFC 6298 §3): one timed segment, never a retransmitted one.
  bool timing_ = false;
  std::uint32_t timed_seq_ = 0;
  TimePoint timed_at_{};

  unsigned events_ = 0;  // bit per TcpEventKind
  TcpStats stats_;
};

}  // namespace natsim::sim
