#include "describe.h"

#include <algorithm>

#include "time_text.h"

namespace mend::cli {
namespace {

std::string you_or(const v1::RoomView& view, v1::Role role) {
  return view.you().role() == role ? "you" : partner_name(view, role);
}

std::string capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  return text;
}

std::string typed_words(const v1::RoomView& view, v1::Action action) {
  const std::string speaker = partner_name(view, view.speaker());
  switch (action) {
    case v1::ACTION_OPEN:
      return view.topic().empty()
                 ? "type why you want to talk and the topic, as INTENTION | TOPIC, to open"
                 : "type why you want to talk, to open the conversation";
    case v1::ACTION_SHARE: return "type to share what is on your mind, a little at a time";
    case v1::ACTION_REFLECT:
      switch (view.expected_reflection()) {
        case v1::SUMMARY: return "type to sum up all you heard from " + speaker;
        case v1::VALIDATION: return "type how " + speaker + " makes sense to you";
        case v1::EMPATHY: return "type how you imagine " + speaker + " feels";
        default: return "type to mirror what you heard " + speaker + " say";
      }
    case v1::ACTION_ADVISE: return "type your advice (" + speaker + " asked for it)";
    case v1::ACTION_ASK: return "type a question for " + speaker;
    case v1::ACTION_PROPOSE: return "type a small, doable proposal";
    case v1::ACTION_APPRECIATE: return "type something you appreciate about your partner";
    case v1::ACTION_NOTE: return "type a private note (only you will ever see it)";
    default: return {};
  }
}

bool consent_pending(const v1::RoomView& view) {
  if (view.phase() != v1::PHASE_CONSENT) return false;
  return view.you().role() == v1::PARTNER_A ? !view.a_consented() : !view.b_consented();
}

std::string invited_observer_names(const v1::RoomView& view) {
  std::string names;
  for (const auto& participant : view.participants()) {
    if (participant.actor().role() != v1::OBSERVER) continue;
    if (!names.empty()) names += ",";
    names += participant.actor().observer();
  }
  return names;
}

// The "done" flags of a two-partner step, e.g. "Sam: ready, Alex: not yet".
std::string both_flags(const v1::RoomView& view, bool a, bool b, const std::string& done) {
  return partner_name(view, v1::PARTNER_A) + ": " + (a ? done : "not yet") + ", " +
         partner_name(view, v1::PARTNER_B) + ": " + (b ? done : "not yet");
}

std::string stage_prefix(const v1::RoomView& view) {
  return view.stage_title().empty() ? std::string() : view.stage_title() + ": ";
}

// " (ready to move on: Alex)" in stages where the floor goes back and forth, else empty.
std::string moving_on(const v1::RoomView& view) {
  std::string names;
  if (view.a_moves_on()) names = partner_name(view, v1::PARTNER_A);
  if (view.b_moves_on()) {
    names += (names.empty() ? "" : ", ") + partner_name(view, v1::PARTNER_B);
  }
  return names.empty() ? std::string() : " (ready to move on: " + names + ")";
}

std::string conversation_situation(const v1::RoomView& view, int utc_offset_s) {
  const std::string speaker = partner_name(view, view.speaker());
  const std::string listener = partner_name(view, view.listener());
  switch (view.phase()) {
    case v1::PHASE_INVITED:
      if (view.appointment_at_ms() != 0) {
        return "Appointment proposed for " + format_clock(view.appointment_at_ms(), utc_offset_s);
      }
      return "Waiting for " + you_or(view, v1::PARTNER_B) + " to accept the invitation";
    case v1::PHASE_CONSENT:
      return "Agreeing on the terms (" +
             both_flags(view, view.a_consented(), view.b_consented(), "agreed") + ")";
    case v1::PHASE_OPENING:
      // Partner B may open only where either partner may.
      if (view.you().role() == v1::PARTNER_B && allows(view, v1::ACTION_OPEN)) {
        return "Either of you can open the conversation";
      }
      return partner_name(view, v1::PARTNER_A) + " opens the conversation";
    case v1::PHASE_SPEAKING:
      return stage_prefix(view) + speaker + " speaks, " + listener + " listens" +
             moving_on(view);
    case v1::PHASE_MIRRORING:
      return stage_prefix(view) + listener + " mirrors what " + speaker + " said";
    case v1::PHASE_CONFIRMING:
      return stage_prefix(view) + speaker + " checks whether " + listener + " got it";
    case v1::PHASE_MORE: return stage_prefix(view) + "Is there more, " + speaker + "?";
    case v1::PHASE_SUMMARY: return stage_prefix(view) + listener + " sums up";
    case v1::PHASE_VALIDATION:
      return stage_prefix(view) + listener + " says how " + speaker + " makes sense";
    case v1::PHASE_EMPATHY:
      return stage_prefix(view) + listener + " imagines how " + speaker + " feels";
    case v1::PHASE_APOLOGY_RESPONSE:
      return stage_prefix(view) + listener + " answers " + speaker + "'s apology";
    case v1::PHASE_SOLUTION_GATE:
      return "Do you both feel understood? (" +
             both_flags(view, view.a_feels_understood(), view.b_feels_understood(), "yes") + ")";
    case v1::PHASE_PROBLEM_SOLVING: return "Looking for solutions together";
    case v1::PHASE_CLOSING:
      return "Closing with appreciations (" +
             both_flags(view, view.a_done(), view.b_done(), "done") + ")";
    case v1::PHASE_CLOSED: return "The conversation is closed";
    default: return "Getting ready";
  }
}

}  // namespace

