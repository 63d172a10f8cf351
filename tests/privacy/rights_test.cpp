// The partners' privacy rights over the wire (issue 10, DESIGN 3 and 7): retracted messages
// gone for good, observers not admitted see nothing of the conversation, revocation after the
// end, retention for rooms that never close, and access renewal after an invite expired. The
// real server in-process (privacy_support.h), driven over HTTP and the SDK.
#include "tests/privacy/privacy_support.h"

namespace mend::testing {
namespace {

constexpr const char* kRetracted = "[retracted]";
constexpr const char* kErased = "[erased]";

std::string all_events(const std::vector<v1::Event>& events) {
  std::string bytes;
  for (const v1::Event& event : events) bytes += event.DebugString();
  return bytes;
}

const v1::Event* event_at(const std::vector<v1::Event>& events, std::uint64_t seq) {
  for (const v1::Event& event : events) {
    if (event.seq() == seq) return &event;
  }
  return nullptr;
}

// Both partners approve Dr Kim and share the transcript with observers; Dr Kim joins.
std::unique_ptr<Party> admit_kim(PrivacyServer& server, Couple& c) {
  c.a.send(consent(30, {"Dr Kim"}, true));
  c.b.send(consent(30, {"Dr Kim"}, true));
  auto kim = std::make_unique<Party>(server.ws_url(), c.token(2));
  REQUIRE(kim->online());
  kim->send(cmd([](v1::Command& x) { x.mutable_join(); }));
  return kim;
}

v1::Command retract(std::uint64_t seq) {
  return cmd([seq](v1::Command& c) { c.mutable_retract()->set_seq(seq); });
}

TEST_CASE("a retracted message is gone for good: full replays, views and transcripts show it "
          "retracted, never its text, and a chunk never mirrored need not be mirrored") {
  PrivacyServer server;
  Couple c(server, {"Dr Kim"});
  const auto kim_party = admit_kim(server, c);
  Party& kim = *kim_party;
  const auto opened = c.a.send(open_with_secrets());
  const auto shared =
      c.a.send(cmd([](v1::Command& x) { x.mutable_share()->set_text("SHARE-SECRET-A"); }));
  const std::uint64_t chunk_seq = shared.result.first_seq();
  REQUIRE(c.b.wait([&] { return c.b.view().phase() == v1::PHASE_MIRRORING; }));

  // The chunk was never mirrored: once retracted, the speaker has the floor again.
  c.a.send(retract(chunk_seq));
  REQUIRE(c.b.wait([&] { return c.b.view().phase() == v1::PHASE_SPEAKING; }));
  server.clock.advance(5000);  // past the reflection beat: only the phase refuses the mirror
  const auto mirror = c.b.send(cmd([](v1::Command& x) {
    x.mutable_reflect()->set_kind(v1::MIRROR);
    x.mutable_reflect()->set_text("a mirror of nothing");
  }), false);
  CHECK(mirror.rejection_code() == v1::WRONG_PHASE);

  // The retracted opening leaves every view's intention and the topic it stated.
  c.a.send(retract(opened.result.first_seq()));
  REQUIRE(c.b.wait([&] { return c.b.view().intention() == kRetracted; }));
  CHECK(c.b.view().topic() == kRetracted);
  REQUIRE(kim.wait([&] { return kim.view().intention() == kRetracted; }));
  const auto view = c.http("GET", "", 1);
  REQUIRE(view.status == 200);
  CHECK_FALSE(contains(view.body, "INTENTION-SECRET-A"));
  CHECK_FALSE(contains(view.body, "TOPIC-SECRET-A"));

  // A fresh client (replay from seq 0) gets the retracted events with their texts withdrawn,
  // a partner and an observer alike.
  c.b.stop();
  kim.stop();
  for (int who : {1, 2}) {
    Party fresh(server.ws_url(), c.token(who));
    // Copied under the party's lock: the rest of the replay may still be arriving.
    std::vector<v1::Event> events;
    std::vector<v1::Welcome> welcomes;
    const bool replayed_all = fresh.wait([&] {
      events = fresh.events;
      welcomes = fresh.welcomes;
      return event_at(events, chunk_seq + 1) != nullptr;
    });
    const std::string replayed = all_events(events);
    INFO("events: " << replayed);
    REQUIRE(replayed_all);
    CHECK_FALSE(contains(replayed, "SHARE-SECRET-A"));
    CHECK_FALSE(contains(replayed, "INTENTION-SECRET-A"));
    CHECK_FALSE(contains(replayed, "TOPIC-SECRET-A"));
    CHECK(event_at(events, chunk_seq)->shared().text() == kRetracted);
    REQUIRE_FALSE(welcomes.empty());
    CHECK(welcomes.front().view().intention() == kRetracted);
  }
  // A resume that cannot be recovered (unknown epoch) starts from the same withdrawn log (the
  // SDK keeps only its view: the replayed events are older than it).
  {
    Party reset(server.ws_url(), c.token(1), 99, 3);
    REQUIRE(reset.wait([&] { return !reset.resets.empty(); }));
    CHECK_FALSE(reset.welcomes.front().recovered());
    CHECK(reset.resets.front().intention() == kRetracted);
    CHECK(reset.resets.front().topic() == kRetracted);
  }

  // Transcripts show both as retracted.
  for (int who : {0, 1, 2}) {
    const auto transcript = c.http("GET", "/transcript", who);
    REQUIRE(transcript.status == 200);
    CHECK(contains(transcript.body, kRetracted));
    CHECK_FALSE(contains(transcript.body, "SHARE-SECRET-A"));
    CHECK_FALSE(contains(transcript.body, "INTENTION-SECRET-A"));
  }

  // The speaker goes on: a new chunk is owed its mirror as usual.
  c.a.send(cmd([](v1::Command& x) { x.mutable_share()->set_text("a second try"); }));
  Party b_again(server.ws_url(), c.token(1));
  REQUIRE(b_again.wait([&] { return b_again.view().phase() == v1::PHASE_MIRRORING; }));
}

TEST_CASE("an observer both partners have not approved sees only who is in the room and that "
          "consent is pending, never the topic, the intention or any content") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim"});
  c.a.send(consent(30, {"Dr Kim"}));
  c.b.send(consent(30));  // B has not approved Dr Kim
  c.a.send(open_with_secrets());

