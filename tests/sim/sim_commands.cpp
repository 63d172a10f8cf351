#include "tests/sim/sim_commands.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include <google/protobuf/text_format.h>

namespace mend::sim {
namespace {

constexpr std::int64_t kMsPerS = 1000;
constexpr std::size_t kTextLimit = 4000;  // bytes, every text but a shared chunk
constexpr std::size_t kDefaultChunk = 1000;

const std::vector<std::string>& plausible_texts() {
  static const std::vector<std::string> texts = {
      "I felt left out when the plans changed.",
      "You said the evening felt rushed.",
      "That makes sense to me.",
      "I imagine you felt tired and unseen.",
      "Could we take turns with the dishes?",
      "Thank you for staying with this.",
      "you always leave the lights on",        // ALWAYS_NEVER, YOU_STATEMENT
      "I feel that nobody listens",            // FEEL_THAT
      "I was sad because the call ended",      // FEELING_BECAUSE in a feelings stage
      "Ich f\xc3\xbchle mich \xc3\xbc" "bersehen \xe2\x9d\xa4",  // multibyte UTF-8
      "x",
  };
  return texts;
}

std::size_t chunk_limit(const v1::RoomView& view) {
  return view.chunk_max_chars() == 0 ? kDefaultChunk : view.chunk_max_chars();
}

std::string repeat(const std::string& unit, std::size_t times) {
  std::string out;
  out.reserve(unit.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += unit;
  return out;
}

// Valid, boundary and invalid texts; `limit` is the byte limit that applies.
std::string random_text(Rng& rng, std::size_t limit) {
  switch (rng.below(16)) {
    case 0: return "";
    case 1: return " \t\n  ";
    case 2: return std::string(limit, 'a');
    case 3: return std::string(limit + 1, 'b');
    case 4: return std::string(kTextLimit + 1, 'c');
    case 5: return repeat("\xc3\xa9", limit / 2 + 1);  // fewer characters than bytes
    case 6: return std::string(16001, 'd');
    default: return rng.pick(plausible_texts());
  }
}

// A valid text within `limit` bytes.
std::string plausible_text(Rng& rng, std::size_t limit) {
  std::string text = rng.percent(10) ? std::string(limit, 'k') : rng.pick(plausible_texts());
  return text.size() > limit ? std::string(limit, 'k') : text;
}

std::uint64_t random_seq(Rng& rng, const CommandContext& context) {
  const LogIndex& log = *context.log;
  const v1::RoomView& view = *context.view;
  switch (rng.below(9)) {
    case 0: return 0;
    case 1: return log.last_seq + 1;
    case 2: return std::uint64_t{1} << 62;
    case 3: return static_cast<std::uint64_t>(rng.between(1, std::max<std::int64_t>(1, static_cast<std::int64_t>(log.last_seq))));
    case 4: if (!view.retractable().empty()) return view.retractable(static_cast<int>(rng.below(view.retractable_size())));
      [[fallthrough]];
    case 5: if (!log.request_seqs.empty()) return rng.pick(log.request_seqs);
      [[fallthrough]];
    case 6: if (!view.declinable().empty()) return view.declinable(static_cast<int>(rng.below(view.declinable_size())));
      [[fallthrough]];
    default: if (!log.content_seqs.empty()) return rng.pick(log.content_seqs);
      return 1;
  }
}

std::uint32_t random_duration_s(Rng& rng, std::int64_t max_s) {
  switch (rng.below(7)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return static_cast<std::uint32_t>(max_s);
    case 3: return static_cast<std::uint32_t>(max_s + 1);
    case 4: return std::numeric_limits<std::uint32_t>::max();
    default: return static_cast<std::uint32_t>(rng.between(1, max_s));
  }
}

// A time relative to now, drawn around the bounds [now + lo_s, now + hi_s].
TimeMs random_time(Rng& rng, TimeMs now, std::int64_t lo_s, std::int64_t hi_s) {
  switch (rng.below(11)) {
    case 0: return 0;
    case 1: return now;
    case 2: return now + lo_s * kMsPerS - 1;
    case 3: return now + lo_s * kMsPerS;
    case 4: return now + hi_s * kMsPerS;
    case 5: return now + hi_s * kMsPerS + 1;
    case 6: return -1;
    case 7: return std::numeric_limits<TimeMs>::max();
    case 8: return std::numeric_limits<TimeMs>::min();
    default: return rng.between(now + lo_s * kMsPerS, now + hi_s * kMsPerS);
  }
}

template <typename Enum>
Enum random_enum(Rng& rng, int max_valid) {
  switch (rng.below(8)) {
    case 0: return static_cast<Enum>(0);
    case 1: return static_cast<Enum>(99);
    default: return static_cast<Enum>(rng.between(1, max_valid));
  }
}

std::string random_observer_name(Rng& rng, const std::vector<std::string>& invited) {
  switch (rng.below(6)) {
    case 0: return "mallory";
    case 1: return "";
    default: return invited.empty() ? "nobody" : rng.pick(invited);
  }
}

void random_terms(Rng& rng, const std::vector<std::string>& invited, v1::ConsentTerms& terms,
                  bool plausible) {
  for (const auto& name : invited) {
    if (rng.percent(60)) terms.add_observers(name);
  }
  if (!plausible && rng.percent(15)) terms.add_observers("mallory");
  if (!invited.empty() && rng.percent(10)) terms.add_observers(invited.front());  // a duplicate
  if (plausible || rng.percent(80)) {
    terms.set_retention_days(static_cast<std::uint32_t>(rng.between(0, 3650)));
  } else {
    terms.set_retention_days(rng.percent(50) ? 3651 : std::numeric_limits<std::uint32_t>::max());
  }
  terms.set_summary_to_observer(rng.percent(50));
  terms.set_transcript_to_observer(rng.percent(50));
}

void fill_random(Rng& rng, v1::Command& c, const CommandContext& ctx) {
  const v1::RoomView& view = *ctx.view;
  const Limits& lim = *ctx.limits;
  const TimeMs now = ctx.now;
  const std::size_t chunk = chunk_limit(view);
  switch (c.body_case()) {
    case v1::Command::kProposeTime:
      c.mutable_propose_time()->set_start_at_ms(random_time(rng, now, 0, lim.appointment_window_s));
      break;
    case v1::Command::kConsent: random_terms(rng, *ctx.invited, *c.mutable_consent()->mutable_terms(), false); break;
    case v1::Command::kApproveObserver: c.mutable_approve_observer()->set_observer(random_observer_name(rng, *ctx.invited)); break;
    case v1::Command::kRevokeObserver: c.mutable_revoke_observer()->set_observer(random_observer_name(rng, *ctx.invited)); break;
    case v1::Command::kOpen: {
      auto& open = *c.mutable_open();
      open.set_intention(random_text(rng, kTextLimit));
      open.set_topic(rng.percent(30) ? "" : random_text(rng, kTextLimit));
      if (rng.percent(30)) open.mutable_startup()->set_feeling(random_text(rng, kTextLimit));
      if (rng.percent(20)) open.mutable_startup()->set_need(random_text(rng, kTextLimit));
      break;
    }
    case v1::Command::kShare: c.mutable_share()->set_text(random_text(rng, chunk)); break;
    case v1::Command::kReflect:
      c.mutable_reflect()->set_kind(rng.percent(50) ? view.expected_reflection() : random_enum<v1::ReflectionKind>(rng, 4));
      c.mutable_reflect()->set_text(random_text(rng, kTextLimit));
      break;
    case v1::Command::kCorrect: c.mutable_correct()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kStillNeed: c.mutable_still_need()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kAsk: c.mutable_ask()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kAdvise: c.mutable_advise()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kProblemSolvingChoice: c.mutable_problem_solving_choice()->set_opt_in(rng.percent(70)); break;
    case v1::Command::kPropose: c.mutable_propose()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kAcceptProposal: c.mutable_accept_proposal()->set_seq(random_seq(rng, ctx)); break;
    case v1::Command::kAppreciate: c.mutable_appreciate()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kSignal: c.mutable_signal()->set_kind(random_enum<v1::SignalKind>(rng, 5)); break;
    case v1::Command::kRepair: c.mutable_repair()->set_kind(random_enum<v1::RepairKind>(rng, 6)); break;
    case v1::Command::kRetract: c.mutable_retract()->set_seq(random_seq(rng, ctx)); break;
    case v1::Command::kDecline: c.mutable_decline()->set_seq(random_seq(rng, ctx)); break;
    case v1::Command::kPause: c.mutable_pause()->set_duration_s(random_duration_s(rng, lim.pause_max_s)); break;
    case v1::Command::kTimeOut:
      c.mutable_time_out()->set_return_at_ms(random_time(rng, now, lim.time_out_min_s, lim.time_out_cap_s));
      break;
    case v1::Command::kExtend: {
      const TimeMs cap = view.cap_at_ms();
      const TimeMs options[] = {0, now, now + 1, cap, cap + 1, view.overlay_ends_at_ms() + 60 * kMsPerS,
                                std::numeric_limits<TimeMs>::max(), now + 25 * 3600 * kMsPerS};
      c.mutable_extend()->set_return_at_ms(options[rng.below(std::size(options))]);
      break;
    }
    case v1::Command::kReschedule:
      c.mutable_reschedule()->set_start_at_ms(random_time(rng, now, 0, lim.appointment_window_s));
      break;
    case v1::Command::kNote: c.mutable_note()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kPrompt: c.mutable_prompt()->set_text(random_text(rng, kTextLimit)); break;
    case v1::Command::kConsultBreak:
      c.mutable_consult_break()->set_duration_s(random_duration_s(rng, lim.consult_break_max_s));
      break;
    default: break;  // no arguments
  }
}

}  // namespace

v1::Actor partner_a() {
  v1::Actor a;
  a.set_role(v1::PARTNER_A);
  return a;
}

v1::Actor partner_b() {
  v1::Actor b;
  b.set_role(v1::PARTNER_B);
  return b;
}

v1::Actor observer(const std::string& name) {
  v1::Actor o;
  o.set_role(v1::OBSERVER);
  o.set_observer(name);
  return o;
}

std::string describe(const v1::Actor& actor) {
  std::string out = v1::Role_Name(actor.role());
  if (out.empty()) out = "role " + std::to_string(actor.role());
  if (!actor.observer().empty() || actor.role() == v1::OBSERVER) out += "(\"" + actor.observer() + "\")";
  return out;
}

namespace {
std::string one_line(const google::protobuf::Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.SetTruncateStringFieldLongerThan(48);
  std::string out;
  printer.PrintToString(message, &out);
  return out;
}
}  // namespace

std::string describe(const v1::Command& command) { return one_line(command); }

std::string describe(const v1::Event& event) {
  if (event.has_room_created()) {
    return "seq: " + std::to_string(event.seq()) + " at_ms: " + std::to_string(event.at_ms()) +
           " room_created { template { name: \"" + event.room_created().template_().name() + "\" ... } }";
  }
  return one_line(event);
}

v1::Action action_of(const v1::Command& command) {
  return static_cast<v1::Action>(command.body_case());
}

v1::Command command_for(v1::Action action) {
  v1::Command command;
  const auto* field = v1::Command::descriptor()->FindFieldByNumber(static_cast<int>(action));
  if (field != nullptr) command.GetReflection()->MutableMessage(&command, field);
  return command;
}

bool is_content(v1::Action action) {
  switch (action) {
    case v1::ACTION_OPEN: case v1::ACTION_SHARE: case v1::ACTION_REFLECT: case v1::ACTION_CONFIRM:
    case v1::ACTION_CORRECT: case v1::ACTION_MORE: case v1::ACTION_NO_MORE: case v1::ACTION_PASS_FLOOR:
    case v1::ACTION_ACCEPT_APOLOGY: case v1::ACTION_STILL_NEED: case v1::ACTION_ASK:
    case v1::ACTION_REQUEST_ADVICE: case v1::ACTION_ADVISE: case v1::ACTION_MOVE_ON:
    case v1::ACTION_UNDERSTOOD: case v1::ACTION_FEEL_UNDERSTOOD: case v1::ACTION_PROBLEM_SOLVING_CHOICE: case v1::ACTION_PROPOSE: case v1::ACTION_ACCEPT_PROPOSAL:
    case v1::ACTION_FINISH_PROBLEM_SOLVING: case v1::ACTION_APPRECIATE: case v1::ACTION_FINISH:
    case v1::ACTION_PROMPT:
      return true;
    default:
      return false;
  }
}

const std::vector<v1::Action>& all_actions() {
  static const std::vector<v1::Action> actions = [] {
    std::vector<v1::Action> out;
    const auto* descriptor = v1::Action_descriptor();
    for (int i = 0; i < descriptor->value_count(); ++i) {
      const auto value = static_cast<v1::Action>(descriptor->value(i)->number());
      if (value != v1::ACTION_UNSPECIFIED) out.push_back(value);
    }
    return out;
  }();
  return actions;
}

bool is_overlay(v1::Phase phase) {
  return phase == v1::PHASE_PAUSED || phase == v1::PHASE_CHECK_IN || phase == v1::PHASE_TIMED_OUT ||
         phase == v1::PHASE_SUSPENDED || phase == v1::PHASE_CONSULT_BREAK;
}

bool is_stage_round(v1::Phase phase) {
  return phase >= v1::PHASE_SPEAKING && phase <= v1::PHASE_APOLOGY_RESPONSE;
}

Limits limits_of(const v1::Template& tmpl) {
  const v1::Timing& t = tmpl.timing();
  Limits l;
  if (t.pause_default_s() != 0) l.pause_default_s = t.pause_default_s();
  if (t.pause_max_s() != 0) l.pause_max_s = t.pause_max_s();
  l.time_out_min_s = std::max<std::int64_t>(1200, t.time_out_min_s());
  l.time_out_default_s = t.time_out_default_s() != 0 ? t.time_out_default_s() : l.time_out_min_s;
  if (t.time_out_cap_s() != 0) l.time_out_cap_s = std::min<std::int64_t>(86400, t.time_out_cap_s());
  if (t.appointment_window_s() != 0) l.appointment_window_s = t.appointment_window_s();
  if (t.consult_break_default_s() != 0) l.consult_break_default_s = t.consult_break_default_s();
  if (t.consult_break_max_s() != 0) l.consult_break_max_s = t.consult_break_max_s();
  return l;
}

void LogIndex::add(const v1::Event& event) {
  last_seq = event.seq();
  switch (event.body_case()) {
    case v1::Event::kShared: case v1::Event::kReflected: case v1::Event::kCorrected:
    case v1::Event::kAdvised: case v1::Event::kStillNeeded:
    case v1::Event::kAppreciated: case v1::Event::kConversationOpened:
      content_seqs.push_back(event.seq());
      break;
    case v1::Event::kAsked:  // a question is content and a request to the speaker
      content_seqs.push_back(event.seq());
      request_seqs.push_back(event.seq());
      break;
    case v1::Event::kAdviceRequested:
      request_seqs.push_back(event.seq());
      break;
    case v1::Event::kProposed:
      content_seqs.push_back(event.seq());
      request_seqs.push_back(event.seq());
      proposal_seqs.push_back(event.seq());
      break;
    case v1::Event::kTimeProposed:
      request_seqs.push_back(event.seq());
      break;
    default:
      break;
  }
}

namespace {

// At most `max` seqs: all of `preferred`, then the most recent of `others`.
std::vector<std::uint64_t> seq_choices(const google::protobuf::RepeatedField<std::uint64_t>& preferred,
                                       const std::vector<std::uint64_t>& others, std::size_t max) {
  std::vector<std::uint64_t> out(preferred.begin(), preferred.end());
  for (auto it = others.rbegin(); it != others.rend() && out.size() < max; ++it) {
    if (std::find(out.begin(), out.end(), *it) == out.end()) out.push_back(*it);
  }
  if (out.empty()) out.push_back(1);
  return out;
}

}  // namespace

std::vector<Candidate> canonical_candidates(v1::Action action, const v1::RoomView& view,
                                            const std::vector<std::string>& invited,
                                            const LogIndex& log, TimeMs now) {
  std::vector<Candidate> out;
  auto add = [&](v1::Command command, TimeMs at) { out.push_back({std::move(command), at}); };
  v1::Command c = command_for(action);
  constexpr std::size_t kMaxSeqs = 12;
  switch (action) {
    case v1::ACTION_PROPOSE_TIME: c.mutable_propose_time()->set_start_at_ms(now + 60 * kMsPerS); break;
    case v1::ACTION_CONSENT: *c.mutable_consent()->mutable_terms() = view.your_terms(); break;
    case v1::ACTION_APPROVE_OBSERVER:
    case v1::ACTION_REVOKE_OBSERVER:
      for (const auto& name : invited) {
        v1::Command named = c;
        if (action == v1::ACTION_APPROVE_OBSERVER) named.mutable_approve_observer()->set_observer(name);
        else named.mutable_revoke_observer()->set_observer(name);
        add(std::move(named), now);
      }
      return out;
    case v1::ACTION_OPEN:
      c.mutable_open()->set_intention("I want us to feel close again.");
      c.mutable_open()->set_topic("evenings");
      break;
    case v1::ACTION_SHARE: c.mutable_share()->set_text("I felt alone."); break;
    case v1::ACTION_REFLECT: {
      const TimeMs at = std::max(now, view.reflect_not_before_ms());
      if (view.expected_reflection() != v1::REFLECTION_KIND_UNSPECIFIED) {
        c.mutable_reflect()->set_kind(view.expected_reflection());
        c.mutable_reflect()->set_text("You felt alone.");
        add(std::move(c), at);
        return out;
      }
      for (int kind = v1::MIRROR; kind <= v1::EMPATHY; ++kind) {
        v1::Command k = c;
        k.mutable_reflect()->set_kind(static_cast<v1::ReflectionKind>(kind));
        k.mutable_reflect()->set_text("You felt alone.");
        add(std::move(k), at);
      }
      return out;
    }
    case v1::ACTION_CORRECT: c.mutable_correct()->set_text("Not quite: I felt unseen."); break;
    case v1::ACTION_STILL_NEED: c.mutable_still_need()->set_text("I still need to hear it."); break;
    case v1::ACTION_ASK: c.mutable_ask()->set_text("What did that mean to you?"); break;
    case v1::ACTION_ADVISE: c.mutable_advise()->set_text("Maybe rest first."); break;
    case v1::ACTION_PROBLEM_SOLVING_CHOICE: {
      v1::Command no = c;
      no.mutable_problem_solving_choice()->set_opt_in(false);
      c.mutable_problem_solving_choice()->set_opt_in(true);
      add(std::move(no), now);
      break;
    }
    case v1::ACTION_PROPOSE: c.mutable_propose()->set_text("Walk together on Sundays."); break;
    case v1::ACTION_ACCEPT_PROPOSAL:
      for (auto seq : seq_choices(view.acceptable_proposals(), log.proposal_seqs, kMaxSeqs)) {
        v1::Command s = c;
        s.mutable_accept_proposal()->set_seq(seq);
        add(std::move(s), now);
      }
      return out;
    case v1::ACTION_APPRECIATE: c.mutable_appreciate()->set_text("Thank you for listening."); break;
    case v1::ACTION_SIGNAL: c.mutable_signal()->set_kind(v1::LISTENING); break;
    case v1::ACTION_REPAIR: c.mutable_repair()->set_kind(v1::I_APPRECIATE); break;
    case v1::ACTION_RETRACT:
      for (auto seq : seq_choices(view.retractable(), log.content_seqs, kMaxSeqs)) {
        v1::Command s = c;
        s.mutable_retract()->set_seq(seq);
        add(std::move(s), now);
      }
      return out;
    case v1::ACTION_DECLINE:
      for (auto seq : seq_choices(view.declinable(), log.request_seqs, kMaxSeqs)) {
        v1::Command s = c;
        s.mutable_decline()->set_seq(seq);
        add(std::move(s), now);
      }
      return out;
    case v1::ACTION_EXTEND: c.mutable_extend()->set_return_at_ms(std::max(view.cap_at_ms(), now + 1)); break;
    case v1::ACTION_RESCHEDULE: c.mutable_reschedule()->set_start_at_ms(now + 60 * kMsPerS); break;
    case v1::ACTION_NOTE: c.mutable_note()->set_text("Partner B softened here."); break;
    case v1::ACTION_PROMPT: c.mutable_prompt()->set_text("Try to name one feeling."); break;
    default: break;  // no arguments, or 0 = the template default (pause, time_out, consult_break)
  }
  add(std::move(c), now);
  return out;
}

Candidate vary_candidate(Rng& rng, Candidate cand, const CommandContext& ctx) {
  const v1::RoomView& view = *ctx.view;
  const Limits& lim = *ctx.limits;
  const TimeMs now = ctx.now;
  v1::Command& c = cand.command;
  switch (c.body_case()) {
    case v1::Command::kShare: c.mutable_share()->set_text(plausible_text(rng, chunk_limit(view))); break;
    case v1::Command::kReflect: c.mutable_reflect()->set_text(plausible_text(rng, kTextLimit)); break;
    case v1::Command::kCorrect: c.mutable_correct()->set_text(plausible_text(rng, kTextLimit)); break;
    case v1::Command::kPropose: c.mutable_propose()->set_text(plausible_text(rng, kTextLimit)); break;
    case v1::Command::kAppreciate: c.mutable_appreciate()->set_text(plausible_text(rng, kTextLimit)); break;
    case v1::Command::kNote: c.mutable_note()->set_text(plausible_text(rng, kTextLimit)); break;
    case v1::Command::kConsent: random_terms(rng, *ctx.invited, *c.mutable_consent()->mutable_terms(), true); break;
    case v1::Command::kSignal: c.mutable_signal()->set_kind(static_cast<v1::SignalKind>(rng.between(1, 5))); break;
    case v1::Command::kRepair: c.mutable_repair()->set_kind(static_cast<v1::RepairKind>(rng.between(1, 6))); break;
    case v1::Command::kPause:
      c.mutable_pause()->set_duration_s(rng.percent(40) ? 0 : static_cast<std::uint32_t>(rng.between(1, lim.pause_max_s)));
      break;
    case v1::Command::kConsultBreak:
      c.mutable_consult_break()->set_duration_s(
          rng.percent(40) ? 0 : static_cast<std::uint32_t>(rng.between(1, lim.consult_break_max_s)));
      break;
    case v1::Command::kTimeOut:
      if (rng.percent(50)) {
        c.mutable_time_out()->set_return_at_ms(
            rng.between(now + lim.time_out_min_s * kMsPerS, now + lim.time_out_cap_s * kMsPerS));
      }
      break;
    case v1::Command::kExtend:
      if (view.cap_at_ms() > now) c.mutable_extend()->set_return_at_ms(rng.between(now + 1, view.cap_at_ms()));
      break;
    case v1::Command::kProposeTime:
    case v1::Command::kReschedule: {
      const TimeMs window_end = now + lim.appointment_window_s * kMsPerS;
      const TimeMs at = rng.percent(80) ? rng.between(now + 1, std::min(window_end, now + 600 * kMsPerS))
                                        : rng.between(now + 1, window_end);
      if (c.has_propose_time()) c.mutable_propose_time()->set_start_at_ms(at);
      else c.mutable_reschedule()->set_start_at_ms(at);
      break;
    }
    default: break;
  }
  return cand;
}

v1::Command random_command(Rng& rng, const CommandContext& context) {
  v1::Command command;
  if (!rng.percent(2)) {  // else no body
    const auto& actions = all_actions();
    v1::Action action = actions[static_cast<std::size_t>(rng.below(actions.size()))];
    if ((action == v1::ACTION_LEAVE || action == v1::ACTION_END_SESSION) && rng.percent(80)) {
      action = v1::ACTION_SIGNAL;  // exits end a sequence early: keep them rarer than the rest
    }
    command = command_for(action);
    fill_random(rng, command, context);
  }
  command.set_command_id("sim-" + std::to_string(rng.below(1'000'000)));
  return command;
}

}  // namespace mend::sim
