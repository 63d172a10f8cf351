// Three mendd nodes on one PostgreSQL schema behind HAProxy, all on loopback ports, started
// ONCE for the binary (the_nodes()) and stopped by cluster_main.cpp (stop_nodes()).
//
// - Every node shares the token secret and the master key (files in one directory), so any
//   node verifies any invite and reads any room; each has its own data directory (TLS
//   certificate) and node id "node-<i>"; leases of kLeaseMs.
// - HAProxy runs the shipped docs/haproxy.cfg with its bind and server addresses replaced by
//   loopback ports (so the example itself is what is tested), in the foreground (-db).
// - Tests may kill, stop (SIGSTOP) and restart nodes; restart(i) brings node i back on its
//   port; drain_and_restart(i) is one step of a rolling restart. Each test leaves every node
//   running (heal()).
// - HAProxy gets an admin socket in its directory (not in the shipped example), so a test can
//   ask which servers it sees up (routed()).
#pragma once

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mend/http_client.h"
#include "tests/cluster/cluster_env.h"
#include "tests/common/mendd_process.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

namespace mend::testing {

inline constexpr const char* kHaproxyPath = "/usr/sbin/haproxy";
inline constexpr const char* kHaproxySource = "127.0.0.2";  // HAProxy's address to the nodes

class Nodes {
 public:
  static constexpr int kCount = 3;
  static constexpr int kLeaseMs = 1000;
  // docs/haproxy.cfg's health checks scaled down (inter 500ms there), and the drain grace the
  // deployment docs ask for at that interval: at least inter x (fall + 1), so that HAProxy has
  // marked a draining node down before it stops accepting connections.
  static constexpr int kCheckIntervalMs = 100;
  static constexpr int kDrainGraceMs = 600;

