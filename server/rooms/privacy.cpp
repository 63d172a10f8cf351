#include "server/rooms/privacy.h"

#include <algorithm>
#include <set>
#include <string>

#include "server/engine/engine.h"

namespace mend::rooms::privacy {
namespace {

// Replaces one text field with `marker` unless it is empty or already gone; true when it
// changed.
bool replace(std::string* text, const char* marker) {
  if (text->empty() || *text == kErasedText || *text == engine::kRetractedText) return false;
  *text = marker;
  return true;
}

bool replace_startup(v1::Startup* startup, const char* marker) {
  bool changed = replace(startup->mutable_feeling(), marker);
  changed = replace(startup->mutable_situation(), marker) || changed;
  return replace(startup->mutable_need(), marker) || changed;
}

// Replaces every text of `e` with `marker`; true when anything changed.
bool replace_texts(v1::Event& e, const char* marker) {
  auto erase = [marker](std::string* text) { return replace(text, marker); };
  switch (e.body_case()) {
    case v1::Event::kRoomCreated: return erase(e.mutable_room_created()->mutable_topic());
    case v1::Event::kConversationOpened: {
      v1::ConversationOpened* opened = e.mutable_conversation_opened();
      bool changed = erase(opened->mutable_intention());
      changed = erase(opened->mutable_topic()) || changed;
      if (opened->has_startup()) {
        changed = replace_startup(opened->mutable_startup(), marker) || changed;
      }
      return changed;
    }
    case v1::Event::kShared: return erase(e.mutable_shared()->mutable_text());
    case v1::Event::kReflected: return erase(e.mutable_reflected()->mutable_text());
    case v1::Event::kCorrected: return erase(e.mutable_corrected()->mutable_text());
    case v1::Event::kStillNeeded: return erase(e.mutable_still_needed()->mutable_text());
    case v1::Event::kAsked: return erase(e.mutable_asked()->mutable_text());
    case v1::Event::kAdvised: return erase(e.mutable_advised()->mutable_text());
    case v1::Event::kProposed: return erase(e.mutable_proposed()->mutable_text());
    case v1::Event::kAppreciated: return erase(e.mutable_appreciated()->mutable_text());
    case v1::Event::kPrompted: return erase(e.mutable_prompted()->mutable_text());
    case v1::Event::kNoteTaken: return erase(e.mutable_note_taken()->mutable_text());
    default: return false;
  }
}

bool is_partner(v1::Role role) { return role == v1::PARTNER_A || role == v1::PARTNER_B; }

v1::Actor partner_a() {
  v1::Actor actor;
  actor.set_role(v1::PARTNER_A);
  return actor;
}

}  // namespace

bool erase_texts(v1::Event& e) { return replace_texts(e, kErasedText); }

bool retract_texts(v1::Event& e) { return replace_texts(e, engine::kRetractedText); }

std::vector<v1::Event> withdraw_retracted(const std::vector<v1::Event>& log,
                                          const std::vector<std::uint64_t>& seqs) {
  std::vector<v1::Event> withdrawn;
  for (const std::uint64_t seq : seqs) {
    auto it = std::lower_bound(log.begin(), log.end(), seq,
                               [](const v1::Event& event, std::uint64_t s) { return event.seq() < s; });
    if (it == log.end() || it->seq() != seq) continue;
    v1::Event copy = *it;
    if (retract_texts(copy)) withdrawn.push_back(std::move(copy));
  }
  return withdrawn;
}

std::vector<v1::Event> erase_contributions(const std::vector<v1::Event>& log, v1::Role author) {
  std::vector<v1::Event> rewritten;
  if (!is_partner(author)) return rewritten;
  for (const v1::Event& event : log) {
    if (event.actor().role() != author) continue;
    v1::Event copy = event;
    if (erase_texts(copy)) rewritten.push_back(std::move(copy));
  }
  return rewritten;
}

std::vector<v1::Event> purge_content(const std::vector<v1::Event>& log) {
  std::vector<v1::Event> rewritten;
  for (const v1::Event& event : log) {
    v1::Event copy = event;
    if (erase_texts(copy)) rewritten.push_back(std::move(copy));
  }
  return rewritten;
}

v1::AuditEntry audit_entry(v1::AuditKind kind, const v1::Actor& actor, std::int64_t at_ms) {
  v1::AuditEntry entry;
  entry.set_at_ms(at_ms);
  entry.set_kind(kind);
  *entry.mutable_actor() = actor;
  return entry;
}

std::vector<v1::AuditEntry> audit_entries_for(const v1::Event& e) {
  std::vector<v1::AuditEntry> entries;
  auto add = [&](v1::AuditKind kind) -> v1::AuditEntry& {
    v1::AuditEntry& entry = entries.emplace_back(audit_entry(kind, e.actor(), e.at_ms()));
    entry.set_seq(e.seq());
    return entry;
  };
  switch (e.body_case()) {
    case v1::Event::kConsentGiven:
      *add(v1::AUDIT_CONSENT_GIVEN).mutable_terms() = e.consent_given().terms();
      break;
    case v1::Event::kObserverApproved:
      add(v1::AUDIT_OBSERVER_APPROVED).set_observer(e.observer_approved().observer());
      break;
    case v1::Event::kObserverRevoked:
      add(v1::AUDIT_CONSENT_REVOKED).set_observer(e.observer_revoked().observer());
      break;
    case v1::Event::kObserverJoined:
      add(v1::AUDIT_OBSERVER_ADMITTED).set_observer(e.observer_joined().observer());
      break;
    case v1::Event::kObserverLeft:
      add(v1::AUDIT_PARTICIPANT_LEFT).set_observer(e.observer_left().observer());
      break;
    case v1::Event::kPaused: add(v1::AUDIT_PAUSED).set_until_ms(e.paused().until_ms()); break;
    case v1::Event::kTimedOut:
      add(v1::AUDIT_TIMED_OUT).set_until_ms(e.timed_out().return_at_ms());
      break;
    case v1::Event::kConsultBreakStarted:
      add(v1::AUDIT_CONSULT_BREAK).set_until_ms(e.consult_break_started().until_ms());
      break;
    case v1::Event::kConversationClosed: {
      const v1::ClosedReason reason = e.conversation_closed().reason();
      if (reason == v1::PARTNER_LEFT) add(v1::AUDIT_PARTICIPANT_LEFT);
      add(v1::AUDIT_CONVERSATION_CLOSED).set_closed_reason(reason);
      break;
    }
    default: break;
  }
  return entries;
}

std::vector<v1::Event> transcript_events(const engine::RoomState& state,
                                         const std::vector<v1::Event>& log,
                                         const v1::Actor& viewer) {
  std::set<std::uint64_t> retracted;
  for (const engine::ContentMessage& message : state.messages) {
    if (message.retracted) retracted.insert(message.seq);
  }
  std::vector<v1::Event> events;
  for (const v1::Event& event : log) {
    if (!engine::visible_to(state, event, viewer)) continue;
    events.push_back(event);
    // The room withdraws retracted texts from its log; this holds even before it has.
    if (retracted.contains(event.seq())) retract_texts(events.back());
  }
  return events;
}

std::optional<std::int64_t> purge_due_ms(const engine::RoomState& state, std::int64_t last_event_ms,
                                         std::optional<std::int64_t> closed_at_ms) {
  if (!state.tmpl.has_value()) return std::nullopt;
  const std::uint32_t retention =
      engine::view(state, partner_a()).effective_terms().retention_days();
  if (state.phase == v1::PHASE_CLOSED) {
    return closed_at_ms.value_or(0) + std::int64_t{retention} * kMsPerDay;
  }
  // Never closed (abandoned, suspended, waiting for consent): counted from the last activity,
  // a due timer included (a time-out or an appointment still ahead is not abandonment).
  const std::int64_t last_activity =
      std::max(last_event_ms, engine::next_deadline(state).value_or(0));
  const std::uint32_t days = state.a.consented && state.b.consented
                                 ? std::max(retention, kOpenRoomMinimumDays)
                                 : kUnconsentedRetentionDays;
  return last_activity + std::int64_t{days} * kMsPerDay;
}

}  // namespace mend::rooms::privacy
