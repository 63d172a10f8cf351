// RoomCore (room_core.h) alone: calls in, effects out, no executor, no store, no clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <google/protobuf/util/message_differencer.h>

#include "mend/v1/frames.pb.h"
#include "server/engine/invariant.h"
#include "server/engine/limits.h"
#include "server/engine/templates.h"
#include "server/rooms/privacy.h"
#include "server/rooms/room_core.h"
#include "tests/engine/room_fixture.h"

namespace mend::rooms {
namespace {

constexpr engine::TimeMs kStart = 1'700'000'000'000;

v1::Actor role(v1::Role r) {
  v1::Actor actor;
  actor.set_role(r);
  return actor;
}

struct CoreFixture {
  explicit CoreFixture(Decide decide = engine::decide)
      : core{"r1", RoomCoreLimits{}, nullptr, std::move(decide)} {
    auto loaded = engine::TemplateCatalog::load(std::string(MEND_SOURCE_DIR) + "/server/templates");
    REQUIRE(loaded.catalog.has_value());
    const v1::Template* tmpl = loaded.catalog->find("speaker-listener");
    REQUIRE(tmpl != nullptr);
    engine::RoomSetup setup{"", "Ana", "Ben", {"dr-lee"}, ""};
    created = engine::create_room(*tmpl, setup, kStart);
    core.load({created}, 1, /*results_known=*/true, kStart);
    core.on_attach(1, role(v1::PARTNER_A), {}, kStart);
    core.on_attach(2, role(v1::PARTNER_B), {}, kStart);
  }

  // Runs `command` for connection 1 (partner A) and returns the append it asks for.
  store::AppendRequest submit_accepted(const std::string& id, engine::TimeMs now) {
    v1::Command command;
    command.set_command_id(id);
    command.mutable_approve_observer()->set_observer("dr-lee");
    Effects fx = core.on_command(1, command, {}, now);
    REQUIRE(fx.store.has_value());
    REQUIRE(std::holds_alternative<store::AppendRequest>(*fx.store));
    return std::get<store::AppendRequest>(*fx.store);
  }

