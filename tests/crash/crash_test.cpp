// Crash test (DESIGN.md section 6): three rooms hold whole conversations through the SDK
// against a real mendd (sqlite store, durability full) that is killed with SIGKILL at random
// moments and started again on the same data directory and port.
//
// Each room plays a real template (all shipped templates, chosen by the seed) from the
// invitation to CLOSED: two ConversationPilots (tests/crash/conversation_pilot.h) consent,
// open, share, mirror, reflect, confirm or correct, answer more / no more, switch roles,
// pause (returning early or waiting for the check-in), take time-outs and return, repair,
// retract, signal, solve problems and close. A closed room is replaced by a new one. The
// templates are the shipped ones with short timings (reflection beat, default pause, soft
// turn hint), so pauses end and hints fire during the test; a TOO_SOON reflection is sent
// again after its retry_after_ms, as a real client would.
//
// Each kill aims at a part of the conversation (invitation and consent, opening, sharing,
// reflecting, overlays, problem solving, closing; in turn): the rooms play until one of them
// is in that part, a few milliseconds more, then the kill. After each kill the store (a copy
// of the files as the crash left them) is checked, and after each restart the clients:
// - every command answered accepted is stored exactly once with its original seqs, its stored
//   result is the one the client got, and the event at its first seq is the event *its*
//   command causes (kind, arguments, actor); a command unanswered at the kill but committed
//   is later answered with exactly its stored result;
// - every stored event belongs to exactly one accepted command, or is a SYSTEM event
//   (creation, timers): rejected commands and retried ids left no event, and no rejected
//   command has a stored result;
// - seqs are gap-free, never reused and never rewritten; no client ever saw an event the
//   store lost;
// - every client resumes (Welcome.recovered, never a reset) and has every event of its room
//   exactly once, in order, the same as its partner and the store;
// - the room's log replays through the engine (evolve) to exactly the view each client shows;
// - commands sent again with the same command_id get their original result;
// - a room whose creation over HTTP was answered just before a kill is stored (and played);
// - mendd logs no error across all of it.
// The checks are on data only, never on timing. tests/crash/pilot_test.cpp plays the same
// pilots through the pure engine, deterministically, as a check of the checks. The seed is printed; MEND_CRASH_SEED=<n>
// replays its choices (kill timing still varies), MEND_CRASH_KILLS=<n> sets the kills.
#include "mend/proto.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mend/client.h"
#include "mend/http_client.h"
#include "server/engine/engine.h"
#include "server/store/sqlite_store.h"
#include "tests/common/mendd_process.h"
#include "tests/common/templates_dir.h"
#include "tests/common/temp_dir.h"
#include "tests/crash/crash_checks.h"
#include "tests/crash/crash_player.h"

