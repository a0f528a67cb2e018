#pragma once
// The shape every sans-I/O protocol machine has, and the one pump() both drivers (the
// simulator's and Asio's) call after every input.
//
//   handle_datagram(now, local, remote, bytes)   input: a datagram arrived
//   handle_timeout(now)                          input: the deadline from poll_timeout passed
//   poll_transmit(out) -> optional<Transmit>     output: a datagram written into `out`
//   poll_timeout()     -> optional<TimePoint>    output: when to call handle_timeout next
//   poll_event()       -> optional<Event>        output: results for the application
//
// Machines that also speak over TCP (TURN) take the byte stream of each connection:
//
//   handle_stream(now, local, remote, bytes)     input: bytes arrived on a connection
//   handle_stream_closed(now, local, remote)     input: the connection is gone
//
// and mark the transmits meant for a connection with Transport::tcp (close: end the
// connection once the bytes are written). Connections are named by their two endpoints.
//
// Machines never touch sockets, clocks or threads, which is why the same code runs on
// virtual and real networks and every test of it is deterministic.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/base/time.hpp"

namespace natsim::traversal {

enum class Transport : std::uint8_t { udp, tcp };

struct Transmit {
  Endpoint local;        // the local endpoint to send from
  Endpoint remote;       // where to
  std::size_t size = 0;  // bytes written at the start of the caller's buffer
  Transport transport = Transport::udp;
  bool close = false;  // tcp: close the connection after these bytes (size may be 0)
};

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

// handle_datagram answers whether the datagram was the machine's own: machines that
// share a socket (ICE, TURN and STUN, as in real stacks) hand it on when it was not.
// Events come out as std::optional of a named type (a struct or a variant of structs).
template <class M>
concept ProtocolMachine = requires(M m, TimePoint now, Endpoint e, ByteView in,
                                   MutableByteView out) {
  { m.handle_datagram(now, e, e, in) } -> std::same_as<bool>;
  m.handle_timeout(now);
  { m.poll_transmit(out) } -> std::same_as<std::optional<Transmit>>;
  { m.poll_timeout() } -> std::same_as<std::optional<TimePoint>>;
  requires is_optional<decltype(m.poll_event())>;
};

template <class M>
concept StreamMachine = ProtocolMachine<M> &&
    requires(M m, TimePoint now, Endpoint e, ByteView in) {
  m.handle_stream(now, e, e, in);
  m.handle_stream_closed(now, e, e);
};

// Drains a machine after an input until it is quiet: every transmit goes to
// send(transmit, bytes), then every event to on_event(event), and again, because an event
// handler may give the machine commands (an echo, a permission) whose transmits must
// leave at this instant, not at the next timer. Returns the machine's next deadline,
// read once the machine is quiet. A handler may call its driver's pump() again: the
// inner call drains, and this loop then finds nothing left.
template <ProtocolMachine M, class Send, class OnEvent>
std::optional<TimePoint> pump(M& machine, MutableByteView buffer, Send&& send, OnEvent&& on_event) {
  for (bool busy = true; busy;) {
    busy = false;
    while (auto t = machine.poll_transmit(buffer)) {
      busy = true;
      send(*t, ByteView(buffer.data(), t->size));
    }
    while (auto e = machine.poll_event()) {
      busy = true;
      on_event(*e);
    }
  }
  return machine.poll_timeout();
}

// A FIFO of datagrams (and stream writes) a machine has decided to send, copied out on
// poll_transmit. Slots and their byte buffers are reused, so a machine that is drained
// after every input (as the drivers do) allocates nothing per datagram once warm.
class TransmitQueue {
 public:
  void push(const Endpoint& local, const Endpoint& remote, ByteView bytes,
            Transport transport = Transport::udp) {
    Item& item = next_slot();
    item.local = local;
    item.remote = remote;
    item.bytes.assign(bytes.begin(), bytes.end());
    item.transport = transport;
    item.close = false;
  }
  // Ends the TCP connection (local, remote) after what was queued before.
  void push_close(const Endpoint& local, const Endpoint& remote) {
    Item& item = next_slot();
    item.local = local;
    item.remote = remote;
    item.bytes.clear();
    item.transport = Transport::tcp;
    item.close = true;
  }
  // Copies the oldest datagram into `out`; one that does not fit is dropped (counted).
  std::optional<Transmit> pop(MutableByteView out) {
    while (head_ < tail_) {
      const Item& item = items_[head_++];
      if (head_ == tail_) head_ = tail_ = 0;  // drained: the slots are free again
      if (item.bytes.size() > out.size()) {
        ++oversized_;
        continue;
      }
      std::copy(item.bytes.begin(), item.bytes.end(), out.begin());
      return Transmit{item.local, item.remote, item.bytes.size(), item.transport, item.close};
    }
    return std::nullopt;
  }
  [[nodiscard]] bool empty() const { return head_ == tail_; }
  [[nodiscard]] std::uint64_t oversized() const { return oversized_; }

 private:
  struct Item {
    Endpoint local;
    Endpoint remote;
    std::vector<std::uint8_t> bytes;
    Transport transport = Transport::udp;
    bool close = false;
  };
  Item& next_slot() {
    if (tail_ == items_.size() && head_ > 0) {
      // Never fully drained: move the pending items to the front (swaps, no allocation).
      std::rotate(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_),
                  items_.begin() + static_cast<std::ptrdiff_t>(tail_));
      tail_ -= head_;
      head_ = 0;
    }
    if (tail_ == items_.size()) items_.emplace_back();
    return items_[tail_++];
  }

  std::vector<Item> items_;  // [head_, tail_) pending; the rest spare
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  std::uint64_t oversized_ = 0;
};

}  // namespace natsim::traversal
