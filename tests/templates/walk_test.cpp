// Every shipped template, and a sixth one loaded from a temporary file, walked end to end
// through the real engine (DESIGN.md 4.2: "each with tests that walk a full conversation").
//
// One generic walker reads the template and plays every step it asks for: appointment,
// consent, opening, each stage round (shares, mirrors with the reflection beat, corrections,
// more / no_more, summary, validation, empathy, apology responses, questions, advice on
// request, soft turn hints), the switch of roles, the solution gate and problem solving when
// on, closing, CLOSED. Phases and views are checked after every step. Time is injected.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "tests/templates/template_support.h"

namespace {

namespace v1 = mend::v1;
namespace engine = mend::engine;
using engine::TimeMs;

constexpr TimeMs kStart = 1'700'000'000'000;  // an arbitrary fixed instant
constexpr TimeMs kSecond = 1000;

v1::Actor partner(v1::Role role) {
  v1::Actor actor;
  actor.set_role(role);
  return actor;
}

v1::Role other(v1::Role role) { return role == v1::PARTNER_A ? v1::PARTNER_B : v1::PARTNER_A; }

bool allows(const v1::RoomView& view, v1::Action action) {
  return std::find(view.allowed_actions().begin(), view.allowed_actions().end(), action) !=
         view.allowed_actions().end();
}

// --- Commands -------------------------------------------------------------------------------

v1::Command share(const std::string& text) {
  v1::Command c;
  c.mutable_share()->set_text(text);
  return c;
}
v1::Command reflect(v1::ReflectionKind kind, const std::string& text) {
  v1::Command c;
  c.mutable_reflect()->set_kind(kind);
  c.mutable_reflect()->set_text(text);
  return c;
}
v1::Command correct(const std::string& text) {
  v1::Command c;
  c.mutable_correct()->set_text(text);
  return c;
}
v1::Command still_need(const std::string& text) {
  v1::Command c;
  c.mutable_still_need()->set_text(text);
  return c;
}
v1::Command ask(const std::string& text) {
  v1::Command c;
  c.mutable_ask()->set_text(text);
  return c;
}
v1::Command advise(const std::string& text) {
  v1::Command c;
  c.mutable_advise()->set_text(text);
  return c;
}
v1::Command propose(const std::string& text) {
  v1::Command c;
  c.mutable_propose()->set_text(text);
  return c;
}
v1::Command appreciate(const std::string& text) {
  v1::Command c;
  c.mutable_appreciate()->set_text(text);
  return c;
}
v1::Command consent(std::uint32_t retention_days) {
  v1::Command c;
  c.mutable_consent()->mutable_terms()->set_retention_days(retention_days);
  return c;
}
v1::Command open(const std::string& intention, const std::string& topic) {
  v1::Command c;
  c.mutable_open()->set_intention(intention);
  c.mutable_open()->set_topic(topic);
  return c;
}
v1::Command problem_solving_choice(bool opt_in) {
  v1::Command c;
  c.mutable_problem_solving_choice()->set_opt_in(opt_in);
  return c;
}
v1::Command accept_proposal(std::uint64_t seq) {
  v1::Command c;
  c.mutable_accept_proposal()->set_seq(seq);
  return c;
}
v1::Command decline(std::uint64_t seq) {
  v1::Command c;
  c.mutable_decline()->set_seq(seq);
  return c;
}
v1::Command propose_time(TimeMs at) {
  v1::Command c;
  c.mutable_propose_time()->set_start_at_ms(at);
  return c;
}
v1::Command pause(std::uint32_t seconds) {
  v1::Command c;
  c.mutable_pause()->set_duration_s(seconds);
  return c;
}
v1::Command time_out(TimeMs return_at) {
  v1::Command c;
  c.mutable_time_out()->set_return_at_ms(return_at);
  return c;
}

// Commands without arguments: `simple(&v1::Command::mutable_confirm)`.
template <typename Body>
v1::Command simple(Body* (v1::Command::*mutable_body)()) {
  v1::Command c;
  (c.*mutable_body)();
  return c;
}

// --- A room driven through the engine with an injected clock ----------------------------------

class Room {
 public:
  Room(const v1::Template& tmpl, TimeMs start) : now_(start) {
    engine::RoomSetup setup;
    setup.partner_a_name = "Alex";
    setup.partner_b_name = "Sam";
    apply({engine::create_room(tmpl, setup, now_)});
  }

  // Runs `command` as `role`; it must be accepted. Applies and returns its events.
  std::vector<v1::Event> accept(v1::Role role, v1::Command command) {
    command.set_command_id("c" + std::to_string(++commands_));
    const engine::Decision d = engine::decide(state_, command, partner(role), now_);
    INFO("command " << command.ShortDebugString() << " from " << v1::Role_Name(role));
    if (!d.accepted()) FAIL_CHECK("rejected: " << d.rejection->ShortDebugString());
    REQUIRE(d.accepted());
    REQUIRE_FALSE(d.events.empty());
    apply(d.events);
    return d.events;
  }

