// mend-load's pure pieces: histogram percentiles, option parsing, /proc parsing, report JSON.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "histogram.h"
#include "options.h"
#include "proc_stats.h"
#include "report.h"

using namespace mend::load;

namespace {

// server_host_port(`url`) gives `host` and `port`.
void check_host_port(const std::string& url, const std::string& host, std::uint16_t port) {
  CAPTURE(url);
  const auto hp = server_host_port(url);
  REQUIRE(hp);
  CHECK(hp->host == host);
  CHECK(hp->port == port);
}

}  // namespace

TEST_CASE("histogram is exact below 128 and within 1.6% above") {
  for (std::uint64_t v : {0ull, 1ull, 63ull, 127ull}) {
    CHECK(LatencyHistogram::highest_in_bucket(LatencyHistogram::bucket_of(v)) == v);
  }
  for (std::uint64_t v : {128ull, 129ull, 1000ull, 4999ull, 123456ull, 987654321ull}) {
    const auto top = LatencyHistogram::highest_in_bucket(LatencyHistogram::bucket_of(v));
    CHECK(top >= v);
    CHECK(static_cast<double>(top - v) <= static_cast<double>(v) / 64.0);
  }
}

TEST_CASE("histogram buckets are contiguous and increasing") {
  std::uint64_t previous_top = 0;
  for (std::size_t b = 1; b < LatencyHistogram::bucket_of(LatencyHistogram::kMaxValue); ++b) {
    const auto top = LatencyHistogram::highest_in_bucket(b);
    REQUIRE(top > previous_top);
    CHECK(LatencyHistogram::bucket_of(previous_top + 1) == b);
    CHECK(LatencyHistogram::bucket_of(top) == b);
    previous_top = top;
  }
}

TEST_CASE("histogram percentiles match sorted samples within the bucket precision") {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> draw(7.0, 1.0);  // around a millisecond in microseconds
  LatencyHistogram histogram;
  std::vector<std::uint64_t> samples;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::uint64_t>(draw(random));
    samples.push_back(v);
    histogram.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size())) - 1;
    const auto exact = samples[rank];
    const auto reported = histogram.percentile(p);
    CHECK(reported >= exact);
    CHECK(static_cast<double>(reported) <= static_cast<double>(exact) * 1.016 + 1);
  }
  CHECK(histogram.percentile(100) == samples.back());
  CHECK(histogram.max() == samples.back());
  CHECK(histogram.min() == samples.front());
  CHECK(histogram.count() == samples.size());
}

TEST_CASE("histogram percentiles are ordered and an empty histogram reports zero") {
  LatencyHistogram empty;
  CHECK(empty.percentile(99) == 0);
  CHECK(empty.max() == 0);
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 10);
  CHECK(h.percentile(50) <= h.percentile(90));
  CHECK(h.percentile(90) <= h.percentile(99));
  CHECK(h.percentile(99) <= h.percentile(99.9));
  CHECK(h.percentile(99.9) <= h.max());
  LatencyHistogram other;
  other.record(50000);
  h.merge(other);
  CHECK(h.count() == 1001);
  CHECK(h.max() == 50000);
}

TEST_CASE("options: defaults, flags with values, repeated and comma-separated templates") {
  auto parse = parse_options({});
  REQUIRE(parse.options);
  CHECK(parse.options->server == "ws://127.0.0.1:8480");
  CHECK(parse.options->templates == std::vector<std::string>{"imago-dialogue"});
  parse = parse_options({"--rooms", "100", "--think-ms=0", "--template", "imago-dialogue,speaker-listener",
                         "--template", "aftermath-of-a-fight", "--rate", "2000", "--observers",
                         "--warmup", "1.5", "--duration", "30", "--json", "--server",
                         "wss://localhost:9443", "--insecure", "--server-pid", "42",
                         "--threads", "3", "--seed", "9"});
  REQUIRE(parse.options);
  const LoadOptions& o = *parse.options;
  CHECK(o.rooms == 100);
  CHECK(o.think_ms == 0);
  CHECK(o.templates ==
        std::vector<std::string>{"imago-dialogue", "speaker-listener", "aftermath-of-a-fight"});
  CHECK(o.rate == 2000);
  CHECK(o.observers);
  CHECK(o.warmup_s == 1.5);
  CHECK(o.duration_s == 30);
  CHECK(o.json);
  CHECK(o.insecure);
  CHECK(o.server_pid == 42);
  CHECK(o.threads == 3);
  CHECK(o.seed == 9);
  CHECK(o.chunks_per_turn == 1);
  CHECK_FALSE(o.relay);
  CHECK_FALSE(o.relay_acks);
  parse = parse_options({"--chunks-per-turn", "20"});
  REQUIRE(parse.options);
  CHECK(parse.options->chunks_per_turn == 20);
  parse = parse_options({"--relay", "--rooms", "4", "--server", "ws://127.0.0.1:9000"});
  REQUIRE(parse.options);
  CHECK(parse.options->relay);
  parse = parse_options({"--relay", "--rate", "450"});  // the rate-matched anchor
  REQUIRE(parse.options);
  CHECK(parse.options->rate == 450);
  parse = parse_options({"--relay", "--relay-acks"});  // the acknowledging relay
  REQUIRE(parse.options);
  CHECK(parse.options->relay_acks);
}