namespace mend::testing {
namespace {

namespace mc = mend::client;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr int kDefaultKills = 20;
#else
constexpr int kDefaultKills = 25;
#endif
constexpr int kRooms = 3;
constexpr int kMaxPlayBeforeAimMs = 600;  // the rooms play this long (random) before aiming
constexpr auto kAimBound = 1500ms;        // longest wait for the aimed-at part of a conversation
constexpr int kMaxAfterAimMs = 25;        // the kill lands this much (random) after the aim
constexpr auto kQuiesceBound = 60s;

const std::array<const char*, 5> kTemplates = {"speaker-listener", "imago-dialogue",
                                               "aftermath-of-a-fight", "dreams-within-conflict",
                                               "stress-reducing-talk"};

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::uint64_t env_seed() {
  const char* value = std::getenv("MEND_CRASH_SEED");
  if (value != nullptr && *value != '\0') return std::strtoull(value, nullptr, 10);
  return std::random_device{}();
}

// The parts of a conversation the kills aim at.
enum class Part { kInvitation, kOpening, kSharing, kReflecting, kOverlay, kSolution, kClosing };
constexpr std::array<Part, 7> kParts = {Part::kInvitation, Part::kOpening,   Part::kSharing,
                                        Part::kReflecting, Part::kOverlay,   Part::kSolution,
                                        Part::kClosing};

const char* part_name(Part part) {
  switch (part) {
    case Part::kInvitation: return "invitation/consent";
    case Part::kOpening: return "opening";
    case Part::kSharing: return "sharing";
    case Part::kReflecting: return "mirroring/reflecting/confirming";
    case Part::kOverlay: return "pause/check-in/time-out";
    case Part::kSolution: return "solution gate/problem solving";
    case Part::kClosing: return "closing";
  }
  return "?";
}

std::optional<Part> part_of(v1::Phase phase) {
  switch (phase) {
    case v1::PHASE_INVITED:
    case v1::PHASE_CONSENT: return Part::kInvitation;
    case v1::PHASE_OPENING: return Part::kOpening;
    case v1::PHASE_SPEAKING: return Part::kSharing;
    case v1::PHASE_MIRRORING:
    case v1::PHASE_CONFIRMING:
    case v1::PHASE_MORE:
    case v1::PHASE_SUMMARY:
    case v1::PHASE_VALIDATION:
    case v1::PHASE_EMPATHY:
    case v1::PHASE_APOLOGY_RESPONSE: return Part::kReflecting;
    case v1::PHASE_PAUSED:
    case v1::PHASE_CHECK_IN:
    case v1::PHASE_TIMED_OUT: return Part::kOverlay;
    case v1::PHASE_SOLUTION_GATE:
    case v1::PHASE_PROBLEM_SOLVING: return Part::kSolution;
    case v1::PHASE_CLOSING: return Part::kClosing;
    default: return std::nullopt;
  }
}

// The shipped templates with short timings, written to `dir`: a 25 ms reflection beat, 1 s
// default pauses and 1 s soft turn hints (where a stage has one).
void write_fast_templates(const fs::path& dir) {
  write_shipped_templates(dir, [](v1::Template& tmpl) {
    tmpl.mutable_timing()->set_reflection_beat_ms(25);
    tmpl.mutable_timing()->set_pause_default_s(1);
    for (v1::Stage& stage : *tmpl.mutable_stages()) {
      if (stage.soft_turn_s() > 0) stage.set_soft_turn_s(1);
    }
  });
}

// Calls a store operation and waits for its completion.
template <typename R, typename F>
R wait_store(F&& call) {
  std::promise<R> promise;
  auto future = promise.get_future();
  call([&promise](R result) { promise.set_value(std::move(result)); });
  return future.get();
}

// One conversation: a room and its two partners, and what the store checks verified so far.
struct Room {
  int number = 0;
  std::string id;
  std::string template_name;
  std::unique_ptr<Player> a;
  std::unique_ptr<Player> b;
  bool finished = false;  // CLOSED, checked, clients stopped
  std::vector<std::string> stored;       // serialized events verified in the store (seq i+1)
  std::set<std::string> verified;        // answered command ids whose store record was checked
  // Commands unanswered when the server died but committed: their stored result.
  std::map<std::string, v1::CommandResult> committed_unanswered;
  std::string name() const {
    return "room " + std::to_string(number) + " (" + template_name + ")";
  }
};

std::vector<AcceptedCommand> accepted_of(const Player::Snapshot& a, const Player::Snapshot& b) {
  std::vector<AcceptedCommand> accepted;
  for (const auto* s : {&a, &b}) {
    const std::string participant = s == &a ? "A" : "B";
    for (const auto& [id, answered] : s->answered) {
      if (answered.result.accepted()) {
        accepted.push_back({participant, answered.command, answered.result});
      }
    }
  }
  return accepted;
}

class CrashRun {
 public:
  explicit CrashRun(std::uint64_t seed) : rng_(seed) {}