  // Runs `command` as `role`; it must be rejected. Returns the rejection; state unchanged.
  v1::Rejection reject(v1::Role role, v1::Command command) {
    command.set_command_id("c" + std::to_string(++commands_));
    const engine::Decision d = engine::decide(state_, command, partner(role), now_);
    INFO("command " << command.ShortDebugString() << " from " << v1::Role_Name(role));
    REQUIRE_FALSE(d.accepted());
    CHECK(d.events.empty());
    return *d.rejection;
  }

  // Moves the clock and applies every timer event due by then. Returns those events.
  std::vector<v1::Event> advance_to(TimeMs when) {
    REQUIRE(when >= now_);
    now_ = when;
    std::vector<v1::Event> fired;
    for (int bound = 0; bound < 100; ++bound) {
      const std::vector<v1::Event> due = engine::tick(state_, now_);
      if (due.empty()) return fired;
      apply(due);
      fired.insert(fired.end(), due.begin(), due.end());
    }
    FAIL("tick kept returning events");
    return fired;
  }
  std::vector<v1::Event> advance(TimeMs ms) { return advance_to(now_ + ms); }

  v1::RoomView view(v1::Role role) const { return engine::view(state_, partner(role)); }
  v1::Phase phase() const { return view(v1::PARTNER_A).phase(); }
  TimeMs now() const { return now_; }
  const engine::RoomState& state() const { return state_; }

 private:
  void apply(const std::vector<v1::Event>& events) {
    for (const v1::Event& e : events) {
      REQUIRE(e.seq() == state_.last_seq + 1);
      engine::evolve(state_, e);
    }
  }

  engine::RoomState state_;
  TimeMs now_;
  int commands_ = 0;
};

// --- The walker -----------------------------------------------------------------------------

v1::Phase phase_of(v1::ReflectionKind kind) {
  switch (kind) {
    case v1::SUMMARY:
      return v1::PHASE_SUMMARY;
    case v1::VALIDATION:
      return v1::PHASE_VALIDATION;
    case v1::EMPATHY:
      return v1::PHASE_EMPATHY;
    default:
      return v1::PHASE_MIRRORING;
  }
}

// A reflection kind that is not `kind` (to check that the owed kind is enforced).
v1::ReflectionKind another_kind(v1::ReflectionKind kind) {
  return kind == v1::SUMMARY ? v1::EMPATHY : v1::SUMMARY;
}

struct WalkCounts {
  int rounds = 0;
  int mirrors = 0;
  int corrections = 0;
  int turn_reflections = 0;
  int apology_responses = 0;
  int questions = 0;
  int advice = 0;
  int turn_hints = 0;
  int clarifications = 0;
  int moves_on = 0;
};

// An overlay played once, at the start of the first round (DESIGN 4.4).
enum class Overlay { kNone, kPause, kTimeOut };

class Walker {
 public:
  explicit Walker(const v1::Template& tmpl, Overlay overlay = Overlay::kNone)
      : t_(tmpl), room_(tmpl, kStart), overlay_(overlay) {}

  WalkCounts walk() {
    answer_invitation();
    give_consent();
    open_conversation();
    for (int i = 0; i < t_.stages_size(); ++i) stage(i);
    if (t_.problem_solving()) solution_gate();
    close_conversation();
    return counts_;
  }

  Room& room() { return room_; }

 private:
  void answer_invitation() {
    if (!t_.opening().appointment()) {
      CHECK(room_.phase() == v1::PHASE_CONSENT);
      return;
    }
    REQUIRE(room_.phase() == v1::PHASE_INVITED);
    CHECK(allows(room_.view(v1::PARTNER_B), v1::ACTION_ACCEPT_INVITATION));
    CHECK(allows(room_.view(v1::PARTNER_B), v1::ACTION_PROPOSE_TIME));
    CHECK_FALSE(allows(room_.view(v1::PARTNER_A), v1::ACTION_ACCEPT_INVITATION));
    // "Not now": partner B names a time within the appointment window; it arrives.
    const TimeMs start_at = room_.now() + 3600 * kSecond;
    room_.accept(v1::PARTNER_B, propose_time(start_at));
    CHECK(room_.phase() == v1::PHASE_INVITED);
    CHECK(room_.view(v1::PARTNER_A).appointment_at_ms() == start_at);
    CHECK(room_.advance(3599 * kSecond).empty());
    const std::vector<v1::Event> due = room_.advance_to(start_at);
    REQUIRE(due.size() == 1);
    CHECK(due[0].has_appointment_due());
    CHECK(room_.phase() == v1::PHASE_CONSENT);
  }

