#pragma once
// The sender's estimates: the retransmission timeout (RFC 6298) and NewReno congestion
// control (RFC 5681, RFC 6582). Plain values; the connection machine calls them.
#include <algorithm>
#include <cstdint>

#include "natsim/base/time.hpp"

namespace natsim::sim {

class TcpRttEstimator {
 public:
  TcpRttEstimator(Duration initial, Duration min, Duration max)
      : rto_(initial), min_(min), max_(max) {}

  [[nodiscard]] Duration rto() const { return rto_; }
  [[nodiscard]] bool has_sample() const { return has_sample_; }
  [[nodiscard]] Duration srtt() const { return srtt_; }
  [[nodiscard]] Duration rttvar() const { return rttvar_; }

  // RFC 6298 §2.2 and §2.3, with alpha = 1/8, beta = 1/4, K = 4 and G = 1 ms.
  void sample(Duration r) {
    if (!has_sample_) {
      srtt_ = r;
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {
      const Duration diff = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (3 * rttvar_ + diff) / 4;
      srtt_ = (7 * srtt_ + r) / 8;
    }
    set(srtt_ + std::max<Duration>(milliseconds(1), 4 * rttvar_));
  }
  // RFC 6298 §5.5: back the timer off on each expiry.
  void back_off() { set(rto_ * 2); }
  // RFC 6298 §5.7: after a SYN timed out with an RTO under 3 s, data starts at 3 s.
  void reset_after_syn_loss() {
    if (!has_sample_ && rto_ < seconds(3)) rto_ = seconds(3);
  }

 private:
  // RFC 6298 §2.4 (a minimum, 1 s by default) and §2.5 (a maximum of at least 60 s).
  void set(Duration d) { rto_ = std::clamp(d, min_, max_); }

  Duration rto_;
  Duration min_;
  Duration max_;
  Duration srtt_{0};
  Duration rttvar_{0};
  bool has_sample_ = false;
};

class TcpNewReno {
 public:
  explicit TcpNewReno(std::uint32_t mss) : mss_(mss), cwnd_(initial_window(mss)) {}

  // RFC 5681 §3.1 (equation 1): IW from the SMSS.
  static std::uint32_t initial_window(std::uint32_t mss) {
    if (mss > 2190) return 2 * mss;
    if (mss > 1095) return 3 * mss;
    return 4 * mss;
  }

  [[nodiscard]] std::uint32_t cwnd() const { return cwnd_; }
  [[nodiscard]] std::uint32_t ssthresh() const { return ssthresh_; }
  [[nodiscard]] bool in_recovery() const { return in_recovery_; }
  [[nodiscard]] std::uint32_t dupacks() const { return dupacks_; }

  // New data acknowledged. Returns true when a partial ACK during recovery asks for
  // the first unacknowledged segment to be retransmitted (RFC 6582 §3.2 step 5).
  bool on_ack(std::uint32_t acked, std::uint32_t ack, std::uint32_t flight_after) {
    dupacks_ = 0;
    if (in_recovery_) {
      if (static_cast<std::int32_t>(ack - recover_) >= 0) {
        // RFC 6582 §3.2 step 5, full acknowledgment: deflate the window.
        cwnd_ = std::min(ssthresh_, std::max(flight_after, mss_) + mss_);
        in_recovery_ = false;
        return false;
      }
      // Partial acknowledgment: deflate by the amount acked, add back one SMSS.
      cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
      if (acked >= mss_) cwnd_ += mss_;
      cwnd_ = std::max(cwnd_, mss_);
      return true;
    }
    if (cwnd_ < ssthresh_) {
      grow(std::min(acked, mss_));  // RFC 5681 §3.1 slow start (equation 2)
    } else {
      // Congestion avoidance (equation 3), at least one byte per ACK.
      grow(std::max<std::uint32_t>(1,
                                   static_cast<std::uint32_t>(std::uint64_t{mss_} * mss_ / cwnd_)));
    }
    return false;
  }
  // A duplicate ACK (RFC 5681 §2). Returns true when it triggers fast retransmit.
  bool on_dupack(std::uint32_t snd_una, std::uint32_t snd_max, std::uint32_t flight) {
    ++dupacks_;
    if (in_recovery_) {
      grow(mss_);  // RFC 6582 §3.2 step 3: inflate for each further duplicate
      return false;
    }
    // RFC 6582 §3.2 step 2: only when the ACK covers more than `recover`, so a
    // retransmission's duplicates do not start a second recovery.
    if (dupacks_ != 3 || (have_recover_ && static_cast<std::int32_t>(snd_una - 1 - recover_) <= 0))
      return false;
    ssthresh_ = std::max(flight / 2, 2 * mss_);  // RFC 5681 §3.2 (equation 4)
    cwnd_ = ssthresh_ + 3 * mss_;
    recover_ = snd_max;
    have_recover_ = true;
    in_recovery_ = true;
    return true;
  }
  // The retransmission timer expired: RFC 5681 §3.1 (equation 4) and the loss window.
  void on_timeout(std::uint32_t flight, std::uint32_t snd_max) {
    ssthresh_ = std::max(flight / 2, 2 * mss_);
    cwnd_ = mss_;
    recover_ = snd_max;  // RFC 6582 §3.2 step 4 after a timeout
    have_recover_ = true;
    in_recovery_ = false;
    dupacks_ = 0;
  }

 private:
  // Far above any 16-bit window, and far from wrapping in a long transfer.
  static constexpr std::uint32_t kMaxCwnd = 1u << 30;
  void grow(std::uint32_t by) { cwnd_ = cwnd_ > kMaxCwnd - by ? kMaxCwnd : cwnd_ + by; }

  std::uint32_t mss_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = UINT32_MAX;  // RFC 5681 §3.1: arbitrarily high at first
  std::uint32_t recover_ = 0;
  bool have_recover_ = false;
  bool in_recovery_ = false;
  std::uint32_t dupacks_ = 0;
};

}  // namespace natsim::sim
