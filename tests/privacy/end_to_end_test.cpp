// Retention, erasure, audit log and transcript export end to end: the real server in-process
// (RoomServiceImpl + SqliteStore or MemoryStore + net::Server on 127.0.0.1, ManualClock),
// driven over HTTP and WebSocket through the SDK.
#include "tests/privacy/privacy_support.h"

#include <sqlite3.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

namespace mend::testing {
namespace {

constexpr const char* kErased = "[erased]";
const std::vector<std::string> kSecrets = {"INTENTION-SECRET-A", "SHARE-SECRET-A",
                                           "MIRROR-SECRET-B", "TOPIC-SECRET"};

TEST_CASE("a partner erases their own contributions: the other sees [erased] live and in the "
          "transcript, and a resume with the old epoch is not recovered") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(30), consent(30));
  REQUIRE(c.b.wait([&] { return !c.b.events.empty() && c.b.events.back().has_reflected(); }));
  const std::uint64_t seen = c.b.last_seq();
  std::uint64_t share_seq = 0;
  for (const auto& e : c.b.events) share_seq = e.has_shared() ? e.seq() : share_seq;

  auto answer = c.http("DELETE", "/contributions", 0);
  REQUIRE(answer.status == 200);
  auto erased = parse<v1::EraseContributionsResponse>(answer);
  CHECK(erased.erased_events() == 2);  // the opening and the shared chunk
  CHECK(erased.epoch() == 2);

  // Live: the other partner is told, with the rewritten events (same seqs) and the new epoch.
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));
  const v1::ContentErased notice = c.b.erased.front();
  CHECK(notice.scope() == v1::ERASURE_CONTRIBUTIONS);
  CHECK(notice.erased_by().role() == v1::PARTNER_A);
  CHECK(notice.epoch() == 2);
  REQUIRE(notice.events_size() == 2);
  CHECK(notice.events(1).seq() == share_seq);
  CHECK(notice.events(1).shared().text() == kErased);
  CHECK(notice.events(0).conversation_opened().intention() == kErased);
  REQUIRE(c.b.wait([&] { return c.b.view().intention() == kErased; }));

  // The transcript shows [erased] for A's texts and keeps B's.
  auto transcript = c.http("GET", "/transcript", 1);
  REQUIRE(transcript.status == 200);
  CHECK(contains(transcript.body, kErased));
  CHECK(contains(transcript.body, "MIRROR-SECRET-B"));
  CHECK_FALSE(contains(transcript.body, "SHARE-SECRET-A"));
  CHECK_FALSE(contains(transcript.body, "INTENTION-SECRET-A"));
  CHECK(parse<v1::GetTranscriptResponse>(transcript).epoch() == 2);

  // A resume from before the erasure cannot be replayed whole: recovered=false, erased view.
  c.b.stop();
  {
    Party old_epoch(server.ws_url(), c.token(1), 1, seen);
    REQUIRE(old_epoch.wait([&] { return !old_epoch.welcomes.empty(); }));
    CHECK_FALSE(old_epoch.welcomes.front().recovered());
    CHECK(old_epoch.welcomes.front().epoch() == 2);
    CHECK(old_epoch.welcomes.front().view().intention() == kErased);
  }
  {
    Party new_epoch(server.ws_url(), c.token(1), 2, seen);
    REQUIRE(new_epoch.wait([&] { return !new_epoch.welcomes.empty(); }));
    CHECK(new_epoch.welcomes.front().recovered());
  }

  // Nothing left to erase: the same answer with 0 events and no new epoch.
  auto again = parse<v1::EraseContributionsResponse>(c.http("DELETE", "/contributions", 0));
  CHECK(again.erased_events() == 0);
  CHECK(again.epoch() == 2);
  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 1));
  CHECK(count_kind(audit, v1::AUDIT_CONTRIBUTIONS_ERASED) == 2);
}