  void give_consent() {
    REQUIRE(room_.phase() == v1::PHASE_CONSENT);
    CHECK(room_.reject(v1::PARTNER_A, open("I care about us", "the dishes")).code() ==
          v1::WRONG_PHASE);
    room_.accept(v1::PARTNER_A, consent(30));
    CHECK(room_.phase() == v1::PHASE_CONSENT);
    CHECK(room_.view(v1::PARTNER_B).a_consented());
    room_.accept(v1::PARTNER_B, consent(7));
    CHECK(room_.phase() == v1::PHASE_OPENING);
    CHECK(room_.view(v1::PARTNER_A).effective_terms().retention_days() == 7);
  }

  // Where either partner may open, partner B does (and is the initiator the stage openers are
  // relative to); else partner A.
  void open_conversation() {
    REQUIRE(room_.phase() == v1::PHASE_OPENING);
    const bool either = t_.opening().either_partner_opens();
    initiator_ = either ? v1::PARTNER_B : v1::PARTNER_A;
    CHECK(allows(room_.view(v1::PARTNER_A), v1::ACTION_OPEN));
    CHECK(allows(room_.view(v1::PARTNER_B), v1::ACTION_OPEN) == either);
    CHECK(room_.view(v1::PARTNER_A).startup_form() == t_.opening().startup_form());
    if (!either) {
      CHECK(room_.reject(v1::PARTNER_B, open("I care", "the dishes")).code() ==
            v1::NOT_YOUR_TURN);
    }
    v1::Command opening = open("I'm sharing this because I care about us.", "chores");
    if (t_.opening().startup_form()) {
      opening.mutable_open()->mutable_startup()->set_feeling("lonely");
      opening.mutable_open()->mutable_startup()->set_situation("our evenings");
      opening.mutable_open()->mutable_startup()->set_need("time together");
    }
    const std::vector<v1::Event> events = room_.accept(initiator_, opening);
    REQUIRE(events.size() == 2);
    CHECK(events[0].has_conversation_opened());
    REQUIRE(events[1].has_stage_started());
    CHECK(events[1].stage_started().stage_index() == 0);
    CHECK(events[1].stage_started().speaker() == opener(0));
    if (t_.opening().startup_form()) {
      CHECK(room_.view(other(initiator_)).startup().need() == "time together");
    }
    const v1::RoomView view = room_.view(v1::PARTNER_B);
    CHECK(view.topic() == "chores");
    CHECK(view.intention() == "I'm sharing this because I care about us.");
    CHECK(view.template_name() == t_.name());
  }

  // Who speaks first in stage `index`: stage openers are relative to the initiator.
  v1::Role opener(int index) const {
    const v1::Role role = t_.stages(index).opener();
    return initiator_ == v1::PARTNER_B ? other(role) : role;
  }

  void stage(int index) {
    const v1::Stage& s = t_.stages(index);
    INFO("stage " << index << " (" << s.name() << ")");
    if (s.until_both_move_on()) return floor_stage(index);
    round(index, opener(index), /*first=*/true);
    if (s.both_partners()) round(index, other(opener(index)), /*first=*/false);
  }

  // PREP: the floor goes back and forth as often as the couple needs (here: to the second
  // partner, back to the first), until both choose to move on.
  void floor_stage(int index) {
    const v1::Role first = opener(index);
    round(index, first, /*first=*/true);
    round(index, other(first), /*first=*/true);
    ++counts_.rounds;
    REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
    CHECK(room_.view(first).speaker() == first);
    mirror_chunk(t_.stages(index), first, "One more thing: I love our Sundays.", false);
    CHECK(allows(room_.view(other(first)), v1::ACTION_MOVE_ON));
    room_.accept(other(first), simple(&v1::Command::mutable_move_on));
    CHECK(room_.view(first).stage_index() == static_cast<std::uint32_t>(index));
    CHECK(room_.reject(other(first), simple(&v1::Command::mutable_move_on)).code() ==
          v1::ALREADY_DONE);
    const std::vector<v1::Event> ended = room_.accept(first, simple(&v1::Command::mutable_move_on));
    CHECK(ended.front().has_move_on_chosen());
    ++counts_.moves_on;
    check_turn_end(index, first, /*first=*/false);
  }

