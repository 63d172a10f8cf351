// The one harness for tests that run the real `mendd` binary (path from CMake: MEND_MENDD_PATH)
// as a subprocess on 127.0.0.1 (crash, integration and CLI terminal tests).
//
// - MenddProcess: runs mendd with given arguments; start(port) (0: ephemeral) waits until the
//   server reports its bound port in its log ("listening on 127.0.0.1:<port>"); kill9() and
//   start() again on the same data directory and port (crash tests); terminate() (SIGTERM,
//   exit code). The log is kept (its tail) for failure messages.
// - Mendd: a MenddProcess on a fresh temporary data directory with the shipped templates,
//   started in the constructor and stopped (SIGTERM, then SIGKILL) and removed in the
//   destructor; URLs and the self-signed certificate for SDK and CLI tests.
// - run_program: runs any program to completion with a bound.
//
// Every wait is bounded (kStartBound, kExitBound). Thread safety: one object per test thread;
// log() may be called from any thread.
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
#include <utility>
#include <vector>

namespace mend::testing {

class MenddProcess {
 public:
  static constexpr std::chrono::seconds kStartBound{30};
  static constexpr std::chrono::seconds kExitBound{30};

  // `args`: the arguments after the program name, without --listen (added by start()).
  explicit MenddProcess(std::vector<std::string> args) : args_(std::move(args)) {}
  ~MenddProcess() { kill9(); }

  MenddProcess(const MenddProcess&) = delete;
  MenddProcess& operator=(const MenddProcess&) = delete;

  // Starts mendd on 127.0.0.1:`port` (0: ephemeral) and waits until it reports its bound
  // port. Throws when it does not in time (its output is in the message).
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

  // SIGTERM and wait (SIGKILL after kExitBound); the exit code, or -1 when it had to be
  // killed or was not running.
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const int code = wait_exit(kExitBound);
    if (code == kStillRunning) {
      kill9();
      return -1;
    }
    finish_output();
    return code;
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string https_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/v1/connect"; }
  std::string wss_url() const {
    return "wss://127.0.0.1:" + std::to_string(port_) + "/v1/connect";
  }

  // The server's output so far (its tail when long).
  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // Runs mendd with `args` (full argument list after the program name) to completion; its exit
  // code and output. For start-up failures.
  static std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
    MenddProcess runner({});
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
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) return kStillRunning;
    pid_ = -1;
    if (done < 0) return -1;
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

// A temporary directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mend-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The shipped templates (server/templates of the source tree).
inline std::string shipped_templates_dir() {
  return std::string(MEND_SOURCE_DIR) + "/server/templates";
}

// mendd on 127.0.0.1 with an ephemeral port, a fresh data directory and the shipped templates,
// plus `extra` arguments. Throws when it does not report its port in time.
class Mendd {
 public:
  explicit Mendd(std::vector<std::string> extra = {}) : data_dir_("mend-itest") {
    std::vector<std::string> args = {"--data-dir",   data_dir_.path().string(),
                                     "--templates-dir", shipped_templates_dir(),
                                     "--log-format", "text"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_.emplace(std::move(args));
    process_->start(0);
  }
  // SIGTERM (SIGKILL after MenddProcess::kExitBound); the data directory is removed after.
  ~Mendd() { process_->terminate(); }

  Mendd(const Mendd&) = delete;
  Mendd& operator=(const Mendd&) = delete;

  int port() const { return process_->port(); }
  std::string http_url() const { return process_->http_url(); }
  std::string https_url() const { return process_->https_url(); }
  std::string ws_url() const { return process_->ws_url(); }
  std::string wss_url() const { return process_->wss_url(); }
  // The self-signed certificate mendd generates in its data directory on first start.
  std::string certificate() const { return (data_dir_.path() / "tls-cert.pem").string(); }
  std::string log() { return process_->log(); }

 private:
  TempDir data_dir_;  // declared first: removed after the process stopped
  std::optional<MenddProcess> process_;
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
