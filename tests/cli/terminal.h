// A program running in a pseudo-terminal (forkpty), for tests that drive the interactive CLI:
// type lines into it and wait, within a bound, until its screen shows something. Waiting polls
// the terminal's output; nothing sleeps.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mend::testing {

class Terminal {
 public:
  static constexpr std::chrono::seconds kExitBound{10};

  // Starts `args[0]` with `args` in a new 200x50 pseudo-terminal.
  explicit Terminal(const std::vector<std::string>& args) {
    winsize size{};
    size.ws_row = 50;
    size.ws_col = 200;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
      ::setenv("TERM", "dumb", 1);
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
  }

  ~Terminal() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!wait_exit(kExitBound)) {
        ::kill(pid_, SIGKILL);
        wait_exit(kExitBound);
      }
    }
    if (master_ >= 0) ::close(master_);
  }

  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Types one line and presses Enter.
  void type(const std::string& line) {
    const std::string bytes = line + "\r";
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(master_, bytes.data() + done, bytes.size() - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else {
        pollfd poll_fd{master_, POLLOUT, 0};
        ::poll(&poll_fd, 1, 1000);
      }
    }
  }

  // Waits until the screen shows `text` at least `times` times. Returns false after `bound`.
  bool wait_for(const std::string& text, std::chrono::milliseconds bound, std::size_t times = 1) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      drain();
      if (count(text) >= times) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || exited_) return count(text) >= times;
      pollfd poll_fd{master_, POLLIN, 0};
      ::poll(&poll_fd, 1, static_cast<int>(left.count()));
    }
  }

  // Waits until the program exits; returns its exit code, or -1 after `bound`.
  int wait_exit_code(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!exited_) {
      drain();
      if (reap()) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return -1;
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
      if (pidfd < 0) return reap() ? exit_code_ : -1;
      pollfd poll_fd{pidfd, POLLIN, 0};
      ::poll(&poll_fd, 1, static_cast<int>(std::min<long>(left.count(), 200)));
      ::close(pidfd);
    }
    drain();
    return exit_code_;
  }

  // How often `text` appears on the screen so far.
  std::size_t count(const std::string& text) const {
    std::size_t found = 0;
    for (std::size_t at = screen_.find(text); at != std::string::npos;
         at = screen_.find(text, at + text.size())) {
      ++found;
    }
    return found;
  }

  // Everything the program wrote (and the terminal echoed), without carriage returns.
  const std::string& screen() {
    drain();
    return screen_;
  }

 private:
  void drain() {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(master_, chunk, sizeof chunk);
      if (n <= 0) return;
      for (ssize_t i = 0; i < n; ++i) {
        if (chunk[i] != '\r') screen_.push_back(chunk[i]);
      }
    }
  }

  bool reap() {
    if (exited_) return true;
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done != pid_) return false;
    exited_ = true;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  bool wait_exit(std::chrono::seconds bound) { return wait_exit_code(bound) != -1 || exited_; }

  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string screen_;
};

}  // namespace mend::testing