  // One speaker's round in a stage, from SPEAKING to the turn's end.
  void round(int index, v1::Role speaker, bool first) {
    const v1::Stage& s = t_.stages(index);
    const v1::Role listener = other(speaker);
    INFO("speaker " << v1::Role_Name(speaker));
    ++counts_.rounds;
    const TimeMs turn_start = room_.now();
    check_round_start(index, speaker);
    if (overlay_ != Overlay::kNone) play_overlay(speaker);
    while_speaking(s, speaker);
    if (s.soft_turn_s() > 0) soft_turn_hint(s, turn_start);

    if (s.mirror_each_chunk()) {
      mirror_chunk(s, speaker, "I felt alone on Sunday evening.", /*with_correction=*/true);
      if (s.more_loop()) {
        REQUIRE(room_.phase() == v1::PHASE_MORE);
        CHECK(allows(room_.view(speaker), v1::ACTION_MORE));
        CHECK(allows(room_.view(speaker), v1::ACTION_NO_MORE));
        CHECK(room_.reject(listener, simple(&v1::Command::mutable_more)).code() ==
              v1::NOT_YOUR_TURN);
        room_.accept(speaker, simple(&v1::Command::mutable_more));
        REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
        mirror_chunk(s, speaker, "And I would love us to cook together.", false);
        REQUIRE(room_.phase() == v1::PHASE_MORE);
        finish_sharing(index, speaker, first, simple(&v1::Command::mutable_no_more));
      } else {
        // PREP: after a confirmed paraphrase the speaker keeps the floor or passes it.
        REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
        CHECK(allows(room_.view(speaker), v1::ACTION_PASS_FLOOR));
        mirror_chunk(s, speaker, "I need us to plan the week together.", false);
        REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
        finish_sharing(index, speaker, first, simple(&v1::Command::mutable_pass_floor));
      }
    } else {
      room_.accept(speaker, share("This matters to me because of my family."));
      CHECK(room_.phase() == v1::PHASE_SPEAKING);
      room_.accept(speaker, share("It means I am safe."));
      CHECK(room_.phase() == v1::PHASE_SPEAKING);
      CHECK(room_.reject(listener, simple(&v1::Command::mutable_no_more)).code() ==
            v1::NOT_YOUR_TURN);
      finish_sharing(index, speaker, first, simple(&v1::Command::mutable_no_more));
    }
  }

  void check_round_start(int index, v1::Role speaker) {
    const v1::Stage& s = t_.stages(index);
    const v1::Role listener = other(speaker);
    REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
    const v1::RoomView vs = room_.view(speaker);
    const v1::RoomView vl = room_.view(listener);
    CHECK(vs.speaker() == speaker);
    CHECK(vs.listener() == listener);
    CHECK(vl.speaker() == speaker);
    CHECK(vs.stage_index() == static_cast<std::uint32_t>(index));
    CHECK(vs.stage_name() == s.name());
    CHECK(vs.stage_title() == s.title());
    CHECK(vs.prompt() == s.speaker_prompt());
    CHECK(vl.prompt() == s.listener_prompt());
    CHECK(vs.chunk_max_chars() == (s.chunk_max_chars() != 0 ? s.chunk_max_chars() : 1000));
    CHECK(allows(vs, v1::ACTION_SHARE));
    CHECK(allows(vs, v1::ACTION_PASS_FLOOR));
    CHECK_FALSE(allows(vl, v1::ACTION_SHARE));
    CHECK_FALSE(allows(vl, v1::ACTION_REFLECT));
    CHECK_FALSE(allows(vs, v1::ACTION_PROPOSE));
    // The floor: the listener's content is rejected.
    CHECK(room_.reject(listener, share("But I think...")).code() == v1::NOT_YOUR_TURN);
    // Postpone persuasion: no proposals during the stage rounds.
    CHECK(room_.reject(speaker, propose("Let's do it my way")).code() == v1::WRONG_PHASE);
    // The chunk limit.
    const std::uint32_t limit = vs.chunk_max_chars();
    CHECK(room_.reject(speaker, share(std::string(limit + 1, 'a'))).code() == v1::TOO_LONG);
  }

  // "I need a minute": the speaker pauses; it runs out into a check-in both answer.
  // Or the listener is flooded and calls a time-out: no last word, only the caller returns.
  void play_overlay(v1::Role speaker) {
    const v1::Role listener = other(speaker);
    const Overlay overlay = std::exchange(overlay_, Overlay::kNone);
    if (overlay == Overlay::kPause) {
      room_.accept(speaker, pause(0));
      REQUIRE(room_.phase() == v1::PHASE_PAUSED);
      CHECK(room_.view(listener).saved_phase() == v1::PHASE_SPEAKING);
      CHECK(room_.reject(speaker, share("...")).code() == v1::PAUSED);
      CHECK(room_.reject(listener, share("...")).code() == v1::PAUSED);
      const TimeMs until = room_.view(listener).overlay_ends_at_ms();
      CHECK(until == room_.now() + 120 * kSecond);  // the default short pause
      const std::vector<v1::Event> ended = room_.advance_to(until);
      REQUIRE(ended.size() == 1);
      CHECK(ended[0].check_in_started().reason() == v1::PAUSE_ENDED);
      REQUIRE(room_.phase() == v1::PHASE_CHECK_IN);
      room_.accept(listener, simple(&v1::Command::mutable_ready));
      CHECK(room_.phase() == v1::PHASE_CHECK_IN);
      room_.accept(speaker, simple(&v1::Command::mutable_ready));
    } else {
      room_.accept(listener, time_out(0));
      REQUIRE(room_.phase() == v1::PHASE_TIMED_OUT);
      CHECK(room_.reject(speaker, share("Just one more thing")).code() == v1::TIMED_OUT);
      CHECK(room_.reject(speaker, simple(&v1::Command::mutable_return_)).code() == v1::ONLY_CALLER);
      const TimeMs return_at = room_.view(speaker).overlay_ends_at_ms();
      CHECK(return_at == room_.now() + 1200 * kSecond);  // the default: 20 minutes
      const std::vector<v1::Event> due = room_.advance_to(return_at);
      REQUIRE(due.size() == 1);
      CHECK(due[0].has_time_out_return_due());
      CHECK(room_.view(listener).return_due());
      room_.accept(listener, simple(&v1::Command::mutable_return_));
    }
    REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
    CHECK(room_.view(listener).speaker() == speaker);
  }

