// The simulation of one room. After every step (a command, or a timer tick) it checks:
//  (a) replaying all events from a default RoomState rebuilds a state == the live state
//      (incrementally every step with events round-tripped through their wire bytes, and in
//      full from scratch every step for short histories, periodically and at the end);
//  (b) at most one partner holds the floor: speaker/listener agree in every view, SHARE is
//      offered to the speaker only, an accepted share comes from the speaker;
//  (c) no content command is accepted during an overlay (PAUSED, CHECK_IN, TIMED_OUT,
//      SUSPENDED, CONSULT_BREAK; prompt is content but allowed in CONSULT_BREAK), and a
//      partner's content is rejected with the overlay's code;
//  (d) seqs are gap-free from 1 and every event's at_ms is the decide/tick time; decisions are
//      well formed (accepted <=> events, a code and a message on rejection, timer events by
//      SYSTEM, roles and closed rooms respected);
//  (e) sampled: a participant's allowed_actions are exactly the actions decide accepts with
//      canonical arguments built from the view; next_deadline/tick agree (nothing before the
//      deadline, something at it);
//  (f) with every full replay: the insights projection kept incrementally (issue 14) equals
//      engine::project over the whole log.
#include "tests/sim/simulation.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <iostream>
#include <sstream>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "server/engine/engine.h"
#include "server/engine/insights.h"
#include "tests/sim/sim_commands.h"
#include "tests/sim/sim_rng.h"

namespace mend::sim {
namespace {

constexpr TimeMs kSecond = 1000;
constexpr TimeMs kMinute = 60 * kSecond;
constexpr TimeMs kHour = 60 * kMinute;
constexpr TimeMs kDay = 24 * kHour;
constexpr int kMaxTimerRounds = 64;   // deadlines fired in one clock jump, at most
constexpr int kStepsAfterClose = 3;   // random commands tried against a closed room
constexpr std::size_t kRecentEvents = 12;

const std::vector<std::string> kInvited = {"dr-lee", "sam"};

std::string phase_name(v1::Phase phase) { return v1::Phase_Name(phase); }

v1::RejectionCode overlay_code(v1::Phase phase) {
  switch (phase) {
    case v1::PHASE_PAUSED: case v1::PHASE_CHECK_IN: return v1::PAUSED;
    case v1::PHASE_TIMED_OUT: return v1::TIMED_OUT;
    case v1::PHASE_SUSPENDED: return v1::SUSPENDED_RESUMPTION_OWED;
    case v1::PHASE_CONSULT_BREAK: return v1::CONSULT_BREAK_ACTIVE;
    default: return v1::REJECTION_CODE_UNSPECIFIED;
  }
}

bool observer_only(v1::Action action) {
  return action == v1::ACTION_JOIN || action == v1::ACTION_NOTE || action == v1::ACTION_PROMPT ||
         action == v1::ACTION_CONSULT_BREAK || action == v1::ACTION_END_SESSION;
}

bool for_both_roles(v1::Action action) {
  return action == v1::ACTION_RETURN || action == v1::ACTION_LEAVE;
}

bool is_partner(const v1::Actor& actor) {
  return actor.role() == v1::PARTNER_A || actor.role() == v1::PARTNER_B;
}

bool is_invited_observer(const v1::Actor& actor) {
  return actor.role() == v1::OBSERVER &&
         std::find(kInvited.begin(), kInvited.end(), actor.observer()) != kInvited.end();
}

// How often a guided step picks an allowed action: progress dominates, exits are rare.
unsigned guided_weight(v1::Action action, const v1::RoomView& view, bool long_run) {
  const unsigned progress = long_run ? 300 : 60;
  const bool you_consented = view.you().role() == v1::PARTNER_A ? view.a_consented() : view.b_consented();
  switch (action) {
    case v1::ACTION_CONSENT: return view.phase() == v1::PHASE_CONSENT && !you_consented ? progress : 3;
    case v1::ACTION_LEAVE: case v1::ACTION_END_SESSION: return 1;
    case v1::ACTION_TIME_OUT: return 3;
    case v1::ACTION_PAUSE: case v1::ACTION_CONSULT_BREAK: return 5;
    case v1::ACTION_SIGNAL: case v1::ACTION_REPAIR: case v1::ACTION_NOTE: case v1::ACTION_PROMPT:
    case v1::ACTION_RETRACT: case v1::ACTION_EXTEND: case v1::ACTION_REVOKE_OBSERVER: return 5;
    case v1::ACTION_DECLINE: case v1::ACTION_PASS_FLOOR:
    case v1::ACTION_FINISH_PROBLEM_SOLVING: case v1::ACTION_ASK: case v1::ACTION_REQUEST_ADVICE:
    case v1::ACTION_ADVISE: return 10;
    case v1::ACTION_CORRECT: return 15;
    case v1::ACTION_APPROVE_OBSERVER: return 10;
    case v1::ACTION_PROPOSE_TIME: case v1::ACTION_RETURN: case v1::ACTION_JOIN: return 30;
    default: return progress;
  }
}

std::vector<v1::Action> allowed_of(const v1::RoomView& view) {
  std::vector<v1::Action> out;
  for (int action : view.allowed_actions()) out.push_back(static_cast<v1::Action>(action));
  return out;
}


int progress_rank(v1::Phase conversation_phase) {
  switch (conversation_phase) {
    case v1::PHASE_INVITED: return 1;
    case v1::PHASE_CONSENT: return 2;
    case v1::PHASE_OPENING: return 3;
    case v1::PHASE_SOLUTION_GATE: return 5;
    case v1::PHASE_PROBLEM_SOLVING: return 6;
    case v1::PHASE_CLOSING: return 7;
    case v1::PHASE_CLOSED: return 8;
    default: return is_stage_round(conversation_phase) ? 4 : 0;
  }
}

std::string lowered(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return text;
}

bool contains(const std::string& text, const char* phrase) { return text.find(phrase) != std::string::npos; }

// The hints docs/engine-rules.md "Hints" promises for the sim's texts (none of which has
// word-boundary subtleties).
std::set<v1::HintCode> expected_hints(const std::string& raw, bool feelings_share) {
  const std::string text = lowered(raw);
  std::set<v1::HintCode> out;
  if (contains(text, "you always") || contains(text, "you never")) out.insert(v1::ALWAYS_NEVER);
  if (contains(text, "i feel that") || contains(text, "i feel like")) out.insert(v1::FEEL_THAT);
  if (text.rfind("you ", 0) == 0) out.insert(v1::YOU_STATEMENT);
  if (feelings_share && contains(text, "because")) out.insert(v1::FEELING_BECAUSE);
  return out;
}

class Simulation {
 public:
  Simulation(const v1::Template& tmpl, std::uint64_t seed, const SimOptions& options, Coverage& coverage)
      : tmpl_(tmpl), limits_(limits_of(tmpl)), rng_(seed), seed_(seed), options_(options), coverage_(coverage) {}

