// A throwaway PostgreSQL cluster for tests: Debian's server binaries (initdb, postgres) on a
// loopback port, its data in a temporary directory, started once per test binary.
//
// - PgCluster::binaries(): where initdb and postgres are (/usr/lib/postgresql/<major>/bin,
//   the newest), or empty when PostgreSQL is not installed: the caller skips with a message.
// - The cluster runs as the user `nobody` when the tests run as root (CI does; PostgreSQL
//   refuses to run as root), through setpriv, which execs (the pid is the postmaster's).
// - fsync is off: the tests check what a store does with PostgreSQL's answers, not the disk;
//   trust authentication for the superuser `mend`, on 127.0.0.1 only, no Unix socket.
// - stop() is a fast shutdown (SIGINT: sessions are terminated, the clients see their
//   connections closed) and start() brings the same cluster back on the same port.
// - sql() runs statements as the superuser (test set-up, e.g. a schema per test).
//
// Errors: the constructor and start() throw std::runtime_error when the cluster cannot be
// created or does not accept connections within 30 s. Thread safety: one owner; url() and
// sql() may be called from any thread.
#pragma once

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

namespace mend::testing {

class PgCluster {
 public:
  static constexpr uid_t kNobody = 65534;  // Debian's nobody:nogroup

  // The directory of the newest installed PostgreSQL's binaries, or empty.
  static std::filesystem::path binaries() {
    std::filesystem::path best;
    int best_major = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const std::filesystem::path bin = entry.path() / "bin";
      int major = 0;
      try {
        major = std::stoi(entry.path().filename().string());
      } catch (const std::exception&) {
        continue;
      }
      if (major > best_major && std::filesystem::exists(bin / "initdb") &&
          std::filesystem::exists(bin / "postgres")) {
        best = bin;
        best_major = major;
      }
    }
    return best;
  }

  PgCluster() : bin_(binaries()), dir_("pg"), port_(free_port()) {
    if (bin_.empty()) throw std::runtime_error("PostgreSQL server binaries are not installed");
    data_ = dir_.path() / "data";
    if (::geteuid() == 0 && ::chown(dir_.path().c_str(), kNobody, kNobody) != 0) {
      throw std::runtime_error("cannot give the cluster directory to nobody");
    }
    const Completed init = run_to_completion(
        as_owner({(bin_ / "initdb").string(), "-D", data_.string(), "-U", "mend",
                  "--auth=trust", "-E", "UTF8", "--locale=C", "-N"}),
        Subprocess::Output::kStdoutAndStderr, std::chrono::seconds(60));
    if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.output);
    start();
  }
  ~PgCluster() { stop(); }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  std::uint16_t port() const { return port_; }

  // A libpq connection string for `database`, with `search_path` as the session's schema
  // when not empty.
  std::string url(const std::string& search_path = {},
                  const std::string& database = "postgres") const {
    std::string url = "host=127.0.0.1 port=" + std::to_string(port_) +
                      " user=mend dbname=" + database;
    if (!search_path.empty()) url += " options='-csearch_path=" + search_path + "'";
    return url;
  }

  void start() {
    postgres_ = std::make_unique<Subprocess>(
        as_owner({(bin_ / "postgres").string(), "-D", data_.string(), "-p",
                  std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-c",
                  "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off",
                  "-c", "shared_buffers=16MB", "-c", "max_connections=60"}),
        Subprocess::Output::kDiscarded);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (PQping(url().c_str()) != PQPING_OK) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("postgres did not accept connections within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Fast shutdown, bounded (then SIGKILL).
  void stop() {
    if (!postgres_) return;
    postgres_->signal(SIGINT);
    postgres_->wait_exit_or_kill(std::chrono::seconds(20));
    postgres_.reset();
  }

  // Runs `statements` as the superuser; throws with PostgreSQL's message when they fail.
  void sql(const std::string& statements) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url().c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      throw std::runtime_error(std::string("cannot connect: ") + PQerrorMessage(conn.get()));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), statements.c_str()),
                                                         &PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(std::string("sql failed: ") + PQerrorMessage(conn.get()));
    }
  }

 private:
  // As root, the command runs as nobody (setpriv execs it: no process in between).
  static std::vector<std::string> as_owner(std::vector<std::string> argv) {
    if (::geteuid() != 0) return argv;
    std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }

  // A loopback port that was free a moment ago (the kernel's choice for port 0). Public: the
  // cluster tests take HAProxy's port from it.
 public:
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("no free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

 private:
  std::filesystem::path bin_;
  TempDir dir_;
  std::filesystem::path data_;
  std::uint16_t port_;
  std::unique_ptr<Subprocess> postgres_;
};

}  // namespace mend::testing
