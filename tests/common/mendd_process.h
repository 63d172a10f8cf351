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
// The process plumbing is Subprocess (subprocess.h), the data directory a TempDir (temp_dir.h).
//
// Every wait is bounded (kStartBound, kExitBound). Thread safety: one object per test thread;
// log() may be called from any thread.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

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
    child_.emplace(args);
    port_ = wait_for_port();
    drainer_ = std::thread([this] { drain(); });
  }

  // SIGKILL and reap (no-op when not running).
  void kill9() {
    if (child_) child_->kill();
    finish_output();
  }

  // SIGTERM and wait (SIGKILL after kExitBound); the exit code, or -1 when it had to be
  // killed or was not running. `meanwhile` (if any) runs right after the signal, while the
  // server drains (e.g. to watch it from outside).
  int terminate(const std::function<void()>& meanwhile = {}) {
    if (!running()) return -1;
    child_->signal(SIGTERM);
    if (meanwhile) meanwhile();
    const int code = child_->wait_exit_or_kill(kExitBound);
    finish_output();
    return code;
  }

  // Sends `signal_number` (e.g. SIGSTOP, SIGCONT) to the running server.
  void signal(int signal_number) const {
    if (child_) child_->signal(signal_number);
  }

  bool running() const { return child_ && child_->running(); }
  int port() const { return port_; }
  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string https_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/v1/connect"; }
  std::string wss_url() const {
    return "wss://127.0.0.1:" + std::to_string(port_) + "/v1/connect";
  }

  // Keeps all of the server's output from now on, not only its tail (for tests that scan
  // everything mendd logged).
  void keep_whole_log() {
    std::lock_guard lock(mutex_);
    keep_whole_log_ = true;
  }

  // The server's output so far (its tail when long, unless keep_whole_log()).
  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // Runs mendd with `args` (full argument list after the program name) to completion; its exit
  // code and output. For start-up failures.
  static std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
    std::vector<std::string> full = {MEND_MENDD_PATH};
    full.insert(full.end(), args.begin(), args.end());
    Completed run = run_to_completion(full, Subprocess::Output::kStdoutAndStderr, kExitBound);
    return {run.exit_code, std::move(run.output)};
  }

 private:
  int wait_for_port() {
    static const std::regex kBound(R"(listening on 127\.0\.0\.1:([1-9][0-9]*))");
    const auto deadline = Subprocess::Clock::now() + kStartBound;
    std::string pending;
    for (std::string chunk = child_->read_some(deadline); !chunk.empty();
         chunk = child_->read_some(deadline)) {
      pending += chunk;
      append_log(chunk);
      std::smatch match;
      if (std::regex_search(pending, match, kBound)) return std::stoi(match[1].str());
    }
    throw std::runtime_error("mendd did not report its port; output:\n" + log());
  }

  // On the drainer thread: keeps the log until the output ends (the process exited).
  void drain() {
    for (std::string chunk = child_->read_some(); !chunk.empty(); chunk = child_->read_some()) {
      append_log(chunk);
    }
  }

  void append_log(const std::string& chunk) {
    std::lock_guard lock(mutex_);
    log_ += chunk;
    constexpr std::size_t kKeep = 64 * 1024;  // the tail is what explains a failure
    if (!keep_whole_log_ && log_.size() > 2 * kKeep) log_.erase(0, log_.size() - kKeep);
  }

  // After the process ended: the drainer has seen the end of the output; closes the pipe.
  void finish_output() {
    if (drainer_.joinable()) drainer_.join();
    if (child_) child_->close_output();
  }

  std::vector<std::string> args_;
  std::optional<Subprocess> child_;  // the current run; replaced by the next start()
  int port_ = 0;
  std::thread drainer_;
  std::mutex mutex_;
  std::string log_;
  bool keep_whole_log_ = false;
};

// The shipped templates (server/templates of the source tree).
inline std::string shipped_templates_dir() {
  return std::string(MEND_SOURCE_DIR) + "/server/templates";
}

// mendd on 127.0.0.1 with an ephemeral port, a fresh data directory and the shipped templates,
// plus `extra` arguments. Throws when it does not report its port in time.
class Mendd {
 public:
  // `templates_dir`: the shipped templates unless a test brings its own.
  explicit Mendd(std::vector<std::string> extra = {},
                 std::string templates_dir = shipped_templates_dir())
      : data_dir_("itest") {
    std::vector<std::string> args = {"--data-dir",   data_dir_.path().string(),
                                     "--templates-dir", std::move(templates_dir),
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
  return run_to_completion(args, Subprocess::Output::kDiscarded, bound).exit_code;
}

}  // namespace mend::testing