  std::optional<std::string> run();

 private:
  struct Views {
    v1::RoomView a, b;
  };

  // Steps.
  void create();
  void advance_clock();
  void advance_to(TimeMs target);
  void command_step();
  v1::Actor pick_actor();
  unsigned total_weight(const v1::RoomView& view) const;
  std::optional<v1::Actor> pick_guided_actor();
  v1::Command guided_command(const v1::RoomView& view);

  // Applying events, with the (a)/(d) checks.
  void apply(const std::vector<v1::Event>& events, TimeMs at);
  void refresh_views();
  void check_replay(bool full);

  // Checks.
  void check_decision(const v1::Actor& actor, const v1::Command& command, const engine::Decision& d,
                      const Views& before, const v1::RoomView& before_lee);
  void check_floor();
  void check_room();
  void check_event(const v1::Event& event);
  void check_hints(const v1::Command& command, const engine::Decision& d, const Views& before);
  void check_deadlines();
  void check_allowed_actions(const v1::Actor& who);
  void check_strangers();
  void check_seq_lists(const v1::Actor& who, const v1::RoomView& view);

  void fail(const std::string& what);
  bool failed() const { return !failure_.empty(); }
  v1::Phase room_phase() const { return views_.a.phase(); }
  v1::RoomView view_of(const v1::Actor& who);
  // The invited observer's view, computed on demand (views cost most of a step).
  const v1::RoomView& lee_view();

  const v1::Template& tmpl_;
  Limits limits_;
  Rng rng_;
  std::uint64_t seed_;
  SimOptions options_;
  Coverage& coverage_;
  bool live_timers_ = true;
  bool long_run_ = false;