TEST_CASE("an SDK client that saw an erasure live resumes with recovered=false and the erased "
          "view, then at the new epoch") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(30), consent(30));
  REQUIRE(c.b.wait([&] { return !c.b.events.empty() && c.b.events.back().has_reflected(); }));
  REQUIRE(c.http("DELETE", "/contributions", 0).status == 200);
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));
  CHECK(c.b.erased.front().scope() == v1::ERASURE_CONTRIBUTIONS);
  CHECK(c.b.erased.front().epoch() == 2);

  // The SDK keeps the epoch it resumed in: its next resume cannot be replayed whole.
  const std::size_t welcomed = c.b.welcomes.size();
  c.b.drop_connection();
  REQUIRE(c.b.wait([&] { return c.b.welcomes.size() > welcomed && !c.b.resets.empty(); }));
  CHECK_FALSE(c.b.welcomes.back().recovered());
  CHECK(c.b.welcomes.back().epoch() == 2);
  REQUIRE(c.b.resets.size() == 1);
  CHECK(c.b.resets.front().intention() == kErased);
  CHECK(c.b.view().intention() == kErased);

  // From then on it is in the new epoch: the resume after another drop is recovered.
  c.b.drop_connection();
  REQUIRE(c.b.wait([&] { return c.b.welcomes.size() > welcomed + 1; }));
  CHECK(c.b.welcomes.back().recovered());
  CHECK(c.b.resets.size() == 1);
}

TEST_CASE("observers cannot erase or read the audit log, and every rejection has a stable code") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  const auto room = server.create_room({"Dr Kim"});
  const auto other = server.create_room();
  const std::string path = "/v1/rooms/" + room.room_id();
  const std::string& observer = room.invites(2).token();
  check_error(server.http("DELETE", path + "/contributions", observer), 403, "PARTNERS_ONLY");
  check_error(server.http("DELETE", path, observer), 403, "PARTNERS_ONLY");
  check_error(server.http("GET", path + "/audit", observer), 403, "PARTNERS_ONLY");
  check_error(server.http("GET", path + "/transcript", observer), 403, "OBSERVER_NOT_APPROVED");
  check_error(server.http("GET", path + "/audit", ""), 401, "UNAUTHENTICATED");
  check_error(server.http("DELETE", path, "not-a-token"), 401, "UNAUTHENTICATED");
  check_error(server.http("GET", path + "/audit", other.invites(0).token()), 404, "UNKNOWN_ROOM");
  check_error(server.http("POST", path + "/audit", room.invites(0).token()), 405,
              "METHOD_NOT_ALLOWED");
  check_error(server.http("GET", path + "/contributions", room.invites(0).token()), 405,
              "METHOD_NOT_ALLOWED");
  check_error(server.http("GET", path + "/elsewhere", room.invites(0).token()), 404,
              "NOT_FOUND");
  // A partner of a room without content: nothing to erase, and that is fine.
  auto none = server.http("DELETE", path + "/contributions", room.invites(1).token());
  CHECK(none.status == 200);
  CHECK(parse<v1::EraseContributionsResponse>(none).erased_events() == 0);
}

