// Plain words for the situation, the allowed actions, countdowns and rejections.
#include <doctest/doctest.h>

#include <algorithm>

#include "describe.h"
#include "views.h"

using namespace mend::cli;
using mend::cli::testing::view;
namespace v1 = mend::v1;

namespace {

constexpr std::int64_t kNow = 1'767'261'600'000;  // 2026-01-01 10:00 UTC

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("names come from the view, with plain defaults") {
  auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {});
  CHECK(partner_name(room, v1::PARTNER_A) == "Sam");
  v1::Actor observer;
  observer.set_role(v1::OBSERVER);
  observer.set_observer("counselor");
  CHECK(actor_name(room, observer) == "counselor (observer)");
  room.clear_partner_b_name();
  CHECK(partner_name(room, v1::PARTNER_B) == "Partner B");
}

TEST_CASE("the situation says whose turn it is in each step") {
  CHECK(describe_situation(view(v1::PARTNER_B, v1::PHASE_SPEAKING, {}), kNow, 0) ==
        "Sharing and mirroring: Sam speaks, Alex listens");
  CHECK(describe_situation(view(v1::PARTNER_B, v1::PHASE_MIRRORING, {}), kNow, 0) ==
        "Sharing and mirroring: Alex mirrors what Sam said");
  CHECK(describe_situation(view(v1::PARTNER_A, v1::PHASE_EMPATHY, {}, v1::PARTNER_B), kNow, 0) ==
        "Sharing and mirroring: Sam imagines how Alex feels");
  auto consent = view(v1::PARTNER_A, v1::PHASE_CONSENT, {});
  consent.set_a_consented(true);
  CHECK(describe_situation(consent, kNow, 0) ==
        "Agreeing on the terms (Sam: agreed, Alex: not yet)");
}

