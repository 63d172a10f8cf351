// Typed lines and slash commands of `mend join`, turned into v1::Commands.
#include <doctest/doctest.h>

#include "line_commands.h"
#include "views.h"

using mend::cli::interpret_line;
using mend::cli::LineAction;
using mend::cli::LineContext;
using mend::cli::testing::view;
namespace v1 = mend::v1;
using Kind = LineAction::Kind;

namespace {

constexpr std::int64_t kNow = 1'767'261'600'000;  // 2026-01-01 10:00 UTC

LineAction line(const std::string& text, const v1::RoomView& room) {
  return interpret_line(text, LineContext{&room, kNow, 0});
}

v1::Command sent(const std::string& text, const v1::RoomView& room) {
  const LineAction action = line(text, room);
  REQUIRE_MESSAGE(action.kind == Kind::kSend, action.message);
  return action.command;
}

}  // namespace

TEST_CASE("a typed line shares while the speaker holds the floor") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING,
                         {v1::ACTION_SHARE, v1::ACTION_PASS_FLOOR, v1::ACTION_PAUSE});
  const auto command = sent("I felt alone last night", room);
  REQUIRE(command.has_share());
  CHECK(command.share().text() == "I felt alone last night");
  CHECK(command.command_id().empty());
}

TEST_CASE("a typed line reflects with the kind of reflection the step expects") {
  auto room = view(v1::PARTNER_B, v1::PHASE_MIRRORING, {v1::ACTION_REFLECT});
  room.set_expected_reflection(v1::MIRROR);
  auto command = sent("You felt alone", room);
  REQUIRE(command.has_reflect());
  CHECK(command.reflect().kind() == v1::MIRROR);
  room.set_phase(v1::PHASE_VALIDATION);
  room.set_expected_reflection(v1::VALIDATION);
  command = sent("You make sense because...", room);
  CHECK(command.reflect().kind() == v1::VALIDATION);
}

TEST_CASE("a typed line opens, proposes, appreciates, or notes, by the step") {
  CHECK(sent("I care about us", view(v1::PARTNER_A, v1::PHASE_OPENING, {v1::ACTION_OPEN}))
            .open()
            .intention() == "I care about us");
  CHECK(sent("Walk on Sundays",
             view(v1::PARTNER_B, v1::PHASE_PROBLEM_SOLVING, {v1::ACTION_PROPOSE}))
            .has_propose());
  CHECK(sent("Thank you", view(v1::PARTNER_B, v1::PHASE_CLOSING, {v1::ACTION_APPRECIATE}))
            .has_appreciate());
  auto observer = view(v1::OBSERVER, v1::PHASE_SPEAKING, {v1::ACTION_NOTE, v1::ACTION_PROMPT});
  CHECK(sent("Sam is calmer today", observer).note().text() == "Sam is calmer today");
}

TEST_CASE("opening a room without a topic takes INTENTION | TOPIC") {
  auto room = view(v1::PARTNER_A, v1::PHASE_OPENING, {v1::ACTION_OPEN});
  room.clear_topic();
  CHECK(line("I care about us", room).kind == Kind::kMessage);
  const auto command = sent("I care about us | the holidays", room);
  CHECK(command.open().intention() == "I care about us");
  CHECK(command.open().topic() == "the holidays");
}

TEST_CASE("a typed line while it is the other's turn explains what can be done instead") {
  const auto room = view(v1::PARTNER_B, v1::PHASE_SPEAKING, {v1::ACTION_SIGNAL, v1::ACTION_PAUSE});
  const LineAction action = line("but you...", room);
  CHECK(action.kind == Kind::kMessage);
  CHECK(action.message.find("Nothing to type right now") != std::string::npos);
  CHECK(action.message.find("Sam speaks") != std::string::npos);
}

TEST_CASE("a typed line before the first view asks to wait") {
  CHECK(interpret_line("hello", LineContext{}).kind == Kind::kMessage);
  CHECK(interpret_line("   ", LineContext{}).kind == Kind::kNothing);
}

