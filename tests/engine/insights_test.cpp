// The insights projection (issue 14; server/engine/insights.h): exact figures for scripted
// conversations, and figures that stay when texts go.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "server/engine/insights.h"
#include "tests/engine/room_fixture.h"

using namespace mend;
using namespace mend::engine;
using namespace mend::engine::testing;

namespace {

// Both partners' first round of kImagoLike at one-second steps: A shares twice (the first
// mirror is corrected once), summary (tried twice) and validation; then the roles switch.
void imago_round_of_a(Room& room) {
  room.open();
  room.advance_s(1);
  room.ok(partner_a(), R"(share { text: "I felt alone last night" })");  // 5 words
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "you felt lonely" })");
  room.advance_s(1);
  room.ok(partner_a(), R"(correct { text: "alone, not lonely" })");
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "you felt alone" })");
  room.advance_s(1);
  room.ok(partner_a(), "confirm {}");  // 6 s after the share
  room.ok(partner_a(), "more {}");
  room.ok(partner_a(), R"(share { text: "and unseen" })");  // 2 words
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "and unseen" })");
  room.ok(partner_a(), "confirm {}");
  room.ok(partner_a(), "no_more {}");
  room.ok(partner_b(), R"(reflect { kind: SUMMARY text: "so" })");
  room.advance_s(1);
  room.ok(partner_a(), R"(correct { text: "more" })");
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: SUMMARY text: "so, again" })");
  room.ok(partner_a(), "confirm {}");
  room.ok(partner_b(), R"(reflect { kind: VALIDATION text: "you make sense" })");
  room.ok(partner_a(), "confirm {}");  // roles switch: B speaks
}

}  // namespace

TEST_CASE("words are runs of non-whitespace characters") {
  CHECK(count_words("") == 0);
  CHECK(count_words("  ") == 0);
  CHECK(count_words("I felt  alone\tlast\nnight ") == 5);
}