// The sealed blobs of a room in the database (read through a separate read-only connection).
std::vector<std::string> stored_blobs(const std::filesystem::path& db_file,
                                      const std::string& room_id, bool& room_rows_left) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> blobs;
  room_rows_left = false;
  for (const char* sql : {"SELECT sealed FROM events WHERE room_id = ?1",
                          "SELECT wrapped_key FROM room_keys WHERE room_id = ?1",
                          "SELECT sealed FROM results WHERE room_id = ?1"}) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK);
    sqlite3_bind_text(statement, 1, room_id.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* bytes = static_cast<const char*>(sqlite3_column_blob(statement, 0));
      blobs.emplace_back(bytes, static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
      room_rows_left = true;
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return blobs;
}

TEST_CASE("erasing the whole room needs both partners and leaves no content in the data "
          "directory") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(30), consent(30));
  const auto db_file = server.data_dir() / "mend.db";
  bool rows_left = false;
  const auto blobs = stored_blobs(db_file, c.room.room_id(), rows_left);
  REQUIRE(blobs.size() > 5);

  // The first partner's request is recorded; the room stays as it is.
  auto first = c.http("DELETE", "", 0);
  CHECK(first.status == 202);
  auto requested = parse<v1::EraseRoomResponse>(first);
  CHECK(requested.status() == v1::ROOM_ERASURE_STATUS_REQUESTED);
  REQUIRE(requested.requested_by_size() == 1);
  CHECK(requested.requested_by(0) == v1::PARTNER_A);
  REQUIRE(c.b.wait([&] { return !c.b.erasure_requests.empty(); }));
  CHECK(c.b.erasure_requests.front().requested_by().role() == v1::PARTNER_A);
  CHECK(c.http("DELETE", "", 0).status == 202);  // asking twice changes nothing
  CHECK(c.http("GET", "/transcript", 1).status == 200);

  // The second partner's request erases it: both are told and closed with 4503.
  auto second = c.http("DELETE", "", 1);
  CHECK(second.status == 200);
  CHECK(parse<v1::EraseRoomResponse>(second).status() == v1::ROOM_ERASURE_STATUS_ERASED);
  for (Party* party : {&c.a, &c.b}) {
    REQUIRE(party->wait([&] { return party->closed.has_value(); }));
    CHECK(party->closed->close_code == 4503);
    // Told first: the ContentErased item is written before the close frame.
    REQUIRE(party->erased_when_closed == 1);
    CHECK(party->erased.front().scope() == v1::ERASURE_WHOLE_ROOM);
    CHECK(party->erased.front().erased_by().role() == v1::PARTNER_B);
  }
  check_error(c.http("GET", "", 0), 404, "UNKNOWN_ROOM");
  check_error(c.http("GET", "/transcript", 0), 410, "ROOM_ERASED");
  check_error(c.http("DELETE", "/contributions", 1), 410, "ROOM_ERASED");
  check_error(c.http("DELETE", "", 1), 410, "ROOM_ERASED");

  // The content-free audit log stays, readable by the partners.
  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_ROOM_ERASURE_REQUESTED) == 2);
  CHECK(count_kind(audit, v1::AUDIT_ROOM_ERASED) == 1);

  // No row, key or ciphertext of the room, and no plaintext, anywhere in the data directory.
  stored_blobs(db_file, c.room.room_id(), rows_left);
  CHECK_FALSE(rows_left);
  const std::string files = read_all_files(server.data_dir());
  for (const auto& secret : kSecrets) CHECK_FALSE(contains(files, secret));
  std::size_t found = 0;
  for (const auto& blob : blobs) found += contains(files, blob) ? 1 : 0;
  CHECK(found == 0);
}

TEST_CASE("retention 0 purges the content when the conversation closes") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(0), consent(7));
  c.a_leaves();
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));
  CHECK(c.b.erased.front().scope() == v1::ERASURE_RETENTION_PURGE);
  CHECK(c.b.erased.front().erased_by().role() == v1::SYSTEM);
  auto transcript = c.http("GET", "/transcript", 1);
  REQUIRE(transcript.status == 200);
  for (const auto& secret : kSecrets) CHECK_FALSE(contains(transcript.body, secret));
  CHECK(contains(transcript.body, kErased));
  // The events (and so the protocol metrics) stay: every seq is still there.
  auto events = parse<v1::GetTranscriptResponse>(transcript).events();
  CHECK(events.size() > 5);
  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_CONVERSATION_CLOSED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_PARTICIPANT_LEFT) == 1);
  REQUIRE(count_kind(audit, v1::AUDIT_CONTENT_PURGED) == 1);
}

TEST_CASE("content is kept for the stricter retention after close, then the sweep purges it") {
  PrivacyServer server;
  Couple c(server);
  c.talk(consent(3), consent(2));
  c.a_leaves();
  auto has_text = [&] {
    return contains(c.http("GET", "/transcript", 1).body, "SHARE-SECRET-A");
  };
  server.sweep();
  CHECK(has_text());
  server.clock.advance(2 * kDayMs - 1000);
  server.sweep();
  CHECK(has_text());
  server.clock.advance(2000);
  CHECK(server.sweep().rooms_checked == 1);
  CHECK_FALSE(has_text());
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));
  CHECK(c.b.erased.front().scope() == v1::ERASURE_RETENTION_PURGE);
  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  REQUIRE(count_kind(audit, v1::AUDIT_CONTENT_PURGED) == 1);
  // A purged room is not loaded again by later sweeps.
  CHECK(server.sweep().rooms_checked == 0);
}