  auto waiting_view = [&](bool approved_by_a, bool approved_by_b) {
    const auto answer = c.http("GET", "", 2);
    INFO("body: " << answer.body);
    REQUIRE(answer.status == 200);
    CHECK_FALSE(contains(answer.body, "TOPIC-SECRET"));
    CHECK_FALSE(contains(answer.body, "INTENTION-SECRET-A"));
    const v1::RoomView view = parse<v1::GetRoomResponse>(answer).view();
    CHECK(view.topic().empty());
    CHECK(view.intention().empty());
    CHECK(view.phase() == v1::PHASE_UNSPECIFIED);
    CHECK_FALSE(view.has_effective_terms());
    CHECK(view.last_seq() == 0);
    REQUIRE(view.participants_size() == 3);  // who is in the room
    CHECK(view.participants(0).name() == "Alex");
    const v1::ParticipantView& kim = view.participants(2);
    CHECK(kim.name() == "Dr Kim");
    CHECK(kim.approved_by_a() == approved_by_a);  // consent is pending
    CHECK(kim.approved_by_b() == approved_by_b);
  };
  waiting_view(true, false);

  c.b.send(cmd([](v1::Command& x) { x.mutable_approve_observer()->set_observer("Dr Kim"); }));
  const auto admitted = c.http("GET", "", 2);
  CHECK(contains(admitted.body, "INTENTION-SECRET-A"));

  c.a.send(cmd([](v1::Command& x) { x.mutable_revoke_observer()->set_observer("Dr Kim"); }));
  waiting_view(false, true);
}

TEST_CASE("partners can revoke an observer after the conversation closed, and a revoked observer "
          "can then neither attach, replay nor read the transcript") {
  PrivacyServer server;
  Couple c(server, {"Dr Kim"});
  admit_kim(server, c);  // joins, then goes offline
  c.a.send(open_with_secrets());
  c.a_leaves();
  REQUIRE(c.b.wait([&] { return c.b.view().phase() == v1::PHASE_CLOSED; }));
  CHECK(c.http("GET", "/transcript", 2).status == 200);  // admitted, also after the end
  Party kim(server.ws_url(), c.token(2));
  REQUIRE(kim.online());

  // After the end, revoking is the one thing a partner can still do in the room.
  CHECK(c.b.view().allowed_actions_size() == 1);
  c.b.send(cmd([](v1::Command& x) { x.mutable_revoke_observer()->set_observer("Dr Kim"); }));
  REQUIRE(kim.wait([&] { return kim.closed.has_value(); }));
  CHECK(kim.closed->close_code == 4503);

  check_error(c.http("GET", "/transcript", 2), 403, "OBSERVER_NOT_APPROVED");
  CHECK_FALSE(contains(c.http("GET", "", 2).body, "INTENTION-SECRET-A"));
  Party again(server.ws_url(), c.token(2));
  REQUIRE(again.wait([&] { return again.closed.has_value(); }));
  CHECK(again.closed->close_code == 4503);
  CHECK(again.events.empty());
  CHECK(again.welcomes.empty());

  // Other commands stay refused after the end; revoking twice is ALREADY_DONE.
  const auto late =
      c.a.send(cmd([](v1::Command& x) { x.mutable_signal()->set_kind(v1::LISTENING); }), false);
  CHECK(late.rejection_code() == v1::ROOM_CLOSED);
  const auto twice = c.b.send(
      cmd([](v1::Command& x) { x.mutable_revoke_observer()->set_observer("Dr Kim"); }), false);
  CHECK(twice.rejection_code() == v1::ALREADY_DONE);
  const auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_CONSENT_REVOKED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_OBSERVER_REMOVED) == 1);
}