std::string partner_name(const v1::RoomView& view, v1::Role role) {
  if (role == v1::PARTNER_A) {
    return view.partner_a_name().empty() ? "Partner A" : view.partner_a_name();
  }
  if (role == v1::PARTNER_B) {
    return view.partner_b_name().empty() ? "Partner B" : view.partner_b_name();
  }
  return "nobody";
}

std::string actor_name(const v1::RoomView& view, const v1::Actor& actor) {
  switch (actor.role()) {
    case v1::PARTNER_A:
    case v1::PARTNER_B: return partner_name(view, actor.role());
    case v1::OBSERVER: return actor.observer() + " (observer)";
    default: return "mend";
  }
}

v1::Role other_partner(v1::Role role) {
  if (role == v1::PARTNER_A) return v1::PARTNER_B;
  if (role == v1::PARTNER_B) return v1::PARTNER_A;
  return v1::ROLE_UNSPECIFIED;
}

bool is_partner(v1::Role role) { return role == v1::PARTNER_A || role == v1::PARTNER_B; }

bool allows(const v1::RoomView& view, v1::Action action) {
  const auto& actions = view.allowed_actions();
  return std::find(actions.begin(), actions.end(), action) != actions.end();
}

std::optional<v1::Action> typed_action(const v1::RoomView& view) {
  // In the order that matters when several are allowed: advice the speaker asked for comes
  // before a question.
  static constexpr v1::Action kTyped[] = {
      v1::ACTION_OPEN,    v1::ACTION_SHARE,   v1::ACTION_REFLECT,    v1::ACTION_ADVISE,
      v1::ACTION_ASK,     v1::ACTION_PROPOSE, v1::ACTION_APPRECIATE, v1::ACTION_NOTE};
  for (const v1::Action action : kTyped) {
    if (allows(view, action)) return action;
  }
  return std::nullopt;
}