  // What a listener may do while the speaker holds the floor: questions, advice on request.
  void while_speaking(const v1::Stage& s, v1::Role speaker) {
    const v1::Role listener = other(speaker);
    const v1::RoomView vl = room_.view(listener);
    if (s.listener_may_ask()) {
      CHECK(allows(vl, v1::ACTION_ASK));
      CHECK(std::vector<std::string>(vl.listener_questions().begin(),
                                     vl.listener_questions().end()) ==
            std::vector<std::string>(s.listener_questions().begin(), s.listener_questions().end()));
      const std::vector<v1::Event> asked = room_.accept(listener, ask(s.listener_questions(0)));
      CHECK(asked.back().has_asked());
      CHECK(room_.phase() == v1::PHASE_SPEAKING);
      ++counts_.questions;
    } else {
      CHECK_FALSE(allows(vl, v1::ACTION_ASK));
      CHECK(room_.reject(listener, ask("Why?")).code() == v1::WRONG_PHASE);
    }
    if (s.advice_on_request()) {
      CHECK_FALSE(allows(vl, v1::ACTION_ADVISE));
      CHECK(room_.reject(listener, advise("You should quit.")).code() == v1::ADVICE_NOT_REQUESTED);
      CHECK(allows(room_.view(speaker), v1::ACTION_REQUEST_ADVICE));
      room_.accept(speaker, simple(&v1::Command::mutable_request_advice));
      CHECK(room_.view(listener).advice_requested());
      CHECK(allows(room_.view(listener), v1::ACTION_ADVISE));
      room_.accept(listener, advise("Maybe talk to your manager?"));
      CHECK(room_.phase() == v1::PHASE_SPEAKING);
      ++counts_.advice;
    } else {
      CHECK_FALSE(allows(vl, v1::ACTION_ADVISE));
      const v1::RejectionCode code = room_.reject(listener, advise("You should...")).code();
      CHECK((code == v1::WRONG_PHASE || code == v1::ADVICE_NOT_REQUESTED));
    }
  }

