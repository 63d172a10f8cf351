// mend-load against the real mendd on 127.0.0.1 (ephemeral port, in-memory store): a short
// closed-loop run and a small --idle run, each bounded in time, checked through --json.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/common/json_number.h"
#include "tests/common/mendd_process.h"
#include "tests/common/skip.h"
#include "tests/common/subprocess.h"
#include "tests/common/templates_dir.h"

namespace {

using namespace std::chrono_literals;

using mend::testing::json_number;

// The fixture: mendd with the in-memory store and limits high enough for the runs, and
// mend-load run against it.
struct LoadServer {
  static std::vector<std::string> mendd_args() {
    return {"--store", "memory", "--threads", "1", "--max-connections-per-ip", "1000",
            "--rooms-per-api-key", "100000"};
  }
  mend::testing::Mendd server{mendd_args()};

  // Runs mend-load with --server `url`, `args`, --json and --quiet; its stdout (stderr
  // discarded) and exit code. Bounded (60 s).
  static mend::testing::Completed run_load(const std::string& url,
                                           const std::vector<std::string>& args) {
    std::vector<std::string> argv = {MEND_LOAD_PATH, "--server", url};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--json", "--quiet"});
    return mend::testing::run_to_completion(
        argv, mend::testing::Subprocess::Output::kStdoutOnly, 60s);
  }
};

// The shipped templates, speaker-listener with a reflection beat of 1 ms (as
// tools/bench-anchor.sh plays it), in `dir`; its path. With the shipped 2 s beat two rooms that
// opened together can spend a whole 2 s window waiting for their beats: no command to measure.
std::string unpaced_templates(const std::filesystem::path& dir) {
  mend::testing::write_shipped_templates(dir, [](mend::v1::Template& tmpl) {
    if (tmpl.name() == "speaker-listener") tmpl.mutable_timing()->set_reflection_beat_ms(1);
  });
  return dir.string();
}

// LoadServer with speaker-listener unpaced: a closed loop plays its turns as fast as mendd
// answers.
struct UnpacedLoadServer {
  mend::testing::TempDir templates{"unpaced"};
  mend::testing::Mendd server{LoadServer::mendd_args(), unpaced_templates(templates.path())};
};

// tools/bench-relay/relay.mjs (Node's `ws`) on an ephemeral port, with `args` (e.g. --ack); its
// port is read from the "listening PORT" line it prints. Bounded (30 s to start).
struct NodeRelay {
  // Its package is installed by the "load: bench-relay setup (npm ci)" test.
  static bool installed() {
    return std::filesystem::exists(std::string(MEND_BENCH_RELAY_DIR) + "/node_modules/ws");
  }

  explicit NodeRelay(const std::vector<std::string>& args)
      : process(command(args), mend::testing::Subprocess::Output::kStdoutOnly) {
    std::string banner;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (banner.find('\n') == std::string::npos) {
      const std::string chunk = process.read_some(deadline);
      REQUIRE_MESSAGE(!chunk.empty(), "the relay did not start: " << banner);
      banner += chunk;
    }
    port = banner.substr(banner.find(' ') + 1, banner.find('\n') - banner.find(' ') - 1);
  }

  std::string url() const { return "ws://127.0.0.1:" + port; }

  mend::testing::Subprocess process;
  std::string port;