std::string describe_action(const v1::RoomView& view, v1::Action action) {
  const std::string speaker = partner_name(view, view.speaker());
  const std::string listener = partner_name(view, view.listener());
  switch (action) {
    case v1::ACTION_OPEN:
    case v1::ACTION_SHARE:
    case v1::ACTION_REFLECT:
    case v1::ACTION_ADVISE:
    case v1::ACTION_ASK:
    case v1::ACTION_PROPOSE:
    case v1::ACTION_APPRECIATE:
    case v1::ACTION_NOTE: return typed_words(view, action);
    case v1::ACTION_ACCEPT_INVITATION:
      return view.appointment_at_ms() != 0 ? "/accept-invite to start now instead"
                                           : "/accept-invite to start now";
    case v1::ACTION_PROPOSE_TIME: return "/propose-time 18:30 to suggest another time today";
    case v1::ACTION_CONSENT: {
      const std::string names = invited_observer_names(view);
      return "/consent retention=30" + (names.empty() ? "" : " observers=" + names) +
             " summary=no to agree to the terms (days to keep the conversation, who may "
             "observe)";
    }
    case v1::ACTION_APPROVE_OBSERVER: return "/approve NAME to welcome an invited observer";
    case v1::ACTION_JOIN: return "/join to enter the room";
    case v1::ACTION_CONFIRM: return "/confirm if " + listener + " got it";
    case v1::ACTION_CORRECT: return "/correct TEXT to gently say what was missed";
    case v1::ACTION_MORE: return "/more if there is more you want to share";
    case v1::ACTION_NO_MORE: return "/nomore when you have said it all";
    case v1::ACTION_PASS_FLOOR: return "/pass to pass the floor to " + listener;
    case v1::ACTION_MOVE_ON:
      return "/moveon when you have both said enough and you are ready to move on";
    case v1::ACTION_ACCEPT_APOLOGY: return "/accept-apology to accept " + speaker + "'s apology";
    case v1::ACTION_STILL_NEED: return "/still-need TEXT to say what you still need";
    case v1::ACTION_REQUEST_ADVICE: return "/advice to ask " + listener + " for advice";
    case v1::ACTION_FEEL_UNDERSTOOD:
      return "/feel-understood when you feel your partner understands you";
    case v1::ACTION_UNDERSTOOD: return "/understood to tell your partner you understand their view";
    case v1::ACTION_PROBLEM_SOLVING_CHOICE:
      return "/solve yes or /solve no: look for solutions together, or not today";
    case v1::ACTION_ACCEPT_PROPOSAL: return "/accept N to accept proposal [N]";
    case v1::ACTION_DECLINE: return "/decline N to decline request [N], no hard feelings";
    case v1::ACTION_FINISH_PROBLEM_SOLVING: return "/finish when you are done with solutions";
    case v1::ACTION_FINISH: return "/finish to close without an appreciation";
    case v1::ACTION_RETURN: return "/return when you are back";
    case v1::ACTION_EXTEND: return "/extend 30m if you need longer";
    case v1::ACTION_READY: return "/ready when you are ready to continue";
    case v1::ACTION_RESCHEDULE: return "/reschedule 18:30 to set a time to continue";
    case v1::ACTION_PROMPT: return "/prompt TEXT to guide both partners";
    case v1::ACTION_CONSULT_BREAK: return "/break 5m to give both partners a short break";
    case v1::ACTION_END_SESSION: return "/end to end the session if it is not safe to go on";
    default: return {};
  }
}

std::vector<std::string> describe_allowed_actions(const v1::RoomView& view) {
  std::vector<std::string> lines;
  const auto typed = typed_action(view);
  if (typed) lines.push_back(describe_action(view, *typed));
  if (typed == v1::ACTION_OPEN && view.startup_form()) {
    lines.push_back("or type INTENTION | TOPIC | I FEEL | ABOUT | I NEED to add the start-up "
                    "lines (\"I feel ... about ... and I need ...\")");
  }
  for (const int raw : view.allowed_actions()) {
    const auto action = static_cast<v1::Action>(raw);
    if (typed && action == *typed) continue;
    if (action == v1::ACTION_ASK) {  // typing does something else now (a mirror)
      lines.push_back("/ask TEXT to ask " + partner_name(view, view.speaker()) +
                      " for an example or an explanation");
      continue;
    }
    if (action == v1::ACTION_NOTE || action == v1::ACTION_CONSENT ||
        action == v1::ACTION_APPROVE_OBSERVER) {
      continue;  // handled below or in /help
    }
    if (action == v1::ACTION_FINISH && allows(view, v1::ACTION_FINISH_PROBLEM_SOLVING)) continue;
    const std::string words = describe_action(view, action);
    if (!words.empty()) lines.push_back(words);
  }
  if (consent_pending(view) && allows(view, v1::ACTION_CONSENT)) {
    lines.push_back(describe_action(view, v1::ACTION_CONSENT));
  }
  return lines;
}