  RoomCore core;
  v1::Event created;
};

std::vector<v1::ServerFrame> frames_to(const Effects& fx, ConnectionId to) {
  std::vector<v1::ServerFrame> frames;
  for (const Output& output : fx.out) {
    const auto* send = std::get_if<SendFrame>(&output);
    if (send == nullptr || send->to != to) continue;
    REQUIRE(frames.emplace_back().ParseFromString(*send->frame.bytes));
  }
  return frames;
}

TEST_CASE("an append whose answer was lost but which committed is read back, applied and "
          "delivered before the next command is decided") {
  CoreFixture f;
  const store::AppendRequest append = f.submit_accepted("c1", kStart + 10);
  Effects failed = f.core.on_appended(
      store::StoreError{store::StoreErrorCode::kUnavailable, "lost"}, kStart + 20);
  // The sender hears UNAVAILABLE, and the core reads the store before anything else.
  REQUIRE(frames_to(failed, 1).size() == 1);
  CHECK(frames_to(failed, 1)[0].items(0).result().rejection().code() == v1::UNAVAILABLE);
  REQUIRE(failed.store.has_value());
  REQUIRE(std::holds_alternative<ResyncRequest>(*failed.store));
  CHECK(std::get<ResyncRequest>(*failed.store).after_seq == 1);

  store::LoadResult stored;
  stored.events = append.events;  // it had committed
  Effects resynced = f.core.on_resynced(stored, kStart + 30);
  CHECK(f.core.state().last_seq == append.events.back().seq());
  const auto to_b = frames_to(resynced, 2);
  REQUIRE(to_b.size() == 1);
  CHECK(to_b[0].items(0).event().seq() == append.events.front().seq());
  CHECK_FALSE(resynced.store.has_value());
  CHECK_FALSE(f.core.working());
}

TEST_CASE("after a failed append no command is decided until the store was read") {
  CoreFixture f;
  f.submit_accepted("c1", kStart + 10);
  f.core.on_appended(store::StoreError{store::StoreErrorCode::kUnavailable, "down"}, kStart + 20);
  Effects read_failed = f.core.on_resynced(
      store::LoadResult{{}, store::StoreError{store::StoreErrorCode::kUnavailable, "down"}},
      kStart + 30);
  CHECK_FALSE(read_failed.store.has_value());
  REQUIRE(read_failed.deadline.has_value());  // the read is retried by the timer
  v1::Command retry;
  retry.set_command_id("c1");
  retry.mutable_approve_observer()->set_observer("dr-lee");
  Effects queued = f.core.on_command(1, retry, {}, kStart + 40);
  CHECK_FALSE(queued.store.has_value());  // waits for the read
  Effects retried = f.core.on_tick(*read_failed.deadline);
  REQUIRE(retried.store.has_value());
  CHECK(std::holds_alternative<ResyncRequest>(*retried.store));
}

TEST_CASE("a room loaded with the list of its recorded commands decides a new command id without "
          "a store read, and asks the store for an id it may have recorded") {
  CoreFixture f;
  auto digest = [](const store::CommandKey& key) {
    return std::hash<std::string>{}(key.participant + '\n' + key.command_id);
  };
  auto approve = [](const std::string& id) {
    v1::Command command;
    command.set_command_id(id);
    command.mutable_approve_observer()->set_observer("dr-lee");
    return command;
  };
  auto first_request = [&](std::shared_ptr<const store::RecordedCommands> recorded,
                           const std::string& id) {
    RoomCore core{"r1", RoomCoreLimits{}};
    core.load({f.created}, 1, /*results_known=*/false, kStart, std::move(recorded));
    core.on_attach(1, role(v1::PARTNER_A), {}, kStart);
    Effects fx = core.on_command(1, approve(id), {}, kStart);
    REQUIRE(fx.store.has_value());
    return *fx.store;
  };
  auto recorded = std::make_shared<const store::RecordedCommands>(
      digest, std::vector<std::uint64_t>{digest(store::CommandKey{"r1", "A", "sent-before"})});
  CHECK(std::holds_alternative<store::AppendRequest>(first_request(recorded, "new")));
  const auto retried = first_request(recorded, "sent-before");
  REQUIRE(std::holds_alternative<FindRequest>(retried));
  CHECK(std::get<FindRequest>(retried).key.command_id == "sent-before");
  // Without the list, every command id of a room it did not create needs the store's answer.
  CHECK(std::holds_alternative<FindRequest>(first_request(nullptr, "new")));
}

TEST_CASE("every frame names the highest seq it carries, ReplayDone's included") {
  CoreFixture f;
  const store::AppendRequest append = f.submit_accepted("c1", kStart + 10);
  Effects done = f.core.on_appended(std::nullopt, kStart + 20);
  for (const Output& output : done.out) {
    const auto& send = std::get<SendFrame>(output);
    CHECK(send.frame.last_seq == append.events.back().seq());
  }
  v1::Hello hello;
  Effects attached = f.core.on_attach(3, role(v1::PARTNER_A), hello, kStart + 30);
  bool saw_done = false;
  for (const Output& output : attached.out) {
    const auto* send = std::get_if<SendFrame>(&output);
    if (send == nullptr || send->to != 3) continue;
    v1::ServerFrame frame;
    REQUIRE(frame.ParseFromString(*send->frame.bytes));
    std::uint64_t highest = 0;
    for (const v1::ServerItem& item : frame.items()) {
      if (item.has_event()) highest = std::max(highest, item.event().seq());
      if (item.has_replay_done()) {
        highest = std::max(highest, item.replay_done().last_seq());
        saw_done = true;
      }
    }
    CHECK(send->frame.last_seq == highest);
  }
  CHECK(saw_done);
}

TEST_CASE("an observer not approved by both partners is refused at attach") {
  CoreFixture f;
  v1::Actor observer;
  observer.set_role(v1::OBSERVER);
  observer.set_observer("dr-lee");
  Effects fx = f.core.on_attach(9, observer, {}, kStart);
  CHECK(fx.attach_refused == CloseCode::kConsentRevoked);
  CHECK(fx.out.empty());
}

TEST_CASE("a command whose decision breaks an engine invariant is answered INTERNAL with nothing "
          "applied, and the room goes on serving") {
  int broken = 1;  // decisions left that break an invariant
  CoreFixture f([&broken](const engine::RoomState& state, const v1::Command& command,
                          const v1::Actor& actor, engine::TimeMs now) {
    if (broken > 0) {
      --broken;
      engine::invariant_failed("test: a broken invariant", __FILE__, __LINE__);
    }
    return engine::decide(state, command, actor, now);
  });
  const std::uint64_t last_seq = f.core.state().last_seq;
  v1::Command command;
  command.set_command_id("c1");
  command.mutable_approve_observer()->set_observer("dr-lee");

  Effects refused = f.core.on_command(1, command, {}, kStart + 10);
  CHECK_FALSE(refused.store.has_value());  // nothing appended, nor recorded as final
  CHECK(refused.committed_audit.empty());
  CHECK(frames_to(refused, 2).empty());    // the other partner hears nothing
  const auto to_a = frames_to(refused, 1);
  REQUIRE(to_a.size() == 1);
  REQUIRE(to_a[0].items_size() == 1);
  const v1::CommandResult& result = to_a[0].items(0).result();
  CHECK(result.command_id() == "c1");
  CHECK_FALSE(result.accepted());
  CHECK(result.rejection().code() == v1::INTERNAL);
  CHECK(result.rejection().message() ==
        "Something went wrong on our side and nothing was changed. Please try again.");
  CHECK(f.core.state().last_seq == last_seq);
  CHECK_FALSE(f.core.working());
  CHECK(f.core.take_unstored_refusals().empty());  // the server's fault, not the partner's

  // INTERNAL is transient: the same command_id is decided again, and accepted this time.
  Effects retried = f.core.on_command(1, command, {}, kStart + 20);
  REQUIRE(retried.store.has_value());
  REQUIRE(std::holds_alternative<store::AppendRequest>(*retried.store));
  CHECK(std::get<store::AppendRequest>(*retried.store).expected_last_seq == last_seq);
  Effects applied = f.core.on_appended(std::nullopt, kStart + 30);
  CHECK(f.core.state().last_seq > last_seq);
  REQUIRE_FALSE(frames_to(applied, 1).empty());
  CHECK(frames_to(applied, 1)[0].items(0).result().accepted());
  CHECK_FALSE(frames_to(applied, 2).empty());
}


// Checks that each frame in `fx` carries its recipient's whole view of `state` (engine::view),
// and nothing of a view built before it; returns the number of frames.
int check_views(const Effects& fx, const engine::RoomState& state,
                const std::map<ConnectionId, v1::Actor>& viewers) {
  int frames = 0;
  for (const Output& output : fx.out) {
    const auto* send = std::get_if<SendFrame>(&output);
    if (send == nullptr) continue;
    v1::ServerFrame frame;
    REQUIRE(frame.ParseFromString(*send->frame.bytes));
    CHECK(google::protobuf::util::MessageDifferencer::Equals(
        frame.view(), engine::view(state, viewers.at(send->to))));
    ++frames;
  }
  return frames;
}

TEST_CASE("a fan-out builds one view per distinct viewer who hears of the event, and shares "
          "nothing across viewers") {
  CoreFixture f;
  auto run = [&f](ConnectionId from, const std::string& id, auto fill) {
    v1::Command command;
    command.set_command_id(id);
    fill(command);
    Effects fx = f.core.on_command(from, command, {}, kStart + 10);
    REQUIRE(fx.store.has_value());
    REQUIRE(std::holds_alternative<store::AppendRequest>(*fx.store));
    const std::uint64_t before = f.core.views_built();
    Effects applied = f.core.on_appended(std::nullopt, kStart + 20);
    return std::make_pair(f.core.views_built() - before, std::move(applied));
  };
  auto approve = [](v1::Command& c) { c.mutable_approve_observer()->set_observer("dr-lee"); };
  const auto [by_a, a_fx] = run(1, "a-approves", approve);
  CHECK(by_a == 2);  // A (the sender) and B
  const auto [by_b, b_fx] = run(2, "b-approves", approve);
  CHECK(by_b == 2);
  v1::Actor observer;
  observer.set_role(v1::OBSERVER);
  observer.set_observer("dr-lee");
  Effects attached = f.core.on_attach(3, observer, {}, kStart + 30);
  REQUIRE_FALSE(attached.attach_refused.has_value());
  const auto [consent, fx] = run(1, "a-consents", [](v1::Command& c) {
    c.mutable_consent()->mutable_terms()->add_observers("dr-lee");  // keeps the observer
  });
  CHECK(consent == 3);  // A, B and the observer: three viewers, three views
  std::set<const std::string*> bytes;
  for (const Output& output : fx.out) {
    if (const auto* send = std::get_if<SendFrame>(&output)) bytes.insert(send->frame.bytes.get());
  }
  CHECK(bytes.size() == 3);  // each viewer's frame differs (its own view)
  // Each frame's view is its viewer's whole view, and nothing of a view built before it.
  const std::map<ConnectionId, v1::Actor> viewers = {
      {1, role(v1::PARTNER_A)}, {2, role(v1::PARTNER_B)}, {3, observer}};
  CHECK(check_views(fx, f.core.state(), viewers) == 3);
}

TEST_CASE("the shared texts kept across fan-outs follow the room: consent, the opening's form, "
          "the opening's texts and the first stage") {
  CoreFixture f;
  const std::map<ConnectionId, v1::Actor> viewers = {{1, role(v1::PARTNER_A)},
                                                     {2, role(v1::PARTNER_B)}};
  engine::TimeMs now = kStart;
  auto run = [&](ConnectionId from, const std::string& id, const std::string& text) {
    v1::Command command = engine::testing::parse_command(text);
    command.set_command_id(id);
    Effects fx = f.core.on_command(from, command, {}, now += 10);
    REQUIRE(fx.store.has_value());
    REQUIRE(std::holds_alternative<store::AppendRequest>(*fx.store));  // accepted
    Effects applied = f.core.on_appended(std::nullopt, now += 10);
    CHECK(check_views(applied, f.core.state(), viewers) == 2);
  };
  run(1, "a-consents", "consent { terms { } }");
  run(2, "b-consents", "consent { terms { } }");
  REQUIRE(f.core.state().phase == v1::PHASE_OPENING);  // the startup form shows
  run(1, "a-opens", R"(open { intention: "to understand" topic: "the move" )"
                    R"(startup { feeling: "worried" situation: "the move" need: "time" } })");
  CHECK(f.core.state().topic == "the move");
  CHECK(f.core.state().startup.need == "time");
  REQUIRE(engine::view(f.core.state(), role(v1::PARTNER_B)).stage_name() == "the-floor");
  // The intention and the topic change alone (the stage stays).
  const std::uint64_t opening = f.core.state().messages.front().seq;
  run(1, "a-retracts", "retract { seq: " + std::to_string(opening) + " }");
  CHECK(f.core.state().intention == engine::kRetractedText);
  CHECK(f.core.state().topic == engine::kRetractedText);
}

// A conversation of some length, loaded into a core that keeps a window of 4 events.
struct WindowFixture {
  WindowFixture() {
    room.open();
    for (int i = 0; i < 5; ++i) {
      room.mirror_round(engine::testing::partner_a(), engine::testing::partner_b());
      room.ok(engine::testing::partner_a(), "more {}");
    }
    RoomCoreLimits limits;
    limits.log_window_events = 4;
    core.emplace("r1", limits);
    core->load(room.events, 1, /*results_known=*/true, room.now);
    v1::Hello here;
    here.set_resume_after_seq(last_seq());
    core->on_attach(2, role(v1::PARTNER_B), here, room.now);
  }
  std::uint64_t last_seq() const { return room.events.size(); }
  // What Store::load(room, after_seq) would answer.
  store::LoadResult stored_after(std::uint64_t after_seq) const {
    store::LoadResult loaded;
    loaded.events.assign(room.events.begin() + static_cast<std::ptrdiff_t>(after_seq),
                         room.events.end());
    return loaded;
  }
  v1::Command retract_first_share() const {
    for (const v1::Event& event : room.events) {
      if (!event.has_shared()) continue;
      v1::Command command;
      command.set_command_id("retract-1");
      command.mutable_retract()->set_seq(event.seq());
      return command;
    }
    throw std::logic_error("no share");
  }