 private:
  static std::vector<std::string> command(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {MEND_NODE_PATH,
                                     std::string(MEND_BENCH_RELAY_DIR) + "/relay.mjs", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

}  // namespace

TEST_CASE_FIXTURE(LoadServer,
                  "a short closed-loop run gets commands accepted and ordered latencies, no "
                  "errors") {
  const auto run = run_load(server.ws_url(), {"--rooms", "3", "--think-ms", "0", "--warmup", "0",
                                              "--duration", "2.5", "--seed", "1"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(json_number(run.output, "accepted") > 0);
  CHECK(json_number(run.output, "errors") == 0);
  CHECK(json_number(run.output, "samples") > 0);
  const double p50 = json_number(run.output, "p50");
  const double p99 = json_number(run.output, "p99");
  const double max = json_number(run.output, "max");
  CHECK(p50 > 0);
  CHECK(p50 <= p99);
  CHECK(p99 <= max);
  CHECK(json_number(run.output, "connections") > 0);  // 6 unless a handshake is slow under load
  // The server runs here: its CPU time was read from /proc.
  CHECK(json_number(run.output, "cpu_seconds") >= 0);
}

TEST_CASE_FIXTURE(LoadServer,
                  "a short run with observers over TLS with --insecure completes without errors") {
  const auto run = run_load(server.wss_url(), {"--insecure", "--rooms", "2", "--observers",
                                               "--think-ms", "10", "--warmup", "0", "--duration",
                                               "2"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(json_number(run.output, "accepted") > 0);
  CHECK(json_number(run.output, "errors") == 0);
  CHECK(json_number(run.output, "connections") > 0);
}

TEST_CASE_FIXTURE(UnpacedLoadServer,
                  "long conversations: many shares per turn are played to their end without "
                  "errors, measured once every room is open") {
  const auto run = LoadServer::run_load(
      server.ws_url(), {"--rooms", "2", "--think-ms", "0", "--warmup", "0.01", "--duration", "2",
                        "--chunks-per-turn", "5", "--template", "speaker-listener", "--seed", "1"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  // The warm-up outlasts --warmup until both rooms have opened (creation, two handshakes).
  CHECK(json_number(run.output, "rooms_open_at_window") == 2);
  CHECK(json_number(run.output, "warmup_seconds") >= 0.01);
  CHECK(json_number(run.output, "chunks_per_turn") == 5);
  CHECK(json_number(run.output, "accepted") > 0);
  CHECK(json_number(run.output, "conversations_completed") > 0);  // played to CLOSED
  CHECK(json_number(run.output, "errors") == 0);
}

TEST_CASE("--relay measures the bare Node ws relay (tools/bench-relay) with the same client") {
  if (!NodeRelay::installed()) {
    mend::testing::skip_test("tools/bench-relay has no node_modules (its setup test runs npm ci)");
    return;
  }
  const NodeRelay relay({});
  const auto run = LoadServer::run_load(
      relay.url(), {"--relay", "--rooms", "2", "--warmup", "0", "--duration", "1"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(json_number(run.output, "accepted") > 0);  // messages relayed
  CHECK(json_number(run.output, "errors") == 0);
  CHECK(json_number(run.output, "samples") > 0);
  CHECK(json_number(run.output, "connections") == 4);
  CHECK(json_number(run.output, "cpu_seconds") >= 0);  // the relay's CPU, found by its port
  CHECK(run.output.find("\"relay_acks\":false") != std::string::npos);
}

TEST_CASE("--relay-acks counts a message once its sender has read the relay's echo of it") {
  if (!NodeRelay::installed()) {
    mend::testing::skip_test("tools/bench-relay has no node_modules (its setup test runs npm ci)");
    return;
  }
  const std::vector<std::string> args = {"--relay", "--relay-acks", "--rooms", "2",
                                         "--warmup", "0", "--duration", "1"};
  {
    const NodeRelay acking({"--ack"});  // every message also goes back to its sender
    const auto run = LoadServer::run_load(acking.url(), args);
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(json_number(run.output, "accepted") > 0);
    CHECK(json_number(run.output, "errors") == 0);
    CHECK(run.output.find("\"relay_acks\":true") != std::string::npos);
  }
  // Without the echo each pair's first sender waits for it until the run ends: nothing counts,
  // and the run fails.
  const NodeRelay plain({});
  const auto run = LoadServer::run_load(plain.url(), args);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(json_number(run.output, "accepted") == 0);
  CHECK(json_number(run.output, "errors") == 0);
}

TEST_CASE_FIXTURE(LoadServer,
                  "--idle holds authenticated connections and reports server memory per "
                  "connection") {
  const auto run = run_load(server.ws_url(), {"--idle", "20", "--duration", "1"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(json_number(run.output, "connected") == 20);
  CHECK(json_number(run.output, "connected_at_end") == 20);
  CHECK(json_number(run.output, "errors") == 0);
  CHECK(json_number(run.output, "rss_kb_after") > 0);
}
