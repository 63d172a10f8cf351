// --relay: the anchor of DESIGN.md section 10. The server is a bare WebSocket relay (for example
// tools/bench-relay/relay.mjs, Node's `ws` forwarding each message to the other connections of
// its path) and each of --rooms pairs opens two connections on its own path and plays ping-pong
// with one 200-byte binary message: a message sent by one side is received by the other, which
// sends the next. One relayed message counts as one command, so the report's server CPU per
// command is the relay's CPU per relayed message, measured by the same client and the same
// /proc sampling as a mendd run. With --rate each send first waits for its slot of the open-loop
// schedule (pacer.h), so the relay can be measured at the rate mendd ran at, not only saturated.
// With --relay-acks the relay also sends each message back to its sender (relay.mjs --ack), and
// the sender reads that copy after the other side received the message: mendd's pattern of one
// frame in and two out per command (the sender's result, the partner's event).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "pacer.h"
#include "proc_stats.h"
#include "runs.h"
#include "stats.h"

namespace mend::load {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using Socket = websocket::stream<beast::tcp_stream>;

constexpr std::size_t kMessageBytes = 200;

std::uint64_t micros_since(std::int64_t sent_ns) {
  const std::int64_t now = Clock::now().time_since_epoch().count();
  return now > sent_ns ? static_cast<std::uint64_t>(now - sent_ns) / 1000 : 0;
}

net::awaitable<void> connect(Socket& socket, const HostPort& where, const std::string& path) {
  net::ip::tcp::resolver resolver(co_await net::this_coro::executor);
  const auto endpoints =
      co_await resolver.async_resolve(where.host, std::to_string(where.port), net::use_awaitable);
  co_await beast::get_lowest_layer(socket).async_connect(endpoints, net::use_awaitable);
  beast::get_lowest_layer(socket).socket().set_option(net::ip::tcp::no_delay(true));
  socket.binary(true);
  co_await socket.async_handshake(where.host + ":" + std::to_string(where.port), path,
                                  net::use_awaitable);
}

// Resumes when the pacer releases this send's slot (never, if the pacer stops first: the run
// then ends by stopping the io_context). The slot's callback runs on the pacer's thread and
// only posts to this coroutine's strand.
net::awaitable<void> wait_for_slot(Pacer& pacer) {
  const auto executor = co_await net::this_coro::executor;
  net::steady_timer slot(executor, net::steady_timer::time_point::max());
  pacer.enqueue([executor, &slot] { net::post(executor, [&slot] { slot.cancel(); }); });
  boost::system::error_code released;
  co_await slot.async_wait(net::redirect_error(net::use_awaitable, released));
}

// One pair: both sides connect, then the message goes back and forth until `stopping`, each
// send paced by `pacer` when there is one; with `acks` the sender also reads its echo.
net::awaitable<void> play_pair(HostPort where, std::string path, LoadStats& stats, Pacer* pacer,
                               bool acks, const std::atomic<bool>& stopping) {
  const auto executor = co_await net::this_coro::executor;
  Socket a(executor), b(executor);
  try {
    co_await connect(a, where, path);
    co_await connect(b, where, path);
    stats.connection_up();
    stats.connection_up();
    std::string message(kMessageBytes, 'x');
    beast::flat_buffer received;
    Socket* sender = &a;
    Socket* receiver = &b;
    while (!stopping.load(std::memory_order_relaxed)) {
      if (pacer != nullptr) co_await wait_for_slot(*pacer);
      const std::int64_t sent = Clock::now().time_since_epoch().count();
      std::memcpy(message.data(), &sent, sizeof sent);
      co_await sender->async_write(net::buffer(message), net::use_awaitable);
      received.clear();
      co_await receiver->async_read(received, net::use_awaitable);
      std::int64_t stamp = 0;
      if (received.size() >= sizeof stamp) {
        std::memcpy(&stamp, received.cdata().data(), sizeof stamp);
        stats.latency_us(micros_since(stamp));
      }
      if (acks) {  // a message counts once its sender has the relay's echo too
        received.clear();
        co_await sender->async_read(received, net::use_awaitable);
      }
      stats.accepted();
      std::swap(sender, receiver);
    }
  } catch (const std::exception&) {
    if (!stopping.load()) stats.error();
  }
}

}  // namespace

LoadReport run_relay(const LoadOptions& options, const Setup& setup) {
  LoadStats stats;
  std::atomic<bool> stopping{false};
  const auto where = server_host_port(options.server);
  net::io_context io;
  auto work = net::make_work_guard(io);
  std::unique_ptr<Pacer> pacer;
  if (options.rate > 0) pacer = std::make_unique<Pacer>(options.rate);
  for (std::uint32_t i = 0; i < options.rooms; ++i) {
    net::co_spawn(net::make_strand(io),
                  play_pair(*where, "/relay/" + std::to_string(i), stats, pacer.get(),
                            options.relay_acks, stopping),
                  net::detached);
  }
  if (pacer) pacer->start();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.threads; ++i) threads.emplace_back([&io] { io.run(); });

  auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  std::this_thread::sleep_for(seconds(options.warmup_s));
  stats.reset();
  const auto server_start = setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;
  const auto measured_from = Clock::now();
  std::this_thread::sleep_for(seconds(options.duration_s));
  const auto snapshot = stats.snapshot();
  const double measured = std::chrono::duration<double>(Clock::now() - measured_from).count();
  const auto server_end = setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;

  stopping = true;
  if (pacer) pacer->stop();  // before the io_context: no slot is released into a stopped run
  work.reset();
  // A pair waiting on a relay that no longer answers would keep io.run() going: bounded.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  io.stop();
  for (auto& t : threads) t.join();

  LoadReport report;
  report.mode = "relay";
  report.relay_acks = options.relay_acks;
  report.server = options.server;
  report.rooms = options.rooms;
  report.target_rate = options.rate;
  report.seconds = measured;
  report.warmup_seconds = options.warmup_s;  // pairs connect within it; not waited for
  report.commands = report.accepted = snapshot.accepted;
  report.errors = snapshot.errors;
  report.connections = snapshot.connections < 0 ? 0 : static_cast<std::uint64_t>(snapshot.connections);
  report.latency = summarize(snapshot.latency_us);
  if (server_start && server_end) {
    report.server_usage =
        usage_between(*setup.server_pid, *server_start, *server_end, snapshot.commands);
  }
  return report;
}

}  // namespace mend::load
