// Insights and the summary over HTTP and the SDK (issue 14): who may read them, live insights
// for a counselor, refusals per partner, the summary's consent, audit and erasure rules.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>

#include "tests/privacy/privacy_support.h"

namespace mend::testing {
namespace {

v1::Command share(const std::string& text) {
  return cmd([&](v1::Command& c) { c.mutable_share()->set_text(text); });
}
v1::Command mirror(const std::string& text) {
  return cmd([&](v1::Command& c) {
    c.mutable_reflect()->set_kind(v1::MIRROR);
    c.mutable_reflect()->set_text(text);
  });
}
v1::Command confirm() {
  return cmd([](v1::Command& c) { c.mutable_confirm(); });
}

// Both consent (Dr Kim approved), Dr Kim connects and joins, B tries to share out of turn
// (NOT_YOUR_TURN), A opens and shares four words, B mirrors after the beat, A confirms.
// Returns Dr Kim's connection.
std::unique_ptr<Party> one_round(Couple& c, std::uint32_t retention_days, bool summary_to_observer) {
  c.a.send(consent(retention_days, {"Dr Kim"}, false, summary_to_observer));
  c.b.send(consent(retention_days, {"Dr Kim"}, false, summary_to_observer));
  auto kim = std::make_unique<Party>(c.server.ws_url(), c.token(2));
  REQUIRE(kim->online());
  kim->send(cmd([](v1::Command& x) { x.mutable_join(); }));
  c.a.send(open_with_secrets());
  auto refused = c.b.send(share("OUT-OF-TURN-SECRET"), /*must_accept=*/false);
  CHECK(refused.rejection_code() == v1::NOT_YOUR_TURN);
  c.a.send(share("WORDS-SECRET one two three"));
  c.server.clock.advance(5000);
  c.b.send(mirror("MIRROR-SECRET-B"));
  c.a.send(confirm());
  return kim;
}

TEST_CASE("insights: partners and observers admitted by both read them, content-free, with each "
          "partner's refusals by code, and others are refused with stable codes") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim", "Dr Lee"});
  auto kim = one_round(c, 30, false);

  auto answer = c.http("GET", "/insights", 0);
  REQUIRE(answer.status == 200);
  for (const char* secret : {"SECRET", "Alex", "Sam", "Dr Kim"}) {
    CHECK_FALSE(contains(answer.body, secret));
  }
  const v1::Insights in = parse<v1::GetInsightsResponse>(answer).insights();
  CHECK(in.room_id() == c.room.room_id());
  CHECK(in.partner_a().shares() == 1);
  CHECK(in.partner_a().words_shared() == 4);
  CHECK(in.partner_b().mirrors_confirmed() == 1);
  REQUIRE(in.shares_size() == 1);
  CHECK(in.shares(0).mirror_rounds() == 1);
  CHECK(in.shares(0).to_confirmation_ms() == 5000);
  REQUIRE(in.partner_b().refusals_size() == 1);
  CHECK(in.partner_b().refusals(0).code() == v1::NOT_YOUR_TURN);
  CHECK(in.partner_b().refusals(0).count() == 1);

  CHECK(c.http("GET", "/insights", 1).status == 200);
  CHECK(c.http("GET", "/insights", 2).status == 200);  // Dr Kim, approved by both
  check_error(c.http("GET", "/insights", 3), 403, "OBSERVER_NOT_APPROVED");  // Dr Lee
  check_error(server.http("GET", c.path("/insights"), "not-a-token"), 401, "UNAUTHENTICATED");
  check_error(c.http("POST", "/insights", 0), 405, "METHOD_NOT_ALLOWED");
}

TEST_CASE("a counselor's connection gets the insights live, after its replay and with every "
          "frame of events, and partners never get them on theirs") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim"});
  auto kim = one_round(c, 30, false);
  const std::uint64_t last = c.a.last_seq();
  REQUIRE(kim->wait([&] { return !kim->insights.empty() && kim->insights.back().last_seq() == last; }));
  CHECK(kim->insights.back().partner_a().words_shared() == 4);
  CHECK(kim->insights.size() >= 3);  // after the replay, then live
  REQUIRE(c.a.wait([&] { return true; }));
  CHECK(c.a.insights.empty());
  CHECK(c.b.insights.empty());
}