  void run(int kills) {
    write_fast_templates(templates_.path());
    server_.emplace(std::vector<std::string>{
        "--data-dir", data_.path().string(), "--templates-dir", templates_.path().string(),
        "--store", "sqlite", "--durability", "full", "--threads", "2",
        "--commands-per-second", "100000", "--command-burst", "100000", "--log-level", "info",
        "--log-format", "text"});
    server_->start(0);
    port_ = server_->port();
    for (int r = 0; r < kRooms; ++r) new_room();

    std::vector<Part> aims(kParts.begin(), kParts.end());
    std::shuffle(aims.begin(), aims.end(), rng_);
    for (int kill = 1; kill <= kills; ++kill) {
      const Part aim = aims[static_cast<std::size_t>(kill - 1) % aims.size()];
      play_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int>(0, kMaxPlayBeforeAimMs)(rng_)));
      play_until([&] { return some_room_in(aim); }, kAimBound);
      if (some_room_in(aim)) ++aims_reached_[aim];
      play_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int>(0, kMaxAfterAimMs)(rng_)));
      record_kill_moment();
      kill_server();
      check_store_after_kill(kill);
      server_->start(port_);
      resend_some_answered(kill);
      quiesce(kill);
      check_clients(kill);
    }
    play_for(100ms);
    quiesce(kills + 1);
    check_clients(kills + 1);
    for (auto& room : rooms_) {
      room->a->stop();
      room->b->stop();
    }
    const int exit_code = server_->terminate();
    CHECK_MESSAGE(exit_code == 0, "mendd exit code " << exit_code << "; log tail:\n"
                                                      << server_->log());
    check_store(data_.path(), kills + 1, /*after_kill=*/false);
    collect_server_problems();
    for (const std::string& line : server_problems_) {
      std::cout << "mendd: " << line << "\n";
      CHECK_MESSAGE(line.find(" warning ") != std::string::npos,
                    "mendd logged an error during the crash test: " << line);
    }
    report(kills);
  }

 private:
  // --- Playing -------------------------------------------------------------------------

  v1::CreateRoomRequest room_request() {
    v1::CreateRoomRequest request;
    request.set_template_(kTemplates[std::uniform_int_distribution<std::size_t>(
        0, kTemplates.size() - 1)(rng_)]);
    request.set_partner_a_name("Alex");
    request.set_partner_b_name("Sam");
    return request;
  }

  void new_room() {
    const v1::CreateRoomRequest request = room_request();
    auto created = mc::HttpClient({server_->http_url(), {}, {}, 10s}).create_room(request);
    REQUIRE_MESSAGE(created.ok(), "creating a " << request.template_() << " room");
    add_room(request.template_(), *created.value);
  }

  // Starts the partners of a created room (they connect once the server is up).
  void add_room(const std::string& template_name, const v1::CreateRoomResponse& created) {
    auto room = std::make_unique<Room>();
    room->number = static_cast<int>(rooms_.size()) + 1;
    room->template_name = template_name;
    room->id = created.room_id();
    for (const v1::Invite& invite : created.invites()) {
      const bool is_a = invite.participant().role() == v1::PARTNER_A;
      auto player = std::make_unique<Player>(wakeup_, room->number, is_a ? "A" : "B",
                                             server_->ws_url(), invite.token(), rng_());
      (is_a ? room->a : room->b) = std::move(player);
    }
    REQUIRE(room->a);
    REQUIRE(room->b);
    room->a->start();
    room->b->start();
    rooms_.push_back(std::move(room));
  }

  std::size_t active_rooms() const {
    return static_cast<std::size_t>(std::count_if(
        rooms_.begin(), rooms_.end(), [](const auto& room) { return !room->finished; }));
  }

  // Kills the server, sometimes while a room is being created over HTTP (on another thread):
  // a creation answered before the kill must be stored; its room is then played too.
  void kill_server() {
    std::future<mc::HttpResult<v1::CreateRoomResponse>> creating;
    const v1::CreateRoomRequest request = room_request();
    if (std::uniform_int_distribution<int>(0, 2)(rng_) == 0) {
      creating = std::async(std::launch::async, [request, url = server_->http_url()] {
        return mc::HttpClient({url, {}, {}, 10s}).create_room(request);
      });
      play_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 4)(rng_)));
    }
    server_->kill9();
    collect_server_problems();
    if (!creating.valid()) return;
    auto created = creating.get();  // bounded by the HTTP client's timeout
    if (!created.ok()) {
      ++creations_lost_at_kill_;
      return;
    }
    ++creations_answered_at_kill_;
    add_room(request.template_(), *created.value);
  }

  // One round: every active partner moves if due; closed rooms are checked and replaced.
  // Waits (bounded, woken by any answer or view) until the next move is due.
  void play_round() {
    const auto now = Clock::now();
    auto wake_at = now + 20ms;
    std::size_t count = rooms_.size();  // rooms added this round start next round
    for (std::size_t i = 0; i < count; ++i) {
      Room& room = *rooms_[i];
      if (room.finished) continue;
      if (closed_and_settled(room)) {
        finish(room);
        if (active_rooms() < kRooms) new_room();
        continue;
      }
      for (Player* player : {room.a.get(), room.b.get()}) {
        player->step(now);
        wake_at = std::min(wake_at, player->next_due(now));
      }
    }
    wakeup_.wait_until(std::max(wake_at, now + 1ms));
  }

  template <typename Pred>
  void play_until(Pred done, std::chrono::milliseconds bound) {
    const auto until = Clock::now() + bound;
    while (!done() && Clock::now() < until) play_round();
  }
  void play_for(std::chrono::milliseconds duration) {
    play_until([] { return false; }, duration);
  }

  bool some_room_in(Part part) {
    for (auto& room : rooms_) {
      if (room->finished) continue;
      for (Player* player : {room->a.get(), room->b.get()}) {
        if (part_of(player->phase()) == part) return true;
      }
    }
    return false;
  }

  void record_kill_moment() {
    for (auto& room : rooms_) {
      if (room->finished) continue;
      const auto part = part_of(room->a->phase());
      if (part) ++kills_in_part_[*part];
    }
  }

  static bool closed_and_settled(Room& room) {
    for (Player* player : {room.a.get(), room.b.get()}) {
      if (player->phase() != v1::PHASE_CLOSED || !player->idle()) return false;
    }
    const auto a = room.a->snapshot();
    const auto b = room.b->snapshot();
    return a.consistent() && b.consistent() && a.events.size() == b.events.size();
  }

  // A closed conversation: the full client checks once more, then its clients stop.
  void finish(Room& room) {
    check_room_clients(room, "closed");
    room.a->stop();
    room.b->stop();
    room.finished = true;
    ++conversations_closed_;
  }

  // --- Checks after a restart ----------------------------------------------------------

  // Until every command was answered and both partners of every room have the same events
  // and a view of the last of them. No new moves meanwhile (timers may still fire).
  void quiesce(int kill) {
    const auto deadline = Clock::now() + kQuiesceBound;
    auto settled = [&] {
      for (auto& room : rooms_) {
        if (room->finished) continue;
        if (!room->a->idle() || !room->b->idle()) return false;
        const auto a = room->a->snapshot();
        const auto b = room->b->snapshot();
        if (!a.consistent() || !b.consistent() || a.events.size() != b.events.size()) {
          return false;
        }
        for (const auto& command : accepted_of(a, b)) {
          if (command.result.last_seq() > a.events.size()) return false;
        }
      }
      return true;
    };
    while (!settled()) {
      if (Clock::now() > deadline) {
        FAIL("after kill " << kill << " the clients did not settle within "
                           << kQuiesceBound.count() << " s; server log tail:\n"
                           << server_->log());
      }
      wakeup_.wait_until(Clock::now() + 20ms);
    }
  }

  void check_clients(int kill) {
    for (auto& room : rooms_) {
      if (!room->finished) check_room_clients(*room, "after kill " + std::to_string(kill));
    }
  }

  void check_room_clients(Room& room, const std::string& moment) {
    const std::string where = room.name() + ", " + moment + " (clients)";
    INFO(where);
    const auto a = settled_snapshot(*room.a);
    const auto b = settled_snapshot(*room.b);
    for (const auto* s : {&a, &b}) {
      CHECK_MESSAGE(s->sdk_errors.empty(), (s->sdk_errors.empty() ? "" : s->sdk_errors[0]));
      CHECK(s->resets == 0);  // every resume recovered: nothing acknowledged was lost
      CHECK(s->pending.empty());
      // Every event exactly once, in order, without gaps.
      for (std::size_t i = 0; i < s->events.size(); ++i) REQUIRE(s->events[i].seq() == i + 1);
    }
    // The same events for both, except that a message retracted after one partner received
    // it live reaches the other, who resumed after the retraction, withdrawn ("[retracted]").
    // A timer may have fired since the rooms settled, its event not yet delivered to both:
    // the longer log's extra events can only be SYSTEM ones.
    // The partner who holds the withdrawal resumed after the retraction, so holds it too.
    const auto retracted_in = [](const Player::Snapshot& s, std::uint64_t seq) {
      return std::any_of(s.events.begin(), s.events.end(), [seq](const v1::Event& e) {
        return e.has_retracted() && e.retracted().seq() == seq;
      });
    };
    const std::size_t common = std::min(a.events.size(), b.events.size());
    for (std::size_t i = 0; i < common; ++i) {
      const std::string a_bytes = a.events[i].SerializeAsString();
      const std::string b_bytes = b.events[i].SerializeAsString();
      if (a_bytes == b_bytes) continue;
      INFO("seq ", i + 1, " differs: ", a.events[i].ShortDebugString(), " against ",
           b.events[i].ShortDebugString());
      REQUIRE(((same_or_withdrawn(a.events[i], b_bytes) && retracted_in(a, i + 1)) ||
               (same_or_withdrawn(b.events[i], a_bytes) && retracted_in(b, i + 1))));
    }
    const auto& log = a.events.size() >= b.events.size() ? a.events : b.events;
    for (std::size_t i = common; i < log.size(); ++i) {
      CHECK(log[i].actor().role() == v1::SYSTEM);
    }
    // Commands the store had committed before their answer: answered with that result.
    for (const auto& [id, result] : room.committed_unanswered) {
      INFO("command " << id << " was committed but unanswered at a kill");
      const auto& answered = id.find("-A-") != std::string::npos ? a.answered : b.answered;
      const auto it = answered.find(id);
      REQUIRE(it != answered.end());
      CHECK(it->second.result.SerializeAsString() == result.SerializeAsString());
    }
    check_event_ownership(log, accepted_of(a, b), where);
    check_replays_to(a.events, a.view, where + ", partner A's view");
    check_replays_to(b.events, b.view, where + ", partner B's view");
  }

  // A snapshot whose view shows its last event (a timer's frame may be half delivered).
  Player::Snapshot settled_snapshot(Player& player) {
    const auto deadline = Clock::now() + kQuiesceBound;
    for (;;) {
      auto snapshot = player.snapshot();
      if (snapshot.consistent() || Clock::now() > deadline) return snapshot;
      wakeup_.wait_until(Clock::now() + 5ms);
    }
  }

  // Sends a few accepted commands again with their ids: each gets its original answer and is
  // not applied again (check_event_ownership would find its second events).
  void resend_some_answered(int kill) {
    std::vector<Player*> live;
    for (auto& room : rooms_) {
      if (!room->finished) live.insert(live.end(), {room->a.get(), room->b.get()});
    }
    for (int i = 0; i < 2 && !live.empty(); ++i) {
      Player& player = *live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_)];
      const auto answered = player.snapshot().answered;
      std::vector<const Answered*> accepted;
      for (const auto& [id, a] : answered) {
        if (a.result.accepted()) accepted.push_back(&a);
      }
      if (accepted.empty()) continue;
      const Answered& original =
          *accepted[std::uniform_int_distribution<std::size_t>(0, accepted.size() - 1)(rng_)];
      INFO("after kill " << kill << ": re-sending " << original.command.command_id());
      const mc::CommandOutcome outcome = player.resend(original.command);
      REQUIRE(outcome.error.ok());
      CHECK(outcome.result.SerializeAsString() == original.result.SerializeAsString());
      ++resent_;
    }
  }

  // --- Checks of the store -------------------------------------------------------------

  // Opens a copy of the files as the crash left them (mendd recovers the original itself).
  void check_store_after_kill(int kill) {
    TempDir copy("crash-copy");
    for (const auto& entry : fs::directory_iterator(data_.path())) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("mend.db", 0) == 0 || name == "master.key") {
        fs::copy_file(entry.path(), copy.path() / name);
      }
    }
    fs::permissions(copy.path() / "master.key", fs::perms::owner_read | fs::perms::owner_write);
    check_store(copy.path(), kill, /*after_kill=*/true);
  }

  void check_store(const fs::path& dir, int kill, bool after_kill) {
    store::SqliteStoreOptions options;
    options.data_dir = dir;
    auto opened = store::SqliteStore::open(options);
    REQUIRE_MESSAGE(opened.store, (opened.error ? opened.error->message : std::string()));
    auto& db = *opened.store;
    for (auto& room : rooms_) {
      check_room_store(db, *room, (after_kill ? "after kill " : "at the end, after ") +
                                      std::to_string(kill) + " kills (store)");
    }
    db.close();
  }

  void check_room_store(store::SqliteStore& db, Room& room, const std::string& moment) {
    const std::string where = room.name() + ", " + moment;
    INFO(where);
    // Snapshots first: a client cannot have seen an event the store does not have.
    const auto a = room.a->snapshot();
    const auto b = room.b->snapshot();
    auto loaded = wait_store<store::LoadResult>(
        [&](auto done) { db.load(room.id, 0, std::move(done)); });
    REQUIRE_MESSAGE(!loaded.error, "the room was created (answered) but is not stored");
    check_stored_events(room, loaded.events, {&a, &b});
    check_event_ownership(loaded.events, stored_commands(db, room, a, b), where);
  }

  // Gap-free; never rewritten or reused (what was verified before is still there, byte for
  // byte); nothing a client received was lost.
  // The stored event (or one a partner received) is the one seen before, or its withdrawal
  // after a retraction (same seq and kind, texts "[retracted]").
  static bool same_or_withdrawn(const v1::Event& stored, const std::string& seen_bytes) {
    if (stored.SerializeAsString() == seen_bytes) return true;
    v1::Event seen;
    if (!seen.ParseFromString(seen_bytes)) return false;
    return stored.seq() == seen.seq() && stored.body_case() == seen.body_case() &&
           stored.DebugString().find("[retracted]") != std::string::npos;
  }

  static void check_stored_events(Room& room, const std::vector<v1::Event>& events,
                                  std::initializer_list<const Player::Snapshot*> clients) {
    for (std::size_t i = 0; i < events.size(); ++i) REQUIRE(events[i].seq() == i + 1);
    REQUIRE(events.size() >= room.stored.size());
    for (std::size_t i = 0; i < room.stored.size(); ++i) {
      REQUIRE(same_or_withdrawn(events[i], room.stored[i]));
    }
    room.stored.clear();
    for (const auto& event : events) room.stored.push_back(event.SerializeAsString());
    for (const Player::Snapshot* s : clients) {
      REQUIRE(s->events.size() <= events.size());
      for (std::size_t i = 0; i < s->events.size(); ++i) {
        REQUIRE(same_or_withdrawn(events[i], s->events[i].SerializeAsString()));
      }
    }
  }

  // The accepted commands the store must account for. Each answered command's record (once:
  // records never change): an accepted one is stored with exactly the result the client got,
  // a rejected one is not stored (a retry would be decided again). A command unanswered when
  // the server died is committed or not; if committed it counts like an answered one, and its
  // answer after the restart must be this result.
  // The server's warning and error lines so far (each once; the log outlives restarts).
  void collect_server_problems() {
    static const std::regex kProblem(R"(^\S+ \S+ (warning|error|critical) )");
    std::istringstream log(server_->log());
    for (std::string line; std::getline(log, line);) {
      if (std::regex_search(line, kProblem)) server_problems_.insert(line);
    }
  }

  std::vector<AcceptedCommand> stored_commands(store::SqliteStore& db, Room& room,
                                               const Player::Snapshot& a,
                                               const Player::Snapshot& b) {
    std::vector<AcceptedCommand> accepted = accepted_of(a, b);
    for (const auto* s : {&a, &b}) {
      const std::string participant = s == &a ? "A" : "B";
      for (const auto& [id, answered] : s->answered) {
        if (!room.verified.insert(id).second) continue;
        INFO("command " << id << " answered " << answered.result.ShortDebugString());
        const auto found = find_result(db, room, participant, id);
        // Accepted results and definitive rejections are stored as answered; transient
        // rejections never are (a retry is decided again).
        if (answered.result.accepted() ||
            mend::engine::is_definitive(answered.result.rejection().code())) {
          REQUIRE(found);
          CHECK(found->SerializeAsString() == answered.result.SerializeAsString());
        } else {
          CHECK_FALSE(found);
        }
      }
      for (const auto& [id, command] : s->pending) {
        // Committed before its answer: an accepted result, or a definitive rejection recorded
        // before it was answered; either way the retry after the restart must get it.
        if (const auto found = find_result(db, room, participant, id)) {
          REQUIRE((found->accepted() ||
                   mend::engine::is_definitive(found->rejection().code())));
          room.committed_unanswered[id] = *found;
          if (found->accepted()) accepted.push_back({participant, command, *found});
        }
      }
    }
    return accepted;
  }

  static std::optional<v1::CommandResult> find_result(store::SqliteStore& db, const Room& room,
                                                      const std::string& participant,
                                                      const std::string& id) {
    auto found = wait_store<store::FindResult>([&](auto done) {
      db.find_result(store::CommandKey{room.id, participant, id}, std::move(done));
    });
    REQUIRE_FALSE(found.error);
    return found.result;
  }

  // --- Report ----------------------------------------------------------------------------

  void report(int kills) {
    std::map<std::string, std::size_t> commands;  // by outcome
    std::map<int, std::size_t> events_by_kind;
    std::size_t events = 0;
    for (auto& room : rooms_) {
      for (Player* player : {room->a.get(), room->b.get()}) {
        for (const auto& [id, answered] : player->snapshot().answered) {
          ++commands[answered.result.accepted()
                         ? "accepted"
                         : v1::RejectionCode_Name(answered.result.rejection().code())];
        }
      }
      for (const auto& event : room->a->snapshot().events) {
        ++events_by_kind[event.body_case()];
        ++events;
      }
    }
    std::cout << "crash test: " << kills << " kills; " << rooms_.size() << " rooms, "
              << conversations_closed_ << " conversations played to CLOSED; " << events
              << " events; commands:";
    for (const auto& [outcome, n] : commands) std::cout << " " << outcome << " " << n;
    std::size_t committed_unanswered = 0;
    for (auto& room : rooms_) committed_unanswered += room->committed_unanswered.size();
    std::cout << "; " << committed_unanswered << " committed but unanswered at a kill; "
              << resent_ << " re-sent with the same id; rooms created as the server was killed: "
              << creations_answered_at_kill_ << " answered (then stored and played), "
              << creations_lost_at_kill_ << " not answered\n  kills that landed in the part they "
              << "aimed at:";
    for (Part part : kParts) {
      std::cout << " " << part_name(part) << " " << aims_reached_[part] << ";";
    }
    std::cout << "\n  partner A of the rooms alive at the kills was in:";
    for (Part part : kParts) {
      std::cout << " " << part_name(part) << " " << kills_in_part_[part] << ";";
    }
    std::cout << "\n  events by kind:";
    const auto* descriptor = v1::Event::descriptor();
    for (const auto& [kind, n] : events_by_kind) {
      const auto* field = descriptor->FindFieldByNumber(kind);
      std::cout << " " << (field != nullptr ? field->name() : "?") << " " << n;
    }
    std::cout << "\n";
  }

  std::mt19937_64 rng_;
  TempDir data_{"crash"};
  TempDir templates_{"crash-templates"};
  std::optional<MenddProcess> server_;
  int port_ = 0;
  Wakeup wakeup_;
  std::vector<std::unique_ptr<Room>> rooms_;
  std::size_t resent_ = 0;
  std::size_t conversations_closed_ = 0;
  std::set<std::string> server_problems_;
  std::size_t creations_answered_at_kill_ = 0;  // created over HTTP just before a kill
  std::size_t creations_lost_at_kill_ = 0;
  std::map<Part, std::size_t> kills_in_part_;
  std::map<Part, int> aims_reached_;  // kills that landed in the part they aimed at
};