  engine::testing::Room room;
  std::optional<RoomCore> core;
};

TEST_CASE("a room keeps only its latest events in memory: at least its window, fewer than twice "
          "as many") {
  WindowFixture f;
  REQUIRE(f.last_seq() > 8);
  CHECK(f.core->state().last_seq == f.last_seq());
  CHECK(f.core->log().size() >= 4);
  CHECK(f.core->log().size() < 8);
  CHECK(f.core->log().back().seq() == f.last_seq());
  CHECK_FALSE(f.core->holds_whole_log());
  auto whole = f.core->whole_log(f.stored_after(0).events, f.core->epoch());
  REQUIRE(whole.has_value());
  CHECK(whole->size() == f.last_seq());
  CHECK_FALSE(f.core->whole_log({}, f.core->epoch()).has_value());  // the store's part is missing
}

TEST_CASE("a reconnect from before the window gets its whole replay read from the store, and "
          "nothing is decided meanwhile") {
  WindowFixture f;
  v1::Hello hello;
  hello.set_resume_after_seq(2);
  Effects waiting = f.core->on_attach(1, role(v1::PARTNER_A), hello, f.room.now);
  CHECK(frames_to(waiting, 1).empty());  // no Welcome before its replay can follow it
  REQUIRE(waiting.store.has_value());
  REQUIRE(std::holds_alternative<ReadRequest>(*waiting.store));
  CHECK(std::get<ReadRequest>(*waiting.store).after_seq == 2);
  v1::Command note;
  note.set_command_id("b-1");
  note.mutable_signal()->set_kind(v1::LISTENING);
  Effects queued = f.core->on_command(2, note, {}, f.room.now);
  CHECK_FALSE(queued.store.has_value());

  Effects replayed = f.core->on_read(f.stored_after(2), f.room.now);
  const auto to_a = frames_to(replayed, 1);
  REQUIRE_FALSE(to_a.empty());
  REQUIRE(to_a.front().items(0).has_welcome());
  CHECK(to_a.front().items(0).welcome().recovered());
  std::uint64_t expected = 3;
  bool done = false;
  for (const v1::ServerFrame& frame : to_a) {
    for (const v1::ServerItem& item : frame.items()) {
      if (item.has_event()) CHECK(item.event().seq() == expected++);
      if (item.has_replay_done()) done = item.replay_done().last_seq() == f.last_seq();
    }
  }
  CHECK(expected == f.last_seq() + 1);  // every event once, in order, none missing
  CHECK(done);
  // Then the waiting command is decided.
  REQUIRE(replayed.store.has_value());
  CHECK(std::holds_alternative<store::AppendRequest>(*replayed.store));
}

// The online participants a Presence item sent to `to` lists, if `fx` sends one.
std::optional<std::set<v1::Role>> presence_to(const Effects& fx, ConnectionId to) {
  std::optional<std::set<v1::Role>> online;
  for (const v1::ServerFrame& frame : frames_to(fx, to)) {
    for (const v1::ServerItem& item : frame.items()) {
      if (!item.has_presence()) continue;
      online.emplace();
      for (const v1::Actor& actor : item.presence().online()) online->insert(actor.role());
    }
  }
  return online;
}

// Partner A attached as connection 1 reconnects as connection 3 from seq 2, before the window.
Effects reconnect_from_before_window(WindowFixture& f) {
  v1::Hello here;
  here.set_resume_after_seq(f.last_seq());
  f.core->on_attach(1, role(v1::PARTNER_A), here, f.room.now);
  v1::Hello stale;
  stale.set_resume_after_seq(2);
  return f.core->on_attach(3, role(v1::PARTNER_A), stale, f.room.now);
}

TEST_CASE("while a reconnect's replay is read from the store, the partner sees the participant "
          "offline when the old connection goes and online when the new one is welcomed") {
  WindowFixture f;
  Effects waiting = reconnect_from_before_window(f);
  REQUIRE(waiting.store.has_value());
  REQUIRE(std::holds_alternative<ReadRequest>(*waiting.store));
  CHECK(presence_to(waiting, 2) == std::set<v1::Role>{v1::PARTNER_B});
  CHECK(frames_to(waiting, 3).empty());

  Effects welcomed = f.core->on_read(f.stored_after(2), f.room.now);
  CHECK(presence_to(welcomed, 2) == std::set<v1::Role>{v1::PARTNER_A, v1::PARTNER_B});
  CHECK(presence_to(welcomed, 3) == std::set<v1::Role>{v1::PARTNER_A, v1::PARTNER_B});
}

TEST_CASE("a reconnect that leaves while its replay is read stays offline for the partner, "
          "with one disconnection on the audit log") {
  WindowFixture f;
  Effects waiting = reconnect_from_before_window(f);
  CHECK(waiting.audit.empty());  // a replacement, not a departure (yet)
  Effects left = f.core->on_detach(3, f.room.now);
  CHECK_FALSE(presence_to(left, 2).has_value());  // told already
  REQUIRE(left.audit.size() == 1);
  CHECK(left.audit[0].kind() == v1::AUDIT_PARTICIPANT_DISCONNECTED);
  Effects answered = f.core->on_read(f.stored_after(2), f.room.now);
  CHECK(answered.out.empty());
}

TEST_CASE("a reconnect waiting for its replay while an erasure rewrites the history gets the "
          "whole rewritten history, not recovered") {
  WindowFixture f;
  // An exclusive operation holds the room, so the reconnect's read waits behind it.
  Effects started = f.core->queue_exclusive(7, f.room.now);
  REQUIRE(started.exclusive.has_value());
  v1::Hello stale;
  stale.set_resume_after_seq(2);
  stale.set_room_epoch(1);
  Effects waiting = f.core->on_attach(1, role(v1::PARTNER_A), stale, f.room.now);
  CHECK_FALSE(waiting.store.has_value());
  auto whole = f.core->whole_log(f.stored_after(0).events, f.core->epoch());
  REQUIRE(whole.has_value());
  const auto rewritten = privacy::erase_contributions(*whole, v1::PARTNER_A);
  REQUIRE_FALSE(rewritten.empty());
  for (const v1::Event& event : rewritten) f.room.events[event.seq() - 1] = event;
  f.core->apply_rewrite(*whole, rewritten, role(v1::PARTNER_A), v1::ERASURE_CONTRIBUTIONS);
  Effects reading = f.core->finish_exclusive(f.room.now);
  REQUIRE(reading.store.has_value());
  REQUIRE(std::holds_alternative<ReadRequest>(*reading.store));
  CHECK(std::get<ReadRequest>(*reading.store).after_seq == 0);  // from the beginning

  Effects replayed = f.core->on_read(f.stored_after(0), f.room.now);
  const auto to_a = frames_to(replayed, 1);
  REQUIRE_FALSE(to_a.empty());
  REQUIRE(to_a.front().items(0).has_welcome());
  CHECK_FALSE(to_a.front().items(0).welcome().recovered());
  std::uint64_t expected = 1;
  for (const v1::ServerFrame& frame : to_a) {
    for (const v1::ServerItem& item : frame.items()) {
      if (!item.has_event()) continue;
      CHECK(item.event().seq() == expected++);
      v1::Event copy = item.event();
      if (copy.actor().role() == v1::PARTNER_A) CHECK_FALSE(privacy::erase_texts(copy));
    }
  }
  CHECK(expected == f.last_seq() + 1);  // every event once, none missing
}

TEST_CASE("a failed read before the window is retried a second later, and a connection that left "
          "meanwhile gets nothing") {
  WindowFixture f;
  v1::Hello hello;
  hello.set_resume_after_seq(1);
  f.core->on_attach(1, role(v1::PARTNER_A), hello, f.room.now);
  Effects failed = f.core->on_read(
      store::LoadResult{{}, store::StoreError{store::StoreErrorCode::kUnavailable, "down"}},
      f.room.now);
  CHECK(failed.out.empty());
  REQUIRE(failed.deadline.has_value());
  CHECK(*failed.deadline == f.room.now + 1000);
  Effects retried = f.core->on_tick(*failed.deadline);
  REQUIRE(retried.store.has_value());
  CHECK(std::get<ReadRequest>(*retried.store).after_seq == 1);
  f.core->on_detach(1, *failed.deadline);
  Effects answered = f.core->on_read(f.stored_after(1), *failed.deadline + 5);
  CHECK(frames_to(answered, 1).empty());
  CHECK_FALSE(f.core->working());
}

TEST_CASE("a retracted message older than the window is read from the store and withdrawn "
          "there, and no replay shows its text meanwhile") {
  WindowFixture f;
  v1::Hello here;
  here.set_resume_after_seq(f.last_seq());
  f.core->on_attach(1, role(v1::PARTNER_A), here, f.room.now);
  const v1::Command retract = f.retract_first_share();
  const std::uint64_t seq = retract.retract().seq();
  REQUIRE(seq < f.core->log().front().seq());
  Effects appending = f.core->on_command(1, retract, {}, f.room.now);
  REQUIRE(appending.store.has_value());
  const auto append = std::get<store::AppendRequest>(*appending.store);
  for (const v1::Event& event : append.events) f.room.events.push_back(event);
  Effects applied = f.core->on_appended(std::nullopt, f.room.now);
  REQUIRE(applied.store.has_value());
  REQUIRE(std::holds_alternative<ReadRequest>(*applied.store));
  const std::uint64_t after = std::get<ReadRequest>(*applied.store).after_seq;
  CHECK(after == seq - 1);

  Effects read = f.core->on_read(f.stored_after(after), f.room.now);
  REQUIRE(read.store.has_value());
  REQUIRE(std::holds_alternative<RewriteRequest>(*read.store));
  const auto& rewrite = std::get<RewriteRequest>(*read.store);
  REQUIRE(rewrite.events.size() == 1);
  CHECK(rewrite.events[0].seq() == seq);
  CHECK(rewrite.events[0].shared().text() == engine::kRetractedText);

  // Before the rewrite commits, a whole log built from the store holds no retracted text.
  auto whole = f.core->whole_log(f.stored_after(0).events, f.core->epoch());
  REQUIRE(whole.has_value());
  CHECK((*whole)[seq - 1].shared().text() == engine::kRetractedText);
  CHECK(f.room.events[seq - 1].shared().text() != engine::kRetractedText);
}

TEST_CASE("a room whose conversation is full refuses a new message CONVERSATION_FULL, records "
          "the refusal, and still takes a retraction") {
  engine::testing::Room room(engine::testing::kAftermathLike);
  engine::testing::fill_messages(room);
  RoomCore core("r1", RoomCoreLimits{});
  core.load(room.events, 1, /*results_known=*/true, room.now);
  core.on_attach(1, role(v1::PARTNER_A), {}, room.now);
  v1::Command share;
  share.set_command_id("one-more");
  share.mutable_share()->set_text("one more thing");
  Effects refused = core.on_command(1, share, {}, room.now);
  REQUIRE(refused.store.has_value());
  REQUIRE(std::holds_alternative<RecordRequest>(*refused.store));  // definitive: kept for retries
  Effects answered = core.on_recorded(std::nullopt, room.now);
  const auto to_a = frames_to(answered, 1);
  REQUIRE(to_a.size() == 1);
  CHECK(to_a[0].items(0).result().rejection().code() == v1::CONVERSATION_FULL);
  CHECK(core.state().messages.size() == engine::limits::kConversationMessages.bound);

  v1::Command retract;
  retract.set_command_id("take-back");
  retract.mutable_retract()->set_seq(core.state().messages.front().seq);
  Effects appending = core.on_command(1, retract, {}, room.now);
  REQUIRE(appending.store.has_value());
  CHECK(std::holds_alternative<store::AppendRequest>(*appending.store));
}

}  // namespace
}  // namespace mend::rooms
