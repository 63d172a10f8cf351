// Runs the real mendd (path from CMake: MEND_MENDD_PATH) as a subprocess on 127.0.0.1, on a
// data directory that outlives it, so it can be killed (SIGKILL) and started again on the same
// directory and port. The bound port is read from the server's log ("127.0.0.1:<port>").
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mend::testing {

class MenddRunner {
 public:
  static constexpr std::chrono::seconds kStartBound{30};
  static constexpr std::chrono::seconds kExitBound{30};

  // `args`: the arguments after the program name, without --listen (added by start()).
  explicit MenddRunner(std::vector<std::string> args) : args_(std::move(args)) {}
  ~MenddRunner() { kill9(); }

  MenddRunner(const MenddRunner&) = delete;
  MenddRunner& operator=(const MenddRunner&) = delete;

  // Starts mendd on 127.0.0.1:`port` (0: ephemeral, the first time) and waits until it reports
  // its bound port. Throws when it does not in time (its output is in the message).
  void start(int port) {
    std::vector<std::string> args = {MEND_MENDD_PATH, "--listen",
                                     "127.0.0.1:" + std::to_string(port)};
    args.insert(args.end(), args_.begin(), args_.end());
    spawn(args);
    port_ = wait_for_port();
    drainer_ = std::thread([this] { drain(); });
  }

  // SIGKILL and reap (no-op when not running).
  void kill9() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    finish_output();
  }

  // SIGTERM; returns the exit code, or -1 when it had to be killed.
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int code = wait_exit(kExitBound);
    if (code == kStillRunning) {
      kill9();
      return -1;
    }
    finish_output();
    return code;
  }

  int port() const { return port_; }
  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // Runs mendd with `args` (full argument list after the program name) to completion; its exit
  // code and output. For start-up failures.
  static std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
    MenddRunner runner({});
    std::vector<std::string> full = {MEND_MENDD_PATH};
    full.insert(full.end(), args.begin(), args.end());
    runner.spawn(full);
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + kExitBound;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd poll_fd{runner.out_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) break;
      char chunk[4096];
      const ssize_t n = ::read(runner.out_fd_, chunk, sizeof chunk);
      if (n <= 0) break;  // EOF: the process closed its output (exited)
      output.append(chunk, static_cast<std::size_t>(n));
    }
    const int code = runner.wait_exit(std::chrono::seconds(5));
    if (code == kStillRunning) runner.kill9();
    return {code, output};
  }

 private:
  static constexpr int kStillRunning = -2;

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

  int wait_for_port() {
    static const std::regex kBound(R"(listening on 127\.0\.0\.1:([1-9][0-9]*))");
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
      append_log(chunk, n);
      std::smatch match;
      if (std::regex_search(pending, match, kBound)) return std::stoi(match[1].str());
    }
    throw std::runtime_error("mendd did not report its port; output:\n" + log());
  }

  void drain() {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
      if (n <= 0) return;
      append_log(chunk, n);
    }
  }

  void append_log(const char* chunk, ssize_t n) {
    std::lock_guard lock(mutex_);
    log_.append(chunk, static_cast<std::size_t>(n));
    constexpr std::size_t kKeep = 64 * 1024;  // the tail is what explains a failure
    if (log_.size() > 2 * kKeep) log_.erase(0, log_.size() - kKeep);
  }

  void finish_output() {
    if (drainer_.joinable()) drainer_.join();
    if (out_fd_ >= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
    }
  }

  // The exit code, -1 for a signal, kStillRunning when it did not exit within `bound`.
  int wait_exit(std::chrono::seconds bound) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd poll_fd{pidfd, POLLIN, 0};
      ::poll(&poll_fd, 1, static_cast<int>(std::chrono::milliseconds(bound).count()));
      ::close(pidfd);
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return kStillRunning;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::thread drainer_;
  std::mutex mutex_;
  std::string log_;
};

}  // namespace mend::testing
