#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "mend/client.h"
#include "mend/http_client.h"
#include "proc_stats.h"
#include "runs.h"

namespace mend::load {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr unsigned kCreators = 16;          // parallel POST /v1/rooms (group commit batches them)
constexpr std::uint64_t kConnectWindow = 500;  // connections started but not yet welcomed
constexpr auto kConnectBound = std::chrono::seconds(180);

// One connection's bookkeeping; touched only by its client's handlers (one at a time).
struct Held {
  std::unique_ptr<client::Client> client;
  bool welcomed = false;
  bool online = false;
};

struct Counters {
  std::atomic<std::uint64_t> welcomed{0};
  std::atomic<std::int64_t> online{0};
  std::atomic<std::uint64_t> errors{0};
};

std::vector<std::string> create_rooms(const client::HttpClient& http, std::uint64_t rooms,
                                      Counters& counters, bool quiet) {
  std::vector<std::string> tokens(rooms * 2);
  std::atomic<std::uint64_t> next{0};
  std::vector<std::thread> creators;
  for (unsigned c = 0; c < kCreators; ++c) {
    creators.emplace_back([&] {
      for (std::uint64_t i = next++; i < rooms; i = next++) {
        v1::CreateRoomRequest request;
        request.set_template_("imago-dialogue");
        request.set_partner_a_name("Alex");
        request.set_partner_b_name("Sam");
        const auto created = http.create_room(request);
        if (!created.ok() || created.value->invites_size() < 2) {
          ++counters.errors;
          continue;
        }
        tokens[2 * i] = created.value->invites(0).token();
        tokens[2 * i + 1] = created.value->invites(1).token();
        if (!quiet && (i + 1) % 1000 == 0) {
          std::fprintf(stderr, "  %llu rooms created\n", static_cast<unsigned long long>(i + 1));
        }
      }
    });
  }
  for (auto& t : creators) t.join();
  return tokens;
}

std::uint64_t rss_of(const std::optional<ProcessSample>& sample) {
  return sample ? sample->memory.rss_kb : 0;
}

}  // namespace

IdleReport run_idle(const LoadOptions& options, const Setup& setup) {
  IdleReport report;
  report.server = options.server;
  report.requested = options.idle;
  report.server_pid = setup.server_pid;
  auto sample = [&] {
    return setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;
  };
  report.rss_kb_before = rss_of(sample());
  if (setup.fd_limit > 0 && setup.fd_limit < options.idle + 64 && !options.quiet) {
    std::fprintf(stderr, "warning: this process may open only %lu files; %u connections asked\n",
                 setup.fd_limit, options.idle);
  }

  client::HttpClient http({setup.http_base_url, setup.api_key, setup.ca_file,
                           std::chrono::seconds(30)});
  Counters counters;
  const std::uint64_t rooms = (options.idle + 1) / 2;
  const auto tokens = create_rooms(http, rooms, counters, options.quiet);
  report.rss_kb_rooms = rss_of(sample());

  net::io_context io;
  auto work = net::make_work_guard(io);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.threads; ++i) threads.emplace_back([&io] { io.run(); });

  std::vector<std::unique_ptr<Held>> held;
  held.reserve(options.idle);
  const auto start = Clock::now();
  auto next_tick = start + std::chrono::seconds(1);
  auto progress = [&](const char* what) {
    if (options.quiet || Clock::now() < next_tick) return;
    next_tick += std::chrono::seconds(1);
    std::fprintf(stderr, "[%6.1f s] %s %llu authenticated, %lld online, %llu errors\n",
                 std::chrono::duration<double>(Clock::now() - start).count(), what,
                 static_cast<unsigned long long>(counters.welcomed.load()),
                 static_cast<long long>(counters.online.load()),
                 static_cast<unsigned long long>(counters.errors.load()));
  };
  for (std::uint64_t i = 0; i < options.idle && Clock::now() - start < kConnectBound; ++i) {
    if (tokens[i].empty()) continue;  // its room could not be created
    while (held.size() - counters.welcomed.load() >= kConnectWindow &&
           Clock::now() - start < kConnectBound) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      progress("connecting");
    }
    auto h = std::make_unique<Held>();
    Held* raw = h.get();
    client::ClientOptions o;
    o.url = setup.websocket_url;
    o.token = tokens[i];
    o.ca_file = setup.ca_file;
    o.client_name = "mend-load/0.1";
    o.executor = io.get_executor();
    client::ClientHandlers handlers;
    handlers.on_welcome = [raw, &counters](const v1::Welcome&) {
      if (!raw->welcomed) ++counters.welcomed;
      raw->welcomed = true;
    };
    handlers.on_state = [raw, &counters](client::ConnectionState state, const client::ClientError&) {
      const bool online = state == client::ConnectionState::kOnline;
      if (online != raw->online) counters.online += online ? 1 : -1;
      raw->online = online;
    };
    handlers.on_closed = [&counters](const client::ClientError&) { ++counters.errors; };
    h->client = std::make_unique<client::Client>(std::move(o), std::move(handlers));
    if (!h->client->start().ok()) ++counters.errors;
    held.push_back(std::move(h));
    progress("connecting");
  }
  while (counters.welcomed.load() < held.size() && Clock::now() - start < kConnectBound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    progress("connecting");
  }
  report.connect_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.connected = counters.welcomed.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server settle
  report.rss_kb_after = rss_of(sample());

  const auto hold_start = Clock::now();
  const auto hold_end = hold_start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(options.duration_s));
  next_tick = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < hold_end) {
    std::this_thread::sleep_until(std::min(hold_end, next_tick));
    progress("holding");
  }
  report.hold_seconds = std::chrono::duration<double>(Clock::now() - hold_start).count();
  report.connected_at_end = static_cast<std::uint64_t>(std::max<std::int64_t>(0, counters.online.load()));
  if (const auto end = sample()) {
    report.rss_kb_end = end->memory.rss_kb;
    report.hwm_kb_end = end->memory.hwm_kb;
  }
  report.errors = counters.errors.load();

  for (auto& h : held) h->client->stop();
  held.clear();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  return report;
}

}  // namespace mend::load
