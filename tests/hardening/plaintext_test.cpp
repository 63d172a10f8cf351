// Plaintext only from loopback (DESIGN 7): mendd runs in a network namespace of its own, joined
// by a veth pair to a second namespace the test's client thread enters, so a non-loopback
// address reaches it without any traffic outside the two namespaces. Needs root (CAP_SYS_ADMIN)
// to make namespaces; without it the test says so and checks nothing.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include <doctest/doctest.h>

#include "tests/common/mendd_process.h"
#include "tests/common/skip.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

constexpr std::chrono::seconds kIpBound{10};
constexpr const char* kServerAddress = "10.77.0.1";
constexpr const char* kClientAddress = "10.77.0.2";
constexpr int kPort = 8480;  // free: the namespace is the test's own

// iproute2's `ip` (Subprocess does not search PATH); empty when it is not installed.
std::string ip_program() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

bool ip(const std::vector<std::string>& args) {
  const std::string program = ip_program();
  if (program.empty()) return false;
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, kIpBound) == 0;
}

// Two namespaces (server, client) and a veth pair between them, removed on destruction.
class NamespacePair {
 public:
  NamespacePair()
      : server_("mend-s-" + std::to_string(::getpid())),
        client_("mend-c-" + std::to_string(::getpid())) {
    if (!ip({"netns", "add", server_})) return;
    if (!ip({"netns", "add", client_})) return;
    const std::string server_link = "ms" + std::to_string(::getpid());
    const std::string client_link = "mc" + std::to_string(::getpid());
    ready_ = ip({"link", "add", server_link, "netns", server_, "type", "veth", "peer", "name",
                 client_link, "netns", client_}) &&
             configure(server_, server_link, kServerAddress) &&
             configure(client_, client_link, kClientAddress);
  }
  ~NamespacePair() {
    ip({"netns", "del", client_});
    ip({"netns", "del", server_});
  }

  bool ready() const { return ready_; }
  const std::string& server() const { return server_; }
  const std::string& client() const { return client_; }

 private:
  static bool configure(const std::string& ns, const std::string& link, const char* address) {
    return ip({"-n", ns, "addr", "add", std::string(address) + "/30", "dev", link}) &&
           ip({"-n", ns, "link", "set", link, "up"}) && ip({"-n", ns, "link", "set", "lo", "up"});
  }

  std::string server_;
  std::string client_;
  bool ready_ = false;
};

// mendd inside `ns` on 0.0.0.0:kPort; waits until it listens.
class NamespacedMendd {
 public:
  NamespacedMendd(const std::string& ns, std::vector<std::string> extra) : data_dir_("netns") {
    std::vector<std::string> argv = {ip_program(), "netns", "exec", ns, MEND_MENDD_PATH,
                                     "--listen", "0.0.0.0:" + std::to_string(kPort),
                                     "--data-dir", data_dir_.path().string(),
                                     "--templates-dir", shipped_templates_dir()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_.emplace(argv);
    const auto deadline = Subprocess::Clock::now() + MenddProcess::kStartBound;
    for (std::string chunk = child_->read_some(deadline); !chunk.empty();
         chunk = child_->read_some(deadline)) {
      log_ += chunk;
      if (log_.find("listening on 0.0.0.0:") != std::string::npos) return;
    }
    FAIL("mendd did not start in the namespace:\n" << log_);
  }
  ~NamespacedMendd() {
    child_->signal(SIGTERM);
    child_->wait_exit_or_kill(MenddProcess::kExitBound);
  }

 private:
  TempDir data_dir_;
  std::optional<Subprocess> child_;
  std::string log_;
};

// raw_exchange from a thread that entered namespace `ns` (the test's other threads stay).
RawAnswer exchange_from(const std::string& ns, const char* address, const std::string& request) {
  RawAnswer answer;
  std::string failure;
  std::thread client([&] {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      failure = "cannot enter " + ns;
    } else {
      try {
        answer = raw_exchange(kPort, request, address);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
    if (fd >= 0) ::close(fd);
  });
  client.join();
  REQUIRE_MESSAGE(failure.empty(), failure);
  return answer;
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: mend\r\nConnection: close\r\n\r\n";

TEST_CASE("plaintext from a non-loopback address is refused with 403 TLS_REQUIRED") {
  NamespacePair namespaces;
  if (!namespaces.ready()) {
    mend::testing::skip_test(
        "cannot create network namespaces here (needs root and iproute2's ip); nothing checked");
    return;
  }
  SUBCASE("by default") {
    NamespacedMendd mendd(namespaces.server(), {});
    const RawAnswer remote = exchange_from(namespaces.client(), kServerAddress, kHealthz);
    INFO(remote.bytes);
    CHECK(remote.status() == 403);
    CHECK(remote.has(R"("code":"TLS_REQUIRED")"));
    CHECK(remote.closed);
    // The same server answers plaintext from its own loopback.
    CHECK(exchange_from(namespaces.server(), "127.0.0.1", kHealthz).status() == 200);
  }
  SUBCASE("unless --allow-plaintext") {
    NamespacedMendd mendd(namespaces.server(), {"--allow-plaintext"});
    CHECK(exchange_from(namespaces.client(), kServerAddress, kHealthz).status() == 200);
  }
}

}  // namespace
}  // namespace mend::testing
