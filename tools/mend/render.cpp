#include "render.h"

#include "describe.h"
#include "time_text.h"

namespace mend::cli {
namespace {

std::string seq_tag(const v1::Event& event) { return "[" + std::to_string(event.seq()) + "] "; }

std::string quoted_line(const v1::Event& event, const std::string& who, const std::string& verb,
                        const std::string& text) {
  return seq_tag(event) + who + (verb.empty() ? "" : " " + verb) + ": " + text;
}

std::string terms_words(const v1::ConsentTerms& terms) {
  std::string words = terms.retention_days() == 0
                          ? "nothing kept after the conversation"
                          : "kept for " + std::to_string(terms.retention_days()) + " days";
  if (terms.observers().empty()) {
    words += ", no observers";
  } else {
    words += ", observers: ";
    for (int i = 0; i < terms.observers_size(); ++i) {
      words += (i == 0 ? "" : ", ") + terms.observers(i);
    }
  }
  if (terms.summary_to_observer()) words += ", summary to observers";
  return words;
}

std::string closed_words(const v1::Event& event, const v1::RoomView& view) {
  switch (event.conversation_closed().reason()) {
    case v1::COMPLETED: return "The conversation is complete. Thank you both for listening.";
    case v1::PARTNER_LEFT:
      return actor_name(view, event.actor()) + " ended the conversation. It is closed now.";
    case v1::ENDED_BY_OBSERVER:
      return actor_name(view, event.actor()) + " ended the session. It is closed now.";
    case v1::INVITATION_EXPIRED: return "The invitation expired; the conversation is closed.";
    default: return "The conversation is closed.";
  }
}

std::string check_in_words(v1::CheckInReason reason) {
  switch (reason) {
    case v1::PAUSE_ENDED: return "The pause is over.";
    case v1::CONSULT_BREAK_ENDED: return "The break is over.";
    case v1::RESUMPTION_DUE: return "It is time to continue.";
    default: return "Time to check in.";
  }
}

}  // namespace

std::string signal_words(v1::SignalKind kind) {
  switch (kind) {
    case v1::LISTENING: return "I'm listening.";
    case v1::FEELING_HEARD: return "I feel heard.";
    case v1::NEED_REASSURANCE: return "I need some reassurance.";
    case v1::OVERWHELMED: return "I'm feeling overwhelmed.";
    case v1::TAKE_YOUR_TIME: return "Take your time.";
    default: return "(a signal)";
  }
}

std::string repair_words(v1::RepairKind kind) {
  switch (static_cast<int>(kind)) {
    case 1: return "Can I take that back?";
    case 2: return "Let me try again.";
    case 3: return "Please say that more gently.";
    case 4: return "I agree with part of what you're saying.";
    case 5: return "I appreciate you staying with this.";
    case 6: return "I'm sorry.";
    default: return "(a repair attempt)";
  }
}

std::string reflection_verb(v1::ReflectionKind kind) {
  switch (kind) {
    case v1::SUMMARY: return "summed up";
    case v1::VALIDATION: return "validated";
    case v1::EMPATHY: return "empathized";
    default: return "mirrored";
  }
}

std::string describe_hint(const v1::Hint& hint) { return "Hint: " + hint.message(); }

std::string EventRenderer::stage_title(std::uint32_t index) const {
  if (template_ && index < static_cast<std::uint32_t>(template_->stages_size())) {
    const auto& stage = template_->stages(static_cast<int>(index));
    return stage.title().empty() ? stage.name() : stage.title();
  }
  return "Stage " + std::to_string(index + 1);
}

std::vector<std::string> EventRenderer::render(const v1::Event& event, const v1::RoomView& view) {
  const std::string who = actor_name(view, event.actor());
  const auto at = [this](std::int64_t ms) { return format_clock(ms, utc_offset_s_); };
  switch (event.body_case()) {
    case v1::Event::kRoomCreated: {
      const auto& created = event.room_created();
      template_ = created.template_();
      std::string line = "Welcome to this " +
                         (created.template_().title().empty() ? created.template_().name()
                                                              : created.template_().title()) +
                         " between " + partner_name(view, v1::PARTNER_A) + " and " +
                         partner_name(view, v1::PARTNER_B);
      if (!created.topic().empty()) line += ", about \"" + created.topic() + "\"";
      std::vector<std::string> lines{line + "."};
      if (!created.template_().description().empty()) {
        lines.push_back(created.template_().description());
      }
      return lines;
    }
    case v1::Event::kInvitationAccepted: return {who + " is ready to talk now."};
    case v1::Event::kTimeProposed:
      return {seq_tag(event) + who + " would like to talk at " +
              at(event.time_proposed().start_at_ms()) + "."};
    case v1::Event::kAppointmentDue: return {"It is time for your conversation."};
    case v1::Event::kConsentGiven:
      return {who + " agreed to the terms (" + terms_words(event.consent_given().terms()) + ")."};
    case v1::Event::kObserverApproved:
      return {who + " welcomes " + event.observer_approved().observer() + " as an observer."};
    case v1::Event::kObserverRevoked:
      return {event.observer_revoked().observer() +
              " (observer) is no longer approved and has left the room."};
    case v1::Event::kObserverJoined:
      return {event.observer_joined().observer() + " (observer) joined and is listening."};
    case v1::Event::kObserverLeft:
      return {event.observer_left().observer() + " (observer) left."};
    case v1::Event::kConversationOpened: {
      const auto& opened = event.conversation_opened();
      std::vector<std::string> lines{quoted_line(event, who, "opens", opened.intention())};
      if (!opened.topic().empty()) lines.push_back("    Topic: " + opened.topic());
      const std::string startup = startup_words(opened.startup());
      if (!startup.empty()) lines.push_back("    " + startup);
      return lines;
    }
    case v1::Event::kStageStarted:
      return {"== " + stage_title(event.stage_started().stage_index()) + " ==",
              partner_name(view, event.stage_started().speaker()) + " has the floor."};
    case v1::Event::kShared: return {quoted_line(event, who, "", event.shared().text())};
    case v1::Event::kReflected:
      return {quoted_line(event, who, reflection_verb(event.reflected().kind()),
                          event.reflected().text())};
    case v1::Event::kConfirmed: return {who + ": \"Yes, you got it.\""};
    case v1::Event::kCorrected:
      return {quoted_line(event, who, "clarified", event.corrected().text())};
    case v1::Event::kMoreAnswered:
      return {event.more_answered().more() ? who + " has more to share."
                                           : who + " has said it all for now."};
    case v1::Event::kFloorPassed: return {who + " passed the floor."};
    case v1::Event::kRolesSwitched: {
      const v1::Role speaker = event.roles_switched().speaker();
      return {"Roles switch: now " + partner_name(view, speaker) + " speaks and " +
              partner_name(view, other_partner(speaker)) + " listens."};
    }
    case v1::Event::kApologyAccepted: return {who + " accepted the apology."};
    case v1::Event::kStillNeeded:
      return {quoted_line(event, who, "still needs", event.still_needed().text())};
    case v1::Event::kAsked: return {quoted_line(event, who, "asked", event.asked().text())};
    case v1::Event::kAdviceRequested: return {who + " would welcome advice."};
    case v1::Event::kAdvised:
      return {quoted_line(event, who, "suggested", event.advised().text())};
    case v1::Event::kTurnTimeHint:
      return {partner_name(view, view.speaker()) + " has been speaking for " +
              format_duration(std::chrono::seconds(event.turn_time_hint().elapsed_s())) +
              ". No rush; wrap up when it feels right."};
    case v1::Event::kSolutionGateOpened:
      return {"You have both been heard. When you understand each other, choose whether to "
              "look for solutions."};
    case v1::Event::kUnderstoodSent: return {who + " says: \"I understand where you stand.\""};
    case v1::Event::kFeltUnderstood: return {who + " says: \"I feel understood.\""};
    case v1::Event::kMoveOnChosen: return {who + " is ready to move on."};
    case v1::Event::kProblemSolvingChosen:
      return {event.problem_solving_chosen().opt_in()
                  ? who + " would like to look for solutions together."
                  : who + " would rather not look for solutions today."};
    case v1::Event::kProblemSolvingStarted:
      return {"Looking for solutions: propose small, doable steps."};
    case v1::Event::kProposed:
      return {quoted_line(event, who, "proposes", event.proposed().text())};
    case v1::Event::kProposalAccepted:
      return {who + " accepted proposal [" + std::to_string(event.proposal_accepted().seq()) +
              "]."};
    case v1::Event::kClosingStarted:
      return {"Closing: share what you appreciate about each other."};
    case v1::Event::kAppreciated:
      return {quoted_line(event, who, "appreciates", event.appreciated().text())};
    case v1::Event::kFinished: return {who + " is finished."};
    case v1::Event::kConversationClosed: return {closed_words(event, view)};
    case v1::Event::kSignaled:
      return {who + " signals: \"" + signal_words(event.signaled().kind()) + "\""};
    case v1::Event::kRepaired:
      return {who + ": \"" + repair_words(event.repaired().kind()) + "\""};
    case v1::Event::kRetracted:
      return {who + " took back [" + std::to_string(event.retracted().seq()) + "]."};
    case v1::Event::kDeclined:
      return {who + " declined [" + std::to_string(event.declined().seq()) +
              "], and that is okay."};
    case v1::Event::kPaused:
      return {who + " needs a minute. Everything waits until " + at(event.paused().until_ms()) +
              "."};
    case v1::Event::kTimedOut:
      return {who + " needs a time-out and will come back at " +
              at(event.timed_out().return_at_ms()) + ". Nobody gets the last word meanwhile."};
    case v1::Event::kReturned: return {who + " is back."};
    case v1::Event::kExtended:
      return {who + " needs a little longer and will come back at " +
              at(event.extended().return_at_ms()) + "."};
    case v1::Event::kCheckInStarted:
      return {check_in_words(event.check_in_started().reason()) +
              " Ready to continue? Each of you: /ready."};
    case v1::Event::kReadySent: return {who + " is ready to continue."};
    case v1::Event::kResumed: return {"The conversation continues."};
    case v1::Event::kTimeOutReturnDue:
      return {"The time-out's return time has come; waiting for " +
              partner_name(view, view.overlay_caller()) + " to come back."};
    case v1::Event::kSuspended:
      return {"The time-out ran long, so the conversation is on hold until one of you sets a "
              "time to continue (/reschedule 18:30)."};
    case v1::Event::kRescheduled:
      return {who + " set a time to continue: " + at(event.rescheduled().start_at_ms()) + "."};
    case v1::Event::kConsultBreakStarted:
      return {who + " called a short break until " +
              at(event.consult_break_started().until_ms()) + "."};
    case v1::Event::kPrompted:
      return {quoted_line(event, who, "suggests", event.prompted().text())};
    case v1::Event::kNoteTaken:
      return {quoted_line(event, "Your private note", "", event.note_taken().text())};
    default: return {};
  }
}

}  // namespace mend::cli