  // A soft speaker-turn limit: one hint, no cut-off.
  void soft_turn_hint(const v1::Stage& s, TimeMs turn_start) {
    const TimeMs due = turn_start + static_cast<TimeMs>(s.soft_turn_s()) * kSecond;
    const std::optional<TimeMs> deadline = engine::next_deadline(room_.state());
    CHECK(deadline.has_value());
    if (deadline) CHECK(*deadline == due);
    const v1::Phase before = room_.phase();
    CHECK(room_.advance_to(due - 1).empty());
    const std::vector<v1::Event> fired = room_.advance_to(due);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].has_turn_time_hint());
    CHECK(fired[0].turn_time_hint().elapsed_s() == s.soft_turn_s());
    CHECK(room_.phase() == before);              // never cut off
    CHECK(room_.advance(60 * kSecond).empty());  // once per turn
    ++counts_.turn_hints;
  }

  // Share one chunk; the listener mirrors (after the beat), optionally is corrected once and
  // mirrors again; the speaker confirms.
  void mirror_chunk(const v1::Stage& s, v1::Role speaker, const std::string& chunk,
                    bool with_correction) {
    const v1::Role listener = other(speaker);
    room_.accept(speaker, share(chunk));
    REQUIRE(room_.phase() == v1::PHASE_MIRRORING);
    CHECK(room_.view(listener).expected_reflection() == v1::MIRROR);
    CHECK(allows(room_.view(listener), v1::ACTION_REFLECT));
    CHECK_FALSE(allows(room_.view(speaker), v1::ACTION_SHARE));
    CHECK(room_.reject(speaker, share("one more thing")).code() == v1::WRONG_PHASE);
    if (s.listener_may_clarify() && with_correction) {
      // "Can you give me an example?" in place of the mirror; the speaker answers.
      CHECK(allows(room_.view(listener), v1::ACTION_ASK));
      room_.accept(listener, ask("Can you give me an example?"));
      REQUIRE(room_.phase() == v1::PHASE_MIRRORING);
      CHECK(allows(room_.view(speaker), v1::ACTION_SHARE));
      room_.accept(speaker, share("Last Sunday I ate alone."));
      REQUIRE(room_.phase() == v1::PHASE_MIRRORING);
      ++counts_.clarifications;
    } else if (!s.listener_may_clarify()) {
      CHECK_FALSE(allows(room_.view(listener), v1::ACTION_ASK));
    }
    mirror_after_beat(listener, "If I got it, you said: " + chunk);
    if (with_correction) {
      room_.accept(speaker, correct("Almost: it was the whole weekend."));
      REQUIRE(room_.phase() == v1::PHASE_MIRRORING);
      ++counts_.corrections;
      mirror_after_beat(listener, "If I got it, it was the whole weekend.");
    }
    CHECK(allows(room_.view(speaker), v1::ACTION_CONFIRM));
    CHECK(room_.reject(listener, simple(&v1::Command::mutable_confirm)).code() ==
          v1::NOT_YOUR_TURN);
    const std::vector<v1::Event> confirmed =
        room_.accept(speaker, simple(&v1::Command::mutable_confirm));
    CHECK(confirmed.front().confirmed().kind() == v1::MIRROR);
  }

  // The listener mirrors too soon (TOO_SOON with retry_after_ms), then at the beat.
  void mirror_after_beat(v1::Role listener, const std::string& text) {
    const v1::Rejection early = room_.reject(listener, reflect(v1::MIRROR, text));
    CHECK(early.code() == v1::TOO_SOON);
    CHECK(early.retry_after_ms() > 0);
    const TimeMs not_before = room_.view(listener).reflect_not_before_ms();
    CHECK(not_before > room_.now());
    CHECK(static_cast<std::uint32_t>(not_before - room_.now()) == engine_beat_ms());
    room_.advance_to(not_before);
    room_.accept(listener, reflect(v1::MIRROR, text));
    REQUIRE(room_.phase() == v1::PHASE_CONFIRMING);
    ++counts_.mirrors;
  }

  // The speaker ends sharing with `done` (no_more or pass_floor); then the turn reflections,
  // the stage closer, and the turn's end.
  void finish_sharing(int index, v1::Role speaker, bool first, const v1::Command& done) {
    const v1::Stage& s = t_.stages(index);
    room_.accept(speaker, done);
    if (!done.has_pass_floor()) {
      for (int k = 0; k < s.turn_reflections_size(); ++k) {
        turn_reflection(s.turn_reflections(k), speaker, /*with_correction=*/k == 0);
      }
      if (s.closer() == v1::APOLOGY_RESPONSE) apology_response(speaker, first);
    }
    check_turn_end(index, speaker, first);
  }

  void turn_reflection(v1::ReflectionKind kind, v1::Role speaker, bool with_correction) {
    const v1::Role listener = other(speaker);
    INFO("turn reflection " << v1::ReflectionKind_Name(kind));
    REQUIRE(room_.phase() == phase_of(kind));
    CHECK(room_.view(listener).expected_reflection() == kind);
    CHECK(allows(room_.view(listener), v1::ACTION_REFLECT));
    CHECK(room_.reject(listener, reflect(another_kind(kind), "...")).code() == v1::WRONG_PHASE);
    CHECK(room_.reject(speaker, reflect(kind, "...")).code() == v1::NOT_YOUR_TURN);
    room_.accept(listener, reflect(kind, "So, in summary, I heard ..."));
    REQUIRE(room_.phase() == v1::PHASE_CONFIRMING);
    if (with_correction) {
      room_.accept(speaker, correct("You left out how tired I was."));
      REQUIRE(room_.phase() == phase_of(kind));
      ++counts_.corrections;
      // A reflection right after a correction waits for the beat too.
      CHECK(room_.reject(listener, reflect(kind, "...")).code() == v1::TOO_SOON);
      room_.advance_to(room_.view(listener).reflect_not_before_ms());
      room_.accept(listener, reflect(kind, "You make sense because you were tired."));
      REQUIRE(room_.phase() == v1::PHASE_CONFIRMING);
    }
    const std::vector<v1::Event> confirmed =
        room_.accept(speaker, simple(&v1::Command::mutable_confirm));
    CHECK(confirmed.front().confirmed().kind() == kind);
    ++counts_.turn_reflections;
  }

  void apology_response(v1::Role speaker, bool first) {
    const v1::Role listener = other(speaker);
    REQUIRE(room_.phase() == v1::PHASE_APOLOGY_RESPONSE);
    CHECK(allows(room_.view(listener), v1::ACTION_ACCEPT_APOLOGY));
    CHECK(allows(room_.view(listener), v1::ACTION_STILL_NEED));
    CHECK_FALSE(allows(room_.view(speaker), v1::ACTION_ACCEPT_APOLOGY));
    CHECK(room_.reject(speaker, simple(&v1::Command::mutable_accept_apology)).code() ==
          v1::NOT_YOUR_TURN);
    const std::vector<v1::Event> events =
        first ? room_.accept(listener, still_need("I need to hear that you will call."))
              : room_.accept(listener, simple(&v1::Command::mutable_accept_apology));
    CHECK((first ? events.front().has_still_needed() : events.front().has_apology_accepted()));
    ++counts_.apology_responses;
  }

  void check_turn_end(int index, v1::Role speaker, bool first) {
    const v1::Stage& s = t_.stages(index);
    if (s.both_partners() && first) {
      REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
      CHECK(room_.view(speaker).speaker() == other(speaker));
      CHECK(room_.view(speaker).stage_index() == static_cast<std::uint32_t>(index));
    } else if (index + 1 < t_.stages_size()) {
      REQUIRE(room_.phase() == v1::PHASE_SPEAKING);
      CHECK(room_.view(speaker).stage_index() == static_cast<std::uint32_t>(index + 1));
      CHECK(room_.view(speaker).speaker() == opener(index + 1));
    } else {
      CHECK(room_.phase() == (t_.problem_solving() ? v1::PHASE_SOLUTION_GATE : v1::PHASE_CLOSING));
    }
  }

  // Gottman-Rapoport: each speaker says they feel understood; the listener's own "I
  // understand" does not open problem solving.
  void solution_gate() {
    REQUIRE(room_.phase() == v1::PHASE_SOLUTION_GATE);
    CHECK(room_.reject(v1::PARTNER_A, propose("Let's alternate")).code() == v1::WRONG_PHASE);
    CHECK(allows(room_.view(v1::PARTNER_A), v1::ACTION_FEEL_UNDERSTOOD));
    room_.accept(v1::PARTNER_A, simple(&v1::Command::mutable_feel_understood));
    CHECK(room_.reject(v1::PARTNER_A, simple(&v1::Command::mutable_feel_understood)).code() ==
          v1::ALREADY_DONE);
    room_.accept(v1::PARTNER_A, problem_solving_choice(true));
    CHECK(room_.phase() == v1::PHASE_SOLUTION_GATE);
    room_.accept(v1::PARTNER_B, problem_solving_choice(true));
    room_.accept(v1::PARTNER_B, simple(&v1::Command::mutable_understood));
    CHECK(room_.phase() == v1::PHASE_SOLUTION_GATE);  // B does not feel understood yet
    room_.accept(v1::PARTNER_B, simple(&v1::Command::mutable_feel_understood));
    REQUIRE(room_.phase() == v1::PHASE_PROBLEM_SOLVING);

    const std::uint64_t a_proposal =
        room_.accept(v1::PARTNER_A, propose("Alternate cooking nights")).front().seq();
    CHECK(room_.reject(v1::PARTNER_A, accept_proposal(a_proposal)).code() == v1::NOT_YOURS);
    const v1::RoomView vb = room_.view(v1::PARTNER_B);
    CHECK(std::count(vb.acceptable_proposals().begin(), vb.acceptable_proposals().end(),
                     a_proposal) == 1);
    room_.accept(v1::PARTNER_B, accept_proposal(a_proposal));
    const std::uint64_t b_proposal =
        room_.accept(v1::PARTNER_B, propose("Order food on Fridays")).front().seq();
    room_.accept(v1::PARTNER_A, decline(b_proposal));
    CHECK(room_.reject(v1::PARTNER_A, decline(b_proposal)).code() == v1::ALREADY_DONE);
    room_.accept(v1::PARTNER_B, simple(&v1::Command::mutable_finish_problem_solving));
  }

  void close_conversation() {
    REQUIRE(room_.phase() == v1::PHASE_CLOSING);
    const v1::RoomView va = room_.view(v1::PARTNER_A);
    CHECK(va.closing_prompt() == t_.closing().prompt());
    CHECK(allows(va, v1::ACTION_APPRECIATE));
    CHECK(allows(va, v1::ACTION_FINISH));
    room_.accept(v1::PARTNER_A, appreciate("Thank you for staying with me."));
    CHECK(room_.view(v1::PARTNER_B).a_done());
    CHECK(room_.reject(v1::PARTNER_A, appreciate("Again")).code() == v1::ALREADY_DONE);
    CHECK(room_.phase() == v1::PHASE_CLOSING);
    const std::vector<v1::Event> last =
        room_.accept(v1::PARTNER_B, appreciate("Thank you for listening."));
    REQUIRE(last.back().has_conversation_closed());
    CHECK(last.back().conversation_closed().reason() == v1::COMPLETED);
    CHECK(room_.phase() == v1::PHASE_CLOSED);
    CHECK(room_.view(v1::PARTNER_A).closed_reason() == v1::COMPLETED);
    CHECK(room_.reject(v1::PARTNER_A, share("one more")).code() == v1::ROOM_CLOSED);
    CHECK(room_.reject(v1::PARTNER_B, simple(&v1::Command::mutable_leave)).code() ==
          v1::ROOM_CLOSED);
  }

  std::uint32_t engine_beat_ms() const {
    return t_.timing().reflection_beat_ms() != 0 ? t_.timing().reflection_beat_ms() : 2000;
  }

  const v1::Template& t_;
  Room room_;
  Overlay overlay_;
  WalkCounts counts_;
  v1::Role initiator_ = v1::PARTNER_A;
};