TEST_CASE("options: bad values and unknown flags are usage errors in plain words") {
  CHECK(parse_options({"--rooms", "0"}).error.find("--rooms") != std::string::npos);
  CHECK(parse_options({"--rooms", "ten"}).error.find("--rooms") != std::string::npos);
  CHECK(parse_options({"--think-ms", "-5"}).error.find("--think-ms") != std::string::npos);
  CHECK(parse_options({"--duration", "0"}).error.find("--duration") != std::string::npos);
  CHECK(parse_options({"--rooms"}).error == "missing value for --rooms");
  CHECK(parse_options({"--frobnicate", "1"}).error == "unknown option --frobnicate");
  CHECK(!parse_options({"--server", "ftp://x"}).error.empty());
  CHECK(!parse_options({"--ca", "x.pem", "--insecure"}).error.empty());
  CHECK(!parse_options({"--idle", "100", "--rate", "10"}).error.empty());
  CHECK(parse_options({"--help"}).help);
  CHECK(usage_text().find("--idle N") != std::string::npos);
}

TEST_CASE("options: every rejection has its own stable message") {
  auto error = [](std::vector<std::string> args) { return parse_options(args).error; };
  CHECK(error({"--rooms", "-1"}) == "invalid value for --rooms: '-1'");
  CHECK(error({"--rate", "fast"}) == "invalid value for --rate: 'fast'");
  CHECK(error({"--rate", "nan"}) == "invalid value for --rate: 'nan'");
  CHECK(error({"--warmup", "-1"}) == "invalid value for --warmup: '-1'");
  CHECK(error({"--think-ms", "inf"}) == "invalid value for --think-ms: 'inf'");
  CHECK(error({"--idle", "1"}) == "invalid value for --idle: '1' (at least 2)");
  CHECK(error({"--server-pid", "0"}) == "invalid value for --server-pid: '0'");
  CHECK(error({"--threads", "0"}) == "invalid value for --threads: '0'");
  CHECK(error({"--threads", "257"}) == "invalid value for --threads: '257'");
  CHECK(error({"--seed", "x"}) == "invalid value for --seed: 'x'");
  CHECK(error({"--rooms="}) == "missing value for --rooms");
  CHECK(error({"--json=1"}) == "--json takes no value");
  CHECK(error({"--rooms", "2", "--rooms", "3"}) == "--rooms is given more than once");
  CHECK(error({"--roo", "3"}) == "unknown option --roo");
  CHECK(error({"--frobnicate=1"}) == "unknown option --frobnicate");
  CHECK(error({"rooms"}) == "unexpected argument 'rooms'");
  CHECK(error({"--server", "ftp://x"}) == "cannot read the server URL 'ftp://x'");
  CHECK(error({"--ca", "x.pem", "--insecure"}) == "--ca and --insecure exclude each other");
  CHECK(error({"--idle", "100", "--rate", "10"}) ==
        "--idle holds connections without commands; --rate does not apply");
  CHECK(error({"--chunks-per-turn", "0"}) == "invalid value for --chunks-per-turn: '0' (1 to 1000)");
  CHECK(error({"--chunks-per-turn", "1001"}) ==
        "invalid value for --chunks-per-turn: '1001' (1 to 1000)");
  const std::string relay_alone =
      "--relay plays ping-pong; --idle, --observers and --chunks-per-turn do not apply";
  CHECK(error({"--relay", "--idle", "10"}) == relay_alone);
  CHECK(error({"--relay", "--observers"}) == relay_alone);
  CHECK(error({"--relay", "--chunks-per-turn", "3"}) == relay_alone);
  CHECK(error({"--relay", "--server", "wss://127.0.0.1:1"}) == "--relay needs a ws:// server URL");
  CHECK(error({"--relay-acks"}) == "--relay-acks needs --relay");
}

