// RoomCore (room_core.h) alone: calls in, effects out, no executor, no store, no clock.
#include <doctest/doctest.h>

#include <algorithm>

#include "mend/v1/frames.pb.h"
#include "server/engine/templates.h"
#include "server/rooms/room_core.h"

namespace mend::rooms {
namespace {

constexpr engine::TimeMs kStart = 1'700'000'000'000;

v1::Actor role(v1::Role r) {
  v1::Actor actor;
  actor.set_role(r);
  return actor;
}

struct CoreFixture {
  CoreFixture() {
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

  v1::Event created;
  RoomCore core{"r1", RoomCoreLimits{}};
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

}  // namespace
}  // namespace mend::rooms