// Loads the shipped catalog and walks the template `name` through the engine.
WalkCounts walk_shipped(const std::string& name, Overlay overlay = Overlay::kNone) {
  const engine::TemplateCatalog::LoadResult shipped =
      engine::TemplateCatalog::load(mend::test::shipped_templates_dir());
  for (const engine::TemplateError& e : shipped.errors) FAIL(e.to_string());
  REQUIRE(shipped.catalog.has_value());
  const v1::Template* tmpl = shipped.catalog->find(name);
  REQUIRE(tmpl != nullptr);
  return Walker(*tmpl, overlay).walk();
}

}  // namespace

TEST_CASE("speaker-listener walks end to end: the floor goes back and forth until both move on") {
  const WalkCounts c = walk_shipped("speaker-listener", Overlay::kPause);
  CHECK(c.rounds == 3);   // A, B, A again: the floor passes as often as the couple needs
  CHECK(c.moves_on == 1);
  CHECK(c.clarifications == 2);  // "Can you give me an example?" in place of a mirror
  CHECK(c.mirrors == 7);  // two chunks in each full round (one corrected), one in the last
  CHECK(c.corrections == 2);
  CHECK(c.turn_reflections == 0);
}

TEST_CASE("imago-dialogue walks end to end: appointment, more loop, reflections, switch") {
  const WalkCounts c = walk_shipped("imago-dialogue");
  CHECK(c.rounds == 2);
  CHECK(c.mirrors == 6);
  CHECK(c.turn_reflections == 6);  // summary, validation, empathy for each partner
  CHECK(c.corrections == 4);
}