TEST_CASE("options: --help and -h win over an invalid value, and the usage names every flag") {
  CHECK(parse_options({"-h"}).help);
  CHECK(parse_options({"--rooms", "0", "--help"}).help);
  const std::string usage = usage_text();
  for (const char* flag :
       {"--server URL", "--template NAME", "--rooms N", "--think-ms MS", "--rate CMDS_PER_S",
        "--observers", "--warmup S", "--duration S", "--idle N", "--ca FILE", "--insecure",
        "--api-key-file FILE", "--server-pid PID", "--threads N", "--seed N", "--json",
        "--quiet", "--help", "--chunks-per-turn N", "--relay", "--relay-acks"}) {
    CAPTURE(flag);
    CHECK(usage.find(flag) != std::string::npos);
  }
  CHECK(usage.find(" \n") == std::string::npos);  // no trailing spaces where lines wrap
}

TEST_CASE("server URL gives host and port, and loopback is recognized") {
  check_host_port("ws://127.0.0.1:8480", "127.0.0.1", 8480);
  check_host_port("wss://example.org/v1/connect", "example.org", 443);
  check_host_port("http://[::1]:9000", "::1", 9000);
  CHECK(!server_host_port("ws://:80"));
  CHECK(!server_host_port("ws://host:99999"));
  CHECK(is_loopback_host("127.0.0.2"));
  CHECK(is_loopback_host("localhost"));
  CHECK(!is_loopback_host("10.0.0.1"));
}

TEST_CASE("proc status gives VmRSS and VmHWM in KB") {
  const char* status =
      "Name:\tmendd\nState:\tS (sleeping)\nVmPeak:\t  999 kB\nVmHWM:\t   20480 kB\n"
      "VmRSS:\t   10240 kB\nThreads:\t3\n";
  const auto memory = parse_status(status);
  REQUIRE(memory);
  CHECK(memory->rss_kb == 10240);
  CHECK(memory->hwm_kb == 20480);
  CHECK(!parse_status("Name:\tx\nVmRSS:\t1 kB\n"));
}

TEST_CASE("proc stat gives utime + stime even when the command name has spaces and parens") {
  const char* stat =
      "1234 (mend d) (x)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 17 0 0 20 0 3 0 100 "
      "1000000 2500 18446744073709551615\n";
  const auto ticks = parse_stat_cpu_ticks(stat);
  REQUIRE(ticks);
  CHECK(*ticks == 267);
  CHECK(!parse_stat_cpu_ticks("1234 (short) S 1 2"));
}

TEST_CASE("a thread's status gives its voluntary plus involuntary context switches") {
  const char* status =
      "Name:\tmendd\nThreads:\t3\nvoluntary_ctxt_switches:\t120\n"
      "nonvoluntary_ctxt_switches:\t7\n";
  CHECK(parse_context_switches(status) == 127u);
  CHECK(!parse_context_switches("Name:\tmendd\nvoluntary_ctxt_switches:\t120\n"));
}

TEST_CASE("proc net tcp gives the inode of the socket listening on a port") {
  const char* table =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n"
      "   0: 0100007F:2120 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        "
      "0 555 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:2120 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        "
      "0 777 1 0000000000000000 20 4 30 10 -1\n"
      "   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
      "0 888 1 0000000000000000 100 0 0 10 0\n";
  CHECK(parse_listen_inode(table, 8480) == 555u);
  CHECK(parse_listen_inode(table, 22) == 888u);
  CHECK(!parse_listen_inode(table, 9999));
}

TEST_CASE("this process can be sampled from /proc") {
  // One blocking call, so that the kernel has counted at least one (voluntary) context switch
  // of this thread: a test process that never blocked can show 0 (seen once in CI-like runs).
  std::this_thread::sleep_for(std::chrono::microseconds(1));
  const auto sample = sample_process(static_cast<int>(::getpid()));
  REQUIRE(sample);
  CHECK(sample->memory.rss_kb > 0);
  CHECK(sample->memory.hwm_kb >= sample->memory.rss_kb);
  CHECK(sample->context_switches > 0);
}

