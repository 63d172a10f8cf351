// A child process for tests: a program started with fork/execv whose output comes back through
// a pipe, waited for within a bound, and killed when the object goes away while it still runs.
//
// - Subprocess: the running child. read_some() reads its output within a deadline,
//   wait_exit() waits for its exit within a bound, kill() ends it with SIGKILL.
// - run_to_completion: runs a program to its exit, bounded, and returns its exit code and output.
//
// Thread safety: one object per thread, except that read_some() may run on one thread (a
// drainer) while another signals, waits for or kills the child; close_output() and the
// destructor must not run beside read_some(). Errors: the constructor throws
// std::runtime_error when the pipe or the fork fails; a program that cannot be executed exits
// with code 127.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace mend::testing {

class Subprocess {
 public:
  // Where the child's output goes: both streams into the pipe, stdout into the pipe and stderr
  // to /dev/null, or both to /dev/null (no pipe).
  enum class Output { kStdoutAndStderr, kStdoutOnly, kDiscarded };

  // wait_exit(): the child did not exit within the bound.
  static constexpr int kStillRunning = -2;

  using Clock = std::chrono::steady_clock;

  // Starts `argv[0]` (a path; PATH is not searched) with the arguments `argv`.
  explicit Subprocess(const std::vector<std::string>& argv,
                      Output output = Output::kStdoutAndStderr) {
    // Built before the fork: the child of a threaded process should not allocate.
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    int fds[2] = {-1, -1};
    if (output != Output::kDiscarded && ::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      close_fd(fds[0]);
      close_fd(fds[1]);
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) exec_child(args, output, fds[1]);
    close_fd(fds[1]);
    out_fd_ = fds[0];
  }

  // SIGKILL and reap when still running; closes the output pipe.
  ~Subprocess() {
    kill();
    close_output();
  }

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Whether the child has not been reaped yet (it may have exited).
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The next chunk of the child's output, waiting until `deadline` (Clock::time_point::max():
  // without bound) for it; empty at the end of the output (the child closed it, usually by
  // exiting), on an error, at the deadline, or without a pipe.
  std::string read_some(Clock::time_point deadline = Clock::time_point::max()) const {
    if (out_fd_ < 0) return {};
    if (deadline != Clock::time_point::max()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return {};
      pollfd poll_fd{out_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return {};
    }
    char chunk[4096];
    const ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
    if (n <= 0) return {};
    return std::string(chunk, static_cast<std::size_t>(n));
  }

  // All output until its end or `deadline`, whichever comes first.
  std::string read_until(Clock::time_point deadline) const {
    std::string output;
    for (std::string chunk = read_some(deadline); !chunk.empty(); chunk = read_some(deadline)) {
      output += chunk;
    }
    return output;
  }

  // Closes the output pipe (the child gets SIGPIPE when it writes again). Idempotent.
  void close_output() { close_fd(out_fd_); }

  // Sends `signal_number` to the child (no-op when it was reaped).
  void signal(int signal_number) const {
    if (pid_ > 0) ::kill(pid_, signal_number);
  }

  // Waits at most `bound` for the child to exit and reaps it: its exit code, -1 when a signal
  // ended it or it was not running, kStillRunning when it did not exit in time.
  int wait_exit(std::chrono::milliseconds bound) {
    if (pid_ <= 0) return -1;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd poll_fd{pidfd, POLLIN, 0};
      ::poll(&poll_fd, 1, static_cast<int>(bound.count()));
      ::close(pidfd);
    }
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) return kStillRunning;
    pid_ = -1;
    if (done < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Waits at most `bound` for the child to exit, then kills it: its exit code, or -1 when it
  // had to be killed (or a signal ended it).
  int wait_exit_or_kill(std::chrono::milliseconds bound) {
    const int code = wait_exit(bound);
    if (code != kStillRunning) return code;
    kill();
    return -1;
  }

  // SIGKILL and reap (no-op when not running).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  // In the child: output to the pipe's write end `pipe_in` or /dev/null, then execv.
  [[noreturn]] static void exec_child(const std::vector<char*>& argv, Output output,
                                      int pipe_in) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);  // its dup2 copies stay open
    ::dup2(output == Output::kDiscarded ? null : pipe_in, STDOUT_FILENO);
    ::dup2(output == Output::kStdoutAndStderr ? pipe_in : null, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }

  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;  // read end of the output pipe; -1 without one
};

// What run_to_completion saw.
struct Completed {
  int exit_code = -1;  // -1: killed after the bound, or ended by a signal
  std::string output;
};

// Runs `argv` to its exit: reads its output (as `output` says) until it ends or `bound` has
// passed, then waits at most the rest of `bound` plus `exit_grace` for the exit, and kills the
// program when it has not exited by then.
inline Completed run_to_completion(const std::vector<std::string>& argv,
                                   Subprocess::Output output, std::chrono::milliseconds bound,
                                   std::chrono::milliseconds exit_grace = std::chrono::seconds(5)) {
  const auto deadline = Subprocess::Clock::now() + bound;
  Subprocess child(argv, output);
  Completed completed;
  completed.output = child.read_until(deadline);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Subprocess::Clock::now());
  completed.exit_code =
      child.wait_exit_or_kill(std::max(left, std::chrono::milliseconds(0)) + exit_grace);
  return completed;
}

}  // namespace mend::testing