TEST_CASE("pause and time-out commands take durations and clock times") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {});
  CHECK(sent("/pause 2m", room).pause().duration_s() == 120);
  CHECK(sent("/pause", room).pause().duration_s() == 0);
  CHECK(sent("/timeout 30m", room).time_out().return_at_ms() == kNow + 30 * 60'000);
  CHECK(sent("/time-out 11:00", room).time_out().return_at_ms() == kNow + 60 * 60'000);
  CHECK(sent("/timeout", room).time_out().return_at_ms() == 0);
  CHECK(line("/pause soon", room).kind == Kind::kMessage);
}

TEST_CASE("extend adds to the current return time, or sets a clock time") {
  auto room = view(v1::PARTNER_A, v1::PHASE_TIMED_OUT, {v1::ACTION_EXTEND});
  room.set_overlay_ends_at_ms(kNow + 20 * 60'000);
  CHECK(sent("/extend 45m", room).extend().return_at_ms() == kNow + 65 * 60'000);
  CHECK(sent("/extend 12:00", room).extend().return_at_ms() == kNow + 120 * 60'000);
  room.set_overlay_ends_at_ms(kNow - 60'000);  // the return time passed: from now
  CHECK(sent("/extend 10m", room).extend().return_at_ms() == kNow + 10 * 60'000);
}

TEST_CASE("simple slash commands map to their commands") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_CONFIRMING, {});
  CHECK(sent("/return", room).has_return_());
  CHECK(sent("/ready", room).has_ready());
  CHECK(sent("/confirm", room).has_confirm());
  CHECK(sent("/correct I said lonely, not alone", room).correct().text() ==
        "I said lonely, not alone");
  CHECK(sent("/more", room).has_more());
  CHECK(sent("/nomore", room).has_no_more());
  CHECK(sent("/no-more", room).has_no_more());
  CHECK(sent("/pass", room).has_pass_floor());
  CHECK(sent("/accept-invite", room).has_accept_invitation());
  CHECK(sent("/understood", room).has_understood());
  CHECK(sent("/leave", room).has_leave());
  CHECK(sent("/end", room).has_end_session());
  CHECK(sent("/join", room).has_join());
  CHECK(sent("/note Sam looks tired", room).note().text() == "Sam looks tired");
  CHECK(sent("/prompt Take a breath together", room).prompt().text() == "Take a breath together");
  CHECK(sent("/break 5m", room).consult_break().duration_s() == 300);
  CHECK(sent("/CONFIRM", room).has_confirm());
}

TEST_CASE("commands that need words refuse to send nothing") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_CONFIRMING, {});
  CHECK(line("/correct", room).kind == Kind::kMessage);
  CHECK(line("/note   ", room).kind == Kind::kMessage);
}

TEST_CASE("signals and repairs take their plain names") {
  const auto room = view(v1::PARTNER_B, v1::PHASE_SPEAKING, {});
  CHECK(sent("/signal overwhelmed", room).signal().kind() == v1::OVERWHELMED);
  CHECK(sent("/signal take-your-time", room).signal().kind() == v1::TAKE_YOUR_TIME);
  CHECK(sent("/signal heard", room).signal().kind() == v1::FEELING_HEARD);
  CHECK(sent("/repair take-that-back", room).repair().kind() == v1::TAKE_THAT_BACK);
  CHECK(sent("/repair sorry", room).repair().kind() == v1::I_AM_SORRY);
  CHECK(line("/signal grumpy", room).kind == Kind::kMessage);
  CHECK(line("/repair", room).kind == Kind::kMessage);
}

TEST_CASE("retract, decline and accept take a seq, or the obvious one when omitted") {
  auto room = view(v1::PARTNER_A, v1::PHASE_PROBLEM_SOLVING, {});
  CHECK(sent("/retract 12", room).retract().seq() == 12);
  CHECK(sent("/retract [12]", room).retract().seq() == 12);
  CHECK(sent("/decline #7", room).decline().seq() == 7);
  CHECK(sent("/accept 9", room).accept_proposal().seq() == 9);
  CHECK(line("/retract", room).kind == Kind::kMessage);
  room.add_retractable(4);
  room.add_retractable(8);
  CHECK(sent("/retract", room).retract().seq() == 8);  // the latest
  room.add_acceptable_proposals(15);
  CHECK(sent("/accept", room).accept_proposal().seq() == 15);
  room.add_declinable(15);
  room.add_declinable(16);
  CHECK(line("/decline", room).kind == Kind::kMessage);  // which one?
  CHECK(line("/retract twelve", room).kind == Kind::kMessage);
}

TEST_CASE("approve and revoke name an observer") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_CONSENT, {});
  CHECK(sent("/approve counselor", room).approve_observer().observer() == "counselor");
  CHECK(sent("/revoke counselor", room).revoke_observer().observer() == "counselor");
  CHECK(line("/approve", room).kind == Kind::kMessage);
}