TEST_CASE("load report JSON carries every figure with stable keys") {
  LoadReport r;
  r.server = "ws://127.0.0.1:8480";
  r.templates = "imago-dialogue";
  r.rooms = 2;
  r.seconds = 2.0;
  r.commands = 100;
  r.accepted = 90;
  r.rejected = 10;
  r.rejections = {{"TOO_SOON", 10}};
  LatencyHistogram h;
  h.record(100);  // exact below 128 us
  h.record(120);
  r.latency = summarize(h);
  ServerUsage usage;
  usage.pid = 7;
  usage.cpu_seconds = 0.05;
  usage.cpu_ms_per_1000_commands = 500;
  r.server_usage = usage;
  const std::string json = to_json(r);
  CHECK(json.front() == '{');
  CHECK(json.back() == '}');
  CHECK(json.find("\"commands_per_s\":50.0") != std::string::npos);
  CHECK(json.find("\"accepted_per_s\":45.0") != std::string::npos);
  CHECK(json.find("\"rejections\":{\"TOO_SOON\":10}") != std::string::npos);
  CHECK(json.find("\"latency_ms\":{\"samples\":2,\"p50\":0.100,\"p90\":0.120") != std::string::npos);
  CHECK(json.find("\"cpu_ms_per_1000_commands\":500.000") != std::string::npos);
  CHECK(json.find("\"server_process\":{\"pid\":7") != std::string::npos);
  CHECK(json.find("\"mode\":\"load\"") != std::string::npos);
  CHECK(json.find("\"chunks_per_turn\":1") != std::string::npos);
  r.server_usage.reset();
  CHECK(to_json(r).find("\"server_process\":null") != std::string::npos);
  CHECK(to_text(r).find("p99") != std::string::npos);
  r.mode = "relay";
  CHECK(to_json(r).find("\"mode\":\"relay\"") != std::string::npos);
  CHECK(to_text(r).find("relayed message") != std::string::npos);
}

TEST_CASE("the load report's integrity: any gap, duplicate or accepted command without its events "
          "is lost or doubled, a reset is only reported") {
  LoadReport r;
  r.integrity.events_delivered = 40;
  r.integrity.commands_accepted = 30;
  r.integrity.resets = 1;
  CHECK(r.integrity.intact());
  CHECK(to_json(r).find("\"integrity\":{\"intact\":true,\"gaps\":0,\"duplicates\":0,"
                        "\"missing\":0,\"resets\":1,\"events_delivered\":40,"
                        "\"commands_accepted\":30,\"unanswered\":0}") != std::string::npos);
  CHECK(to_text(r).find("nothing lost or doubled") != std::string::npos);
  for (std::uint64_t Integrity::*count : {&Integrity::gaps, &Integrity::duplicates,
                                          &Integrity::missing}) {
    LoadReport broken = r;
    broken.integrity.*count = 1;
    CHECK_FALSE(broken.integrity.intact());
    CHECK(to_json(broken).find("\"intact\":false") != std::string::npos);
    CHECK(to_text(broken).find("LOST OR DOUBLED") != std::string::npos);
  }
  r.mode = "relay";
  CHECK(to_text(r).find("integrity") == std::string::npos);  // the relay has no rooms
}

TEST_CASE("server usage between two samples is CPU seconds per 1,000 commands") {
  ProcessSample start, end;
  start.cpu_seconds = 1.0;
  start.memory = {1000, 1200};
  end.cpu_seconds = 1.5;
  end.memory = {1100, 1300};
  const ServerUsage usage = usage_between(42, start, end, 10'000);
  CHECK(usage.pid == 42);
  CHECK(usage.cpu_seconds == doctest::Approx(0.5));
  CHECK(usage.cpu_ms_per_1000_commands == doctest::Approx(50.0));  // 50 us per command
  CHECK(usage.rss_kb_start == 1000);
  CHECK(usage.rss_kb_end == 1100);
  CHECK(usage.hwm_kb_end == 1300);
  CHECK(usage_between(42, start, end, 0).cpu_ms_per_1000_commands == 0);
}

TEST_CASE("server usage between two samples counts the context switches per command") {
  ProcessSample start, end;
  start.context_switches = 1000;
  end.context_switches = 6000;
  const ServerUsage usage = usage_between(42, start, end, 1000);
  CHECK(usage.context_switches == 5000);
  CHECK(usage.context_switches_per_command == doctest::Approx(5.0));
  CHECK(usage_between(42, start, end, 0).context_switches_per_command == 0);
  CHECK(usage_between(42, end, start, 10).context_switches == 0);  // threads ended meanwhile
}

TEST_CASE("idle report computes KB per connection from the RSS samples") {
  IdleReport r;
  r.requested = r.connected = 1000;
  r.server_pid = 7;
  r.rss_kb_before = 10000;
  r.rss_kb_rooms = 12000;
  r.rss_kb_after = 22000;
  CHECK(r.kb_per_connection() == doctest::Approx(12.0));
  CHECK(r.kb_per_connection_without_rooms() == doctest::Approx(10.0));
  CHECK(to_json(r).find("\"kb_per_connection\":12.000") != std::string::npos);
}

TEST_CASE("JSON strings are escaped") {
  CHECK(json_string("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"");
  CHECK(json_string(std::string("\x01", 1)) == "\"\\u0001\"");
}
