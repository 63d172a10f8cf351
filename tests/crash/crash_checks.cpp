#include "tests/crash/crash_checks.h"

#include <doctest/doctest.h>

#include "server/engine/engine.h"

namespace mend::testing {

namespace {

using C = v1::Command;
using E = v1::Event;

E::BodyCase event_kind_of(C::BodyCase command) {
  switch (command) {
    case C::kAcceptInvitation: return E::kInvitationAccepted;
    case C::kProposeTime: return E::kTimeProposed;
    case C::kConsent: return E::kConsentGiven;
    case C::kApproveObserver: return E::kObserverApproved;
    case C::kRevokeObserver: return E::kObserverRevoked;
    case C::kJoin: return E::kObserverJoined;
    case C::kOpen: return E::kConversationOpened;
    case C::kShare: return E::kShared;
    case C::kReflect: return E::kReflected;
    case C::kConfirm: return E::kConfirmed;
    case C::kCorrect: return E::kCorrected;
    case C::kMore:
    case C::kNoMore: return E::kMoreAnswered;
    case C::kPassFloor: return E::kFloorPassed;
    case C::kMoveOn: return E::kMoveOnChosen;
    case C::kAcceptApology: return E::kApologyAccepted;
    case C::kStillNeed: return E::kStillNeeded;
    case C::kAsk: return E::kAsked;
    case C::kRequestAdvice: return E::kAdviceRequested;
    case C::kAdvise: return E::kAdvised;
    case C::kUnderstood: return E::kUnderstoodSent;
    case C::kFeelUnderstood: return E::kFeltUnderstood;
    case C::kProblemSolvingChoice: return E::kProblemSolvingChosen;
    case C::kPropose: return E::kProposed;
    case C::kAcceptProposal: return E::kProposalAccepted;
    case C::kFinishProblemSolving: return E::kClosingStarted;
    case C::kAppreciate: return E::kAppreciated;
    case C::kFinish: return E::kFinished;
    case C::kSignal: return E::kSignaled;
    case C::kRepair: return E::kRepaired;
    case C::kRetract: return E::kRetracted;
    case C::kDecline: return E::kDeclined;
    case C::kPause: return E::kPaused;
    case C::kTimeOut: return E::kTimedOut;
    case C::kReturn: return E::kReturned;
    case C::kExtend: return E::kExtended;
    case C::kReady: return E::kReadySent;
    case C::kReschedule: return E::kRescheduled;
    case C::kLeave: return E::kConversationClosed;
    case C::kPrompt: return E::kPrompted;
    case C::kNote: return E::kNoteTaken;
    case C::kConsultBreak: return E::kConsultBreakStarted;
    case C::kEndSession: return E::kConversationClosed;
    default: return E::BODY_NOT_SET;
  }
}

// A retracted message is withdrawn from the store: its stored text reads "[retracted]".
bool same_text(const std::string& stored, const std::string& sent) {
  return stored == sent || stored == "[retracted]";
}

bool same_arguments(const E& e, const C& c) {
  switch (c.body_case()) {
    case C::kShare: return same_text(e.shared().text(), c.share().text());
    case C::kReflect:
      return e.reflected().kind() == c.reflect().kind() &&
             same_text(e.reflected().text(), c.reflect().text());
    case C::kCorrect: return same_text(e.corrected().text(), c.correct().text());
    case C::kMore: return e.more_answered().more();
    case C::kNoMore: return !e.more_answered().more();
    case C::kSignal: return e.signaled().kind() == c.signal().kind();
    case C::kRepair: return e.repaired().kind() == c.repair().kind();
    case C::kRetract: return e.retracted().seq() == c.retract().seq();
    case C::kDecline: return e.declined().seq() == c.decline().seq();
    case C::kAcceptProposal: return e.proposal_accepted().seq() == c.accept_proposal().seq();
    case C::kProblemSolvingChoice:
      return e.problem_solving_chosen().opt_in() == c.problem_solving_choice().opt_in();
    case C::kAsk: return same_text(e.asked().text(), c.ask().text());
    case C::kAdvise: return same_text(e.advised().text(), c.advise().text());
    case C::kStillNeed: return same_text(e.still_needed().text(), c.still_need().text());
    case C::kPropose: return same_text(e.proposed().text(), c.propose().text());
    case C::kAppreciate: return same_text(e.appreciated().text(), c.appreciate().text());
    case C::kOpen: return same_text(e.conversation_opened().intention(), c.open().intention());
    case C::kProposeTime: return e.time_proposed().start_at_ms() == c.propose_time().start_at_ms();
    default: return true;
  }
}

}  // namespace

v1::Role role_of(const std::string& participant) {
  return participant == "A" ? v1::PARTNER_A : v1::PARTNER_B;
}

bool is_caused_by(const v1::Event& event, const v1::Command& command) {
  const E::BodyCase kind = event_kind_of(command.body_case());
  return kind != E::BODY_NOT_SET && event.body_case() == kind && same_arguments(event, command);
}

void check_event_ownership(const std::vector<v1::Event>& events,
                           const std::vector<AcceptedCommand>& accepted,
                           const std::string& where) {
  INFO(where);
  std::vector<const AcceptedCommand*> owner(events.size(), nullptr);
  for (const AcceptedCommand& a : accepted) {
    INFO("command " << a.command.command_id() << " (" << a.command.ShortDebugString()
                    << ") answered " << a.result.ShortDebugString());
    const std::uint64_t first = a.result.first_seq();
    const std::uint64_t last = a.result.last_seq();
    REQUIRE(first >= 1);
    REQUIRE(first <= last);
    REQUIRE(last <= events.size());  // an accepted command's events are all stored
    const v1::Event& caused = events[first - 1];
    INFO("its first event " << caused.ShortDebugString());
    CHECK(is_caused_by(caused, a.command));
    for (std::uint64_t seq = first; seq <= last; ++seq) {
      REQUIRE_MESSAGE(owner[seq - 1] == nullptr,
                      "seq " << seq << " also belongs to " << owner[seq - 1]->command.command_id());
      owner[seq - 1] = &a;
      CHECK(events[seq - 1].actor().role() == role_of(a.participant));
    }
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (owner[i] != nullptr) continue;
    INFO("event without a command: " << events[i].ShortDebugString());
    CHECK(events[i].actor().role() == v1::SYSTEM);
  }
}

void check_replays_to(const std::vector<v1::Event>& events, const v1::RoomView& view,
                      const std::string& where) {
  INFO(where);
  engine::RoomState state;
  for (const v1::Event& event : events) {
    REQUIRE(event.seq() == state.last_seq + 1);
    engine::evolve(state, event);
  }
  const v1::RoomView replayed = engine::view(state, view.you());
  INFO("replayed: " << replayed.ShortDebugString());
  INFO("client:   " << view.ShortDebugString());
  CHECK(replayed.SerializeAsString() == view.SerializeAsString());
}

}  // namespace mend::testing