TEST_CASE("consent takes key=value terms on top of the terms given so far") {
  auto room = view(v1::PARTNER_A, v1::PHASE_CONSENT, {v1::ACTION_CONSENT});
  room.mutable_your_terms()->add_observers("coach");
  auto terms = sent("/consent retention=30 observers=counselor summary=yes", room)
                   .consent()
                   .terms();
  CHECK(terms.retention_days() == 30);
  REQUIRE(terms.observers_size() == 1);
  CHECK(terms.observers(0) == "counselor");
  CHECK(terms.summary_to_observer());
  CHECK_FALSE(terms.transcript_to_observer());
  terms = sent("/consent", room).consent().terms();
  REQUIRE(terms.observers_size() == 1);
  CHECK(terms.observers(0) == "coach");  // kept from the approvals
  CHECK(sent("/consent observers=none retention=0", room).consent().terms().observers().empty());
  CHECK(sent("/consent observers=a,b", room).consent().terms().observers_size() == 2);
  CHECK(line("/consent retention=soon", room).kind == Kind::kMessage);
  CHECK(line("/consent color=blue", room).kind == Kind::kMessage);
  CHECK(line("/consent yes", room).kind == Kind::kMessage);
}

TEST_CASE("propose-time and reschedule take a clock time") {
  const auto room = view(v1::PARTNER_B, v1::PHASE_INVITED, {});
  CHECK(sent("/propose-time 18:30", room).propose_time().start_at_ms() ==
        kNow + (8 * 60 + 30) * 60'000);
  CHECK(sent("/reschedule 2h", room).reschedule().start_at_ms() == kNow + 120 * 60'000);
  CHECK(line("/propose-time later", room).kind == Kind::kMessage);
}

TEST_CASE("solve says yes or no to problem solving") {
  const auto room = view(v1::PARTNER_B, v1::PHASE_SOLUTION_GATE, {});
  CHECK(sent("/solve yes", room).problem_solving_choice().opt_in());
  CHECK_FALSE(sent("/solve no", room).problem_solving_choice().opt_in());
  CHECK(line("/solve maybe", room).kind == Kind::kMessage);
}

TEST_CASE("finish ends problem solving while that is allowed, else finishes the closing") {
  CHECK(sent("/finish", view(v1::PARTNER_A, v1::PHASE_PROBLEM_SOLVING,
                             {v1::ACTION_FINISH_PROBLEM_SOLVING}))
            .has_finish_problem_solving());
  CHECK(sent("/finish", view(v1::PARTNER_A, v1::PHASE_CLOSING, {v1::ACTION_FINISH})).has_finish());
}

TEST_CASE("help, status, quit and reconnect stay local, and unknown commands are explained") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {});
  CHECK(line("/help", room).kind == Kind::kHelp);
  CHECK(line("/status", room).kind == Kind::kStatus);
  CHECK(line("/quit", room).kind == Kind::kQuit);
  CHECK(line("/reconnect", room).kind == Kind::kReconnect);
  const LineAction unknown = line("/dance", room);
  CHECK(unknown.kind == Kind::kMessage);
  CHECK(unknown.message.find("/help") != std::string::npos);
}

TEST_CASE("help lists the commands of the participant's role") {
  const std::string partner = mend::cli::help_text(false);
  CHECK(partner.find("/pause [2m]") != std::string::npos);
  CHECK(partner.find("/nomore (/no-more)") != std::string::npos);
  CHECK(partner.find("/note") == std::string::npos);
  const std::string observer = mend::cli::help_text(true);
  CHECK(observer.find("/note TEXT") != std::string::npos);
  CHECK(observer.find("/break") != std::string::npos);
  CHECK(observer.find("/confirm") == std::string::npos);
}

TEST_CASE("the opening carries the start-up lines typed after the intention and topic") {
  auto room = view(v1::PARTNER_B, v1::PHASE_OPENING, {v1::ACTION_OPEN});
  room.set_startup_form(true);
  const auto command =
      sent("I care about us | our evenings | lonely | Sunday nights | time together", room);
  REQUIRE(command.has_open());
  CHECK(command.open().intention() == "I care about us");
  CHECK(command.open().topic() == "our evenings");
  CHECK(command.open().startup().feeling() == "lonely");
  CHECK(command.open().startup().situation() == "Sunday nights");
  CHECK(command.open().startup().need() == "time together");
  const auto bare = sent("/open I care about us", room);
  CHECK_FALSE(bare.open().has_startup());
  CHECK(line("a | b | c | d | e | f", room).kind == Kind::kMessage);
}

TEST_CASE("moving on, feeling understood and asking for an example are slash commands") {
  const auto room = view(v1::PARTNER_A, v1::PHASE_SPEAKING, {v1::ACTION_MOVE_ON});
  CHECK(sent("/moveon", room).has_move_on());
  CHECK(sent("/move-on", room).has_move_on());
  CHECK(sent("/feel-understood", room).has_feel_understood());
  auto mirroring = view(v1::PARTNER_B, v1::PHASE_MIRRORING, {v1::ACTION_REFLECT, v1::ACTION_ASK});
  CHECK(sent("/ask Can you give me an example?", mirroring).ask().text() ==
        "Can you give me an example?");
  CHECK(sent("You felt alone", mirroring).has_reflect());
}