TEST_CASE("aftermath-of-a-fight walks end to end through its five stages") {
  const WalkCounts c = walk_shipped("aftermath-of-a-fight", Overlay::kTimeOut);
  CHECK(c.rounds == 10);
  CHECK(c.turn_reflections == 4);  // realities: summary and validation, both partners
  CHECK(c.apology_responses == 2);
}

TEST_CASE("stress-reducing-talk walks end to end: questions, understanding, no mirror per chunk") {
  const WalkCounts c = walk_shipped("stress-reducing-talk");
  CHECK(c.rounds == 2);
  CHECK(c.turn_hints == 2);
  CHECK(c.advice == 2);
  CHECK(c.questions == 2);         // "show genuine interest"
  CHECK(c.mirrors == 0);           // lighter: no mirror of every chunk with a beat
  CHECK(c.turn_reflections == 2);  // "communicate your understanding": empathy once a turn
}

TEST_CASE("stress-reducing-talk: the listener sees the prompt to take the partner's side") {
  const engine::TemplateCatalog::LoadResult shipped =
      engine::TemplateCatalog::load(mend::test::shipped_templates_dir());
  REQUIRE(shipped.catalog.has_value());
  const v1::Template* tmpl = shipped.catalog->find("stress-reducing-talk");
  REQUIRE(tmpl != nullptr);
  Walker walker(*tmpl);
  Room& room = walker.room();
  room.accept(v1::PARTNER_A, consent(7));
  room.accept(v1::PARTNER_B, consent(7));
  room.accept(v1::PARTNER_A, open("I'd love to hear how your day really was.", "work"));
  const v1::RoomView listener = room.view(v1::PARTNER_B);
  CHECK(listener.listener() == v1::PARTNER_B);
  CHECK(listener.prompt().find("Take your partner's side") != std::string::npos);
  CHECK(room.view(v1::PARTNER_A).prompt().find("Take your partner's side") == std::string::npos);
}

TEST_CASE("dreams-within-conflict walks end to end: 15-minute roles, dream questions") {
  const WalkCounts c = walk_shipped("dreams-within-conflict");
  CHECK(c.rounds == 2);
  CHECK(c.turn_hints == 2);
  CHECK(c.questions == 2);
  CHECK(c.mirrors == 0);
  CHECK(c.turn_reflections == 2);  // summary
}

TEST_CASE("a sixth template from a temporary file walks end to end with no code change") {
  mend::test::TemplateDir dir("walk-sixth");
  dir.copy_shipped();
  dir.write("gratitude-and-wish.textpb", mend::test::kSixthTemplate);
  const engine::TemplateCatalog::LoadResult result = engine::TemplateCatalog::load(dir.path());
  for (const engine::TemplateError& e : result.errors) FAIL(e.to_string());
  REQUIRE(result.catalog.has_value());
  const v1::Template* sixth = result.catalog->find("gratitude-and-wish");
  REQUIRE(sixth != nullptr);
  const WalkCounts c = Walker(*sixth).walk();
  CHECK(c.rounds == 3);
  CHECK(c.mirrors == 6);
  CHECK(c.turn_reflections == 2);  // validation, both partners
  CHECK(c.apology_responses == 1);
}
