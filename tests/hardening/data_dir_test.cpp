// Who may read mendd's files (README "Security"): the data directory 0700, every file in it
// 0600, whatever the umask mendd starts under; a data directory it cannot secure stops it, and
// so does one another mendd holds.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

// Every regular file directly in `dir` with its mode, for the failure message.
std::string modes_in(const fs::path& dir) {
  std::string out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", mode_of(entry.path()));
    out += entry.path().filename().string() + " " + mode + "\n";
  }
  return out;
}

void check_private(const fs::path& dir) {
  INFO("files:\n" << modes_in(dir));
  CHECK(mode_of(dir) == 0700);
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    INFO(entry.path().filename().string());
    CHECK(mode_of(entry.path()) == 0600);
  }
}

// Runs `start` with the process umask 000 (mendd inherits it), then restores the umask.
template <typename Start>
void under_umask_000(Start start) {
  const mode_t before = ::umask(0);
  try {
    start();
  } catch (...) {
    ::umask(before);
    throw;
  }
  ::umask(before);
}

TEST_CASE("every file mendd creates is 0600 and its data directory 0700, even under umask 000") {
  TempDir parent("modes");
  const fs::path dir = parent.path() / "data";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms(0755), fs::perm_options::replace);  // an existing open one
  {
    // A file an older mendd left readable by everyone.
    std::ofstream secret(dir / "token-secret.bin", std::ios::binary);
    secret << std::string(32, 'k');
  }
  fs::permissions(dir / "token-secret.bin", fs::perms(0666), fs::perm_options::replace);

  MenddProcess mendd({"--data-dir", dir.string(), "--templates-dir", shipped_templates_dir(),
                      "--log-format", "text"});
  under_umask_000([&] { mendd.start(0); });
  const RawAnswer created = raw_exchange(
      mendd.port(), create_room_request(mendd.port(), "Content-Type: application/json\r\n"));
  REQUIRE(created.status() == 201);
  CHECK(fs::exists(dir / "mend.db-wal"));
  SUBCASE("while it runs") { check_private(dir); }
  SUBCASE("after a clean stop, with the seal written") {
    REQUIRE(mendd.terminate() == 0);
    CHECK(fs::exists(dir / "mend.db.seal"));
    check_private(dir);
  }
}

TEST_CASE("mendd refuses to start (exit 2, naming it) on a data directory it cannot secure") {
  TempDir parent("modes");
  const fs::path not_a_dir = parent.path() / "data";
  std::ofstream(not_a_dir) << "a file where the data directory should be";
  const auto [code, output] = MenddProcess::run_to_exit(
      {"--listen", "127.0.0.1:0", "--data-dir", not_a_dir.string(), "--templates-dir",
       shipped_templates_dir()});
  CHECK(code == 2);
  CHECK(output.find(not_a_dir.string()) != std::string::npos);
}

TEST_CASE("a second mendd on a data directory in use refuses to start, and after kill -9 "
          "one starts") {
  TempDir parent("lock");
  const fs::path dir = parent.path() / "data";
  const std::vector<std::string> args = {"--data-dir", dir.string(), "--templates-dir",
                                         shipped_templates_dir(), "--log-format", "text"};
  MenddProcess first(args);
  first.start(0);
  std::string holder;
  std::ifstream(dir / "mend.lock") >> holder;
  CHECK(!holder.empty());

  std::vector<std::string> second_args = {"--listen", "127.0.0.1:0"};
  second_args.insert(second_args.end(), args.begin(), args.end());
  const auto [code, output] = MenddProcess::run_to_exit(second_args);
  CHECK(code == 2);
  CHECK(output.find("DATA_DIR_IN_USE") != std::string::npos);
  CHECK(output.find("(pid " + holder + ")") != std::string::npos);
  CHECK(output.find(dir.string()) != std::string::npos);
  // The first one serves on, its files untouched by the refused start.
  const RawAnswer created = raw_exchange(
      first.port(), create_room_request(first.port(), "Content-Type: application/json\r\n"));
  CHECK(created.status() == 201);

  first.kill9();  // the kernel releases the lock with the process
  MenddProcess next(args);
  next.start(0);
  CHECK(raw_exchange(next.port(), create_room_request(next.port(),
                                                      "Content-Type: application/json\r\n"))
            .status() == 201);
  CHECK(next.terminate() == 0);
}

}  // namespace
}  // namespace mend::testing
