// A loopback TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT: armed with
// cut_next_commit(), it forwards the next simple-query COMMIT to the server, waits for the
// server's answer (the commit is then done), and closes both sides instead of forwarding it.
// The client sees its connection lost with the COMMIT unanswered: a commit in doubt, made
// deterministic. Every other byte passes through unchanged.
// Thread safety: the methods may be called from any thread. Errors: the constructor throws
// std::runtime_error when it cannot listen.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

namespace mend::store::testing {

class CommitCutter {
 public:
  explicit CommitCutter(std::uint16_t upstream_port) : upstream_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("the proxy cannot listen");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CommitCutter() {
    stopping_ = true;
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (std::thread& pump : pumps_) pump.join();
    ::close(listener_);
  }
  CommitCutter(const CommitCutter&) = delete;
  CommitCutter& operator=(const CommitCutter&) = delete;

  std::uint16_t port() const { return port_; }
  void cut_next_commit() { armed_ = true; }
  int cuts() const { return cuts_; }

 private:
  static constexpr int kPollMs = 20;

  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
  }

  void accept_loop() {
    while (!stopping_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, kPollMs) <= 0) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address = loopback(upstream_);
      if (server < 0 ||
          ::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      std::lock_guard lock(mutex_);
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  static bool forward(int to, const char* data, ssize_t size) {
    while (size > 0) {
      const ssize_t sent = ::send(to, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data += sent;
      size -= sent;
    }
    return true;
  }

  // Moves bytes both ways until either side closes or the proxy stops.
  void pump(int client, int server) {
    char buffer[65536];
    bool open = true;
    while (open && !stopping_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, kPollMs) <= 0) continue;
      for (int side = 0; side < 2 && open; ++side) {
        if (fds[side].revents == 0) continue;
        const int from = side == 0 ? client : server;
        const int to = side == 0 ? server : client;
        const ssize_t got = ::recv(from, buffer, sizeof buffer, 0);
        if (got <= 0) {
          open = false;
          break;
        }
        const bool commit = side == 0 && std::string_view(buffer, static_cast<std::size_t>(got))
                                                 .find("COMMIT") != std::string_view::npos;
        if (!forward(to, buffer, got)) open = false;
        if (open && commit && armed_.exchange(false)) {
          // The server answers once the commit is done; that answer is lost.
          pollfd answer{server, POLLIN, 0};
          ::poll(&answer, 1, 5'000);
          ++cuts_;
          open = false;
        }
      }
    }
    ::close(client);
    ::close(server);
  }

  std::uint16_t upstream_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> cuts_{0};
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace mend::store::testing