TEST_CASE("the audit log records joins, consents, observers, pauses, time-outs and exports, "
          "and holds no content or token") {
  PrivacyServer server;
  Couple c(server, {"Dr Kim"});
  c.a.send(consent(30, {"Dr Kim"}));
  c.b.send(consent(30, {"Dr Kim"}));
  Party kim(server.ws_url(), c.token(2));
  REQUIRE(kim.online());
  kim.send(cmd([](v1::Command& x) { x.mutable_join(); }));
  kim.send(cmd([](v1::Command& x) { x.mutable_note()->set_text("NOTE-SECRET-KIM"); }));
  c.a.send(cmd([](v1::Command& x) {
    x.mutable_open()->set_intention("INTENTION-SECRET-A");
    x.mutable_open()->set_topic("TOPIC-SECRET-A");
  }));
  c.a.send(cmd([](v1::Command& x) { x.mutable_share()->set_text("SHARE-SECRET-A"); }));
  c.a.send(cmd([](v1::Command& x) { x.mutable_pause(); }));
  c.a.send(cmd([](v1::Command& x) { x.mutable_return_(); }));
  c.b.send(cmd([](v1::Command& x) { x.mutable_time_out(); }));
  c.b.send(cmd([](v1::Command& x) { x.mutable_return_(); }));
  CHECK(c.http("GET", "/transcript", 0).status == 200);
  c.b.send(cmd([](v1::Command& x) { x.mutable_revoke_observer()->set_observer("Dr Kim"); }));
  REQUIRE(kim.wait([&] { return kim.closed.has_value(); }));
  CHECK(kim.closed->close_code == 4503);

  auto answer = c.http("GET", "/audit", 1);
  REQUIRE(answer.status == 200);
  auto audit = parse<v1::GetAuditResponse>(answer);
  // Each of the three joined at least once (the SDK reconnects after a dropped connection, as
  // can happen on a loaded test machine, and each fresh attach is recorded again).
  std::set<std::string> joined;
  for (const auto& entry : audit.entries()) {
    if (entry.kind() != v1::AUDIT_PARTICIPANT_CONNECTED) continue;
    joined.insert(v1::Role_Name(entry.actor().role()) + "/" + entry.actor().observer());
  }
  CHECK(joined == std::set<std::string>{"PARTNER_A/", "PARTNER_B/", "OBSERVER/Dr Kim"});
  CHECK(count_kind(audit, v1::AUDIT_CONSENT_GIVEN) == 2);
  CHECK(count_kind(audit, v1::AUDIT_OBSERVER_ADMITTED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_PAUSED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_TIMED_OUT) == 1);
  CHECK(count_kind(audit, v1::AUDIT_TRANSCRIPT_EXPORTED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_CONSENT_REVOKED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_OBSERVER_REMOVED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_PARTICIPANT_DISCONNECTED) >= 1);
  for (const auto& entry : audit.entries()) {
    if (entry.kind() == v1::AUDIT_OBSERVER_ADMITTED) CHECK(entry.observer() == "Dr Kim");
    if (entry.kind() == v1::AUDIT_TIMED_OUT) CHECK(entry.actor().role() == v1::PARTNER_B);
  }
  for (const auto& secret : {"NOTE-SECRET-KIM", "INTENTION-SECRET-A", "SHARE-SECRET-A",
                             "TOPIC-SECRET"}) {
    CHECK_FALSE(contains(answer.body, secret));
  }
  for (int i = 0; i < 3; ++i) CHECK_FALSE(contains(answer.body, c.token(i)));
}

TEST_CASE("transcripts: partners always, observers only when both allow it, notes only for "
          "their author, retracted messages never") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim", "Dr Lee"});
  c.a.send(consent(30, {"Dr Kim"}, true));
  c.b.send(consent(30, {"Dr Kim"}, true));
  Party kim(server.ws_url(), c.token(2));
  REQUIRE(kim.online());
  kim.send(cmd([](v1::Command& x) { x.mutable_join(); }));
  kim.send(cmd([](v1::Command& x) { x.mutable_note()->set_text("NOTE-SECRET-KIM"); }));
  c.a.send(cmd([](v1::Command& x) {
    x.mutable_open()->set_intention("INTENTION-SECRET-A");
    x.mutable_open()->set_topic("TOPIC-SECRET-A");
  }));
  auto shared = c.a.send(cmd([](v1::Command& x) { x.mutable_share()->set_text("TAKEN-BACK"); }));
  c.a.send(cmd([&](v1::Command& x) { x.mutable_retract()->set_seq(shared.result.first_seq()); }));

  auto partner = c.http("GET", "/transcript", 1);
  REQUIRE(partner.status == 200);
  CHECK(contains(partner.body, "INTENTION-SECRET-A"));
  CHECK_FALSE(contains(partner.body, "TAKEN-BACK"));
  CHECK_FALSE(contains(partner.body, "NOTE-SECRET-KIM"));
  CHECK(parse<v1::GetTranscriptResponse>(partner).viewer().role() == v1::PARTNER_B);

  auto allowed = c.http("GET", "/transcript", 2);
  REQUIRE(allowed.status == 200);
  CHECK(contains(allowed.body, "INTENTION-SECRET-A"));
  CHECK(contains(allowed.body, "NOTE-SECRET-KIM"));
  CHECK_FALSE(contains(allowed.body, "TAKEN-BACK"));

  check_error(c.http("GET", "/transcript", 3), 403, "OBSERVER_NOT_APPROVED");
  c.b.send(consent(30, {"Dr Kim"}, false));  // B no longer shares the transcript
  check_error(c.http("GET", "/transcript", 2), 403, "TRANSCRIPT_NOT_SHARED");

  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_TRANSCRIPT_EXPORTED) == 2);  // refusals are not exports
}