  engine::RoomState state_;
  engine::RoomState shadow_;  // fed with events round-tripped through their bytes
  engine::InsightsProjection insights_;  // incremental, checked against a replay
  std::vector<v1::Event> events_;
  LogIndex log_;
  Views views_;
  std::optional<v1::RoomView> lee_view_;
  TimeMs now_ = 0;
  int step_ = -1;
  std::string doing_ = "create_room";
  int progress_rank_ = 0;          // conversation progress, never decreases
  std::uint32_t stage_index_ = 0;  // within the stage rounds, never decreases
  bool turn_hint_sent_ = false;    // TurnTimeHint at most once per turn
  bool timers_late_ = false;       // this step decides before due timers fired
  std::string failure_;
};

void Simulation::fail(const std::string& what) {
  if (failed()) return;
  std::ostringstream out;
  out << "template " << tmpl_.name() << ", sequence seed " << seed_ << " (MEND_SIM_SEQUENCE_SEED=" << seed_
      << "), step " << step_ << ", now " << now_ << ", room phase " << phase_name(room_phase()) << "\n  while: "
      << doing_ << "\n  failed: " << what << "\n  last events:";
  const std::size_t from = events_.size() > kRecentEvents ? events_.size() - kRecentEvents : 0;
  for (std::size_t i = from; i < events_.size(); ++i) out << "\n    " << describe(events_[i]);
  failure_ = out.str();
}

const v1::RoomView& Simulation::lee_view() {
  if (!lee_view_) lee_view_ = engine::view(state_, observer(kInvited[0]));
  return *lee_view_;
}

v1::RoomView Simulation::view_of(const v1::Actor& who) {
  if (who.role() == v1::PARTNER_A) return views_.a;
  if (who.role() == v1::PARTNER_B) return views_.b;
  if (who.role() == v1::OBSERVER && who.observer() == kInvited[0]) return lee_view();
  return engine::view(state_, who);
}

std::optional<std::string> Simulation::run() {
  live_timers_ = rng_.percent(50);
  long_run_ = rng_.percent(options_.long_percent);
  const int steps = long_run_ ? static_cast<int>(rng_.between(options_.long_min_steps, options_.long_max_steps))
                              : static_cast<int>(rng_.between(options_.min_steps, options_.max_steps));
  create();
  int after_close = 0;
  for (step_ = 0; step_ < steps && !failed(); ++step_) {
    doing_ = "advancing the clock";
    timers_late_ = false;
    advance_clock();
    if (failed()) break;
    if (!timers_late_) check_deadlines();
    command_step();
    if (!failed() && rng_.percent(2)) check_strangers();
    // view() takes no time: its allowed_actions assume every due timer has fired, so the
    // exact comparison is skipped on steps that decided before a due tick.
    if (!failed() && !timers_late_ && rng_.percent(options_.check_actions_percent)) {
      const std::uint64_t r = rng_.below(10);
      check_allowed_actions(r < 4 ? partner_a() : r < 8 ? partner_b() : r < 9 ? observer(kInvited[0]) : observer(kInvited[1]));
    }
    ++coverage_.steps;
    coverage_.phases[room_phase()]++;
    if (room_phase() == v1::PHASE_CLOSED && ++after_close > kStepsAfterClose) break;
  }
  if (!failed()) {
    doing_ = "final full replay";
    check_replay(true);
  }
  if (failed()) return failure_;
  return std::nullopt;
}

void Simulation::create() {
  engine::RoomSetup setup;
  setup.topic = rng_.percent(50) ? "evenings" : "";
  setup.partner_a_name = "Ana";
  setup.partner_b_name = "Ben";
  setup.observers = kInvited;
  now_ = 1'700'000'000'000 + static_cast<TimeMs>(rng_.below(1'000'000'000));
  const v1::Event created = engine::create_room(tmpl_, setup, now_);
  if (!created.has_room_created()) fail("create_room did not return a room_created event");
  if (created.actor().role() != v1::SYSTEM) fail("room_created is not by SYSTEM");
  apply({created}, now_);
  check_replay(true);
}

void Simulation::advance_clock() {
  TimeMs delta = 0;
  const std::uint64_t r = rng_.below(100);
  const auto deadline = engine::next_deadline(state_);
  const TimeMs beat = std::max(views_.a.reflect_not_before_ms(), views_.b.reflect_not_before_ms());
  if (r < 55) {
    delta = rng_.between(0, 3 * kSecond);
  } else if (r < 72) {
    delta = rng_.between(kSecond, kMinute);
  } else if (r < 82 && beat > now_) {
    delta = beat - now_ - (rng_.percent(20) ? 1 : 0);
  } else if (r < 90) {
    delta = rng_.between(kMinute, 3 * kHour);
  } else if (r < 94) {
    delta = rng_.between(3 * kHour, 3 * kDay);
  } else if (deadline && *deadline >= now_) {
    delta = *deadline - now_ + rng_.between(-1, 1);
  }
  const TimeMs target = now_ + std::max<TimeMs>(0, delta);
  if (deadline && *deadline <= target && rng_.percent(5)) {
    // A command that reaches the room before its due timer fired (the host ticks later).
    now_ = target;
    timers_late_ = true;
    return;
  }
  advance_to(target);
}

void Simulation::advance_to(TimeMs target) {
  for (int round = 0; round < kMaxTimerRounds; ++round) {
    const auto deadline = engine::next_deadline(state_);
    if (!deadline || *deadline > target) {
      now_ = std::max(now_, target);
      return;
    }
    const TimeMs at = live_timers_ ? std::max(now_, *deadline) : target;
    doing_ = "tick(" + std::to_string(at) + ") for next_deadline " + std::to_string(*deadline);
    const auto events = engine::tick(state_, at);
    if (events.empty()) {
      fail("next_deadline is " + std::to_string(*deadline) + " <= " + std::to_string(at) +
           " but tick returned no events");
      return;
    }
    for (const auto& event : events) {
      if (event.actor().role() != v1::SYSTEM) fail("timer event not by SYSTEM: " + describe(event));
    }
    now_ = at;
    apply(events, at);
    if (failed()) return;
    check_floor();
  }
  fail("timers did not settle after " + std::to_string(kMaxTimerRounds) + " ticks");
}

void Simulation::check_deadlines() {
  doing_ = "checking next_deadline against tick";
  const auto deadline = engine::next_deadline(state_);
  if (!deadline) {
    if (!engine::tick(state_, now_).empty() || !engine::tick(state_, now_ + 30 * kDay).empty()) {
      fail("next_deadline is none but tick returned events");
    }
    return;
  }
  if (*deadline <= now_) {
    fail("next_deadline " + std::to_string(*deadline) + " is not after now although every due timer fired");
    return;
  }
  if (!engine::tick(state_, now_).empty()) fail("tick(now) before next_deadline returned events");
  if (!engine::tick(state_, *deadline - 1).empty()) fail("tick(next_deadline - 1) returned events");
  const auto due = engine::tick(state_, *deadline);
  if (due.empty()) fail("tick(next_deadline) returned no events");
  for (std::size_t i = 0; i < due.size(); ++i) {
    if (due[i].seq() != state_.last_seq + 1 + i || due[i].at_ms() != *deadline) {
      fail("tick(next_deadline) event has wrong seq/at_ms: " + describe(due[i]));
    }
  }
}

v1::Actor Simulation::pick_actor() {
  const std::uint64_t r = rng_.below(100);
  if (r < 38) return partner_a();
  if (r < 76) return partner_b();
  if (r < 90) return observer(kInvited[0]);
  if (r < 94) return observer(kInvited[1]);
  v1::Actor odd;
  switch (r) {
    case 94: case 95: return observer("mallory");
    case 96: odd.set_role(v1::SYSTEM); return odd;
    case 97: return odd;  // ROLE_UNSPECIFIED
    case 98: odd.set_role(v1::OBSERVER); return odd;  // no name
    default: odd.set_role(static_cast<v1::Role>(77)); return odd;
  }
}

unsigned Simulation::total_weight(const v1::RoomView& view) const {
  unsigned total = 0;
  for (auto action : allowed_of(view)) total += guided_weight(action, view, long_run_);
  return total;
}

// A participant with something to do, chosen in proportion to the weight of what they may do
// (so the one who owes the next step is usually the one who acts).
std::optional<v1::Actor> Simulation::pick_guided_actor() {
  const unsigned wa = total_weight(views_.a);
  const unsigned wb = total_weight(views_.b);
  // The observer's view costs as much as a partner's: consider the observer on some steps only.
  const unsigned wl = rng_.percent(25) ? total_weight(lee_view()) : 0;
  if (wa + wb + wl == 0) return std::nullopt;
  const auto r = rng_.below(wa + wb + wl);
  if (r < wa) return partner_a();
  if (r < wa + wb) return partner_b();
  return observer(kInvited[0]);
}

v1::Command Simulation::guided_command(const v1::RoomView& view) {
  CommandContext context{now_, &view, &limits_, &kInvited, &log_};
  const std::vector<v1::Action> allowed = allowed_of(view);
  if (allowed.empty()) return random_command(rng_, context);
  const unsigned total = total_weight(view);
  auto pick = rng_.below(total);
  v1::Action chosen = allowed.front();
  for (auto action : allowed) {
    const unsigned w = guided_weight(action, view, long_run_);
    if (pick < w) {
      chosen = action;
      break;
    }
    pick -= w;
  }
  auto candidates = canonical_candidates(chosen, view, kInvited, log_, now_);
  Candidate candidate = vary_candidate(rng_, candidates[static_cast<std::size_t>(rng_.below(candidates.size()))], context);
  if (candidate.at > now_ && rng_.percent(70)) {
    advance_to(candidate.at);  // wait for the reflection beat, firing what is due meanwhile
  }
  return candidate.command;
}

void Simulation::command_step() {
  const unsigned guided_percent = long_run_ ? options_.long_guided_percent : options_.guided_percent;
  std::optional<v1::Actor> guided_actor;
  if (rng_.percent(guided_percent)) guided_actor = pick_guided_actor();
  const bool guided = guided_actor.has_value();
  const v1::Actor actor = guided ? *guided_actor : pick_actor();
  const bool known = is_partner(actor) || is_invited_observer(actor);
  const v1::RoomView actor_view = known ? view_of(actor) : views_.a;
  v1::Command command;
  if (guided) {
    command = guided_command(actor_view);
    if (failed()) return;
  } else {
    CommandContext context{now_, &actor_view, &limits_, &kInvited, &log_};
    command = random_command(rng_, context);
  }
  doing_ = (guided ? "guided " : "random ") + describe(actor) + " decide " + describe(command);
  const Views& before = views_;  // refreshed only by apply, after the checks
  const v1::RoomView before_lee = actor.role() == v1::OBSERVER && actor.observer() == kInvited[0] ? lee_view() : v1::RoomView();
  const engine::Decision decision = engine::decide(state_, command, actor, now_);
  if (options_.trace) {
    std::cerr << "step " << step_ << " at " << now_ << " [" << phase_name(room_phase()) << "] " << doing_ << "\n  -> "
              << (decision.accepted() ? "accepted" : decision.rejection->ShortDebugString()) << "\n";
  }
  check_decision(actor, command, decision, before, before_lee);
  if (failed()) return;
  if (decision.accepted()) {
    coverage_.accepted[action_of(command)]++;
  } else {
    coverage_.rejected[decision.rejection->code()]++;
  }
  apply(decision.events, now_);
  if (!failed()) check_floor();
}

void Simulation::check_decision(const v1::Actor& actor, const v1::Command& command, const engine::Decision& d,
                                const Views& before, const v1::RoomView& before_lee) {
  const v1::Action action = action_of(command);
  const v1::Phase phase = before.a.phase();
  // Well-formed decision.
  if (d.accepted() == d.events.empty()) {
    fail(d.accepted() ? "accepted with no events" : "rejected with events");
    return;
  }
  if (!d.accepted()) {
    const auto& rejection = *d.rejection;
    if (rejection.code() == v1::REJECTION_CODE_UNSPECIFIED || rejection.message().empty()) {
      fail("rejection without a code or message: " + rejection.ShortDebugString());
    }
    if (!d.hints.empty()) fail("hints on a rejected command");
    if (rejection.code() == v1::TOO_SOON) {
      if (action != v1::ACTION_REFLECT) fail("TOO_SOON for a command other than reflect");
      const TimeMs not_before = std::max(before.a.reflect_not_before_ms(), before.b.reflect_not_before_ms());
      if (rejection.retry_after_ms() == 0 || now_ >= not_before) {
        fail("TOO_SOON with retry_after_ms " + std::to_string(rejection.retry_after_ms()) +
             " while reflect_not_before_ms is " + std::to_string(not_before));
      }
    }
  } else if (d.events.front().actor().role() != actor.role() ||
             d.events.front().actor().observer() != actor.observer()) {
    fail("the first event is not by the command's actor: " + describe(d.events.front()));
  }
  for (const auto& hint : d.hints) {
    if (hint.code() == v1::HINT_CODE_UNSPECIFIED || hint.message().empty()) fail("hint without code or message");
  }
  if (!d.hints.empty() && action != v1::ACTION_OPEN && action != v1::ACTION_SHARE && action != v1::ACTION_STILL_NEED) {
    fail("hints for a command other than open/share/still_need");
  }
  const v1::RejectionCode code = d.accepted() ? v1::REJECTION_CODE_UNSPECIFIED : d.rejection->code();
  check_hints(command, d, before);
  // (e) on every step: whatever decide accepts (with any arguments) was offered in the view.
  if (is_partner(actor) || (actor.role() == v1::OBSERVER && actor.observer() == kInvited[0])) {
    const v1::RoomView& offered = actor.role() == v1::PARTNER_A ? before.a
                                  : actor.role() == v1::PARTNER_B ? before.b
                                                                  : before_lee;
    const auto allowed = allowed_of(offered);
    const bool listed = std::find(allowed.begin(), allowed.end(), action) != allowed.end();
    if ((d.accepted() || code == v1::TOO_SOON) && !listed) {
      fail(v1::Action_Name(action) + std::string(d.accepted() ? " accepted" : " TOO_SOON") +
           " but not in the actor's allowed_actions");
    }
  }
  auto expect_rejected = [&](const char* rule, std::initializer_list<v1::RejectionCode> codes) {
    if (d.accepted()) {
      fail(std::string("accepted, but ") + rule);
    } else if (std::find(codes.begin(), codes.end(), code) == codes.end()) {
      fail(std::string("rejected ") + v1::RejectionCode_Name(code) + ", but " + rule + " wants another code");
    }
  };
  // Actors and roles (check order items 1-3).
  if (action == v1::ACTION_UNSPECIFIED || !(is_partner(actor) || actor.role() == v1::OBSERVER)) {
    expect_rejected("no body / no valid actor role is INVALID_ARGUMENT", {v1::INVALID_ARGUMENT});
    return;
  }
  // A partner may revoke an observer at any time, also after the end (DESIGN 3).
  if (phase == v1::PHASE_CLOSED && !command.has_revoke_observer()) {
    expect_rejected("a closed room rejects everything but revoke_observer",
                    {v1::ROOM_CLOSED, v1::INVALID_ARGUMENT});
    return;
  }
  if (is_partner(actor) && observer_only(action)) {
    expect_rejected("observer-only command from a partner", {v1::NOT_ALLOWED_FOR_ROLE, v1::INVALID_ARGUMENT});
    return;
  }
  if (actor.role() == v1::OBSERVER && !observer_only(action) && !for_both_roles(action)) {
    expect_rejected("partner-only command from an observer", {v1::NOT_ALLOWED_FOR_ROLE, v1::INVALID_ARGUMENT});
    return;
  }
  if (actor.role() == v1::OBSERVER && !is_invited_observer(actor)) {
    expect_rejected("observer not invited", {v1::UNKNOWN_OBSERVER, v1::INVALID_ARGUMENT});
    return;
  }
  // (c) content during an overlay.
  if (is_content(action) && is_overlay(phase) && !(action == v1::ACTION_PROMPT && phase == v1::PHASE_CONSULT_BREAK)) {
    if (d.accepted()) {
      fail("content accepted during overlay " + phase_name(phase));
    } else if (is_partner(actor) && code != overlay_code(phase) && code != v1::INVALID_ARGUMENT) {
      fail("partner content during " + phase_name(phase) + " rejected " + v1::RejectionCode_Name(code) +
           ", expected " + v1::RejectionCode_Name(overlay_code(phase)));
    }
  }
  // (b) only the speaker shares.
  if (d.accepted() && action == v1::ACTION_SHARE && actor.role() != before.a.speaker()) {
    fail("share accepted from " + describe(actor) + " while the speaker is " + v1::Role_Name(before.a.speaker()));
  }
}

void Simulation::apply(const std::vector<v1::Event>& events, TimeMs at) {
  for (const auto& event : events) {
    if (options_.trace) std::cerr << "    event " << describe(event) << "\n";
    if (event.seq() != state_.last_seq + 1 || event.seq() != events_.size() + 1) {
      fail("seq gap: event seq " + std::to_string(event.seq()) + " after last_seq " +
           std::to_string(state_.last_seq) + ": " + describe(event));
      return;
    }
    if (event.at_ms() != at) {
      fail("event at_ms " + std::to_string(event.at_ms()) + " is not the decide/tick time " + std::to_string(at));
      return;
    }
    engine::evolve(state_, event);
    insights_.apply(event, state_);
    v1::Event copy;
    copy.ParseFromString(event.SerializeAsString());
    engine::evolve(shadow_, copy);
    events_.push_back(event);
    log_.add(event);
    check_event(event);
    coverage_.events[event.body_case()]++;
  }
  if (state_.last_seq != events_.size()) fail("state.last_seq is not the number of events");
  if (!(state_ == shadow_)) fail("state rebuilt from round-tripped events differs from the live state");
  if (failed() || events.empty()) return;
  refresh_views();
  check_room();
  const bool full = events_.size() <= options_.full_replay_max_events || step_ % options_.full_replay_every == 0;
  if (full) check_replay(true);
}

void Simulation::refresh_views() {
  views_.a = engine::view(state_, partner_a());
  views_.b = engine::view(state_, partner_b());
  lee_view_.reset();
  if (views_.a.last_seq() != events_.size()) fail("view.last_seq is not the last event's seq");
}

void Simulation::check_replay(bool full) {
  if (!full) return;
  engine::RoomState replayed;
  for (const auto& event : events_) engine::evolve(replayed, event);
  if (!(replayed == state_)) fail("replaying all events from a default RoomState differs from the live state");
  if (!google::protobuf::util::MessageDifferencer::Equals(engine::project(events_), insights_.insights())) {
    fail("the insights recomputed from the log differ from the incremental ones");
  }
}

void Simulation::check_floor() {
  const v1::RoomView& a = views_.a;
  const v1::RoomView& b = views_.b;
  if (a.phase() != b.phase() || a.speaker() != b.speaker() || a.listener() != b.listener()) {
    fail("partners' views disagree on phase/speaker/listener: A " + phase_name(a.phase()) + "/" +
         v1::Role_Name(a.speaker()) + "/" + v1::Role_Name(a.listener()) + ", B " + phase_name(b.phase()) + "/" +
         v1::Role_Name(b.speaker()) + "/" + v1::Role_Name(b.listener()));
    return;
  }
  // An observer not approved by both partners gets the waiting view: no speaker at all.
  if (rng_.percent(25)) {
    const v1::RoomView& lee = lee_view();
    const bool admitted = lee.phase() != v1::PHASE_UNSPECIFIED;
    if (admitted && lee.speaker() != a.speaker()) fail("an observer's view names another speaker");
    if (!admitted && (!lee.topic().empty() || !lee.intention().empty() || lee.last_seq() != 0)) {
      fail("an observer not admitted sees the conversation");
    }
  }
  const v1::Role speaker = a.speaker();
  if (speaker != v1::ROLE_UNSPECIFIED && speaker != v1::PARTNER_A && speaker != v1::PARTNER_B) {
    fail("speaker is not a partner");
  }
  if (speaker != v1::ROLE_UNSPECIFIED &&
      a.listener() != (speaker == v1::PARTNER_A ? v1::PARTNER_B : v1::PARTNER_A)) {
    fail("the listener is not the other partner");
  }
  if (is_stage_round(a.phase()) && speaker == v1::ROLE_UNSPECIFIED) fail("a stage round without a speaker");
  if (!is_stage_round(a.phase()) && !is_overlay(a.phase()) && speaker != v1::ROLE_UNSPECIFIED) {
    fail("a speaker outside the stage rounds, in " + phase_name(a.phase()));
  }
  auto offers_share = [](const v1::RoomView& v) {
    return std::find(v.allowed_actions().begin(), v.allowed_actions().end(), v1::ACTION_SHARE) != v.allowed_actions().end();
  };
  if (offers_share(a) && offers_share(b)) fail("both partners may share: two floors");
  if (offers_share(a) && speaker != v1::PARTNER_A) fail("A may share but is not the speaker");
  if (offers_share(b) && speaker != v1::PARTNER_B) fail("B may share but is not the speaker");
}

void Simulation::check_hints(const v1::Command& command, const engine::Decision& d, const Views& before) {
  if (!d.accepted() || !(command.has_share() || command.has_still_need())) return;
  const std::string& text = command.has_share() ? command.share().text() : command.still_need().text();
  const std::set<v1::HintCode> want = expected_hints(text, command.has_share() && before.a.stage_name() == "feelings");
  std::set<v1::HintCode> got;
  for (const auto& hint : d.hints) got.insert(hint.code());
  if (command.has_still_need()) got.erase(v1::FEELING_BECAUSE);  // the rules name shared text only
  if (got != want) {
    std::string names;
    for (auto code : got) names += " " + v1::HintCode_Name(code);
    names += " / expected";
    for (auto code : want) names += " " + v1::HintCode_Name(code);
    fail("hints differ from the hint rules: got" + names);
  }
}

void Simulation::check_event(const v1::Event& event) {
  // Visibility: notes reach only their author; an observer not approved by both sees nothing.
  const v1::Actor sam = observer(kInvited[1]);
  if (event.has_note_taken()) {
    if (engine::visible_to(state_, event, partner_a()) || engine::visible_to(state_, event, partner_b())) {
      fail("a private note is visible to a partner");
    }
    if (!engine::visible_to(state_, event, event.actor())) fail("a private note is not visible to its author");
    const v1::Actor other = event.actor().observer() == kInvited[0] ? sam : observer(kInvited[0]);
    if (engine::visible_to(state_, event, other)) fail("a private note is visible to another observer");
    return;
  }
  if (!engine::visible_to(state_, event, partner_a()) || !engine::visible_to(state_, event, partner_b())) {
    fail("an event is hidden from a partner: " + describe(event));
  }
  if (event.has_turn_time_hint()) {
    if (turn_hint_sent_) fail("a second turn_time_hint in the same turn");
    turn_hint_sent_ = true;
  }
  if (event.has_stage_started() || event.has_roles_switched()) turn_hint_sent_ = false;
}

void Simulation::check_room() {
  const v1::RoomView& a = views_.a;
  const v1::Phase conversation = is_overlay(a.phase()) ? a.saved_phase() : a.phase();
  if (is_overlay(conversation) || conversation == v1::PHASE_UNSPECIFIED) {
    fail("no conversation phase to return to: phase " + phase_name(a.phase()) + ", saved " +
         phase_name(a.saved_phase()));
    return;
  }
  if (!is_overlay(a.phase()) && a.saved_phase() != v1::PHASE_UNSPECIFIED) fail("saved_phase set without an overlay");
  // The conversation only moves forward (stage rounds cycle within one stage).
  const int rank = progress_rank(conversation);
  if (rank < progress_rank_ || (rank == 4 && progress_rank_ == 4 && a.stage_index() < stage_index_)) {
    fail("the conversation went back to " + phase_name(conversation) + " (stage " + std::to_string(a.stage_index()) + ")");
  }
  if (rank == 4) stage_index_ = a.stage_index();
  progress_rank_ = rank;
  // A closed room is terminal: nothing is allowed but revoking an observer, no timer is armed.
  if (a.phase() == v1::PHASE_CLOSED) {
    for (const v1::RoomView* view : {&a, static_cast<const v1::RoomView*>(&views_.b)}) {
      for (int action : view->allowed_actions()) {
        if (action != v1::ACTION_REVOKE_OBSERVER) fail("actions allowed in a closed room");
      }
    }
    if (engine::next_deadline(state_)) fail("a timer is armed in a closed room");
  }
  // Observers are admitted only with both approvals, and approved ones are not left revoked.
  for (const auto& p : a.participants()) {
    if (p.actor().role() != v1::OBSERVER) continue;
    const bool both = p.approved_by_a() && p.approved_by_b();
    const auto status = p.observer_status();
    if (!both && (status == v1::OBSERVER_APPROVED || status == v1::OBSERVER_JOINED)) {
      fail("observer " + p.actor().observer() + " is " + v1::ObserverStatus_Name(status) + " without both approvals");
    }
    if (both && (status == v1::OBSERVER_INVITED || status == v1::OBSERVER_REVOKED)) {
      fail("observer " + p.actor().observer() + " approved by both but " + v1::ObserverStatus_Name(status));
    }
    if (p.actor().observer() == kInvited[1] && !events_.empty() && !events_.back().has_note_taken() &&
        !events_.back().has_observer_revoked() && !events_.back().has_observer_approved() &&
        engine::visible_to(state_, events_.back(), p.actor()) != both) {
      fail("visibility to observer sam differs from its approval by both: " + describe(events_.back()));
    }
  }
  // Effective terms are the strictest of both partners' terms.
  if (a.a_consented() && a.b_consented()) {
    const v1::ConsentTerms& ta = a.your_terms();
    const v1::ConsentTerms& tb = views_.b.your_terms();
    std::set<std::string> in_a(ta.observers().begin(), ta.observers().end());
    std::set<std::string> both;
    for (const auto& name : tb.observers()) {
      if (in_a.count(name) != 0) both.insert(name);
    }
    const v1::ConsentTerms& eff = a.effective_terms();
    const std::set<std::string> eff_observers(eff.observers().begin(), eff.observers().end());
    if (eff_observers != both || eff.retention_days() != std::min(ta.retention_days(), tb.retention_days()) ||
        eff.summary_to_observer() != (ta.summary_to_observer() && tb.summary_to_observer()) ||
        eff.transcript_to_observer() != (ta.transcript_to_observer() && tb.transcript_to_observer())) {
      fail("effective terms are not the strictest of both: A {" + ta.ShortDebugString() + "} B {" +
           tb.ShortDebugString() + "} effective {" + eff.ShortDebugString() + "}");
    }
  }
}

// Viewers that are nobody in this room get a view with nothing to do, and see no event.
void Simulation::check_strangers() {
  doing_ = "checking the views of strangers";
  v1::Actor system;
  system.set_role(v1::SYSTEM);
  v1::Actor odd;
  odd.set_role(static_cast<v1::Role>(77));
  for (const v1::Actor& who : {observer("mallory"), observer(""), system, v1::Actor(), odd}) {
    const v1::RoomView view = engine::view(state_, who);
    if (view.allowed_actions_size() != 0) fail("a stranger " + describe(who) + " has allowed actions");
    if (!events_.empty() && engine::visible_to(state_, events_.back(), who)) {
      fail("a stranger " + describe(who) + " may see " + describe(events_.back()));
    }
  }
}

void Simulation::check_seq_lists(const v1::Actor& who, const v1::RoomView& view) {
  auto all_accepted = [&](const google::protobuf::RepeatedField<std::uint64_t>& seqs, v1::Action action) {
    for (auto seq : seqs) {
      v1::Command command = command_for(action);
      if (action == v1::ACTION_RETRACT) command.mutable_retract()->set_seq(seq);
      if (action == v1::ACTION_DECLINE) command.mutable_decline()->set_seq(seq);
      if (action == v1::ACTION_ACCEPT_PROPOSAL) command.mutable_accept_proposal()->set_seq(seq);
      const auto d = engine::decide(state_, command, who, now_);
      if (!d.accepted()) {
        fail("view lists seq " + std::to_string(seq) + " for " + v1::Action_Name(action) + " but decide rejects " +
             d.rejection->ShortDebugString());
      }
    }
  };
  all_accepted(view.retractable(), v1::ACTION_RETRACT);
  all_accepted(view.declinable(), v1::ACTION_DECLINE);
  all_accepted(view.acceptable_proposals(), v1::ACTION_ACCEPT_PROPOSAL);
}

void Simulation::check_allowed_actions(const v1::Actor& who) {
  doing_ = "checking allowed_actions of " + describe(who);
  const v1::RoomView view = engine::view(state_, who);
  std::vector<v1::Action> listed = allowed_of(view);
  std::sort(listed.begin(), listed.end());
  if (std::adjacent_find(listed.begin(), listed.end()) != listed.end()) fail("allowed_actions has duplicates");
  for (const v1::Action action : all_actions()) {
    const bool is_listed = std::binary_search(listed.begin(), listed.end(), action);
    std::string rejections;
    bool accepted = false;
    for (const Candidate& candidate : canonical_candidates(action, view, kInvited, log_, now_)) {
      const auto d = engine::decide(state_, candidate.command, who, candidate.at);
      if (d.accepted()) {
        accepted = true;
        break;
      }
      rejections += "\n    " + describe(candidate.command) + " at " + std::to_string(candidate.at) + " -> " +
                    v1::RejectionCode_Name(d.rejection->code()) + " \"" + d.rejection->message() + "\"";
    }
    ++coverage_.actions_checked;
    if (is_listed && !accepted) {
      fail(v1::Action_Name(action) + " is in allowed_actions of " + describe(who) + " but decide rejects it:" + rejections);
      return;
    }
    if (!is_listed && accepted) {
      fail(v1::Action_Name(action) + " is not in allowed_actions of " + describe(who) + " but decide accepts it");
      return;
    }
    if (action == v1::ACTION_REFLECT && is_listed && now_ < view.reflect_not_before_ms()) {
      const auto early = engine::decide(state_, canonical_candidates(action, view, kInvited, log_, now_).front().command, who, now_);
      if (!early.accepted() && early.rejection->code() != v1::TOO_SOON) {
        fail("REFLECT before reflect_not_before_ms rejected " + early.rejection->ShortDebugString() + ", not TOO_SOON");
      }
    }
  }
  check_seq_lists(who, view);
}

}  // namespace

std::string Coverage::summary() const {
  std::ostringstream out;
  out << steps << " steps, " << actions_checked << " (participant, action) pairs checked\n  phases:";
  for (const auto& [phase, n] : phases) out << " " << v1::Phase_Name(phase) << "=" << n;
  out << "\n  accepted:";
  for (const auto& [action, n] : accepted) out << " " << v1::Action_Name(action) << "=" << n;
  out << "\n  rejected:";
  for (const auto& [code, n] : rejected) out << " " << v1::RejectionCode_Name(code) << "=" << n;
  out << "\n  events:";
  const auto* oneof = v1::Event::descriptor()->FindOneofByName("body");
  for (const auto& [body, n] : events) {
    const auto* field = v1::Event::descriptor()->FindFieldByNumber(body);
    out << " " << (field != nullptr && field->containing_oneof() == oneof ? field->name() : "?") << "=" << n;
  }
  return out.str();
}

std::optional<std::string> run_sequence(const v1::Template& tmpl, std::uint64_t seed, const SimOptions& options,
                                        Coverage& coverage) {
  return Simulation(tmpl, seed, options, coverage).run();
}

}  // namespace mend::sim
