#pragma once
// The IGD service (igd_service.hpp) on a simulated node: SSDP on 239.255.255.250:1900
// and on port 1900 of its LAN address, HTTP on the simulator's TCP at the LAN address's
// `http_port`, with the connection limits UpnpConfig sets, NOTIFY rounds on its timer.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "natsim/nat_models/igd_service.hpp"
#include "natsim/sim/node.hpp"
#include "natsim/sim/tcp_socket.hpp"

namespace natsim::nat::upnp {

class IgdServer {
 public:
  // Sends a multicast transmit (NOTIFY) on the LAN side.
  using Multicast = std::function<void(const traversal::Transmit&, ByteView)>;
  IgdServer(sim::Node& node, NatTable& table, const PortMappingConfig& config, IpAddress lan,
            Multicast multicast);
  // Destroyed with its node, it touches nothing; close() first to stop it on a live one.
  ~IgdServer();
  // Closes its sockets, resets its connections and cancels its timers.
  void close();
  IgdServer(const IgdServer&) = delete;
  IgdServer& operator=(const IgdServer&) = delete;

  // The device comes up (ssdp:alive now and every notify_interval) or goes down
  // (ssdp:byebye, open connections reset).
  void boot();
  void shutdown();
  // Resets every open HTTP connection (a reboot loses them).
  void drop_connections();

  [[nodiscard]] const IgdService& service() const { return service_; }
  [[nodiscard]] std::size_t connections() const { return connections_.size(); }

 private:
  struct Connection {
    explicit Connection(std::size_t max_body) : reader(max_body) {}
    sim::TcpSocket* socket = nullptr;
    HttpRequestReader reader;
    std::string answer;  // what is left to send
    std::optional<sim::TimerId> timer;
  };
  void accept(sim::TcpSocket* s);
  void receive(std::uint64_t id, ByteView bytes);
  void send_answer(std::uint64_t id);
  void finish(std::uint64_t id, bool reset);
  void pump();

  sim::Node& node_;
  IgdService service_;
  Multicast multicast_;
  IpAddress lan_;
  sim::UdpSocket* group_socket_ = nullptr;  // 239.255.255.250:1900
  sim::UdpSocket* lan_socket_ = nullptr;    // lan:1900
  sim::TcpListener* listener_ = nullptr;
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 0;
  std::optional<sim::TimerId> timer_;
  std::optional<TimePoint> armed_;
  std::array<std::uint8_t, traversal::ssdp::kMaxMessageSize> buffer_{};
};

}  // namespace natsim::nat::upnp
