// mend-load against the real mendd on 127.0.0.1 (ephemeral port, in-memory store): a short
// closed-loop run and a small --idle run, each bounded in time, checked through --json.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "tests/common/mendd_process.h"

namespace {

using namespace std::chrono_literals;

struct Finished {
  int exit_code = -1;  // -1: killed after the bound
  std::string out;
};

// Runs a program, collecting its stdout (stderr discarded), for at most `bound`.
Finished run_collecting(const std::vector<std::string>& args, std::chrono::seconds bound) {
  Finished result;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd poll_fd{fds[0], POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[4096];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    result.out.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The number after "key": in a flat JSON text (the first occurrence).
double number(const std::string& json, const std::string& key) {
  const std::regex pattern("\"" + key + "\":(-?[0-9.]+)");
  std::smatch match;
  if (!std::regex_search(json, match, pattern)) FAIL("no " << key << " in " << json);
  return std::stod(match[1].str());
}

std::vector<std::string> server_flags() {
  return {"--store", "memory", "--threads", "1", "--max-connections-per-ip", "1000",
          "--rooms-per-api-key", "100000"};
}

}  // namespace

TEST_CASE("a short closed-loop run gets commands accepted and ordered latencies, no errors") {
  mend::testing::Mendd server(server_flags());
  const auto run = run_collecting({MEND_LOAD_PATH, "--server", server.ws_url(), "--rooms", "3",
                                   "--think-ms", "0", "--warmup", "0", "--duration", "2.5",
                                   "--json", "--quiet", "--seed", "1"},
                                  60s);
  INFO(run.out);
  CHECK(run.exit_code == 0);
  CHECK(number(run.out, "accepted") > 0);
  CHECK(number(run.out, "errors") == 0);
  CHECK(number(run.out, "samples") > 0);
  const double p50 = number(run.out, "p50");
  const double p99 = number(run.out, "p99");
  const double max = number(run.out, "max");
  CHECK(p50 > 0);
  CHECK(p50 <= p99);
  CHECK(p99 <= max);
  CHECK(number(run.out, "connections") > 0);  // 6 unless a handshake is slow under load
  // The server runs here: its CPU time was read from /proc.
  CHECK(number(run.out, "cpu_seconds") >= 0);
}

TEST_CASE("a short run with observers over TLS with --insecure completes without errors") {
  mend::testing::Mendd server(server_flags());
  const auto run = run_collecting({MEND_LOAD_PATH, "--server", server.wss_url(), "--insecure",
                                   "--rooms", "2", "--observers", "--think-ms", "10", "--warmup",
                                   "0", "--duration", "2", "--json", "--quiet"},
                                  60s);
  INFO(run.out);
  CHECK(run.exit_code == 0);
  CHECK(number(run.out, "accepted") > 0);
  CHECK(number(run.out, "errors") == 0);
  CHECK(number(run.out, "connections") > 0);
}

TEST_CASE("--idle holds authenticated connections and reports server memory per connection") {
  mend::testing::Mendd server(server_flags());
  const auto run = run_collecting({MEND_LOAD_PATH, "--server", server.ws_url(), "--idle", "20",
                                   "--duration", "1", "--json", "--quiet"},
                                  60s);
  INFO(run.out);
  CHECK(run.exit_code == 0);
  CHECK(number(run.out, "connected") == 20);
  CHECK(number(run.out, "connected_at_end") == 20);
  CHECK(number(run.out, "errors") == 0);
  CHECK(number(run.out, "rss_kb_after") > 0);
}