TEST_CASE("the summary at CLOSED: partners get the confirmed words and reflections, "
          "observers only when both partners allowed it, and every export is audited") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim", "Dr Lee"});
  auto kim = one_round(c, 30, true);
  check_error(c.http("GET", "/summary", 0), 409, "CONVERSATION_NOT_CLOSED");
  c.a_leaves();

  auto answer = c.http("GET", "/summary", 1);
  REQUIRE(answer.status == 200);
  const v1::ConversationSummary summary = parse<v1::GetSummaryResponse>(answer).summary();
  REQUIRE(summary.turns_size() == 1);
  CHECK(summary.turns(0).speaker() == v1::PARTNER_A);
  REQUIRE(summary.turns(0).confirmed_words_size() == 1);
  CHECK(summary.turns(0).confirmed_words(0) == "WORDS-SECRET one two three");
  REQUIRE(summary.turns(0).confirmed_reflections_size() == 1);
  CHECK(summary.turns(0).confirmed_reflections(0) == "MIRROR-SECRET-B");
  CHECK_FALSE(contains(answer.body, "OUT-OF-TURN-SECRET"));

  CHECK(c.http("GET", "/summary", 2).status == 200);  // both allowed summary_to_observer
  check_error(c.http("GET", "/summary", 3), 403, "OBSERVER_NOT_APPROVED");

  // B erases their words: their reflection leaves the summary, the figures stay.
  const auto before = parse<v1::GetInsightsResponse>(c.http("GET", "/insights", 0)).insights();
  REQUIRE(c.http("DELETE", "/contributions", 1).status == 200);
  auto erased = c.http("GET", "/summary", 0);
  REQUIRE(erased.status == 200);
  CHECK_FALSE(contains(erased.body, "MIRROR-SECRET-B"));
  CHECK(contains(erased.body, "WORDS-SECRET"));
  const auto after = parse<v1::GetInsightsResponse>(c.http("GET", "/insights", 0)).insights();
  CHECK(after.SerializeAsString() == before.SerializeAsString());

  auto audit = parse<v1::GetAuditResponse>(c.http("GET", "/audit", 0));
  CHECK(count_kind(audit, v1::AUDIT_SUMMARY_EXPORTED) == 3);  // refusals are not exports
}

TEST_CASE("a summary an observer was not allowed is refused SUMMARY_NOT_SHARED") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  Couple c(server, {"Dr Kim"});
  auto kim = one_round(c, 30, true);
  c.b.send(consent(30, {"Dr Kim"}, false, false));  // B tightens: no summary to observers
  c.a_leaves();
  check_error(c.http("GET", "/summary", 2), 403, "SUMMARY_NOT_SHARED");
  CHECK(c.http("GET", "/summary", 0).status == 200);
}

TEST_CASE("a retention purge at close takes the summary's texts and leaves the insights' figures") {
  PrivacyServer server(PrivacyServer::StoreKind::kSqlite);
  Couple c(server, {"Dr Kim"});
  auto kim = one_round(c, 0, false);
  const auto before = parse<v1::GetInsightsResponse>(c.http("GET", "/insights", 0)).insights();
  c.a_leaves();  // retention 0: purged at close
  REQUIRE(c.b.wait([&] { return !c.b.erased.empty(); }));  auto summary = c.http("GET", "/summary", 0);
  REQUIRE(summary.status == 200);
  CHECK_FALSE(contains(summary.body, "SECRET"));
  CHECK(parse<v1::GetSummaryResponse>(summary).summary().turns_size() == 0);
  const auto after = parse<v1::GetInsightsResponse>(c.http("GET", "/insights", 0)).insights();
  CHECK(after.partner_a().words_shared() == before.partner_a().words_shared());
  CHECK(after.shares(0).SerializeAsString() == before.shares(0).SerializeAsString());
  CHECK(after.phase() == v1::PHASE_CLOSED);
}

