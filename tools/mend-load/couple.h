// Couple: one room driver of mend-load. Two partners (and optionally one named observer), each a
// mend::client::Client on the run's shared io_context, each moved forward by an Autopilot. A
// partner acts after a think time (or at once in closed loop, or when the Pacer gives it a slot
// with --rate), waits out the reflection beat (RoomView.reflect_not_before_ms, and
// Rejection.retry_after_ms for TOO_SOON) with a timer, and has at most one command in flight,
// like a person. When the conversation reaches CLOSED, the couple asks for a new room.
//
// Latency: from sending a command to the OTHER partner receiving the first event it caused that
// this partner may see, matched by seq (CommandResult.first_seq..last_seq against Event.seq).
// The sender's result and the other's event may arrive in either order; both are handled.
//
// Integrity: each partner's delivered seqs must run 1, 2, 3, ... (gaps and duplicates counted),
// and every accepted command's events must reach its sender (counted missing when the room is
// closed without them). A command answered UNAVAILABLE is retried with its command_id.
//
// Threading: all of a couple's clients, handlers and timers run on one strand of the io_context,
// so a couple's state needs no lock. open_room() and close_room() block (HTTP, Client::stop) and
// must be called from a worker thread, never from an io thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "mend/autopilot.h"
#include "mend/client.h"
#include "mend/http_client.h"
#include "options.h"
#include "pacer.h"
#include "stats.h"

namespace mend::load {

// What every couple of a run shares. Outlives the couples.
struct RunContext {
  boost::asio::io_context& io;
  const LoadOptions& options;
  LoadStats& stats;
  const client::HttpClient& http;
  std::string websocket_url;
  std::string ca_file;
  Pacer* pacer = nullptr;                       // set with --rate
  std::atomic<bool>& stopping;
  // Called (on the couple's strand) when a conversation closed: schedule close_room() and
  // open_room() on a worker.
  std::function<void(std::uint32_t couple_index)> restart;
};

class Couple : public std::enable_shared_from_this<Couple> {
 public:
  using Clock = std::chrono::steady_clock;

  Couple(RunContext& run, std::uint32_t index, std::uint64_t seed);

  // Creates a room (POST /v1/rooms) and starts its clients. Blocking; worker thread only.
  // Returns false (and counts an error) when the room could not be created.
  bool open_room();
  // Whether both partners are online and caught up with the room (the end of a run waits for
  // it, so that what the server stored was delivered). Blocking; worker or main thread only.
  bool caught_up();
  // Stops and drops the clients of the current room, counting its integrity figures. Blocking;
  // worker thread only.
  void close_room();

 private:
  static constexpr std::size_t kSeats = 3;  // partner A, partner B, observer
  static constexpr std::size_t kSeen = 64;  // events remembered per partner for late results

  struct Expectation {
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    Clock::time_point sent;
  };
  struct Seat {
    std::shared_ptr<client::Client> client;
    client::Autopilot pilot;
    bool busy = false;    // a command in flight, a timer armed, or waiting at the pacer
    bool online = false;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::deque<Expectation> expectations;  // own accepted commands, not yet seen by the other
    std::deque<std::pair<std::uint64_t, Clock::time_point>> seen;  // seq, when received
    // Integrity (partners): the last seq delivered, and the last seqs of own accepted commands
    // whose events were not delivered to this partner yet (the SDK delivers a command's events
    // before its result, so these resolve at once unless something was lost).
    std::uint64_t last_seq = 0;
    std::deque<std::uint64_t> awaited;
    bool caught_up = false;  // online, and the replay after its last Welcome is done
    // The command in flight, kept to retry it with its command_id after UNAVAILABLE (the server
    // may have stored it after all; only the same id gets its stored result, never a double).
    std::optional<v1::Command> sending;
    std::optional<v1::Command> retry;
  };

  client::ClientHandlers handlers_for(std::size_t seat, std::uint64_t generation);
  client::AutopilotScript script_for(std::size_t seat) const;

  // On the strand.
  void maybe_act(std::size_t seat);
  void act(std::uint64_t generation, std::size_t seat);
  void go_after(std::size_t seat, std::chrono::milliseconds delay, bool through_pacer);
  void on_outcome(std::uint64_t generation, std::size_t seat, Clock::time_point sent,
                  const client::CommandOutcome& outcome);
  void on_event(std::size_t seat, std::uint64_t seq);
  void on_reset(std::size_t seat, std::uint64_t last_seq);
  // Forgets the awaited commands whose events the seat has seen.
  static void drop_delivered(Seat& seat);
  void on_accepted(std::size_t seat, std::uint64_t first, std::uint64_t last,
                   Clock::time_point sent);
  void on_state(std::size_t seat, client::ConnectionState state);
  void finished();
  bool current(std::uint64_t generation) const { return generation == generation_; }
  std::chrono::milliseconds think_time();

  RunContext& run_;
  const std::uint32_t index_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::array<Seat, kSeats> seats_;
  std::uint64_t generation_ = 0;  // bumped per room; stale handlers compare and return
  bool finishing_ = false;
  bool observer_started_ = false;
  std::mt19937_64 random_;
};

}  // namespace mend::load