  Nodes() : schema_(fresh_schema()), shared_("cluster-shared"), haproxy_dir_("haproxy") {
    for (int i = 0; i < kCount; ++i) {
      data_dirs_.push_back(std::make_unique<TempDir>("node"));
      nodes_.push_back(std::make_unique<MenddProcess>(args(i)));
      // One after the other: the first creates the shared secret and master key.
      nodes_.back()->start(0);
    }
    haproxy_port_ = PgCluster::free_port();
    write_haproxy_config();
    haproxy_.emplace(std::vector<std::string>{kHaproxyPath, "-db", "-f", config_path()},
                     Subprocess::Output::kDiscarded);
    wait_until_routed();
  }
  ~Nodes() {
    if (haproxy_) haproxy_->kill();
    for (auto& node : nodes_) {
      if (node->running()) node->signal(SIGCONT);
      node->terminate();
    }
  }

  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(haproxy_port_); }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(haproxy_port_); }
  MenddProcess& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  const MenddProcess& node(int i) const { return *nodes_.at(static_cast<std::size_t>(i)); }

  // Brings node `i` back (after kill9) on its port.
  void restart(int i) { node(i).start(node(i).port()); }
  // Every node running and not stopped again.
  void heal() {
    for (int i = 0; i < kCount; ++i) {
      if (node(i).running()) {
        node(i).signal(SIGCONT);
      } else {
        restart(i);
      }
    }
  }

  struct Drained {
    int exit_code = -1;
    // HAProxy had marked the node down before its drain grace ended (while it still accepted
    // connections): no client was refused a connection and redispatched at random.
    bool marked_down_in_grace = false;
  };
  // SIGTERM (a graceful drain: /readyz fails at once, clients are closed with 4001 after the
  // grace, leases given back), the exit code; then node `i` started again on its port, and back
  // only once it answers /readyz and HAProxy routes to it again (bounded). Throws when it does
  // not come back in time.
  Drained drain_and_restart(int i) {
    Drained drained;
    drained.exit_code = node(i).terminate([&] {
      const auto grace_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainGraceMs);
      while (std::chrono::steady_clock::now() < grace_end) {
        if (!routed(i)) {
          drained.marked_down_in_grace = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
      }
    });
    restart(i);
    const client::HttpClient http({node(i).http_url(), {}, {}, std::chrono::seconds(2)});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      const auto ready = http.request("GET", "/readyz");
      if (ready.ok() && ready.value->status == 200 && routed(i)) return drained;
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("node " + std::to_string(i) + " is not routed again");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
  }

  // Whether HAProxy sees node `i` up in every backend (its health checks passed).
  bool routed(int i) const {
    // "show servers state": per server "be_id be_name srv_id srv_name srv_addr srv_op_state
    // ...", srv_op_state 2 = running.
    std::istringstream lines(haproxy_command("show servers state\n"));
    const std::string name = "node" + std::to_string(i + 1);
    int seen = 0;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string be_id, be_name, srv_id, srv_name, srv_addr, op_state;
      if (!(fields >> be_id >> be_name >> srv_id >> srv_name >> srv_addr >> op_state)) continue;
      if (srv_name != name) continue;
      if (op_state != "2") return false;
      ++seen;
    }
    return seen > 0;
  }

  // The first column of the first row of `sql` ("" when no row); `{schema}` is replaced by
  // the nodes' schema.
  std::string value(std::string sql) const {
    for (auto at = sql.find("{schema}"); at != std::string::npos; at = sql.find("{schema}")) {
      sql.replace(at, 8, schema_);
    }
    return query(sql);
  }

  // A counter of node `i`'s /metrics: the value on the line starting with `series` (e.g.
  // `mend_commands_total{result="UNAVAILABLE"}`), 0 when absent or unreachable.
  std::uint64_t metric(int i, const std::string& series) const {
    const client::HttpClient http({node(i).http_url(), {}, {}, std::chrono::seconds(2)});
    const auto metrics = http.request("GET", "/metrics");
    if (!metrics.ok()) return 0;
    std::istringstream lines(metrics.value->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(series + " ", 0) == 0) return std::stoull(line.substr(series.size() + 1));
    }
    return 0;
  }
  // The same summed over the nodes.
  std::uint64_t metric_sum(const std::string& series) const {
    std::uint64_t sum = 0;
    for (int i = 0; i < kCount; ++i) sum += metric(i, series);
    return sum;
  }

  // The node ("node-<i>") holding the room's lease now, -1 when none does.
  int owner(const std::string& room_id) const {
    const std::string node = query("SELECT node FROM " + schema_ +
                                   ".leases WHERE room_id = '" + room_id +
                                   "' AND expires_at > clock_timestamp()");
    return node.rfind("node-", 0) == 0 ? std::stoi(node.substr(5)) : -1;
  }
  // The number of stored events of the room.
  std::uint64_t stored_events(const std::string& room_id) const {
    return std::stoull(query("SELECT count(*) FROM " + schema_ + ".events WHERE room_id = '" +
                             room_id + "'"));
  }

 private:
  std::vector<std::string> args(int i) const {
    return {"--data-dir", data_dirs_[static_cast<std::size_t>(i)]->path().string(),
            "--templates-dir", shipped_templates_dir(), "--log-format", "text",
            "--store", "postgres", "--postgres-url", pg().url(schema_),
            "--node-id", "node-" + std::to_string(i), "--lease-ms", std::to_string(kLeaseMs),
            "--token-secret-file", (shared_.path() / "token-secret.bin").string(),
            "--master-key-file", (shared_.path() / "master.key").string(),
            // HAProxy connects from 127.0.0.2 with PROXY headers (the clients, all on 127.0.0.1);
            // a test's direct connections come from 127.0.0.1 without one.
            "--proxy-protocol-from", kHaproxySource,
            "--max-connections-per-ip", "10000", "--threads", "1",
            "--drain-grace-ms", std::to_string(kDrainGraceMs)};
  }

  std::string config_path() const { return (haproxy_dir_.path() / "haproxy.cfg").string(); }

  // docs/haproxy.cfg with loopback addresses: the `bind` line gets the test's port, the
  // `server nodeN` lines the nodes' ports.
  void write_haproxy_config() const {
    std::ifstream in(std::string(MEND_SOURCE_DIR) + "/docs/haproxy.cfg");
    if (!in) throw std::runtime_error("docs/haproxy.cfg is missing");
    std::stringstream text;
    text << in.rdbuf();
    std::string config = std::regex_replace(
        text.str(), std::regex(R"(bind [^\s]+:[0-9]+)"),
        "bind 127.0.0.1:" + std::to_string(haproxy_port_));
    for (int i = 0; i < kCount; ++i) {
      config = std::regex_replace(
          config, std::regex("server node" + std::to_string(i + 1) + R"( [^\s]+:[0-9]+)"),
          "server node" + std::to_string(i + 1) + " 127.0.0.1:" +
              std::to_string(nodes_[static_cast<std::size_t>(i)]->port()) + " source " +
              kHaproxySource);
    }
    config = std::regex_replace(config, std::regex(R"(inter 500ms)"),
                                "inter " + std::to_string(kCheckIntervalMs) + "ms");
    // No syslog on a test machine, no privileged user to switch to, the foreground (-db), and
    // the default connection limit (the example's needs a raised file descriptor limit).
    config = std::regex_replace(
        config, std::regex(R"(\n\s*(log|user|group|chroot|daemon|maxconn)\b[^\n]*)"), "");
    config = std::regex_replace(config, std::regex(R"(\nglobal\n)"),
                                "\nglobal\n    stats socket " + socket_path() + " mode 600 level admin\n");
    std::ofstream(config_path()) << config;
  }

  std::string socket_path() const { return (haproxy_dir_.path() / "admin.sock").string(); }

  // HAProxy's answer to `command` on its admin socket ("" when it cannot be reached).
  std::string haproxy_command(const std::string& command) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = socket_path();
    if (path.size() >= sizeof address.sun_path) {
      ::close(fd);
      throw std::runtime_error("HAProxy's socket path is too long");
    }
    path.copy(address.sun_path, path.size());
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::write(fd, command.data(), command.size()) == static_cast<ssize_t>(command.size())) {
      char buffer[4096];
      for (ssize_t n = ::read(fd, buffer, sizeof buffer); n > 0;
           n = ::read(fd, buffer, sizeof buffer)) {
        answer.append(buffer, static_cast<std::size_t>(n));
      }
    }
    ::close(fd);
    return answer;
  }

  // Bounded polling until HAProxy answers /healthz through a node.
  void wait_until_routed() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      const client::HttpClient http({http_url(), {}, {}, std::chrono::seconds(2)});
      if (http.list_templates().ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
    throw std::runtime_error("HAProxy does not route to the nodes");
  }

  // The first column of the first row of `sql` ("" when no row).
  std::string query(const std::string& sql) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(pg().url().c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error("cannot connect");
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()),
                                                         &PQclear);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      throw std::runtime_error(std::string("query failed: ") + PQerrorMessage(conn.get()));
    }
    return PQntuples(result.get()) == 0 ? "" : PQgetvalue(result.get(), 0, 0);
  }

  std::string schema_;
  TempDir shared_;
  TempDir haproxy_dir_;
  std::vector<std::unique_ptr<TempDir>> data_dirs_;
  std::vector<std::unique_ptr<MenddProcess>> nodes_;
  int haproxy_port_ = 0;
  std::optional<Subprocess> haproxy_;
};

namespace detail {
inline std::unique_ptr<Nodes>& nodes_slot() {
  static std::unique_ptr<Nodes> nodes;
  return nodes;
}
}  // namespace detail

// The binary's nodes, started on first use.
inline Nodes& the_nodes() {
  auto& slot = detail::nodes_slot();
  if (!slot) slot = std::make_unique<Nodes>();
  slot->heal();
  return *slot;
}
inline void stop_nodes() { detail::nodes_slot().reset(); }

}  // namespace mend::testing