std::string describe_situation(const v1::RoomView& view, std::int64_t server_now_ms,
                               int utc_offset_s) {
  (void)server_now_ms;
  const std::string caller = partner_name(view, view.overlay_caller());
  const std::string back_at = format_clock(view.overlay_ends_at_ms(), utc_offset_s);
  switch (view.phase()) {
    case v1::PHASE_PAUSED:
      return "Paused: " + capitalized(you_or(view, view.overlay_caller())) +
             " asked for a minute (until " + back_at + ")";
    case v1::PHASE_CHECK_IN:
      return "Ready to continue? (" + both_flags(view, view.a_ready(), view.b_ready(), "ready") +
             ")";
    case v1::PHASE_TIMED_OUT:
      if (view.return_due()) return "Time-out: waiting for " + caller + " to come back";
      return "Time-out: " + caller + " will come back at " + back_at;
    case v1::PHASE_SUSPENDED:
      if (view.overlay_ends_at_ms() != 0) return "On hold: the conversation resumes at " + back_at;
      return "On hold until one of you sets a time to continue";
    case v1::PHASE_CONSULT_BREAK:
      return "Break called by " + view.overlay_observer() + " (observer) until " + back_at;
    default: return conversation_situation(view, utc_offset_s);
  }
}

std::optional<std::string> describe_countdown(const v1::RoomView& view,
                                              std::int64_t server_now_ms, int utc_offset_s) {
  const std::int64_t left = view.overlay_ends_at_ms() - server_now_ms;
  switch (view.phase()) {
    case v1::PHASE_PAUSED: return "Pause: " + format_remaining(left) + " left";
    case v1::PHASE_TIMED_OUT:
      if (view.return_due()) return std::nullopt;
      return "Time-out: back in " + format_remaining(left) + " (at " +
             format_clock(view.overlay_ends_at_ms(), utc_offset_s) + ")";
    case v1::PHASE_SUSPENDED:
      if (view.overlay_ends_at_ms() == 0) return std::nullopt;
      return "Resuming in " + format_remaining(left);
    case v1::PHASE_CONSULT_BREAK: return "Break: " + format_remaining(left) + " left";
    case v1::PHASE_INVITED:
      if (view.appointment_at_ms() != 0) {
        return "Appointment in " + format_remaining(view.appointment_at_ms() - server_now_ms);
      }
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::vector<std::string> status_block(const v1::RoomView& view, std::int64_t server_now_ms,
                                      int utc_offset_s) {
  std::vector<std::string> lines;
  lines.push_back("-- " + describe_situation(view, server_now_ms, utc_offset_s) + " --");
  const auto actions = describe_allowed_actions(view);
  if (actions.empty()) {
    if (view.phase() != v1::PHASE_CLOSED) {
      lines.push_back("   Now: nothing to do but listen (/help for signals and pauses)");
    }
    return lines;
  }
  for (std::size_t i = 0; i < actions.size(); ++i) {
    lines.push_back(std::string(i == 0 ? "   You may: " : "            ") + actions[i]);
  }
  return lines;
}

std::string startup_words(const v1::Startup& startup) {
  std::string words;
  if (!startup.feeling().empty()) words = "I feel " + startup.feeling();
  if (!startup.situation().empty()) {
    words += (words.empty() ? "About " : " about ") + startup.situation();
  }
  if (!startup.need().empty()) {
    words += (words.empty() ? "I need " : " and I need ") + startup.need();
  }
  return words.empty() ? words : words + ".";
}

std::vector<std::string> describe_opening(const v1::RoomView& view) {
  std::vector<std::string> lines;
  if (!view.topic().empty()) lines.push_back("Topic: " + view.topic());
  if (!view.intention().empty()) lines.push_back("Intention: " + view.intention());
  const v1::Startup& startup = view.startup();
  if (!startup.feeling().empty() || !startup.situation().empty() || !startup.need().empty()) {
    lines.push_back("Start-up: " + startup_words(startup));
  }
  return lines;
}

std::string rejection_code_name(v1::RejectionCode code) {
  const std::string& name = v1::RejectionCode_Name(code);
  return name.empty() ? "UNKNOWN" : name;
}

std::string describe_rejection(const v1::Rejection& rejection) {
  std::string message = rejection.message();
  if (message.empty()) message = "the server did not accept this now.";
  return "Not accepted: " + message + " [" + rejection_code_name(rejection.code()) + "]";
}

}  // namespace mend::cli