TEST_CASE("insights count floor time, turns, words and mirror rounds per share of a scripted imago round") {
  Room room;
  imago_round_of_a(room);
  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "test");
  CHECK(in.phase() == v1::PHASE_SPEAKING);
  CHECK(in.stages_started() == 1);
  CHECK(a.turns() == 1);
  CHECK(b.turns() == 1);
  CHECK(a.shares() == 2);
  CHECK(a.words_shared() == 7);
  CHECK(a.corrections() == 2);
  CHECK(b.mirrors_given() == 3);
  CHECK(b.mirrors_confirmed() == 2);
  CHECK(b.summaries_given() == 1);
  CHECK(b.validations_given() == 1);
  CHECK(b.empathy_given() == 0);
  // A held the floor from the opening (t=0) to the switch (t=12 s).
  CHECK(a.floor_time_ms() == 12'000);
  CHECK(b.floor_time_ms() == 0);
  REQUIRE(in.shares_size() == 2);
  CHECK(in.shares(0).words() == 5);
  CHECK(in.shares(0).mirror_rounds() == 2);
  CHECK(in.shares(0).corrections() == 1);
  CHECK(in.shares(0).confirmed());
  CHECK(in.shares(0).to_confirmation_ms() == 6'000);
  CHECK(in.shares(1).words() == 2);
  CHECK(in.shares(1).mirror_rounds() == 1);
  CHECK(in.shares(1).to_confirmation_ms() == 2'000);
  REQUIRE(in.reflections_size() == 2);
  CHECK(in.reflections(0).kind() == v1::SUMMARY);
  CHECK(in.reflections(0).tries() == 2);
  CHECK(in.reflections(0).corrections() == 1);
  CHECK(in.reflections(0).to_confirmation_ms() == 3'000);
  CHECK(in.reflections(1).kind() == v1::VALIDATION);
  CHECK(in.reflections(1).tries() == 1);
  CHECK(in.reflections(1).confirmed());
}

TEST_CASE("insights record pauses returned early or waited out, time-outs and signals by kind") {
  Room room;
  room.open();
  room.ok(partner_b(), "signal { kind: OVERWHELMED }");
  room.ok(partner_b(), "signal { kind: OVERWHELMED }");
  room.ok(partner_a(), "repair { kind: I_AM_SORRY }");
  room.ok(partner_b(), "pause { duration_s: 120 }");
  room.advance_s(30);
  room.ok(partner_b(), "return {}");  // early, after 30 s
  room.advance_s(10);
  room.ok(partner_a(), "pause { duration_s: 60 }");
  room.advance_s(60);                 // waited out: check-in
  room.advance_s(5);
  room.ok(partner_a(), "ready {}");
  room.ok(partner_b(), "ready {}");   // resumed 65 s after the pause
  room.advance_s(5);
  room.ok(partner_b(), "time_out {}");
  room.advance_s(25 * 3600);          // past the cap: suspended
  const v1::Insights in = project(room.events);
  CHECK(in.partner_b().pauses() == 1);
  CHECK(in.partner_b().time_outs() == 1);
  CHECK(in.partner_a().pauses() == 1);
  REQUIRE(in.partner_b().signals_size() == 1);
  CHECK(in.partner_b().signals(0).kind() == v1::OVERWHELMED);
  CHECK(in.partner_b().signals(0).count() == 2);
  REQUIRE(in.partner_a().repairs_size() == 1);
  CHECK(in.partner_a().repairs(0).kind() == v1::I_AM_SORRY);
  REQUIRE(in.overlays_size() == 3);
  CHECK(in.overlays(0).kind() == v1::OVERLAY_PAUSE);
  CHECK(in.overlays(0).caller() == v1::PARTNER_B);
  CHECK(in.overlays(0).ending() == v1::OVERLAY_RETURNED_EARLY);
  CHECK(in.overlays(0).duration_ms() == 30'000);
  CHECK(in.overlays(1).ending() == v1::OVERLAY_WAITED_OUT);
  CHECK(in.overlays(1).duration_ms() == 65'000);
  CHECK(in.partner_a().overlay_time_ms() == 65'000);
  CHECK(in.overlays(2).kind() == v1::OVERLAY_TIME_OUT);
  CHECK(in.overlays(2).ending() == v1::OVERLAY_SUSPENDED);
  CHECK(in.overlays(2).ended_ms() == 0);  // still suspended: resumption owed
  CHECK(in.phase() == v1::PHASE_SUSPENDED);
  // Floor time excludes the overlays: A held the floor 10 s + 5 s between them.
  CHECK(in.partner_a().floor_time_ms() == 15'000);
  // The timeline (consent, opening and the first speaking took no time: no spans).
  std::vector<v1::Phase> phases;
  for (const auto& span : in.timeline()) phases.push_back(span.phase());
  CHECK(phases == std::vector<v1::Phase>{v1::PHASE_PAUSED, v1::PHASE_SPEAKING,
                                       v1::PHASE_PAUSED, v1::PHASE_CHECK_IN, v1::PHASE_SPEAKING,
                                       v1::PHASE_TIMED_OUT, v1::PHASE_SUSPENDED});
  CHECK(in.timeline(in.timeline_size() - 1).duration_ms() == 0);
}

TEST_CASE("insights stay the same when the texts are retracted or erased (figures stay, texts go)") {
  Room room;
  imago_round_of_a(room);
  std::uint64_t first_share = 0;
  for (const auto& e : room.events) {
    if (e.has_shared() && first_share == 0) first_share = e.seq();
  }
  room.ok(partner_a(), "retract { seq: " + std::to_string(first_share) + " }");
  const v1::Insights before = project(room.events);
  CHECK(before.partner_a().retractions() == 1);
  std::vector<v1::Event> erased = room.events;
  for (auto& e : erased) {
    if (e.has_shared()) e.mutable_shared()->set_text("[erased]");
    if (e.has_reflected()) e.mutable_reflected()->set_text("[erased]");
    if (e.has_corrected()) e.mutable_corrected()->set_text("[erased]");
  }
  const v1::Insights after = project(erased);
  CHECK(after.SerializeAsString() == before.SerializeAsString());
  CHECK(after.partner_a().words_shared() == 7);
}

TEST_CASE("refusals are added per partner and code, ordered by code") {
  v1::Insights in;
  add_refusals(in, v1::PARTNER_B, v1::WRONG_PHASE, 1);
  add_refusals(in, v1::PARTNER_B, v1::NOT_YOUR_TURN, 2);
  add_refusals(in, v1::PARTNER_B, v1::NOT_YOUR_TURN, 1);
  add_refusals(in, v1::OBSERVER, v1::NOT_YOUR_TURN, 1);
  REQUIRE(in.partner_b().refusals_size() == 2);
  CHECK(in.partner_b().refusals(0).code() == v1::NOT_YOUR_TURN);
  CHECK(in.partner_b().refusals(0).count() == 3);
  CHECK(in.partner_b().refusals(1).code() == v1::WRONG_PHASE);
  CHECK(in.partner_a().refusals_size() == 0);
}

TEST_CASE("the summary holds per turn the confirmed words and reflections, the appreciations and "
          "the accepted proposals, and leaves out withdrawn texts") {
  Room room(kAppointmentSpeakerListener);
  room.ok(partner_b(), "accept_invitation {}");
  room.open();
  // Stage "floor": B speaks first.
  room.ok(partner_b(), R"(share { text: "I was hurt" })");
  room.advance_ms(room.state.timing.reflection_beat_ms);
  room.ok(partner_a(), R"(reflect { kind: MIRROR text: "you were sad" })");
  room.ok(partner_b(), R"(correct { text: "hurt" })");
  room.advance_ms(room.state.timing.reflection_beat_ms);
  room.ok(partner_a(), R"(reflect { kind: MIRROR text: "you were hurt" })");
  room.ok(partner_b(), "confirm {}");
  room.ok(partner_b(), R"(share { text: "not confirmed" })");
  room.ok(partner_b(), "pass_floor {}");
  room.mirror_round(partner_a(), partner_b());
  room.ok(partner_a(), "pass_floor {}");
  // Problem solving.
  room.ok(partner_a(), "feel_understood {}");
  room.ok(partner_b(), "feel_understood {}");
  room.ok(partner_a(), "problem_solving_choice { opt_in: true }");
  room.ok(partner_b(), "problem_solving_choice { opt_in: true }");
  room.ok(partner_a(), R"(propose { text: "walk on Sundays" })");
  const std::uint64_t walk = room.last_event().seq();
  room.ok(partner_a(), R"(propose { text: "declined idea" })");
  room.ok(partner_b(), "accept_proposal { seq: " + std::to_string(walk) + " }");
  room.ok(partner_b(), "finish_problem_solving {}");
  room.ok(partner_a(), R"(appreciate { text: "take back" })");
  const std::uint64_t taken_back = room.last_event().seq();
  room.ok(partner_a(), "retract { seq: " + std::to_string(taken_back) + " }");
  room.ok(partner_b(), R"(appreciate { text: "thank you" })");
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);
  // The room host withdraws a retracted text in its log; the summary reads the log as kept.
  std::vector<v1::Event> log = room.events;
  log[taken_back - 1].mutable_appreciated()->set_text(kRetractedText);

  const v1::ConversationSummary summary = summarize(log);
  CHECK(summary.template_name() == "sl");
  CHECK(summary.partner_a_name() == "Alex");
  REQUIRE(summary.turns_size() == 2);
  CHECK(summary.turns(0).speaker() == v1::PARTNER_B);
  CHECK(summary.turns(0).stage_title() == "Floor");
  REQUIRE(summary.turns(0).confirmed_words_size() == 1);
  CHECK(summary.turns(0).confirmed_words(0) == "I was hurt");
  REQUIRE(summary.turns(0).confirmed_reflections_size() == 1);
  CHECK(summary.turns(0).confirmed_reflections(0) == "you were hurt");
  CHECK(summary.turns(1).speaker() == v1::PARTNER_A);
  CHECK(summary.turns(1).confirmed_words(0) == "I felt alone");
  REQUIRE(summary.agreements_size() == 1);
  CHECK(summary.agreements(0).text() == "walk on Sundays");
  CHECK(summary.agreements(0).proposed_by() == v1::PARTNER_A);
  REQUIRE(summary.appreciations_size() == 1);
  CHECK(summary.appreciations(0).text() == "thank you");
  CHECK(summary.appreciations(0).from() == v1::PARTNER_B);
  CHECK(summary.closed_ms() == room.now);
}

// Exact figures for a scripted conversation of every shipped template (server/templates), each
// with a pause and a retraction, to CLOSED. One second per step unless said otherwise.
namespace {

std::string shipped(const std::string& name) {
  std::ifstream in(std::string(MEND_SOURCE_DIR) + "/server/templates/" + name + ".textpb");
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t last_seq_of(const Room& room) { return room.last_event().seq(); }

std::uint64_t last_share_of(const Room& room, v1::Role author) {
  for (auto it = room.events.rbegin(); it != room.events.rend(); ++it) {
    if (it->has_shared() && it->actor().role() == author) return it->seq();
  }
  return 0;
}

// A pause of `seconds` by `who`, returned early after `seconds` - 10.
void short_pause(Room& room, const v1::Actor& who, int seconds) {
  room.ok(who, "pause { duration_s: " + std::to_string(seconds) + " }");
  room.advance_s(seconds - 10);
  room.ok(who, "return {}");
}

void close_with_appreciations(Room& room) {
  room.ok(partner_a(), R"(appreciate { text: "thank you for listening" })");
  room.ok(partner_b(), R"(appreciate { text: "thank you" })");
}

}  // namespace

TEST_CASE("insights of a scripted speaker-listener conversation: floor passes, a clarifying "
          "question, problem solving, a pause and a retraction") {
  Room room(shipped("speaker-listener"));
  room.consent_both();
  room.ok(partner_a(), R"(open { intention: "to understand" })");
  room.advance_s(1);
  room.ok(partner_a(), R"(share { text: "I missed you this week" })");  // 5 words
  const std::uint64_t first = last_seq_of(room);
  room.advance_s(2);
  room.ok(partner_b(), R"(ask { text: "which days?" })");
  room.ok(partner_a(), R"(share { text: "all of them" })");  // 3 words, answers the question
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "you missed me all week" })");
  room.advance_s(1);
  room.ok(partner_a(), "confirm {}");
  short_pause(room, partner_b(), 60);  // 50 s
  room.ok(partner_a(), "pass_floor {}");  // B holds the floor
  room.advance_s(1);
  room.ok(partner_b(), R"(share { text: "I was tired" })");  // 3 words
  room.advance_s(2);
  room.ok(partner_a(), R"(reflect { kind: MIRROR text: "you were tired" })");
  room.ok(partner_b(), "confirm {}");
  room.ok(partner_a(), "retract { seq: " + std::to_string(first) + " }");
  room.ok(partner_a(), "move_on {}");
  room.ok(partner_b(), "move_on {}");
  room.ok(partner_a(), "feel_understood {}");
  room.ok(partner_b(), "feel_understood {}");
  room.ok(partner_a(), "problem_solving_choice { opt_in: true }");
  room.ok(partner_b(), "problem_solving_choice { opt_in: true }");
  room.ok(partner_b(), R"(propose { text: "a call at noon" })");
  const std::uint64_t call = last_seq_of(room);
  room.ok(partner_a(), "accept_proposal { seq: " + std::to_string(call) + " }");
  room.ok(partner_a(), "finish_problem_solving {}");
  close_with_appreciations(room);
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);

  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "speaker-listener");
  CHECK(in.phase() == v1::PHASE_CLOSED);
  CHECK(a.turns() == 1);
  CHECK(b.turns() == 1);
  CHECK(a.shares() == 2);
  CHECK(a.words_shared() == 8);  // retraction changes no figure
  CHECK(b.shares() == 1);
  CHECK(b.words_shared() == 3);
  CHECK(b.questions_asked() == 1);
  CHECK(b.mirrors_given() == 1);
  CHECK(b.mirrors_confirmed() == 1);
  CHECK(a.mirrors_given() == 1);
  CHECK(a.mirrors_confirmed() == 1);
  CHECK(a.floor_passes() == 1);
  CHECK(b.pauses() == 1);
  CHECK(b.overlay_time_ms() == 50'000);
  CHECK(a.retractions() == 1);
  CHECK(b.proposals() == 1);
  CHECK(a.proposals_accepted() == 1);
  CHECK(a.appreciations() == 1);
  CHECK(b.appreciations() == 1);
  // A's floor: t=0 (open) to the pass at t=56 s, less B's 50 s pause: 6 s.
  CHECK(a.floor_time_ms() == 6'000);
  CHECK(b.floor_time_ms() == 3'000);
  REQUIRE(in.shares_size() == 3);
  CHECK(in.shares(0).retracted());
  CHECK(in.shares(0).words() == 5);
  REQUIRE(in.overlays_size() == 1);
  CHECK(in.overlays(0).kind() == v1::OVERLAY_PAUSE);
  CHECK(in.overlays(0).ending() == v1::OVERLAY_RETURNED_EARLY);
  CHECK(in.overlays(0).duration_ms() == 50'000);
}

namespace {

// One mirrored chunk and "no more": share, the reflection beat, mirror, confirm.
void mirrored_turn(Room& room, const v1::Actor& speaker, const v1::Actor& listener,
                   const std::string& text) {
  room.ok(speaker, R"(share { text: ")" + text + R"(" })");
  room.advance_ms(room.state.timing.reflection_beat_ms);
  room.ok(listener, R"(reflect { kind: MIRROR text: "you said so" })");
  room.ok(speaker, "confirm {}");
  room.ok(speaker, "no_more {}");
}

void reflect_and_confirm(Room& room, const v1::Actor& speaker, const v1::Actor& listener,
                         const std::string& kind) {
  room.ok(listener, "reflect { kind: " + kind + R"( text: "I hear you" })");
  room.ok(speaker, "confirm {}");
}

}  // namespace

TEST_CASE("insights of a scripted imago dialogue: an appointment, mirrors with more, the three "
          "turn reflections each way, a pause and a retraction") {
  Room room(shipped("imago-dialogue"));
  room.ok(partner_b(), "accept_invitation {}");
  room.open();
  room.advance_s(1);
  room.ok(partner_a(), R"(share { text: "I feel unheard at dinner" })");  // 5 words
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "you feel unheard" })");
  room.ok(partner_a(), "confirm {}");
  room.ok(partner_a(), "more {}");
  short_pause(room, partner_a(), 60);  // 50 s
  room.ok(partner_a(), R"(share { text: "and alone" })");  // 2 words
  room.advance_s(2);
  room.ok(partner_b(), R"(reflect { kind: MIRROR text: "and alone" })");
  room.ok(partner_a(), "confirm {}");
  room.ok(partner_a(), "no_more {}");
  for (const char* kind : {"SUMMARY", "VALIDATION", "EMPATHY"}) {
    reflect_and_confirm(room, partner_a(), partner_b(), kind);
  }
  REQUIRE(room.state.turn.speaker == v1::PARTNER_B);
  mirrored_turn(room, partner_b(), partner_a(), "I was busy");  // 3 words, 2 s
  const std::uint64_t busy = last_share_of(room, v1::PARTNER_B);
  for (const char* kind : {"SUMMARY", "VALIDATION", "EMPATHY"}) {
    reflect_and_confirm(room, partner_b(), partner_a(), kind);
  }
  room.ok(partner_b(), "retract { seq: " + std::to_string(busy) + " }");
  close_with_appreciations(room);
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);

  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "imago-dialogue");
  CHECK(in.stages_started() == 1);
  CHECK(a.turns() == 1);
  CHECK(b.turns() == 1);
  CHECK(a.shares() == 2);
  CHECK(a.words_shared() == 7);
  CHECK(b.shares() == 1);
  CHECK(b.words_shared() == 3);
  CHECK(b.mirrors_given() == 2);
  CHECK(b.mirrors_confirmed() == 2);
  CHECK(a.mirrors_given() == 1);
  CHECK(a.mirrors_confirmed() == 1);
  for (const v1::PartnerInsights* p : {&a, &b}) {
    CHECK(p->summaries_given() == 1);
    CHECK(p->validations_given() == 1);
    CHECK(p->empathy_given() == 1);
    CHECK(p->appreciations() == 1);
  }
  CHECK(a.pauses() == 1);
  CHECK(a.overlay_time_ms() == 50'000);
  CHECK(b.retractions() == 1);
  CHECK(a.floor_time_ms() == 5'000);  // 1 + 2 + 2 s; the pause excluded
  CHECK(b.floor_time_ms() == 2'000);
  REQUIRE(in.shares_size() == 3);
  CHECK(in.shares(2).retracted());
  CHECK(in.shares(2).words() == 3);
  REQUIRE(in.reflections_size() == 6);
  CHECK(in.reflections(2).kind() == v1::EMPATHY);
  CHECK(in.reflections(2).tries() == 1);
  REQUIRE(in.overlays_size() == 1);
  CHECK(in.overlays(0).caller() == v1::PARTNER_A);
  CHECK(in.overlays(0).ending() == v1::OVERLAY_RETURNED_EARLY);
}

TEST_CASE("insights of a scripted aftermath of a fight: five stages each way, the turn "
          "reflections of the realities, the apology response, a pause and a retraction") {
  Room room(shipped("aftermath-of-a-fight"));
  room.open();
  std::uint64_t regret = 0;
  for (int stage = 0; stage < 5; ++stage) {
    for (const bool a_speaks : {true, false}) {
      const v1::Actor speaker = a_speaks ? partner_a() : partner_b();
      const v1::Actor listener = a_speaks ? partner_b() : partner_a();
      mirrored_turn(room, speaker, listener, a_speaks ? "one two" : "three");
      if (stage == 1) {
        reflect_and_confirm(room, speaker, listener, "SUMMARY");
        reflect_and_confirm(room, speaker, listener, "VALIDATION");
      }
      if (stage == 3) {
        if (!a_speaks) regret = last_share_of(room, v1::PARTNER_B);
        room.ok(listener, "accept_apology {}");
      }
    }
    if (stage == 2) short_pause(room, partner_b(), 30);  // 20 s, between the stages' rounds
  }
  room.ok(partner_b(), "retract { seq: " + std::to_string(regret) + " }");
  close_with_appreciations(room);
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);

  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "aftermath-of-a-fight");
  CHECK(in.stages_started() == 5);
  CHECK(a.turns() == 5);
  CHECK(b.turns() == 5);
  CHECK(a.shares() == 5);
  CHECK(a.words_shared() == 10);
  CHECK(b.shares() == 5);
  CHECK(b.words_shared() == 5);
  CHECK(a.mirrors_given() == 5);
  CHECK(b.mirrors_confirmed() == 5);
  CHECK(a.summaries_given() == 1);
  CHECK(b.validations_given() == 1);
  CHECK(a.empathy_given() == 0);
  CHECK(b.pauses() == 1);
  CHECK(b.overlay_time_ms() == 20'000);
  CHECK(b.retractions() == 1);
  CHECK(a.floor_time_ms() == 10'000);  // the reflection beat of each of 5 turns
  CHECK(b.floor_time_ms() == 10'000);
  REQUIRE(in.shares_size() == 10);
  CHECK(in.shares(7).retracted());
  REQUIRE(in.overlays_size() == 1);
  CHECK(in.overlays(0).duration_ms() == 20'000);
}

TEST_CASE("insights of a scripted dreams-within-conflict: listener questions, summaries, a "
          "pause and a retraction") {
  Room room(shipped("dreams-within-conflict"));
  room.open();
  room.advance_s(1);
  room.ok(partner_a(), R"(share { text: "a house by the sea" })");  // 5 words
  const std::uint64_t house = last_seq_of(room);
  room.ok(partner_b(), R"(ask { text: "What do you believe about this?" })");
  room.advance_s(3);
  room.ok(partner_a(), R"(share { text: "that calm matters" })");  // 3 words, the answer
  room.ok(partner_a(), "no_more {}");
  room.advance_s(2);
  reflect_and_confirm(room, partner_a(), partner_b(), "SUMMARY");
  short_pause(room, partner_a(), 40);  // 30 s, in B's turn
  room.ok(partner_b(), R"(share { text: "travel" })");
  room.ok(partner_a(), R"(ask { text: "Is there a story behind this for you?" })");
  room.ok(partner_b(), R"(share { text: "my father travelled" })");
  room.ok(partner_b(), "no_more {}");
  room.advance_s(2);
  room.ok(partner_a(), R"(reflect { kind: SUMMARY text: "travel" })");
  room.ok(partner_b(), R"(correct { text: "travel and freedom" })");
  room.advance_s(2);
  reflect_and_confirm(room, partner_b(), partner_a(), "SUMMARY");
  room.ok(partner_a(), "retract { seq: " + std::to_string(house) + " }");
  close_with_appreciations(room);
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);

  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "dreams-within-conflict");
  CHECK(a.turns() == 1);
  CHECK(b.turns() == 1);
  CHECK(a.shares() == 2);
  CHECK(a.words_shared() == 8);
  CHECK(b.shares() == 2);
  CHECK(b.words_shared() == 4);
  CHECK(a.questions_asked() == 1);
  CHECK(b.questions_asked() == 1);
  CHECK(a.mirrors_given() == 0);
  CHECK(b.summaries_given() == 1);
  CHECK(a.summaries_given() == 1);
  CHECK(b.corrections() == 1);
  CHECK(a.pauses() == 1);
  CHECK(a.overlay_time_ms() == 30'000);
  CHECK(a.retractions() == 1);
  CHECK(a.floor_time_ms() == 6'000);  // 1 + 3 + 2 s
  CHECK(b.floor_time_ms() == 4'000);  // 2 + 2 s; the pause excluded
  REQUIRE(in.reflections_size() == 2);
  CHECK(in.reflections(1).tries() == 2);
  CHECK(in.reflections(1).corrections() == 1);
  CHECK(in.reflections(1).to_confirmation_ms() == 2'000);
}

TEST_CASE("insights of a scripted stress-reducing talk: advice on request, a question, empathy "
          "each way, a pause and a retraction") {
  Room room(shipped("stress-reducing-talk"));
  room.consent_both();
  room.ok(partner_b(), R"(open { intention: "to unwind" })");  // either partner opens: B
  room.advance_s(2);
  room.ok(partner_b(), R"(share { text: "work was loud today" })");  // 4 words
  room.ok(partner_b(), "request_advice {}");
  room.ok(partner_a(), R"(advise { text: "take a walk" })");
  room.ok(partner_b(), "no_more {}");
  room.advance_s(2);
  reflect_and_confirm(room, partner_b(), partner_a(), "EMPATHY");
  room.ok(partner_a(), R"(share { text: "my mother called" })");  // 3 words
  const std::uint64_t mother = last_seq_of(room);
  room.ok(partner_b(), R"(ask { text: "What worries you most about it?" })");
  short_pause(room, partner_b(), 20);  // 10 s
  room.ok(partner_a(), R"(share { text: "her health" })");  // 2 words
  room.ok(partner_a(), "retract { seq: " + std::to_string(mother) + " }");
  room.ok(partner_a(), "no_more {}");
  room.advance_s(2);
  reflect_and_confirm(room, partner_a(), partner_b(), "EMPATHY");
  close_with_appreciations(room);
  REQUIRE(room.state.phase == v1::PHASE_CLOSED);

  const v1::Insights in = project(room.events);
  const v1::PartnerInsights& a = in.partner_a();
  const v1::PartnerInsights& b = in.partner_b();
  CHECK(in.template_name() == "stress-reducing-talk");
  CHECK(b.turns() == 1);
  CHECK(a.turns() == 1);
  CHECK(b.shares() == 1);
  CHECK(b.words_shared() == 4);
  CHECK(a.shares() == 2);
  CHECK(a.words_shared() == 5);
  CHECK(b.questions_asked() == 1);
  CHECK(a.empathy_given() == 1);
  CHECK(b.empathy_given() == 1);
  CHECK(a.mirrors_given() == 0);
  CHECK(b.pauses() == 1);
  CHECK(b.overlay_time_ms() == 10'000);
  CHECK(a.retractions() == 1);
  CHECK(b.floor_time_ms() == 4'000);  // the opener B speaks first: 2 + 2 s
  CHECK(a.floor_time_ms() == 2'000);  // the pause excluded
  REQUIRE(in.overlays_size() == 1);
  CHECK(in.overlays(0).caller() == v1::PARTNER_B);
}