TEST_CASE("the caseload lists the creator's rooms with template, phase, who is connected, pending "
          "consent and last activity, content-free, and a series shows its conversations' "
          "insights") {
  PrivacyServer server(PrivacyServer::StoreKind::kSqlite);
  const auto first = server.create_room({"Dr Kim"}, "couple-7");
  server.clock.advance(1000);
  const auto second = server.create_room({"Dr Kim"}, "couple-7");
  server.create_room();
  Party a(server.ws_url(), second.invites(0).token());
  a.send(consent(30, {"Dr Kim"}));
  server.clock.advance(1000);
  a.send(share("too early"), /*must_accept=*/false);  // WRONG_PHASE: refused, counted

  auto listed = server.http("GET", "/v1/rooms", "");
  REQUIRE(listed.status == 200);
  for (const char* secret : {"SECRET", "Alex", "Sam", "too early"}) CHECK_FALSE(contains(listed.body, secret));
  const auto rooms = parse<v1::ListRoomsResponse>(listed);
  REQUIRE(rooms.rooms_size() == 3);
  const v1::RoomStatus* status = nullptr;
  for (const auto& room : rooms.rooms()) {
    CHECK(room.template_name() == "speaker-listener");
    CHECK(room.phase() == v1::PHASE_CONSENT);
    if (room.room_id() == second.room_id()) status = &room;
  }
  REQUIRE(status != nullptr);
  CHECK(status->series_id() == "couple-7");
  CHECK(status->a_consented());
  CHECK_FALSE(status->b_consented());
  REQUIRE(status->connected_size() == 1);
  CHECK(status->connected(0).role() == v1::PARTNER_A);
  REQUIRE(status->observers_pending_size() == 1);
  CHECK(status->observers_pending(0) == "Dr Kim");
  CHECK(status->last_activity_ms() == kStartMs + 1000);

  const auto series = parse<v1::GetSeriesInsightsResponse>(server.http("GET", "/v1/series/couple-7/insights", ""));
  REQUIRE(series.conversations_size() == 2);
  CHECK(series.conversations(0).room_id() == first.room_id());
  CHECK(series.conversations(1).room_id() == second.room_id());
  REQUIRE(series.conversations(1).partner_a().refusals_size() == 1);
  CHECK(series.conversations(1).partner_a().refusals(0).code() == v1::WRONG_PHASE);
  check_error(server.http("GET", "/v1/series/nobody/insights", ""), 404, "UNKNOWN_SERIES");
  check_error(server.http("DELETE", "/v1/series/couple-7/insights", ""), 405, "METHOD_NOT_ALLOWED");
  check_error(server.http("GET", "/v1/series/couple-7", ""), 404, "NOT_FOUND");
}

TEST_CASE("with API keys, a caseload lists the rooms created with the caller's key: not another "
          "key's, and nothing without a valid key") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory, {"key-A-0123456789", "key-B-0123456789"});
  const auto a1 = server.create_room({}, "", "key-A-0123456789");
  const auto a2 = server.create_room({}, "", "key-A-0123456789");
  const auto b1 = server.create_room({}, "", "key-B-0123456789");
  auto ids = [&server](const std::string& key) {
    const auto rooms = parse<v1::ListRoomsResponse>(server.http("GET", "/v1/rooms", key));
    std::set<std::string> listed;
    for (const auto& room : rooms.rooms()) listed.insert(room.room_id());
    return listed;
  };
  CHECK(ids("key-A-0123456789") == std::set<std::string>{a1.room_id(), a2.room_id()});
  CHECK(ids("key-B-0123456789") == std::set<std::string>{b1.room_id()});
  check_error(server.http("GET", "/v1/rooms", ""), 401, "UNAUTHENTICATED");
  check_error(server.http("GET", "/v1/rooms", "key-C-0123456789"), 401, "UNAUTHENTICATED");
  // An invite token is no API key either.
  check_error(server.http("GET", "/v1/rooms", a1.invites(0).token()), 401, "UNAUTHENTICATED");
}

TEST_CASE("a malformed series id is refused INVALID_ARGUMENT") {
  PrivacyServer server(PrivacyServer::StoreKind::kMemory);
  client::HttpClient http({server.base_url(), {}, {}, kBound});
  v1::CreateRoomRequest request;
  request.set_template_("speaker-listener");
  request.set_series_id("no spaces/or slashes");
  const auto created = http.create_room(request);
  REQUIRE_FALSE(created.ok());
  CHECK(created.error.http_status == 400);
  CHECK(created.error.server_code == "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace mend::testing