TEST_CASE("a conversation that never closes is purged by the sweep once the agreed retention "
          "has run from its last activity") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(2), consent(2));  // then abandoned in the middle of a turn
  auto has_text = [&] { return contains(c.http("GET", "/transcript", 1).body, "SHARE-SECRET-A"); };
  server.clock.advance(2 * kDayMs - 1000);
  server.sweep();
  CHECK(has_text());
  server.clock.advance(2000);
  server.sweep();
  CHECK_FALSE(has_text());
  CHECK(contains(c.http("GET", "/transcript", 1).body, kErased));
  REQUIRE(c.b.wait([&] { return c.b.view().intention() == kErased; }));
  const auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_CONTENT_PURGED) == 1);

  // The couple may come back: new content is kept, and purged again after another retention.
  c.a.send(cmd([](v1::Command& x) { x.mutable_correct()->set_text("LATER-SECRET-A"); }));
  server.sweep();
  CHECK(contains(c.http("GET", "/transcript", 1).body, "LATER-SECRET-A"));
  server.clock.advance(2 * kDayMs + 1000);
  server.sweep();
  CHECK_FALSE(contains(c.http("GET", "/transcript", 1).body, "LATER-SECRET-A"));
}

TEST_CASE("an open conversation with retention 0 rests a day before it counts as abandoned") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server);
  c.talk(consent(0), consent(0));
  server.clock.advance(kDayMs - 1000);
  server.sweep();
  CHECK(contains(c.http("GET", "/transcript", 1).body, "SHARE-SECRET-A"));
  server.clock.advance(2000);
  server.sweep();
  CHECK_FALSE(contains(c.http("GET", "/transcript", 1).body, "SHARE-SECRET-A"));
}

TEST_CASE("a room whose partners never both consented keeps its topic at most 7 days after "
          "its last activity") {
  PrivacyServer server;
  Couple c(server);
  c.a.send(consent(30));  // B never answers
  server.clock.advance(7 * kDayMs - 1000);
  server.sweep();
  CHECK(c.a.view().topic() == "TOPIC-SECRET evenings");
  server.clock.advance(2000);
  server.sweep();
  REQUIRE(c.a.wait([&] { return c.a.view().topic() == kErased; }));
  CHECK(c.b.wait([&] { return c.b.view().topic() == kErased; }));
}

TEST_CASE("a partner renews an expired invite token and keeps the right to read, export and "
          "erase for as long as the conversation is kept") {
  PrivacyServer server;
  Couple c(server, {"Dr Kim"});
  c.talk(consent(30), consent(30));
  c.a_leaves();
  server.clock.advance(8 * kDayMs);  // the invites (7 days) expired; retention is 30 days
  check_error(c.http("GET", "/transcript", 0), 401, "UNAUTHENTICATED");

  const auto renewed = c.http("POST", "/access", 0);
  REQUIRE(renewed.status == 200);
  const auto access = parse<v1::RenewAccessResponse>(renewed);
  CHECK(access.room_id() == c.room.room_id());
  CHECK(access.invite().participant().role() == v1::PARTNER_A);
  CHECK(access.invite().expires_at_ms() == server.clock.now() + 7 * kDayMs);
  const std::string& token = access.invite().token();
  const std::string path = c.path();

  const auto transcript = server.http("GET", path + "/transcript", token);
  REQUIRE(transcript.status == 200);
  CHECK(contains(transcript.body, "SHARE-SECRET-A"));
  const auto audit = parse<v1::GetAuditResponse>(server.http("GET", path + "/audit", token));
  CHECK(count_kind(audit, v1::AUDIT_ACCESS_RENEWED) == 1);
  CHECK(server.http("DELETE", path + "/contributions", token).status == 200);

  // Observers cannot renew; forged tokens and other rooms' tokens are refused.
  check_error(c.http("POST", "/access", 2), 403, "PARTNERS_ONLY");
  check_error(server.http("POST", path + "/access", token + "x"), 401, "UNAUTHENTICATED");
  check_error(c.http("GET", "/access", 0), 405, "METHOD_NOT_ALLOWED");
  const auto other = server.create_room();
  check_error(server.http("POST", path + "/access", other.invites(0).token()), 404,
              "UNKNOWN_ROOM");

  // Once the partners erased the room, nothing is kept and nothing can be renewed.
  const auto b_access = parse<v1::RenewAccessResponse>(c.http("POST", "/access", 1));
  CHECK(server.http("DELETE", path, token).status == 202);
  CHECK(server.http("DELETE", path, b_access.invite().token()).status == 200);
  check_error(c.http("POST", "/access", 0), 410, "ROOM_ERASED");
}

}  // namespace
}  // namespace mend::testing
