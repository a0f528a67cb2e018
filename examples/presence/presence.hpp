#pragma once
// A user's application, written without natsim in mind: a presence client that keeps a
// registration alive with a rendezvous server, and a server that can "ring" a client at
// the endpoint it last heard it from. Both talk through a small Transport interface, as
// applications that want to be testable do; production code would implement it over
// real sockets, the test implements it over a natsim virtual host.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace presence {

struct Address {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

class Transport {
 public:
  using Receive = std::function<void(const Address& from, const std::string& message)>;
  virtual ~Transport() = default;
  virtual void send(const Address& to, const std::string& message) = 0;
  virtual void on_receive(Receive handler) = 0;
  virtual void every(std::chrono::milliseconds period, std::function<void()> tick) = 0;
};

// Sends "REGISTER <name>" now and every `keepalive`; counts "RING"s it receives.
class Client {
 public:
  Client(Transport& t, std::string name, Address server, std::chrono::milliseconds keepalive)
      : t_(t), name_(std::move(name)), server_(std::move(server)) {
    t_.on_receive([this](const Address&, const std::string& m) {
      if (m == "RING") ++rings_;
    });
    t_.send(server_, "REGISTER " + name_);
    t_.every(keepalive, [this] { t_.send(server_, "REGISTER " + name_); });
  }
  [[nodiscard]] int rings() const { return rings_; }

 private:
  Transport& t_;
  std::string name_;
  Address server_;
  int rings_ = 0;
};

// Remembers where each name last registered from, and rings it there on request.
class Server {
 public:
  explicit Server(Transport& t) : t_(t) {
    t_.on_receive([this](const Address& from, const std::string& m) {
      if (m.rfind("REGISTER ", 0) == 0) seen_[m.substr(9)] = from;
    });
  }
  bool ring(const std::string& name) {
    auto it = seen_.find(name);
    if (it == seen_.end()) return false;
    t_.send(it->second, "RING");
    return true;
  }

 private:
  Transport& t_;
  std::map<std::string, Address> seen_;
};

}  // namespace presence