TEST_CASE("with only the latest events in memory, transcripts and erasure read the older ones "
          "from the store") {
  // A window of 2 events: the room keeps 2-3 of its latest events loaded, so the transcript
  // and the erasure below need the whole log read back from the store (Room::with_whole_log).
  PrivacyServer server(PrivacyServer::StoreKind::kSqlite, {}, 2);
  Couple c(server);
  c.a.send(consent(30, {}, false));
  c.b.send(consent(30, {}, false));
  REQUIRE(c.a.send(cmd([](v1::Command& x) {
    x.mutable_open()->set_intention("INTENTION-SECRET-A");
    x.mutable_open()->set_topic("TOPIC-SECRET-A");
  })).accepted());
  REQUIRE(c.a.send(cmd([](v1::Command& x) { x.mutable_share()->set_text("SHARE-SECRET-A"); }))
              .accepted());
  const auto events = parse<v1::GetTranscriptResponse>(c.http("GET", "/transcript", 1));
  CHECK(events.events_size() > 3);  // more than the window holds

  auto transcript = c.http("GET", "/transcript", 1);
  REQUIRE(transcript.status == 200);
  CHECK(contains(transcript.body, "INTENTION-SECRET-A"));
  CHECK(contains(transcript.body, "SHARE-SECRET-A"));

  REQUIRE(c.http("DELETE", "/contributions", 0).status == 200);
  auto after = c.http("GET", "/transcript", 1);
  REQUIRE(after.status == 200);
  CHECK_FALSE(contains(after.body, "INTENTION-SECRET-A"));
  CHECK_FALSE(contains(after.body, "SHARE-SECRET-A"));
}

TEST_CASE("with only the latest events in memory, the summary and the retention purge read the "
          "older ones from the store") {
  PrivacyServer server(PrivacyServer::StoreKind::kSqlite, {}, 2);
  Couple c(server);
  c.talk(consent(2), consent(2));
  c.a.send(cmd([](v1::Command& x) { x.mutable_confirm(); }));
  c.a_leaves();

  // The share and the mirror are older than the 2-3 events the room keeps in memory.
  auto summary = c.http("GET", "/summary", 1);
  REQUIRE(summary.status == 200);
  CHECK(contains(summary.body, "SHARE-SECRET-A"));
  CHECK(contains(summary.body, "MIRROR-SECRET-B"));
  const auto before = parse<v1::GetTranscriptResponse>(c.http("GET", "/transcript", 1));
  CHECK(before.events_size() > 3);

  server.clock.advance(2 * kDayMs + 1000);
  CHECK(server.sweep().rooms_checked == 1);
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));
  CHECK(c.b.erased.front().scope() == v1::ERASURE_RETENTION_PURGE);
  auto purged = c.http("GET", "/transcript", 1);
  REQUIRE(purged.status == 200);
  for (const auto& secret : kSecrets) CHECK_FALSE(contains(purged.body, secret));
  CHECK(parse<v1::GetTranscriptResponse>(purged).events_size() == before.events_size());
  auto after = c.http("GET", "/summary", 1);
  REQUIRE(after.status == 200);
  CHECK_FALSE(contains(after.body, "SECRET"));
  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_CONTENT_PURGED) == 1);
  CHECK(count_kind(audit, v1::AUDIT_SUMMARY_EXPORTED) == 2);
}

}  // namespace
}  // namespace mend::testing