TEST_CASE("after SIGKILL at random moments of whole conversations accepted commands survive "
          "once, every event is its command's, and clients resume without gaps or duplicates") {
  const std::uint64_t seed = env_seed();
  const int kills = std::max(1, env_int("MEND_CRASH_KILLS", kDefaultKills));
  std::cout << "crash test: seed " << seed << " (MEND_CRASH_SEED=" << seed << " replays it), "
            << kills << " kills\n";
  const auto started = Clock::now();
  CrashRun run(seed);
  run.run(kills);
  std::cout << "crash test: took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                   .count()
            << " ms\n";
}

// A data directory with one room in it, made by a real mendd that stopped cleanly.
void make_data_dir(const fs::path& dir) {
  MenddProcess server({"--data-dir", dir.string(), "--templates-dir", shipped_templates_dir(),
                       "--log-level", "info"});
  server.start(0);
  mc::HttpClient http({server.http_url(), {}, {}, 10s});
  v1::CreateRoomRequest request;
  request.set_template_("speaker-listener");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  REQUIRE(http.create_room(request).ok());
  REQUIRE(server.terminate() == 0);
}

std::pair<int, std::string> start_on(const fs::path& dir) {
  return MenddProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir", dir.string(),
                                    "--templates-dir", shipped_templates_dir()});
}

