// Starts the real `mendd` binary (path from CMake: MEND_MENDD_PATH) as a subprocess on
// 127.0.0.1 with an ephemeral port and a fresh data directory, and stops it with SIGTERM.
// The bound port is read from the server's log output (the first "127.0.0.1:<port>" with a
// port other than 0), within a bounded time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mend::testing {

class Mendd {
 public:
  static constexpr std::chrono::seconds kStartBound{20};
  static constexpr std::chrono::seconds kStopBound{30};

  // Starts mendd with --listen 127.0.0.1:0, --data-dir <fresh temp dir>, the shipped
  // templates, and `extra` arguments. Throws when it does not report its port in time.
  explicit Mendd(std::vector<std::string> extra = {}) {
    char pattern[] = "/tmp/mend-itest-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    data_dir_ = pattern;
    std::vector<std::string> args = {MEND_MENDD_PATH,   "--listen",     "127.0.0.1:0",
                                     "--data-dir",      data_dir_,      "--templates-dir",
                                     std::string(MEND_SOURCE_DIR) + "/server/templates",
                                     "--log-format",    "text"};
    args.insert(args.end(), extra.begin(), extra.end());
    spawn(args);
    port_ = wait_for_port();
    drainer_ = std::thread([this] { drain(); });
  }

  ~Mendd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!wait_exit(kStopBound)) {
        ::kill(pid_, SIGKILL);
        wait_exit(kStopBound);
      }
    }
    if (drainer_.joinable()) drainer_.join();
    if (out_fd_ >= 0) ::close(out_fd_);
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }

  Mendd(const Mendd&) = delete;
  Mendd& operator=(const Mendd&) = delete;

  int port() const { return port_; }
  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string https_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/v1/connect"; }
  std::string wss_url() const {
    return "wss://127.0.0.1:" + std::to_string(port_) + "/v1/connect";
  }
  // The self-signed certificate mendd generates in its data directory on first start.
  std::string certificate() const { return data_dir_ + "/tls-cert.pem"; }

  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  void spawn(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }

  // Reads output until a line names the bound port.
  int wait_for_port() {
    static const std::regex kBound(R"(127\.0\.0\.1:([1-9][0-9]*))");
    const auto deadline = std::chrono::steady_clock::now() + kStartBound;
    std::string pending;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd poll_fd{out_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) break;
      char chunk[4096];
      const ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
      if (n <= 0) break;
      pending.append(chunk, static_cast<std::size_t>(n));
      {
        std::lock_guard lock(mutex_);
        log_.append(chunk, static_cast<std::size_t>(n));
      }
      std::smatch match;
      if (std::regex_search(pending, match, kBound)) return std::stoi(match[1].str());
    }
    throw std::runtime_error("mendd did not report a bound port; output:\n" + log());
  }

  void drain() {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
      if (n <= 0) return;
      std::lock_guard lock(mutex_);
      if (log_.size() < (1u << 20)) log_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Waits for the process to exit, on a pidfd (readable when it exited), at most `bound`.
  bool wait_exit(std::chrono::seconds bound) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd poll_fd{pidfd, POLLIN, 0};
      ::poll(&poll_fd, 1, static_cast<int>(std::chrono::milliseconds(bound).count()));
      ::close(pidfd);
    }
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || done < 0) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  std::string data_dir_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::thread drainer_;
  std::mutex mutex_;
  std::string log_;
};

// Runs a program to completion with its output discarded; its exit code, or -1 when it did not
// exit within `bound` (it is then killed).
inline int run_program(const std::vector<std::string>& args, std::chrono::seconds bound) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd poll_fd{pidfd, POLLIN, 0};
    ::poll(&poll_fd, 1, static_cast<int>(std::chrono::milliseconds(bound).count()));
    ::close(pidfd);
  }
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mend::testing