TEST_CASE("overlays name who called them and when they end") {
  auto paused = view(v1::PARTNER_B, v1::PHASE_PAUSED, {});
  paused.set_overlay_caller(v1::PARTNER_A);
  paused.set_overlay_ends_at_ms(kNow + 120'000);
  CHECK(describe_situation(paused, kNow, 0) == "Paused: Sam asked for a minute (until 10:02)");
  paused.mutable_you()->set_role(v1::PARTNER_A);
  CHECK(describe_situation(paused, kNow, 0) == "Paused: You asked for a minute (until 10:02)");
  auto timed_out = view(v1::PARTNER_B, v1::PHASE_TIMED_OUT, {});
  timed_out.set_overlay_caller(v1::PARTNER_A);
  timed_out.set_overlay_ends_at_ms(kNow + 30 * 60'000);
  CHECK(describe_situation(timed_out, kNow, 0) == "Time-out: Sam will come back at 10:30");
  timed_out.set_return_due(true);
  CHECK(describe_situation(timed_out, kNow, 0) == "Time-out: waiting for Sam to come back");
}

TEST_CASE("countdowns run for pauses, time-outs, breaks and appointments only") {
  auto paused = view(v1::PARTNER_B, v1::PHASE_PAUSED, {});
  paused.set_overlay_ends_at_ms(kNow + 102'000);
  CHECK(describe_countdown(paused, kNow, 0) == "Pause: 1:42 left");
  auto timed_out = view(v1::PARTNER_B, v1::PHASE_TIMED_OUT, {});
  timed_out.set_overlay_ends_at_ms(kNow + 19 * 60'000);
  CHECK(describe_countdown(timed_out, kNow, 0) == "Time-out: back in 19 min (at 10:19)");
  auto consult = view(v1::PARTNER_B, v1::PHASE_CONSULT_BREAK, {});
  consult.set_overlay_ends_at_ms(kNow + 5'000);
  CHECK(describe_countdown(consult, kNow, 0) == "Break: 0:05 left");
  CHECK_FALSE(describe_countdown(view(v1::PARTNER_B, v1::PHASE_SPEAKING, {}), kNow, 0));
}

TEST_CASE("the listener is told to mirror, the speaker to confirm or correct") {
  auto mirroring = view(v1::PARTNER_B, v1::PHASE_MIRRORING, {v1::ACTION_REFLECT, v1::ACTION_PAUSE,
                                                              v1::ACTION_SIGNAL});
  mirroring.set_expected_reflection(v1::MIRROR);
  const auto lines = describe_allowed_actions(mirroring);
  REQUIRE(lines.size() == 1);  // pauses and signals are for /help
  CHECK(lines[0] == "type to mirror what you heard Sam say");
  const auto confirming = describe_allowed_actions(
      view(v1::PARTNER_A, v1::PHASE_CONFIRMING, {v1::ACTION_CONFIRM, v1::ACTION_CORRECT}));
  CHECK(confirming == std::vector<std::string>{"/confirm if Alex got it",
                                               "/correct TEXT to gently say what was missed"});
}

TEST_CASE("each reflection kind is asked for in its own words") {
  auto room = view(v1::PARTNER_B, v1::PHASE_SUMMARY, {v1::ACTION_REFLECT});
  room.set_expected_reflection(v1::SUMMARY);
  CHECK(describe_allowed_actions(room)[0] == "type to sum up all you heard from Sam");
  room.set_expected_reflection(v1::VALIDATION);
  CHECK(describe_allowed_actions(room)[0] == "type how Sam makes sense to you");
  room.set_expected_reflection(v1::EMPATHY);
  CHECK(describe_allowed_actions(room)[0] == "type how you imagine Sam feels");
}

TEST_CASE("consent is offered while this partner has not consented, with invited observers") {
  auto room = view(v1::PARTNER_B, v1::PHASE_CONSENT,
                   {v1::ACTION_CONSENT, v1::ACTION_APPROVE_OBSERVER});
  auto* observer = room.add_participants();
  observer->mutable_actor()->set_role(v1::OBSERVER);
  observer->mutable_actor()->set_observer("counselor");
  CHECK(mentions(describe_allowed_actions(room), "/consent retention=30 observers=counselor"));
  room.set_b_consented(true);
  CHECK_FALSE(mentions(describe_allowed_actions(room), "/consent"));
}

TEST_CASE("every step action has words, and the typed one comes first") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING,
                         {v1::ACTION_PASS_FLOOR, v1::ACTION_SHARE, v1::ACTION_REQUEST_ADVICE});
  const auto lines = describe_allowed_actions(room);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("type to share") == 0);
  CHECK(lines[1] == "/pass to pass the floor to Alex");
  for (const v1::Action action :
       {v1::ACTION_ACCEPT_INVITATION, v1::ACTION_PROPOSE_TIME, v1::ACTION_JOIN, v1::ACTION_MORE,
        v1::ACTION_NO_MORE, v1::ACTION_ACCEPT_APOLOGY, v1::ACTION_STILL_NEED,
        v1::ACTION_UNDERSTOOD, v1::ACTION_PROBLEM_SOLVING_CHOICE, v1::ACTION_ACCEPT_PROPOSAL,
        v1::ACTION_DECLINE, v1::ACTION_FINISH, v1::ACTION_RETURN, v1::ACTION_EXTEND,
        v1::ACTION_READY, v1::ACTION_RESCHEDULE, v1::ACTION_PROMPT, v1::ACTION_CONSULT_BREAK,
        v1::ACTION_END_SESSION}) {
    CHECK_MESSAGE(!describe_action(room, action).empty(), v1::Action_Name(action));
  }
}

TEST_CASE("the status block shows the situation and what may be done, or that one listens") {
  auto listening = view(v1::PARTNER_B, v1::PHASE_SPEAKING, {v1::ACTION_SIGNAL});
  auto block = status_block(listening, kNow, 0);
  REQUIRE(block.size() == 2);
  CHECK(block[0] == "-- Sharing and mirroring: Sam speaks, Alex listens --");
  CHECK(block[1].find("nothing to do but listen") != std::string::npos);
  auto speaking = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {v1::ACTION_SHARE, v1::ACTION_PASS_FLOOR});
  block = status_block(speaking, kNow, 0);
  REQUIRE(block.size() == 3);
  CHECK(block[1].find("   You may: type to share") == 0);
}

TEST_CASE("rejections show the server's rule and the stable code") {
  v1::Rejection rejection;
  rejection.set_code(v1::NOT_YOUR_TURN);
  rejection.set_message("Sam holds the floor; you can share when it is your turn.");
  CHECK(describe_rejection(rejection) ==
        "Not accepted: Sam holds the floor; you can share when it is your turn. "
        "[NOT_YOUR_TURN]");
  CHECK(rejection_code_name(static_cast<v1::RejectionCode>(999)) == "UNKNOWN");
}

TEST_CASE("the opening offers the start-up form where the view asks for it") {
  auto room = view(v1::PARTNER_B, v1::PHASE_OPENING, {v1::ACTION_OPEN});
  CHECK(describe_situation(room, kNow, 0) == "Either of you can open the conversation");
  CHECK_FALSE(mentions(describe_allowed_actions(room), "I FEEL"));
  room.set_startup_form(true);
  CHECK(mentions(describe_allowed_actions(room), "INTENTION | TOPIC | I FEEL | ABOUT | I NEED"));
}

TEST_CASE("the start-up lines of the opening reach the status as one sentence") {
  auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {});
  room.set_intention("I care about us");
  room.mutable_startup()->set_feeling("lonely");
  room.mutable_startup()->set_situation("Sunday nights");
  room.mutable_startup()->set_need("time together");
  CHECK(describe_opening(room) ==
        std::vector<std::string>{"Topic: the holidays", "Intention: I care about us",
                                 "Start-up: I feel lonely about Sunday nights and I need time "
                                 "together."});
  room.mutable_startup()->clear_feeling();
  room.mutable_startup()->clear_situation();
  CHECK(startup_words(room.startup()) == "I need time together.");
}

TEST_CASE("moving on, feeling understood and clarifying are offered in plain words") {
  auto speaking = view(v1::PARTNER_B, v1::PHASE_SPEAKING, {v1::ACTION_MOVE_ON});
  speaking.set_a_moves_on(true);
  CHECK(describe_situation(speaking, kNow, 0) ==
        "Sharing and mirroring: Sam speaks, Alex listens (ready to move on: Sam)");
  CHECK(mentions(describe_allowed_actions(speaking), "/moveon"));
  auto mirroring = view(v1::PARTNER_B, v1::PHASE_MIRRORING, {v1::ACTION_REFLECT, v1::ACTION_ASK});
  const auto actions = describe_allowed_actions(mirroring);
  CHECK(actions.front().find("mirror") != std::string::npos);
  CHECK(mentions(actions, "/ask TEXT to ask Sam for an example"));
  auto gate = view(v1::PARTNER_A, v1::PHASE_SOLUTION_GATE, {v1::ACTION_FEEL_UNDERSTOOD});
  gate.set_b_feels_understood(true);
  CHECK(describe_situation(gate, kNow, 0) ==
        "Do you both feel understood? (Sam: not yet, Alex: yes)");
  CHECK(mentions(describe_allowed_actions(gate), "/feel-understood"));
}