TEST_CASE("mendd refuses to start on a damaged database with a clear message and exit code 3") {
  TempDir dir("crash");
  make_data_dir(dir.path());
  const fs::path db = dir.path() / store::SqliteStore::kDatabaseFile;
  {
    // Overwrite the middle of the file (pages of the schema and the events).
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(db));
    REQUIRE(size > 4096);
    file.seekp(size / 2);
    const std::string garbage(4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const auto [code, output] = start_on(dir.path());
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

TEST_CASE("mendd refuses to start on a truncated database") {
  TempDir dir("crash");
  make_data_dir(dir.path());
  const fs::path db = dir.path() / store::SqliteStore::kDatabaseFile;
  fs::resize_file(db, 100);
  const auto [code, output] = start_on(dir.path());
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

TEST_CASE("mendd refuses to start when the master key does not open the stored rooms") {
  TempDir dir("crash");
  make_data_dir(dir.path());
  const fs::path key = dir.path() / store::SqliteStore::kMasterKeyFile;
  {
    std::fstream file(key, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    REQUIRE_FALSE(bytes.empty());
    for (char& c : bytes) c = static_cast<char>(c ^ 0x5a);
    file.seekp(0);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto [code, output] = start_on(dir.path());
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

}  // namespace
}  // namespace mend::testing
